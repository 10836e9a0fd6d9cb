"""The Slack bot in Socket Mode, end to end: Bolt's aiohttp Socket Mode handler gets its WebSocket
URL from ``apps.connections.open`` on the fake Slack server, connects to it, receives envelopes
and acknowledges them on the socket, and answers through the Web API."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.store import Store
from bots.slack.app import create_slack_app
from bots.slack.socket_mode import socket_mode_handler
from tests.fake_slack import APP_TOKEN, FakeSlack, SlackRequests
from tests.fakes import FakePipeline, ScriptedAnswer, source
from tests.integration.slack_harness import slack_settings

pytestmark = pytest.mark.integration

ANSWER = ScriptedAnswer("Open the invoice and choose **Refund** [1].",
                        [source(1, "Refunding an invoice", url="https://help.ledgerly.example/refunds")])


class SocketModeBot:
    """The real Socket Mode handler on its own event loop thread, as ``assistant slack`` runs it."""

    def __init__(self, tmp_path: Path, fake: FakeSlack, pipeline: FakePipeline) -> None:
        settings = slack_settings(tmp_path, fake)
        self.store = Store(settings.store_path)
        pipeline.store = self.store
        self.app = create_slack_app(settings, pipeline=pipeline, store=self.store)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="socket-mode", daemon=True)
        self.handler: Any = None

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(15)

    def __enter__(self) -> SocketModeBot:
        self.thread.start()

        async def connect() -> Any:
            handler = socket_mode_handler(self.app, APP_TOKEN)
            await handler.connect_async()
            return handler

        self.handler = self._run(connect())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handler is not None:
            self._run(self.handler.close_async())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


def test_socket_mode_mention_is_acknowledged_on_the_socket_and_answered(tmp_path: Path, fake: FakeSlack) -> None:
    pipeline = FakePipeline(ANSWER, token_delay_s=0.05)
    slack = SlackRequests()
    with SocketModeBot(tmp_path, fake, pipeline):
        fake.wait_connected()
        event = slack.mention("How do I refund an invoice?")
        envelope = fake.send_envelope(slack.event_payload(event))
        fake.wait_for(lambda: envelope in fake.acks)
        ack_s = fake.acks[envelope][0] - fake.envelopes_sent[envelope]
        answer = fake.final_answer("C0GENERAL", event["ts"])
    assert ack_s < 1.0
    assert fake.calls_to("apps.connections.open")[0].token == APP_TOKEN
    assert pipeline.requests[0].question == "How do I refund an invoice?"
    assert "<https://help.ledgerly.example/refunds|Refunding an invoice>" in answer.rendered


def test_socket_mode_redelivery_is_not_answered_twice(tmp_path: Path, fake: FakeSlack) -> None:
    pipeline = FakePipeline(ANSWER)
    slack = SlackRequests()
    with SocketModeBot(tmp_path, fake, pipeline):
        fake.wait_connected()
        event = slack.mention("How do I refund an invoice?")
        payload = slack.event_payload(event, event_id="Ev0SOCKETDUP")
        first = fake.send_envelope(payload)
        retry = fake.send_envelope(payload, retry_attempt=1)
        fake.wait_for(lambda: first in fake.acks and retry in fake.acks)
        fake.final_answer("C0GENERAL", event["ts"])
        time.sleep(0.3)
    assert len(pipeline.requests) == 1
    assert len(fake.thread("C0GENERAL", event["ts"])) == 1


def test_socket_mode_slash_command_is_acknowledged_with_a_payload(tmp_path: Path, fake: FakeSlack) -> None:
    pipeline = FakePipeline(ANSWER)
    with SocketModeBot(tmp_path, fake, pipeline):
        fake.wait_connected()
        command = {"team_id": "T0TEAM", "channel_id": "C0GENERAL", "user_id": "U0ALICE", "command": "/ask",
                   "text": "how do I refund?", "response_url": fake.response_url("C0GENERAL"),
                   "trigger_id": "trig.1", "api_app_id": "A0APP"}
        envelope = fake.send_envelope(command, kind="slash_commands")
        fake.wait_for(lambda: envelope in fake.acks)
        reply = fake.wait_for(lambda: [r for r in fake.responses if r.get("blocks")])[0]
    assert "Looking it up" in fake.acks[envelope][1]["payload"]["text"]
    assert reply["response_type"] == "ephemeral"
    assert "Refunding an invoice" in str(reply["blocks"])
