"""Insights and drafts read and write through the store's connection API: the same on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.drafts import Draft, DraftStore
from assistant.insights import Period, compute_insights, conversation_detail, recent_conversations
from assistant.store import Store
from tests.integration.seeded import make_store_module
from tests.integration.test_store_backends import _fresh_database, postgres_url  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    from assistant.factory import build_store

    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path, _env_file=None)
    else:
        url = _fresh_database(request.getfixturevalue("postgres_url"))
        settings = Settings(data_dir=tmp_path, store_url=url, _env_file=None)
    built = build_store(settings)
    yield built
    built.close()


def test_the_seeded_month_reads_the_same_on_both_backends(store: Store) -> None:
    now = time.time()
    summary = make_store_module().seed_store(store, now=now, seed=5)
    report = compute_insights(store, Period(now - 31 * 86_400, now + 1))
    assert (report.questions, report.abstained, report.handoffs) == (summary.questions, summary.abstained,
                                                                     summary.handoffs)
    assert report.feedback == {"up": summary.up, "down": summary.down}
    assert sum(d["questions"] for d in report.per_day) == summary.questions
    recent = recent_conversations(store, limit=5)
    assert len(recent) == 5 and recent[0]["created_at"] >= recent[-1]["created_at"]
    detail = conversation_detail(store, recent[0]["id"])
    assert detail is not None and detail["turns"] and detail["turns"][0]["role"] == "user"


def test_drafts_and_their_decisions_on_both_backends(store: Store, tmp_path: Path) -> None:
    drafts = DraftStore(store)
    drafts.add(Draft(id="pg000001", status="pending", title="Export timesheets", question="How?", answer="- Do it.",
                     tickets=[{"id": "1", "subject": "s", "url": None}], topic_size=3, coverage=0.4,
                     nearest_doc=None, created_at=time.time()))
    approved = drafts.approve("pg000001", audience="internal", actor="Dana", curated_dir=tmp_path / "curated")
    assert approved.status == "approved" and [e["action"] for e in approved.events] == ["created", "approved"]
    assert approved.decided_at is not None and abs(approved.decided_at - time.time()) < 60  # a double, not a float4
    assert [d.id for d in drafts.drafts("approved")] == ["pg000001"] and drafts.ticket_ids() == [{"1"}]


def test_a_declined_follow_up_is_a_gap_by_what_it_was_searched_as(store: Store, embedder) -> None:
    """"Does it work in Canada?" alone says nothing to whoever reads the gap report."""
    from tests.integration.test_store_backends import done_event

    conv = store.create_conversation(channel="web", audience="public")
    declined = done_event("I don't know.").model_copy(update={"abstained": True, "sources": []})
    turn_id = store.record_answer(conversation=conv, question="Does it work in Canada?", done=declined,
                                  searched="How do I set up payroll? Does it work in Canada?", asked_at=time.time())
    now = time.time()
    report = compute_insights(store, Period(now - 3600, now + 1), embedder=embedder)
    assert [g["examples"] for g in report.gaps] == [["How do I set up payroll? Does it work in Canada?"]]
    detail = conversation_detail(store, conv.id)
    assert detail is not None
    answer = next(t for t in detail["turns"] if t["id"] == turn_id)
    question = next(t for t in detail["turns"] if t["role"] == "user")
    assert answer["searched"] == "How do I set up payroll? Does it work in Canada?"
    assert question["text"] == "Does it work in Canada?" and question["searched"] is None
