"""What `assistant insights` counts, on a small store whose every number is known by construction."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from assistant.errors import ConfigError
from assistant.insights import Period, compute_insights, parse_when
from assistant.schemas import DoneEvent
from assistant.store import Store

DAY = 86_400.0
NOW = 1_800_000_000.0  # a fixed "now": 2027-01-15


def _answer(store: Store, conv, question: str, *, at: float, abstained: bool = False, fallback: bool = False,
            total_ms: float = 1000.0, chunks: tuple[str, ...] = ()) -> str:
    from assistant.schemas import SourceRef

    sources = [SourceRef(n=i + 1, title=c, source="docs", audience="public", chunk_id=c) for i, c in enumerate(chunks)]
    turn = store.record_answer(conversation=conv, question=question, done=DoneEvent(
        answer="…", sources=sources, abstained=abstained, fallback=fallback, backend="local",
        timings_ms={"total": total_ms}))
    with store._connect() as db:
        db.execute("UPDATE audit SET created_at = ? WHERE turn_id = ?", (at, turn))
    return turn


def _backdate(store: Store, table: str, key: str, value: str | int, at: float) -> None:
    with store._connect() as db:
        db.execute(f"UPDATE {table} SET created_at = ? WHERE {key} = ?", (at, value))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """Eight answers in the last week, one older; outcomes chosen so each metric has one clear value."""
    store = Store(tmp_path / "store.sqlite")
    web = store.create_conversation(channel="web", audience="public")
    t1 = _answer(store, web, "How do refunds work?", at=NOW - 1 * DAY, total_ms=100, chunks=("c1", "c2"))
    store.record_feedback(turn_id=t1, rating=1, channel="web")
    t2 = _answer(store, web, "And partial refunds?", at=NOW - 1 * DAY + 60, total_ms=200, chunks=("c1",))
    fid = store.record_feedback(turn_id=t2, rating=-1, channel="web", comment="Too vague, mail me at a@b.example")
    _backdate(store, "feedback", "id", fid, NOW - 1 * DAY + 90)

    web2 = store.create_conversation(channel="web", audience="public")
    t3 = _answer(store, web2, "Can I run payroll?", at=NOW - 2 * DAY, abstained=True, total_ms=300)
    hid = store.record_handoff(channel="web", destination="email", status="sent", payload={},
                               conversation_id=web2.id, turn_id=t3)
    _backdate(store, "handoffs", "id", hid, NOW - 2 * DAY + 30)

    web3 = store.create_conversation(channel="web", audience="public")
    _answer(store, web3, "Where are invoice templates?", at=NOW - 3 * DAY, total_ms=400, chunks=("c3",))
    _answer(store, web3, "How do I brand them?", at=NOW - 3 * DAY + 10, total_ms=500, fallback=True)
    # a hand-off without a turn id: the question before it is the one given up on
    hid = store.record_handoff(channel="web", destination="email", status="sent", payload={},
                               conversation_id=web3.id)
    _backdate(store, "handoffs", "id", hid, NOW - 3 * DAY + 20)

    slack = store.create_conversation(channel="slack", audience="internal")
    _answer(store, slack, "Refund limit for agents?", at=NOW - 4 * DAY, total_ms=600, chunks=("c4",))
    _answer(store, slack, "Is there a Shopify integration?", at=NOW - 4 * DAY + 5, abstained=True, total_ms=700)
    _answer(store, slack, "What is our SLA?", at=NOW - 5 * DAY, total_ms=800)

    old = store.create_conversation(channel="web", audience="public")
    _answer(store, old, "Old question", at=NOW - 20 * DAY, total_ms=9999)
    return store


def test_counts_deflection_latency_and_feedback_over_the_period(store: Store) -> None:
    report = compute_insights(store, Period(NOW - 7 * DAY, NOW))
    assert (report.questions, report.answered, report.abstained, report.fallback) == (8, 6, 2, 1)
    assert report.feedback == {"up": 1, "down": 1}
    assert report.handoffs == 2
    # deflected: answered, no 👎, conversation without hand-off -> t1 and the three slack/answered ones
    # minus the abstained Shopify question: t1, refund limit, SLA = 3
    assert report.deflected == 3
    assert report.deflection_rate == pytest.approx(3 / 8, abs=1e-4)
    assert report.latency_ms["p50"] == pytest.approx(450.0)
    assert report.latency_ms["p95"] == pytest.approx(765.0)
    assert report.channels == {"web": 5, "slack": 3}
    assert [d["questions"] for d in report.per_day] == [0, 0, 1, 2, 2, 1, 2, 0]
    assert report.top_cited[0]["doc_key"] == "c1" and report.top_cited[0]["citations"] == 2
    assert report.down_reasons == [{"reason": "too vague, mail me at [EMAIL]", "count": 1}]


def test_channel_filter_and_period_bounds(store: Store) -> None:
    slack = compute_insights(store, Period(NOW - 7 * DAY, NOW), channel="slack")
    assert (slack.questions, slack.abstained, slack.handoffs) == (3, 1, 0)
    month = compute_insights(store, Period(NOW - 30 * DAY, NOW))
    assert month.questions == 9
    assert month.latency_ms["p95"] is not None and month.latency_ms["p95"] > 5000
    empty = compute_insights(store, Period(NOW - 60 * DAY, NOW - 40 * DAY))
    assert (empty.questions, empty.deflection_rate, empty.latency_ms["p50"]) == (0, 0.0, None)
    with pytest.raises(ConfigError):
        compute_insights(store, Period(NOW - DAY, NOW), channel="fax")


def test_failed_questions_are_the_declined_the_downvoted_and_the_handed_off(store: Store, embedder) -> None:
    report = compute_insights(store, Period(NOW - 7 * DAY, NOW), embedder=embedder, gap_members=True)
    asked = {q for gap in report.gaps for q in gap["questions"]}
    assert asked == {"Can I run payroll?", "Is there a Shopify integration?", "And partial refunds?",
                     "How do I brand them?"}
    total: Counter[str] = Counter()
    for gap in report.gaps:
        total.update(gap["reasons"])
    assert total == {"abstained": 2, "down": 1, "handoff": 2}
    assert sum(gap["size"] for gap in report.gaps) == 4


def test_an_answer_given_on_weak_evidence_is_counted_unsure_and_is_a_gap(store: Store, embedder) -> None:
    web = store.create_conversation(channel="web", audience="public")
    for question, confidence in (("Can I invoice in bitcoin?", 0.55), ("How do I add a logo?", 0.91)):
        turn = store.record_answer(conversation=web, question=question, confidence=confidence, done=DoneEvent(
            answer="…", sources=[], abstained=False, fallback=False, backend="extractive", timings_ms={"total": 90}))
        _backdate(store, "audit", "turn_id", turn, NOW - 1 * DAY + 300)
    report = compute_insights(store, Period(NOW - 7 * DAY, NOW), embedder=embedder, gap_members=True,
                              unsure_below=0.6374)
    assert (report.questions, report.answered, report.unsure) == (10, 8, 1)  # answers without one count as sure
    unsure = [gap for gap in report.gaps if "unsure" in gap["reasons"]]
    assert [q for gap in unsure for q in gap["questions"]] == ["Can I invoice in bitcoin?"]
    assert report.deflected == 5  # an unsure answer nobody complained about still settled the question
    assert compute_insights(store, Period(NOW - 7 * DAY, NOW)).unsure == 0  # no bound given: none


def test_period_parsing() -> None:
    now = time.time()
    assert parse_when("7d", now=now) == pytest.approx(now - 7 * DAY)
    assert parse_when("12h", now=now) == pytest.approx(now - 12 * 3600)
    assert parse_when("2026-11-01", now=now) == pytest.approx(1_793_491_200.0)
    period = Period.parse("2026-11-01", "2026-11-08")
    assert period.end - period.start == pytest.approx(7 * DAY)
    assert Period.parse("1d", "2026-11-08").start == pytest.approx(period.end - DAY)
    with pytest.raises(ConfigError, match="Cannot read the time"):
        parse_when("last tuesday", now=now)
    with pytest.raises(ConfigError, match="period is empty"):
        Period.parse("2026-11-08", "2026-11-01")


def test_small_talk_is_not_a_question_answered_or_a_gap(store: Store) -> None:
    """"hi" and "thanks!" got a courtesy reply (backend ``small_talk``): no figure moves."""
    before = compute_insights(store, Period(NOW - 7 * DAY, NOW))
    web = store.create_conversation(channel="web", audience="public")
    for text in ("hi", "thanks!"):
        turn = store.record_answer(conversation=web, question=text, done=DoneEvent(
            answer="Hi!", sources=[], abstained=False, fallback=False, backend="small_talk",
            timings_ms={"total": 5.0}))
        store.record_feedback(turn_id=turn, rating=1, channel="web")
        _backdate(store, "audit", "turn_id", turn, NOW - DAY)
    after = compute_insights(store, Period(NOW - 7 * DAY, NOW))
    assert (after.questions, after.answered, after.deflected, after.feedback, after.latency_ms) == \
        (before.questions, before.answered, before.deflected, before.feedback, before.latency_ms)
