"""The in-process BM25 over ``postings_<audience>`` ranks exactly as FTS5's ``bm25()`` on the real
example index, and a generation written before the postings tables still searches (through FTS5)."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest

from assistant import generations
from assistant.chunkdb import (
    DEFAULT_FIELD_WEIGHTS,
    POSTINGS_ROWS,
    ChunkDB,
    fts_phrase_query,
    fts_query,
    postings_table,
)
from assistant.retrieval import keyword_query

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _questions() -> list[str]:
    rows = [json.loads(line) for line in (REPO / "examples" / "eval" / "golden.jsonl").read_text().splitlines()
            if line.strip()]
    return [r["question"] for r in rows] + ["refund refunds refunded", "VAT", "zzzunknownword", "2FA SSO SAML"]


@pytest.fixture(scope="module")
def chunks_path(example_index) -> Path:
    _, path = generations.resolve(example_index.data_dir)
    return path / "chunks.sqlite"


def _same_ranking(fts5: list[tuple[int, float]], ours: list[tuple[int, float]]) -> None:
    assert len(ours) == len(fts5)
    assert [round(s, 9) for _, s in ours] == [round(s, 9) for _, s in fts5]
    # Equal scores may come in either order; every score level holds the same chunks (except at the cut).
    last = fts5[-1][1] if fts5 else None
    for score in {round(s, 9) for _, s in fts5 if s != last}:
        assert {r for r, s in ours if round(s, 9) == score} == {r for r, s in fts5 if round(s, 9) == score}


@pytest.mark.parametrize("weights", [DEFAULT_FIELD_WEIGHTS, (3.0, 0.5, 1.0)])
def test_postings_rank_exactly_as_fts5_bm25(chunks_path: Path, weights: tuple[float, float, float]) -> None:
    db = ChunkDB(chunks_path)
    try:
        for audience in ("public", "internal"):
            assert db.postings(audience) is not None  # written at ingest
            for question in _questions():
                query = keyword_query(question)
                for k in (5, 50):
                    fts5 = db._match(audience, fts_query(query), k, weights)
                    _same_ranking(fts5, db.keyword_search(audience, query, k, weights=weights))
    finally:
        db.close()


def test_postings_cover_every_chunk_of_the_partition_and_nothing_else(chunks_path: Path) -> None:
    db = ChunkDB(chunks_path)
    try:
        for audience in ("public", "internal"):
            postings = db.postings(audience)
            assert postings is not None
            ids = [r[0] for r in db.db.execute("SELECT id FROM chunks WHERE audience = ? ORDER BY id", (audience,))]
            assert postings.rows.tolist() == ids
            assert (postings.lengths > 0).all()
    finally:
        db.close()


def test_a_generation_without_postings_tables_still_searches_through_fts5(chunks_path: Path, tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    old = tmp_path / "chunks.sqlite"
    shutil.copy(chunks_path, old)
    with sqlite3.connect(old) as conn:
        for audience in ("public", "internal"):
            conn.execute(f"DROP TABLE {postings_table(audience)}")
        conn.execute(f"DROP TABLE {POSTINGS_ROWS}")
    conn.close()
    current, before = ChunkDB(chunks_path), ChunkDB(old)
    try:
        with caplog.at_level(logging.INFO, logger="assistant.chunkdb"):
            assert before.postings("public") is None
        assert "re-run `assistant ingest`" in caplog.text  # the operator learns how to get the fast path
        for question in _questions()[:20]:
            query = keyword_query(question)
            _same_ranking(before.keyword_search("public", query, 20), current.keyword_search("public", query, 20))
    finally:
        current.close()
        before.close()


def test_a_word_fts5_splits_into_a_phrase_is_left_to_fts5(chunks_path: Path) -> None:
    db = ChunkDB(chunks_path)
    try:
        query = "invoice_number recurring"  # unicode61 reads "invoice number": a phrase, not one term
        _same_ranking(db._match("public", fts_query(query), 10, DEFAULT_FIELD_WEIGHTS),
                      db.keyword_search("public", query, 10))
    finally:
        db.close()


@pytest.mark.parametrize("weights", [DEFAULT_FIELD_WEIGHTS, (3.0, 0.5, 1.0)])
def test_one_word_phrases_rank_exactly_as_the_fts5_phrase_query(chunks_path: Path,
                                                                 weights: tuple[float, float, float]) -> None:
    """A product name or code as a phrase ("QuickBooks", "2FA") is scored from the postings; phrases
    of several words, and words FTS5 splits ("mod_rewrite"), still go to FTS5: same ranking either way."""
    db = ChunkDB(chunks_path)
    try:
        for phrases in ([("quickbooks",)], [("2fa",), ("sso",)], [("Xero",), ("xero",)], [("stripe",), ("ach",)],
                        [("quickbooks",), ("duplicate", "document", "number")], [("invoice_number",)],
                        [("zzzunknownword",)]):
            for audience in ("public", "internal"):
                fts5 = db._match(audience, fts_phrase_query(phrases), 20, weights)
                _same_ranking(fts5, db.phrase_search(audience, phrases, 20, weights=weights))
    finally:
        db.close()


def test_a_word_s_scores_are_kept_and_give_the_same_floats_the_second_time(chunks_path: Path) -> None:
    db = ChunkDB(chunks_path)
    try:
        first = db.keyword_search("public", "refund a card payment", 30)
        postings = db.postings("public")
        assert postings is not None and postings._impacts  # the words' contributions are kept
        fetched: list[str] = []
        real = db._postings_of

        def counting(audience: str, terms: list[str]) -> dict[str, tuple[bytes, bytes]]:
            fetched.extend(terms)
            return real(audience, terms)  # type: ignore[arg-type]

        db._postings_of = counting  # type: ignore[method-assign]
        assert db.keyword_search("public", "refund a card payment", 30) == first
        assert fetched == []  # no postings read again
        db.keyword_search("public", "refund a card payment by ACH", 30)
        assert sorted(fetched) == ["ach", "by"]  # only the new words'; "refund", "card", "payment" are kept
    finally:
        db.close()
