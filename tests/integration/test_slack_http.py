"""The Slack bot in HTTP mode, end to end: signed requests to ``POST /slack/events`` on a real
uvicorn server, the real Bolt app and ``slack_sdk`` client, a fake Slack Web API on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.schemas import AnswerRequest, ErrorEvent
from bots.slack.blocks import ABSTAIN_NOTICE, FALLBACK_NOTICE, INTERNAL_NOTICE
from tests.fake_slack import BOT_ID, BOT_USER, FakeSlack
from tests.fakes import FakePipeline, ScriptedAnswer, audience_scoped, source
from tests.integration.slack_harness import SlackHttpBot, slack_settings

pytestmark = pytest.mark.integration

CANARIES = ("CANARY-INTERNAL-RUNBOOK-4F7A", "CANARY-INTERNAL-TICKET-9B2C")
REFUND = ScriptedAnswer(
    "To refund an invoice open **Invoices**, pick the invoice and choose *Refund* [1]. "
    "Partial refunds are supported for card payments [2].",
    [source(1, "Refunding an invoice", url="https://help.ledgerly.example/refunds", snippet="Refunds..."),
     source(2, "Card payments", url="https://help.ledgerly.example/cards", snippet="Cards...")],
)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


def bot(tmp_path: Path, fake: FakeSlack, pipeline: Any = None, **settings: Any) -> SlackHttpBot:
    pipeline = pipeline if pipeline is not None else FakePipeline(REFUND)
    return SlackHttpBot(slack_settings(tmp_path, fake, **settings), pipeline, fake)


def sources_text(message: Any) -> str:
    return next(b["text"]["text"] for b in message.blocks if b.get("block_id") == "sources")


# ---------------------------------------------------------------------------- request verification


def test_signed_url_verification_gets_its_challenge(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
        response = b.post(b.slack.signed(body, content_type="application/json"))
    assert response.status_code == 200
    assert response.json()["challenge"] == "c-123"


def test_bad_signature_is_refused_and_nothing_runs(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        event = b.slack.mention("How do I refund an invoice?")
        forged = b.post(b.slack.event(event, secret="not-the-signing-secret"))
        challenge = json.dumps({"challenge": "c-1", "type": "url_verification"})
        unsigned = b.post(b.slack.signed(challenge, content_type="application/json", secret="wrong"))
        time.sleep(0.3)
    assert forged.status_code == 401
    assert unsigned.status_code == 401 and "c-1" not in unsigned.text
    assert b.pipeline.requests == []
    assert [c.method for c in fake.calls] == []


def test_timestamp_older_than_five_minutes_is_refused(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        stale = b.post(b.slack.event(b.slack.mention("How do I refund?"), timestamp=int(time.time()) - 301))
        event = b.slack.mention("How do I refund?")
        fresh = b.post(b.slack.event(event, timestamp=int(time.time()) - 240))
        fake.final_answer("C0GENERAL", event["ts"])
    assert stale.status_code == 401
    assert fresh.status_code == 200
    assert len(b.pipeline.requests) == 1


# ---------------------------------------------------------------------------- answering


def test_mention_is_answered_in_its_thread_with_sources_and_feedback_buttons(tmp_path: Path,
                                                                             fake: FakeSlack) -> None:
    pipeline = FakePipeline(REFUND, token_delay_s=0.03)
    with bot(tmp_path, fake, pipeline) as b:
        event = b.slack.mention("How do I refund an invoice?")
        started = time.perf_counter()
        b.send_event(event)
        ack_s = time.perf_counter() - started
        answer = fake.final_answer("C0GENERAL", event["ts"])
    assert ack_s < 1.0
    request = pipeline.requests[0]
    assert request.question == "How do I refund an invoice?"
    assert request.audience == "internal" and request.channel == "slack"
    # streamed progressively with Slack's streaming methods, into the mention's thread
    start = fake.calls_to("chat.startStream")[0].args
    assert start["thread_ts"] == event["ts"]
    assert start["recipient_user_id"] == "U0ALICE" and start["recipient_team_id"] == "T0TEAM"
    assert fake.calls_to("chat.appendStream"), "the answer should arrive in more than one piece"
    assert answer.streamed and "**Invoices**" in answer.text
    links = sources_text(answer)
    assert "<https://help.ledgerly.example/refunds|Refunding an invoice>" in links
    assert "<https://help.ledgerly.example/cards|Card payments>" in links
    buttons = next(b for b in answer.blocks if b.get("block_id") == "feedback")["elements"]
    assert [e["action_id"] for e in buttons] == ["feedback_up", "feedback_down"]
    # recorded like the web channel: conversation keyed by the thread, both turns, the audit row
    conversation = b.store.find_conversation("slack", f"internal:C0GENERAL:{event['ts']}")
    assert conversation is not None
    turns = b.store.turns(conversation.id)
    assert [t["role"] for t in turns] == ["user", "assistant"]
    audit = b.store.audit(buttons[0]["value"])
    assert audit is not None and audit["question"] == "How do I refund an invoice?"


def test_without_streaming_the_answer_is_edited_in_about_once_a_second(tmp_path: Path, fake: FakeSlack) -> None:
    fake.streaming = False  # a workspace where chat.startStream is not available
    long = ScriptedAnswer(" ".join(f"word{i}" for i in range(60)) + " [1]", REFUND.sources[:1])
    pipeline = FakePipeline(long, token_delay_s=0.03)
    with bot(tmp_path, fake, pipeline, update_interval_s=0.5) as b:
        first = b.slack.mention("How do I refund an invoice?")
        b.send_event(first)
        answer = fake.final_answer("C0GENERAL", first["ts"])
        second = b.slack.mention("And a partial refund?")
        b.send_event(second)
        fake.final_answer("C0GENERAL", second["ts"])
    assert len(fake.calls_to("chat.startStream")) == 1, "after one refusal the app stops trying to stream"
    assert not answer.streamed and "word59" in answer.rendered and "Refunding an invoice" in answer.rendered
    first_edits = [c for c in fake.calls_to("chat.update") if c.args["ts"] == answer.ts]
    assert len(first_edits) >= 3, "the placeholder is edited while the answer is written, then finished"
    previews = [c.at for c in first_edits[:-1]]
    gaps = [b - a for a, b in itertools.pairwise(previews)]
    assert all(gap >= 0.45 for gap in gaps), gaps


def test_direct_message_is_answered(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        event = b.slack.message("how do refunds work?", channel="D0ALICE", channel_type="im")
        b.send_event(event)
        answer = fake.final_answer("D0ALICE", event["ts"])
    assert b.pipeline.requests[0].audience == "internal"
    assert "Refunding an invoice" in sources_text(answer)


def test_thread_follow_up_without_mention_is_answered_with_the_thread_as_history(tmp_path: Path,
                                                                                fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        root = b.slack.mention("How do I refund an invoice?")
        b.send_event(root)
        fake.final_answer("C0GENERAL", root["ts"])
        follow_up = b.slack.message("and for a partial one?", thread_ts=root["ts"])
        b.send_event(follow_up)
        fake.wait_for(lambda: len(fake.thread("C0GENERAL", root["ts"])) == 2
                      and not fake.thread("C0GENERAL", root["ts"])[1].streaming)
        # not answered: a thread the bot is not part of, and a plain channel message
        b.send_event(b.slack.message("unrelated chatter", thread_ts="1700000000.000100"))
        b.send_event(b.slack.message("good morning all"))
        time.sleep(0.5)
    assert len(b.pipeline.requests) == 2
    history = b.pipeline.requests[1].history
    assert [(h.role, h.text) for h in history] == [
        ("user", "How do I refund an invoice?"), ("assistant", REFUND.text)]
    assert b.pipeline.requests[1].conversation_id == b.pipeline.requests[0].conversation_id


def test_bot_ignores_its_own_messages_and_other_bots(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        root = b.slack.mention("How do I refund an invoice?")
        b.send_event(root)
        fake.final_answer("C0GENERAL", root["ts"])
        b.send_event(b.slack.message("my own answer", user=BOT_USER, bot_id=BOT_ID, thread_ts=root["ts"]))
        b.send_event(b.slack.message("another bot", user=None, bot_id="B0OTHER", subtype="bot_message",
                                     thread_ts=root["ts"]))
        b.send_event(b.slack.message("edited", subtype="message_changed", thread_ts=root["ts"]))
        time.sleep(0.5)
    assert len(b.pipeline.requests) == 1


def test_a_mention_delivered_as_two_events_gets_one_answer(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        mention = b.slack.mention("How do I refund an invoice?")
        same_message = b.slack.message(mention["text"], ts=mention["ts"])
        b.send_event(same_message)
        b.send_event(mention)
        fake.final_answer("C0GENERAL", mention["ts"])
        time.sleep(0.3)
    assert len(b.pipeline.requests) == 1
    assert len(fake.thread("C0GENERAL", mention["ts"])) == 1


def test_duplicate_retry_is_acknowledged_and_ignored(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        event = b.slack.mention("How do I refund an invoice?")
        b.send_event(event, event_id="Ev0DUPLICATE")
        retry = b.post(b.slack.event(event, event_id="Ev0DUPLICATE", retry_num=1))
        retry_again = b.post(b.slack.event(event, event_id="Ev0DUPLICATE", retry_num=2))
        fake.final_answer("C0GENERAL", event["ts"])
        time.sleep(0.3)
    assert retry.status_code == retry_again.status_code == 200
    assert len(b.pipeline.requests) == 1
    assert len(fake.calls_to("chat.startStream")) == 1


def test_slack_429_is_retried_after_retry_after_and_posted_once(tmp_path: Path, fake: FakeSlack) -> None:
    fake.rate_limit("chat.startStream", retry_after=1)
    with bot(tmp_path, fake) as b:
        event = b.slack.mention("How do I refund an invoice?")
        b.send_event(event)
        answer = fake.final_answer("C0GENERAL", event["ts"])
    first, second = fake.calls_to("chat.startStream")
    assert second.at - first.at >= 1.0
    assert len(fake.thread("C0GENERAL", event["ts"])) == 1
    assert "Refunding an invoice" in sources_text(answer)


def test_users_over_the_rate_limit_get_a_friendly_notice(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake, rate_per_minute_user=1) as b:
        first = b.slack.mention("How do I refund an invoice?")
        b.send_event(first)
        # Events are handled concurrently after the ack: the second is sent once the first is being
        # answered, or under load it can be admitted first and take the quota (the notice then goes
        # to the first question instead).
        fake.wait_for(lambda: fake.calls_to("chat.startStream"))
        b.send_event(b.slack.mention("And another thing?"))
        notice = fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))
        fake.final_answer("C0GENERAL", first["ts"])
    assert len(b.pipeline.requests) == 1
    assert notice[0].args["user"] == "U0ALICE"
    assert "faster than I can answer" in notice[0].args["text"]


def test_long_answers_are_split_within_slack_limits(tmp_path: Path, fake: FakeSlack) -> None:
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 40 for i in range(30)]
    pipeline = FakePipeline(ScriptedAnswer("\n\n".join(paragraphs), REFUND.sources[:1]), tokens_per_event=200)
    with bot(tmp_path, fake, pipeline) as b:
        event = b.slack.mention("Tell me everything")
        b.send_event(event)
        last = fake.final_answer("C0GENERAL", event["ts"])
    thread = fake.thread("C0GENERAL", event["ts"])
    assert len(thread) >= 3 and thread[-1] is last
    for message in thread:
        sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
        assert sections and all(len(s) <= 3000 for s in sections)
        assert len(message.blocks) <= 50 and len(message.text) <= 40_000
    shown = "\n".join(m.rendered for m in thread)
    assert all(f"Paragraph {i}:" in shown for i in range(30))


def test_llm_down_posts_the_extractive_answer_and_says_so(tmp_path: Path, fake: FakeSlack) -> None:
    extractive = ScriptedAnswer("> Refunds are issued from the invoice page. [1]", REFUND.sources[:1], fallback=True)
    with bot(tmp_path, fake, FakePipeline(extractive)) as b:
        event = b.slack.mention("How do I refund an invoice?")
        b.send_event(event)
        answer = fake.final_answer("C0GENERAL", event["ts"])
    assert FALLBACK_NOTICE in answer.rendered
    assert "Refunds are issued from the invoice page" in answer.rendered


def test_abstention_is_marked(tmp_path: Path, fake: FakeSlack) -> None:
    unknown = ScriptedAnswer("I don't know the answer to that from our documentation.", abstained=True)
    with bot(tmp_path, fake, FakePipeline(unknown)) as b:
        event = b.slack.mention("What is the airspeed of a swallow?")
        b.send_event(event)
        answer = fake.final_answer("C0GENERAL", event["ts"])
    assert ABSTAIN_NOTICE in answer.rendered


def test_users_see_safe_messages_never_internal_errors(tmp_path: Path, fake: FakeSlack) -> None:
    def respond(request: AnswerRequest) -> ScriptedAnswer:
        if "crash" in request.question:
            raise RuntimeError("psycopg.OperationalError at /srv/app/secret_module.py line 42")
        return ScriptedAnswer("", error=ErrorEvent(code="no_index", message="The knowledge base is not ready yet."))

    with bot(tmp_path, fake, FakePipeline(respond)) as b:
        not_ready = b.slack.mention("How do I refund?")
        crash = b.slack.mention("please crash")
        b.send_event(not_ready)
        b.send_event(crash)
        fake.wait_for(lambda: fake.thread("C0GENERAL", not_ready["ts"]) and fake.thread("C0GENERAL", crash["ts"]))
        time.sleep(0.2)
    shown = fake.everything_sent_to("C0GENERAL")
    assert "The knowledge base is not ready yet." in shown
    assert "something went wrong" in shown
    assert "secret_module" not in shown and "Traceback" not in shown and "RuntimeError" not in shown


def test_empty_mention_gets_a_hint_instead_of_an_answer(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        event = b.slack.mention("")
        b.send_event(event)
        hint = fake.wait_for(lambda: fake.thread("C0GENERAL", event["ts"]))
    assert "Ask me a question" in hint[0].text
    assert b.pipeline.requests == []


# ---------------------------------------------------------------------------- channel policy


CHANNELS = """
allowlist: [C0GENERAL]
channels:
  C0SHARED: {audience: public, respond: all, prompt: public}
"""
PASSAGES = [
    source(1, "Refund policy", snippet="Customers can request a refund within 30 days from the invoice page."),
    source(2, "Refund runbook (internal)", audience="internal",
           snippet=f"Refund escalations: follow {CANARIES[0]} and check the ledger."),
    source(3, "Ticket 4411: refund stuck", audience="internal",
           snippet=f"Refund stuck in pending, fixed by support, see {CANARIES[1]}."),
]


def test_public_channel_never_receives_internal_canary_content(tmp_path: Path, fake: FakeSlack) -> None:
    pipeline = FakePipeline(audience_scoped(PASSAGES))
    with bot(tmp_path, fake, pipeline, channels=CHANNELS) as b:
        public_q = b.slack.message("How does a refund work?", channel="C0SHARED")  # respond: all, no mention
        b.send_event(public_q)
        public = fake.final_answer("C0SHARED", public_q["ts"])
        follow_up = b.slack.message("and if the refund is stuck?", channel="C0SHARED", thread_ts=public_q["ts"])
        b.send_event(follow_up)
        fake.wait_for(lambda: len(fake.thread("C0SHARED", public_q["ts"])) == 2
                      and not fake.thread("C0SHARED", public_q["ts"])[1].streaming)
        command = b.post(b.slack.command("refund runbook please", channel="C0SHARED",
                                         response_url=fake.response_url("C0SHARED")))
        fake.wait_for(lambda: any(r.get("blocks") for r in fake.responses))
        internal_q = b.slack.mention("How does a refund work?")
        b.send_event(internal_q)
        internal = fake.final_answer("C0GENERAL", internal_q["ts"])
    assert command.status_code == 200
    assert [(r.audience, r.prompt) for r in pipeline.requests] == [
        ("public", "public"), ("public", "public"), ("public", "public"), ("internal", None)]
    shown_publicly = fake.everything_sent_to("C0SHARED")
    assert "within 30 days" in shown_publicly
    for canary in CANARIES:
        assert canary not in shown_publicly
    assert INTERNAL_NOTICE not in public.rendered
    # the same question in an internal channel does reach the internal material
    assert CANARIES[0] in internal.rendered and INTERNAL_NOTICE in internal.rendered


def test_slack_connect_users_get_public_answers_in_unlisted_channels(tmp_path: Path, fake: FakeSlack) -> None:
    pipeline = FakePipeline(audience_scoped(PASSAGES))
    with bot(tmp_path, fake, pipeline) as b:
        event = b.slack.mention("How does a refund work?", channel="C0UNLISTED", user="U0GUEST",
                                user_team="T0PARTNER")
        b.send_event(event)
        answer = fake.final_answer("C0UNLISTED", event["ts"])
    assert pipeline.requests[0].audience == "public"
    assert all(c not in answer.rendered for c in CANARIES)


def test_channels_off_the_allowlist_are_told_and_not_answered(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake, channels=CHANNELS) as b:
        b.send_event(b.slack.mention("How do I refund?", channel="C0RANDOM"))
        notice = fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))
    assert "not enabled in this channel" in notice[0].args["text"]
    assert b.pipeline.requests == []


# ---------------------------------------------------------------------------- slash command, buttons


def test_slash_command_answers_privately_and_can_post_to_the_channel(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        ack = b.post(b.slack.command("how do I refund an invoice?", response_url=fake.response_url("C0GENERAL")))
        reply = fake.wait_for(lambda: [r for r in fake.responses if r.get("blocks")])[0]
        post_button = next(e for blk in reply["blocks"] if blk.get("block_id") == "feedback"
                           for e in blk["elements"] if e["action_id"] == "post_answer")
        action = b.slack.block_action("post_answer", post_button["value"], channel="C0GENERAL", message=None,
                                      response_url=fake.response_url("C0GENERAL"), ephemeral=True)
        clicked = b.post(b.slack.interaction(action))
        posted = fake.wait_for(lambda: fake.in_channel("C0GENERAL"))[0]
        fake.wait_for(lambda: any(r.get("delete_original") for r in fake.responses))
    assert ack.status_code == 200 and "Looking it up" in ack.text and "ephemeral" in ack.text
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is True
    assert "how do I refund an invoice?" in json.dumps(reply["blocks"])
    assert clicked.status_code == 200
    assert "<@U0ALICE> asked" in posted.rendered and "Refunding an invoice" in posted.rendered
    assert posted.thread_ts is None


def feedback_value(message: Any) -> str:
    return str(next(b for b in message.blocks if b.get("block_id") == "feedback")["elements"][0]["value"])


def as_slack_message(message: Any) -> dict[str, Any]:
    return {"type": "message", "ts": message.ts, "text": message.text, "blocks": message.blocks,
            "user": BOT_USER, "bot_id": BOT_ID}


def test_thumbs_up_is_stored_against_the_answer(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        event = b.slack.mention("How do I refund an invoice?")
        b.send_event(event)
        answer = fake.final_answer("C0GENERAL", event["ts"])
        answer_id = feedback_value(answer)
        action = b.slack.block_action("feedback_up", answer_id, channel="C0GENERAL",
                                      message=as_slack_message(answer), response_url=fake.response_url("C0GENERAL"))
        assert b.post(b.slack.interaction(action)).status_code == 200
        fake.wait_for(lambda: fake.responses)
    stored = b.store.feedback(answer_id)
    assert [(f["rating"], f["channel"], f["user_id"]) for f in stored] == [(1, "slack", "U0ALICE")]
    assert "Thanks" in fake.responses[0]["text"]


def test_thumbs_down_with_a_reason_escalates_to_the_support_channel(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake, escalation_channel="C0ESCALATE", escalation_mention="S0SUPPORT") as b:
        event = b.slack.mention("How do I refund an invoice?")
        b.send_event(event)
        answer = fake.final_answer("C0GENERAL", event["ts"])
        answer_id = feedback_value(answer)
        down = b.slack.block_action("feedback_down", answer_id, channel="C0GENERAL", user="U0BOB",
                                    message=as_slack_message(answer), response_url=fake.response_url("C0GENERAL"))
        b.post(b.slack.interaction(down))
        view = fake.wait_for(lambda: fake.calls_to("views.open"))[0].args["view"]
        values = {"reason": {"reason_input": {"type": "plain_text_input", "value": "Partial refunds differ"}},
                  "escalate": {"escalate_input": {"type": "checkboxes", "selected_options": [
                      {"value": "escalate", "text": {"type": "plain_text", "text": "Send"}}]}}}
        submitted = b.post(b.slack.interaction(b.slack.view_submission(view, values, user="U0BOB")))
        escalation = fake.wait_for(lambda: fake.in_channel("C0ESCALATE"))[0]
        confirmation = fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))[0]
    assert submitted.status_code == 200
    assert [(f["rating"], f["comment"], f["user_id"]) for f in b.store.feedback(answer_id)] == [
        (-1, "Partial refunds differ", "U0BOB")]
    shown = escalation.rendered
    assert "<!subteam^S0SUPPORT>" in shown and "<@U0BOB>" in shown
    assert "How do I refund an invoice?" in shown and "Partial refunds are supported" in shown
    assert "<https://help.ledgerly.example/refunds|Refunding an invoice>" in shown
    assert "Partial refunds differ" in shown and "fake.slack.test/archives/C0GENERAL" in shown
    handoffs = b.store.handoffs()
    assert [(h["channel"], h["destination"], h["status"], h["turn_id"]) for h in handoffs] == [
        ("slack", "slack:C0ESCALATE", "sent", answer_id)]
    assert handoffs[0]["payload"]["sources"][0]["title"] == "Refunding an invoice"
    assert confirmation.args["user"] == "U0BOB" and "C0ESCALATE" in confirmation.args["text"]


def test_a_failed_escalation_is_recorded_as_failed(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake, escalation_channel="C0GONE") as b:
        event = b.slack.mention("How do I refund an invoice?")
        b.send_event(event)
        answer = fake.final_answer("C0GENERAL", event["ts"])
        answer_id = feedback_value(answer)
        down = b.slack.block_action("feedback_down", answer_id, channel="C0GENERAL",
                                    message=as_slack_message(answer), response_url=fake.response_url("C0GENERAL"))
        b.post(b.slack.interaction(down))
        view = fake.wait_for(lambda: fake.calls_to("views.open"))[0].args["view"]
        fake.fail("chat.postMessage", "channel_not_found")
        values = {"escalate": {"escalate_input": {"type": "checkboxes",
                                                  "selected_options": [{"value": "escalate"}]}}}
        b.post(b.slack.interaction(b.slack.view_submission(view, values)))
        confirmation = fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))[0]
    assert [h["status"] for h in b.store.handoffs()] == ["failed"]
    assert b.store.handoffs()[0]["payload"]["error"] == "channel_not_found"
    assert "couldn't reach" in confirmation.args["text"]
    assert [f["rating"] for f in b.store.feedback(answer_id)] == [-1]


def test_closing_the_reason_dialog_still_stores_the_thumbs_down(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        event = b.slack.mention("How do I refund an invoice?")
        b.send_event(event)
        answer = fake.final_answer("C0GENERAL", event["ts"])
        answer_id = feedback_value(answer)
        down = b.slack.block_action("feedback_down", answer_id, channel="C0GENERAL",
                                    message=as_slack_message(answer), response_url=fake.response_url("C0GENERAL"))
        b.post(b.slack.interaction(down))
        view = fake.wait_for(lambda: fake.calls_to("views.open"))[0].args["view"]
        assert "escalate" not in json.dumps(view["blocks"]), "no escalation channel is configured"
        b.post(b.slack.interaction(b.slack.view_closed(view)))
        stored = fake.wait_for(lambda: b.store.feedback(answer_id))
    assert [(f["rating"], f["comment"]) for f in stored] == [(-1, None)]


# ---------------------------------------------------------------------------- assistant threads


def test_assistant_thread_gets_prompts_status_and_an_answer(tmp_path: Path, fake: FakeSlack) -> None:
    with bot(tmp_path, fake) as b:
        started = {"type": "assistant_thread_started", "event_ts": b.slack.next_ts(), "assistant_thread": {
            "user_id": "U0ALICE", "channel_id": "D0ALICE", "thread_ts": "1700000000.000001",
            "context": {"channel_id": "C0GENERAL", "team_id": "T0TEAM"}}}
        b.send_event(started)
        prompts = fake.wait_for(lambda: fake.calls_to("assistant.threads.setSuggestedPrompts"))[0]
        question = b.slack.message("How do I refund an invoice?", channel="D0ALICE", channel_type="im",
                                   thread_ts="1700000000.000001")
        b.send_event(question)
        answer = fake.final_answer("D0ALICE", "1700000000.000001")
    assert len(prompts.args["prompts"]) == 3
    status = fake.calls_to("assistant.threads.setStatus")[0].args
    assert status["thread_ts"] == "1700000000.000001" and "thinking" in status["status"]
    assert "Refunding an invoice" in sources_text(answer)


def test_assistant_serve_mounts_slack_events_through_the_entry_point(tmp_path: Path, fake: FakeSlack) -> None:
    """The web server behind ``assistant serve`` finds the Slack mount by its entry point and runs
    its startup hook; Slack's requests pass the web app's middleware untouched."""
    from assistant.store import Store
    from bots.web.app import create_app, discover_mounts
    from tests.fake_slack import SlackRequests
    from tests.integration.slack_harness import UvicornThread

    settings = slack_settings(tmp_path, fake)
    store = Store(settings.store_path)
    pipeline = FakePipeline(REFUND, store=store)
    app = create_app(settings, pipeline=pipeline, store=store, mounts=discover_mounts())
    slack = SlackRequests()
    with UvicornThread(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        event = slack.mention("How do I refund an invoice?")
        body, headers = slack.event(event)
        acked = http.post("/slack/events", content=body.encode(), headers=headers)
        forged = http.post("/slack/events", content=body.encode(), headers=dict(headers, **{
            "X-Slack-Signature": "v0=" + "0" * 64}))
        answer = fake.final_answer("C0GENERAL", event["ts"])
    assert acked.status_code == 200 and forged.status_code == 401
    assert "Refunding an invoice" in sources_text(answer)
    assert len(pipeline.requests) == 1
