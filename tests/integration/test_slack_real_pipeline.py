"""The Slack bot on the real answer pipeline over the example corpus (real embedding model, FAISS,
SQLite), answering extractively, with only Slack's cloud faked.

The canary strings live in internal runbooks and internal ticket notes of the example corpus:
asked in a customer-facing channel, questions aimed straight at them must come back without
them; the same questions in an internal channel reach them, which shows the questions are good.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.factory import build_pipeline
from assistant.store import Store
from bots.slack.blocks import FALLBACK_NOTICE
from tests.fake_slack import FakeSlack
from tests.integration.slack_harness import SlackHttpBot, slack_settings

pytestmark = pytest.mark.integration

CANARIES = ("CANARY-INTERNAL-RUNBOOK-4F7A", "CANARY-INTERNAL-TICKET-9B2C")
QUESTIONS = (
    "CANARY-INTERNAL-RUNBOOK-4F7A",
    "CANARY-INTERNAL-TICKET-9B2C",
    "Which escalation code do I quote when paging for a payment processor outage?",
    "What is the approval reference code for refunds above the limit?",
    "tracking code for the QA sample after View as read-only",
)
CHANNELS = "channels:\n  C0SHARED: {audience: public, respond: all}\n"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


def real_bot(example_index: Settings, tmp_path: Path, fake: FakeSlack, **llm: object) -> SlackHttpBot:
    base = slack_settings(tmp_path, fake, channels=CHANNELS, rate_per_minute_user=100)
    settings = base.model_copy(update={"data_dir": example_index.data_dir,
                                       "llm": example_index.llm.model_copy(update=llm),
                                       "tgi": example_index.tgi.model_copy(update={"url": _closed_port_url()})})
    store = Store(tmp_path / "store.sqlite")
    pipeline = build_pipeline(settings, store=store)
    return SlackHttpBot(settings, pipeline, fake, store=store)


def _closed_port_url() -> str:
    """An address on loopback where nothing listens: a TGI server that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_customer_facing_channel_never_receives_internal_canaries(example_index: Settings, tmp_path: Path,
                                                                  fake: FakeSlack) -> None:
    with real_bot(example_index, tmp_path, fake, backend="extractive") as b:
        for question in QUESTIONS:
            event = b.slack.message(question, channel="C0SHARED")
            b.send_event(event)
            fake.final_answer("C0SHARED", event["ts"], timeout=60)
        internal_answers = []
        for question in QUESTIONS:
            event = b.slack.mention(question, channel="C0SUPPORT")
            b.send_event(event)
            internal_answers.append(fake.final_answer("C0SUPPORT", event["ts"], timeout=60).rendered)
    shown_publicly = fake.everything_sent_to("C0SHARED")
    for canary in CANARIES:
        assert canary not in shown_publicly
    audits = [b.store.audit(t["id"]) for c in _conversations(b.store) for t in b.store.turns(c)
              if t["role"] == "assistant"]
    public = [a for a in audits if a and a["audience"] == "public"]
    assert len(public) == len(QUESTIONS) and all(set(a["chunk_audiences"]) <= {"public"} for a in public)
    reached = "\n".join(internal_answers)
    assert all(canary in reached for canary in CANARIES), "the questions do reach the canaries internally"


def _conversations(store: Store) -> list[str]:
    import sqlite3

    with sqlite3.connect(store.path) as db:
        return [row[0] for row in db.execute("SELECT id FROM conversations")]


def test_llm_down_posts_the_extractive_answer_and_says_so(example_index: Settings, tmp_path: Path,
                                                           fake: FakeSlack) -> None:
    with real_bot(example_index, tmp_path, fake, backend="tgi", timeout_s=2.0, max_retries=0) as b:
        event = b.slack.mention("How do I refund an invoice?", channel="C0SUPPORT")
        b.send_event(event)
        answer = fake.final_answer("C0SUPPORT", event["ts"], timeout=60)
    assert FALLBACK_NOTICE in answer.rendered
    assert "help.ledgerly.example" in answer.rendered  # the extractive answer cites its sources
    audit = b.store.audit(next(b["elements"][0]["value"] for b in answer.blocks if b.get("block_id") == "feedback"))
    assert audit is not None and audit["fallback"] is True
