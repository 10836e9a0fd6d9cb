"""One store test suite, run on the embedded SQLite store and on a real PostgreSQL server.

Each Postgres case gets a fresh database in one server started for the module (Debian's
``postgresql`` binaries; skipped with the reason when they are missing).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.schemas import DoneEvent, GroundingResult, SourceRef
from assistant.store import Store
from tests.integration.services import postgres_server

pytestmark = pytest.mark.integration

_db_numbers = itertools.count()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _fresh_database(server_url: str) -> str:
    import psycopg

    name = f"store_test_{next(_db_numbers)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"


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


def done_event(answer: str = "Open Invoices and choose Refund [1].", *, abstained: bool = False) -> DoneEvent:
    return DoneEvent(
        answer=answer, abstained=abstained, fallback=False, backend="extractive", model="m", generation="g1",
        prompt_version="p1", timings_ms={"retrieve": 12.5}, usage={"prompt_tokens": 10},
        sources=[SourceRef(n=1, title="Refunds", url="https://help.example/refunds", source="help",
                           audience="public", chunk_id="c1", snippet="Refunds...")],
        grounding=GroundingResult())


def test_conversations_are_created_found_and_unique_per_external_key(store: Store) -> None:
    conv = store.create_conversation(channel="web", audience="public", user_id="session:abc",
                                     metadata={"origin": "https://example.com"})
    assert store.get_conversation(conv.id) == conv
    assert store.get_conversation("missing") is None
    thread = store.get_or_create_conversation(channel="slack", audience="internal", external_key="C1:1.0",
                                              user_id="U1")
    again = store.get_or_create_conversation(channel="slack", audience="internal", external_key="C1:1.0")
    assert again == thread and store.find_conversation("slack", "C1:1.0") == thread
    assert store.find_conversation("web", "C1:1.0") is None  # the key is per channel


def test_get_or_create_from_many_threads_makes_one_conversation(store: Store) -> None:
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: store.get_or_create_conversation(
            channel="slack", audience="internal", external_key="C9:9.9"), range(16)))
    assert len({c.id for c in found}) == 1


def test_history_is_the_last_turns_oldest_first(store: Store) -> None:
    conv = store.create_conversation(channel="web", audience="public")
    for n in range(6):
        store.add_turn(conv.id, "user" if n % 2 == 0 else "assistant", f"turn {n} — ünïcode ✓")
    assert [t.text for t in store.history(conv.id, limit=3)] == [f"turn {n} — ünïcode ✓" for n in (3, 4, 5)]
    assert [t.role for t in store.history(conv.id)] == ["user", "assistant"] * 3
    assert store.history("missing") == []


def test_an_answer_and_its_audit_row_round_trip(store: Store) -> None:
    conv = store.create_conversation(channel="slack", audience="internal")
    store.add_turn(conv.id, "user", "How do I refund?")
    turn_id = store.record_answer(conversation=conv, question="How do I refund?", done=done_event(),
                                  retrieved_chunk_ids=["c1", "c7"])
    audit = store.audit(turn_id)
    assert audit is not None
    assert audit["chunk_ids"] == ["c1"] and audit["chunk_audiences"] == ["public"]
    assert audit["retrieved_chunk_ids"] == ["c1", "c7"] and audit["timings_ms"] == {"retrieve": 12.5}
    assert audit["abstained"] is False and audit["fallback"] is False and audit["generation"] == "g1"
    assert audit["grounding"]["dropped_units"] == []
    assert abs(audit["created_at"] - store.get_turn(turn_id)["created_at"]) < 1e-6  # full float precision
    turns = store.turns(conv.id)
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert turns[1]["id"] == turn_id and turns[1]["chunk_ids"] == '["c1"]'
    assert store.audit("missing") is None


def test_the_searched_text_of_a_follow_up_is_kept_beside_the_customers_words(store: Store) -> None:
    conv = store.create_conversation(channel="web", audience="public")
    follow_up = store.record_answer(conversation=conv, question="How long does it take?", done=done_event(),
                                    searched="How do I refund a card payment? How long does it take?")
    plain = store.record_answer(conversation=conv, question="How do I refund?", done=done_event(),
                                searched="How do I refund?")
    first, second = store.audit(follow_up), store.audit(plain)
    assert first is not None and second is not None
    assert first["question"] == "How long does it take?"
    assert first["searched"] == "How do I refund a card payment? How long does it take?"
    assert second["searched"] is None  # searched as asked: nothing more to say


def test_why_a_question_was_declined_is_kept_and_only_for_a_declined_one(store: Store) -> None:
    conv = store.create_conversation(channel="web", audience="public")
    declined = store.record_answer(conversation=conv, question="How much does hosting cost?",
                                   done=done_event(abstained=True), declined="price_unstated")
    answered = store.record_answer(conversation=conv, question="How do I refund?", done=done_event(),
                                   declined="low_confidence")  # a caller's slip: an answer was not declined
    first, second = store.audit(declined), store.audit(answered)
    assert first is not None and second is not None
    assert first["declined"] == "price_unstated" and second["declined"] is None


def test_the_retrieval_confidence_is_kept_with_the_answer(store: Store) -> None:
    conv = store.create_conversation(channel="web", audience="public")
    weak = store.record_answer(conversation=conv, question="q", done=done_event(), confidence=0.5712345)
    unknown = store.record_answer(conversation=conv, question="q", done=done_event())
    first, second = store.audit(weak), store.audit(unknown)
    assert first is not None and second is not None
    assert first["confidence"] == pytest.approx(0.5712) and second["confidence"] is None


def test_a_store_written_before_searched_was_recorded_gains_the_columns(tmp_path: Path) -> None:
    import sqlite3

    from assistant.store import SCHEMA

    path = tmp_path / "store.sqlite"
    # as an earlier release wrote it: neither what a follow-up was searched as, nor why a question was
    # declined, nor the retrieval's confidence
    earlier = re.sub(r",(\s*--[^\n]*)?\n\s*searched TEXT[^\n]*\n\s*declined TEXT[^\n]*\n\s*confidence REAL[^\n]*",
                     r"\1", SCHEMA)
    assert "searched" not in earlier and "declined TEXT" not in earlier and "confidence REAL" not in earlier
    with sqlite3.connect(path) as db:
        db.executescript(earlier)
    store = Store(path)
    conv = store.create_conversation(channel="web", audience="public")
    turn_id = store.record_answer(conversation=conv, question="And Xero?", done=done_event(),
                                  searched="How do I connect to ? And Xero?")
    declined = store.record_answer(conversation=conv, question="In nginx, how?", done=done_event(abstained=True),
                                   declined="outside_scope", confidence=0.31)
    audit, refused = store.audit(turn_id), store.audit(declined)
    store.close()
    assert audit is not None and audit["searched"] == "How do I connect to ? And Xero?"
    assert refused is not None and refused["declined"] == "outside_scope" and refused["confidence"] == 0.31


def test_feedback_ids_increase_and_ratings_are_normalised(store: Store) -> None:
    conv = store.create_conversation(channel="web", audience="public")
    turn_id = store.record_answer(conversation=conv, question="q", done=done_event())
    first = store.record_feedback(turn_id=turn_id, rating=5, channel="web", comment="great")
    second = store.record_feedback(turn_id=turn_id, rating=-3, channel="web", user_id="U1")
    assert 0 < first < second
    rows = store.feedback(turn_id)
    assert [(r["rating"], r["comment"], r["user_id"]) for r in rows] == [(1, "great", None), (-1, None, "U1")]


def test_handoffs_are_recorded_with_their_payload(store: Store) -> None:
    conv = store.create_conversation(channel="web", audience="public")
    store.record_handoff(channel="web", destination="webhook", status="sent", conversation_id=conv.id,
                         payload={"email": "a@example.com", "note": "50% off?"})
    store.record_handoff(channel="slack", destination="C0ESC", status="failed", payload={})
    mine = store.handoffs(conv.id)
    assert len(mine) == 1 and mine[0]["payload"] == {"email": "a@example.com", "note": "50% off?"}
    assert [h["status"] for h in store.handoffs()] == ["sent", "failed"]


def test_a_closed_store_reopens_on_the_next_call(store: Store) -> None:
    conv = store.create_conversation(channel="web", audience="public")
    store.close()
    assert store.get_conversation(conv.id) == conv


def test_postgres_migrations_apply_once_and_record_their_version(postgres_url: str) -> None:
    from assistant.store_postgres import MIGRATIONS, PostgresStore

    url = _fresh_database(postgres_url)
    with ThreadPoolExecutor(3) as pool:  # replicas starting together
        stores = list(pool.map(lambda _: PostgresStore(url), range(3)))
    assert stores[0].migrate() == []
    with stores[0]._connect() as db:
        versions = [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]
    assert versions == [v for v, _ in MIGRATIONS]
    for s in stores:
        s.close()


def test_store_url_selects_the_backend(tmp_path: Path) -> None:
    from assistant.errors import ConfigError
    from assistant.store_postgres import open_store

    db = tmp_path / "elsewhere" / "store.sqlite"
    store = open_store(f"sqlite:///{db}", tmp_path / "default.sqlite")
    store.create_conversation(channel="web", audience="public")
    assert db.exists() and not (tmp_path / "default.sqlite").exists()
    store.close()
    with pytest.raises(ConfigError, match="Unsupported ASSISTANT_STORE_URL scheme"):
        open_store("mysql://x/y", tmp_path / "s.sqlite")


def test_the_insights_readers_work_on_both_backends(store: Store) -> None:
    """``assistant/insights.py`` reads through ``Store._connect`` with plain SQL: the Postgres adapter
    must give it the same rows (placeholders, row access by index, counts)."""
    from assistant.insights import conversation_detail, recent_conversations

    conv = store.create_conversation(channel="web", audience="public")
    store.add_turn(conv.id, "user", "How do I refund?")
    turn_id = store.record_answer(conversation=conv, question="How do I refund?", done=done_event())
    store.record_feedback(turn_id=turn_id, rating=-1, channel="web")
    store.record_handoff(channel="web", destination="webhook", status="sent", conversation_id=conv.id, payload={})
    [row] = recent_conversations(store, channel="web")
    assert (row["id"], row["questions"], row["down"], row["handoffs"]) == (conv.id, 1, 1, 1)
    detail = conversation_detail(store, conv.id)
    assert detail is not None
