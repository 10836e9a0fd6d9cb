"""A full worker pool or a full Slack waiting line: a short "busy, try again" in the thread,
never a pile of waiting tasks. Real Bolt app in HTTP mode, fake Slack Web API on 127.0.0.1;
the first answer is held on its worker by a gate the test opens."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.errors import USER_MESSAGES
from assistant.schemas import AnswerRequest
from assistant.workers import WorkerPool
from tests.fake_slack import FakeSlack
from tests.fakes import FakePipeline, ScriptedAnswer, source
from tests.integration.slack_harness import SlackHttpBot, slack_settings

pytestmark = pytest.mark.integration

ANSWER = ScriptedAnswer("Refunds go back to the card in 5-10 days [1].", [source(1, "Refunds", snippet="...")])


class Gated:
    """A responder that holds the first request on its worker until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls = 0

    def __call__(self, request: AnswerRequest) -> ScriptedAnswer:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.gate.wait(30), "the test never opened the gate"
        return ANSWER


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


def _busy_reply(fake: FakeSlack, channel: str, thread_ts: str) -> str:
    def found() -> str | None:
        for message in fake.thread(channel, thread_ts):
            if USER_MESSAGES["busy"] in message.rendered:
                return message.rendered
        return None

    text: str = fake.wait_for(found)
    return text


@pytest.mark.parametrize("full", ["worker pool", "slack line"])
def test_a_question_past_the_bound_is_told_busy_in_its_thread(tmp_path: Path, fake: FakeSlack, full: str) -> None:
    responder = Gated()
    pool = WorkerPool(1, queue=0) if full == "worker pool" else WorkerPool(4, queue=4)
    pipeline = FakePipeline(responder, pool=pool)
    limits = {"max_concurrent_answers": 1, "answer_queue": 0} if full == "slack line" else {}
    settings = slack_settings(tmp_path, fake, **limits)
    try:
        with SlackHttpBot(settings, pipeline, fake) as b:
            first = b.slack.mention("How do refunds work?")
            b.send_event(first)
            assert responder.entered.wait(10), "the first answer should be running"
            second = b.slack.mention("And partial refunds?", user="U0BOB")
            b.send_event(second)
            busy = _busy_reply(fake, "C0GENERAL", second["ts"])
            responder.gate.set()
            answer = fake.final_answer("C0GENERAL", first["ts"])
    finally:
        responder.gate.set()
        pool.close()
    assert "Refunds go back" in answer.rendered
    assert "Traceback" not in busy and len(busy.strip()) < 200
    assert responder.calls == 1, "the refused question never reached the pipeline"


def test_slash_command_past_the_bound_is_told_busy_privately(tmp_path: Path, fake: FakeSlack) -> None:
    responder = Gated()
    pool = WorkerPool(1, queue=0)
    pipeline = FakePipeline(responder, pool=pool)
    try:
        with SlackHttpBot(slack_settings(tmp_path, fake), pipeline, fake) as b:
            b.send_event(b.slack.mention("How do refunds work?"))
            assert responder.entered.wait(10)
            b.post(b.slack.command("and partial refunds?", response_url=fake.response_url("C0GENERAL")))
            reply = fake.wait_for(lambda: [r for r in fake.responses if USER_MESSAGES["busy"] in r.get("text", "")])
    finally:
        responder.gate.set()
        pool.close()
    assert reply[0]["response_type"] == "ephemeral"
