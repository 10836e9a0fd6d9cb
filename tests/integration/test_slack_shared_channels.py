"""Slack Connect: the audience follows who can read the conversation, not who asks.

Every entry point (mention, thread follow-up, DM, assistant thread, ``/ask``, "Post to
channel") runs the real Bolt app in HTTP mode against the fake Slack Web API on 127.0.0.1,
which reports the conversation as externally shared through ``conversations.info`` or the
event's own ``is_ext_shared_channel`` flag.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_slack import FakeSlack
from tests.fakes import FakePipeline, audience_scoped, source
from tests.integration.slack_harness import SlackHttpBot, slack_settings

pytestmark = pytest.mark.integration

CANARIES = ("CANARY-INTERNAL-RUNBOOK-4F7A", "CANARY-INTERNAL-TICKET-9B2C")
PASSAGES = [
    source(1, "Refund policy", snippet="Customers can request a refund within 30 days from the invoice page."),
    source(2, "Refund runbook (internal)", audience="internal",
           snippet=f"Refund escalations: follow {CANARIES[0]} and check the ledger."),
    source(3, "Ticket 4411: refund stuck", audience="internal",
           snippet=f"Refund stuck in pending, fixed by support, see {CANARIES[1]}."),
]
SHARED = "C0CONNECT"  # a channel shared with a customer's workspace, not listed in any channel file


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        server.ext_shared.add(SHARED)
        yield server


def bot(tmp_path: Path, fake: FakeSlack, **settings: Any) -> SlackHttpBot:
    return SlackHttpBot(slack_settings(tmp_path, fake, **settings), FakePipeline(audience_scoped(PASSAGES)), fake)


def assert_no_canary(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text


def test_a_staff_mention_in_a_shared_channel_is_answered_from_public_material(tmp_path: Path,
                                                                              fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        first = b.slack.mention("How does a refund work?", channel=SHARED)  # staff member, own workspace
        b.send_event(first)
        fake.final_answer(SHARED, first["ts"])
        follow_up = b.slack.message("and the refund escalations?", channel=SHARED, thread_ts=first["ts"])
        b.send_event(follow_up)
        fake.wait_for(lambda: len(fake.thread(SHARED, first["ts"])) == 2
                      and not fake.thread(SHARED, first["ts"])[1].streaming
                      and fake.thread(SHARED, first["ts"])[1].blocks)
        internal = b.slack.mention("How does a refund work?", channel="C0GENERAL")
        b.send_event(internal)
        internal_answer = fake.final_answer("C0GENERAL", internal["ts"])
    assert [r.audience for r in b.pipeline.requests] == ["public", "public", "internal"]
    assert_no_canary(fake.everything_sent_to(SHARED))
    assert "within 30 days" in fake.everything_sent_to(SHARED)
    assert CANARIES[0] in internal_answer.rendered  # the same staff member, an internal channel
    asked = [c.args["channel"] for c in fake.calls_to("conversations.info")]
    assert asked.count(SHARED) == 1, "the answer is cached: one lookup for the mention and its follow-up"


def test_the_events_own_shared_flag_is_enough(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        event = b.slack.mention("How does a refund work?", channel="C0ELSEWHERE")
        b.send_event(event, ext_shared=True)
        answer = fake.final_answer("C0ELSEWHERE", event["ts"])
    assert b.pipeline.requests[0].audience == "public"
    assert_no_canary(answer.rendered)
    assert fake.calls_to("conversations.info") == [], "Slack said it in the event; no need to ask"


def test_a_shared_direct_message_is_answered_from_public_material(tmp_path: Path, fake: FakeSlack) -> None:
    fake.ext_shared.add("D0PARTNER")  # a Slack Connect DM
    with bot(tmp_path, fake) as b:
        event = b.slack.message("How does a refund work?", channel="D0PARTNER", channel_type="im")
        b.send_event(event)
        answer = fake.final_answer("D0PARTNER", event["ts"])
    assert b.pipeline.requests[0].audience == "public"
    assert_no_canary(answer.rendered)


def test_assistant_threads_go_through_the_same_admission(tmp_path: Path, fake: FakeSlack) -> None:
    fake.ext_shared.add("D0ASSIST")
    with bot(tmp_path, fake) as b:
        started = {"type": "assistant_thread_started", "event_ts": b.slack.next_ts(), "assistant_thread": {
            "user_id": "U0ALICE", "channel_id": "D0ASSIST", "thread_ts": "1700000000.000009",
            "context": {"channel_id": SHARED, "team_id": "T0TEAM"}}}
        b.send_event(started)
        fake.wait_for(lambda: fake.calls_to("assistant.threads.setSuggestedPrompts"))
        question = b.slack.message("How does a refund work? escalations?", channel="D0ASSIST", channel_type="im",
                                   thread_ts="1700000000.000009")
        b.send_event(question)
        answer = fake.final_answer("D0ASSIST", "1700000000.000009")
    assert [r.audience for r in b.pipeline.requests] == ["public"]
    assert_no_canary(answer.rendered)


def test_slash_command_in_a_shared_channel_answers_from_public_material(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        ack = b.post(b.slack.command("refund escalations runbook", channel=SHARED,
                                     response_url=fake.response_url(SHARED)))
        reply = fake.wait_for(lambda: [r for r in fake.responses if r.get("blocks")])[0]
    assert ack.status_code == 200
    assert [r.audience for r in b.pipeline.requests] == ["public"]
    assert_no_canary(str(reply))


def test_an_internal_answer_is_not_posted_to_a_channel_that_became_shared(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        b.post(b.slack.command("refund escalations runbook", channel="C0TEAM",
                               response_url=fake.response_url("C0TEAM")))
        reply = fake.wait_for(lambda: [r for r in fake.responses if r.get("blocks")])[0]
        assert CANARIES[0] in str(reply), "an internal channel gets the internal answer, privately"
        fake.ext_shared.add("C0TEAM")  # then the channel is shared with a customer's workspace
        post_button = next(e for blk in reply["blocks"] if blk.get("block_id") == "feedback"
                           for e in blk["elements"] if e["action_id"] == "post_answer")
        action = b.slack.block_action("post_answer", post_button["value"], channel="C0TEAM", message=None,
                                      response_url=fake.response_url("C0TEAM"), ephemeral=True)
        clicked = b.post(b.slack.interaction(action))
        refusal = fake.wait_for(lambda: [r for r in fake.responses if "won't post" in r.get("text", "")])[0]
    assert clicked.status_code == 200
    assert "shared with another organisation" in refusal["text"]
    assert fake.in_channel("C0TEAM") == [], "nothing was posted where the customer can read it"


def test_an_internal_answer_is_posted_to_an_internal_channel(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        b.post(b.slack.command("refund escalations runbook", channel="C0TEAM",
                               response_url=fake.response_url("C0TEAM")))
        reply = fake.wait_for(lambda: [r for r in fake.responses if r.get("blocks")])[0]
        post_button = next(e for blk in reply["blocks"] if blk.get("block_id") == "feedback"
                           for e in blk["elements"] if e["action_id"] == "post_answer")
        action = b.slack.block_action("post_answer", post_button["value"], channel="C0TEAM", message=None,
                                      response_url=fake.response_url("C0TEAM"), ephemeral=True)
        b.post(b.slack.interaction(action))
        posted = fake.wait_for(lambda: fake.in_channel("C0TEAM"))[0]
    assert CANARIES[0] in posted.rendered


def test_an_internal_answer_is_not_escalated_to_a_shared_escalation_channel(tmp_path: Path,
                                                                            fake: FakeSlack) -> None:
    from tests.integration.test_slack_http import as_slack_message, feedback_value

    with bot(tmp_path, fake, escalation_channel=SHARED) as b:
        event = b.slack.mention("refund escalations runbook")
        b.send_event(event)
        answer = fake.final_answer("C0GENERAL", event["ts"])
        down = b.slack.block_action("feedback_down", feedback_value(answer), channel="C0GENERAL",
                                    message=as_slack_message(answer), response_url=fake.response_url("C0GENERAL"))
        b.post(b.slack.interaction(down))
        view = fake.wait_for(lambda: fake.calls_to("views.open"))[0].args["view"]
        values = {"escalate": {"escalate_input": {"type": "checkboxes",
                                                  "selected_options": [{"value": "escalate"}]}}}
        b.post(b.slack.interaction(b.slack.view_submission(view, values)))
        confirmation = fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))[0]
    assert CANARIES[0] in answer.rendered
    assert fake.in_channel(SHARED) == []
    assert [(h["status"], h["payload"]["error"]) for h in b.store.handoffs()] == [
        ("failed", "escalation_channel_is_shared")]
    assert "couldn't reach" in confirmation.args["text"]


def test_when_slack_cannot_say_the_conversation_is_treated_as_shared(tmp_path: Path, fake: FakeSlack) -> None:
    fake.fail("conversations.info", "missing_scope")
    with bot(tmp_path, fake) as b:
        event = b.slack.mention("How does a refund work?", channel="C0UNKNOWN")
        b.send_event(event)
        answer = fake.final_answer("C0UNKNOWN", event["ts"])
    assert b.pipeline.requests[0].audience == "public"
    assert_no_canary(answer.rendered)


# ---------------------------------------------------------------------------- the cache itself


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lookups(fake: FakeSlack, channel: str) -> int:
    return sum(1 for c in fake.calls_to("conversations.info") if c.args.get("channel") == channel)


async def test_lookups_are_cached_for_the_ttl_and_shared_by_concurrent_askers(fake: FakeSlack) -> None:
    import asyncio

    from slack_sdk.web.async_client import AsyncWebClient

    from bots.slack.audience import SharedChannels
    from tests.fake_slack import BOT_TOKEN

    clock = Clock()
    cache = SharedChannels(300.0, clock=clock)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    answers = await asyncio.gather(*(cache.is_shared(client, SHARED) for _ in range(8)))
    assert answers == [True] * 8 and lookups(fake, SHARED) == 1
    assert await cache.is_shared(client, "C0GENERAL") is False
    clock.now += 299
    fake.ext_shared.discard(SHARED)
    assert await cache.is_shared(client, SHARED) is True and lookups(fake, SHARED) == 1
    clock.now += 2
    assert await cache.is_shared(client, SHARED) is False and lookups(fake, SHARED) == 2
    # channel_shared / channel_unshared events update the cache at once
    cache.remember(SHARED, True)
    assert await cache.is_shared(client, SHARED) is True and lookups(fake, SHARED) == 2
    cache.forget(SHARED)
    assert await cache.is_shared(client, SHARED) is False and lookups(fake, SHARED) == 3
    # the request's own flag wins and is remembered; a fresh check always asks
    assert await cache.is_shared(client, "C0GENERAL", flag=True) is True
    assert await cache.is_shared(client, "C0GENERAL") is True
    assert await cache.is_shared(client, "C0GENERAL", fresh=True) is False


async def test_a_failed_lookup_counts_as_shared_and_is_retried_soon(fake: FakeSlack) -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    from bots.slack.audience import FAILED_LOOKUP_TTL_S, SharedChannels
    from tests.fake_slack import BOT_TOKEN

    clock = Clock()
    cache = SharedChannels(300.0, clock=clock)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    fake.fail("conversations.info", "missing_scope")
    assert await cache.is_shared(client, "C0GENERAL") is True
    clock.now += FAILED_LOOKUP_TTL_S + 1
    assert await cache.is_shared(client, "C0GENERAL") is False
    assert lookups(fake, "C0GENERAL") == 2


def test_shared_flags_in_requests() -> None:
    from bots.slack.audience import shared_flag

    assert shared_flag({"is_ext_shared_channel": True}, {"channel": "C1"}) is True
    assert shared_flag({"is_ext_shared_channel": False}, {"channel": "C1"}) is False
    assert shared_flag({"channel": {"id": "C1", "is_ext_shared": True}}) is True
    assert shared_flag({"channel": {"id": "C1", "is_pending_ext_shared": True}}) is True
    assert shared_flag({"channel": {"id": "C1", "name": "team"}}) is None
    assert shared_flag(None, {"channel": "C1"}) is None
