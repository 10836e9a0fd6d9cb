"""Fusion, near-duplicate collapse, per-document cap and metadata filters of the hybrid retriever."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from assistant.abstention import states_price
from assistant.chunkdb import StoredChunk
from assistant.eval_datasets import document_chunk
from assistant.retrieval import (
    Candidate,
    answers_within_cap,
    has_exact_token,
    headings_within_cap,
    keyword_query,
    merge_by_score,
    passes_filters,
    procedures_within_cap,
    reciprocal_rank_fusion,
    select_diverse,
)
from assistant.schemas import RetrievalFilters


def _chunk(key: str, **kw):
    return document_chunk(source=kw.pop("source", "docs"), key=key, title=key, text=kw.pop("text", f"text of {key}"),
                          model_id="m", **kw)


def _unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def _cand(row: int, doc: str, vector: np.ndarray, fused: float) -> Candidate:
    return Candidate(row=row, fused=fused, stored=StoredChunk.of(_chunk(doc, ordinal=row), vector))


def test_rrf_adds_weighted_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion([([1, 2, 3], 1.0), ([3, 1], 2.0)], rrf_k=60))
    assert fused[1] == pytest.approx(1 / 61 + 2 / 62)
    assert fused[2] == pytest.approx(1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 2 / 61)


def test_rrf_orders_best_first_and_keeps_first_appearance_on_ties() -> None:
    assert [i for i, _ in reciprocal_rank_fusion([([7, 8], 1.0), ([8, 7], 1.0)], rrf_k=60)] == [7, 8]
    assert next(i for i, _ in reciprocal_rank_fusion([([1, 2], 1.0), ([2], 3.0)], rrf_k=60)) == 2


def test_rrf_ignores_a_ranking_with_zero_weight() -> None:
    assert [i for i, _ in reciprocal_rank_fusion([([1, 2], 1.0), ([9], 0.0)], rrf_k=10)] == [1, 2]


def test_merge_by_score_interleaves_partitions_and_truncates() -> None:
    assert merge_by_score([[(1, 0.9), (2, 0.5)], [(3, 0.7)]], k=2) == [(1, 0.9), (3, 0.7)]


def test_near_duplicates_collapse_to_the_best_ranked() -> None:
    a = _unit(1, 0, 0)
    almost_a = _unit(1, 0.05, 0)
    b = _unit(0, 1, 0)
    kept = select_diverse([_cand(1, "t1", a, 0.9), _cand(2, "t2", almost_a, 0.8), _cand(3, "t3", b, 0.7)],
                          near_duplicate=0.95, per_document_cap=2, limit=10)
    assert [c.row for c in kept] == [1, 3]


def test_chunks_below_the_duplicate_threshold_are_kept() -> None:
    a, c = _unit(1, 0, 0), _unit(1, 1, 0)  # cosine 0.707
    kept = select_diverse([_cand(1, "t1", a, 0.9), _cand(2, "t2", c, 0.8)], near_duplicate=0.95,
                          per_document_cap=2, limit=10)
    assert len(kept) == 2


def test_per_document_cap_limits_chunks_of_one_document() -> None:
    vectors = [_unit(*row) for row in np.eye(5)]
    cands = [_cand(i, "long-doc", vectors[i], 1 - i / 10) for i in range(4)] + [_cand(4, "other", vectors[4], 0.1)]
    kept = select_diverse(cands, near_duplicate=0.95, per_document_cap=2, limit=10)
    assert [c.row for c in kept] == [0, 1, 4]


def test_a_chunk_dropped_by_the_cap_does_not_suppress_its_duplicate_elsewhere() -> None:
    a, b = _unit(1, 0, 0), _unit(0, 1, 0)
    cands = [_cand(1, "d1", a, 0.9), _cand(2, "d1", b, 0.8), _cand(3, "d1", _unit(0, 0, 1), 0.7),
             _cand(4, "d2", _unit(0, 0.01, 1), 0.6)]
    kept = select_diverse(cands, near_duplicate=0.95, per_document_cap=2, limit=10)
    assert [c.row for c in kept] == [1, 2, 4]


def test_selection_stops_at_the_limit() -> None:
    cands = [_cand(i, f"d{i}", _unit(*row), 1 - i / 10) for i, row in enumerate(np.eye(6))]
    assert len(select_diverse(cands, near_duplicate=0.95, per_document_cap=1, limit=3)) == 3


def test_filters_by_source_kind_and_tags() -> None:
    ticket = _chunk("T-1", source="helpdesk", kind="ticket", metadata={"tags": ["Billing", "refund"]})
    doc = _chunk("a.md", source="docs")
    assert passes_filters(ticket, RetrievalFilters(sources=["helpdesk"]))
    assert not passes_filters(doc, RetrievalFilters(sources=["helpdesk"]))
    assert passes_filters(ticket, RetrievalFilters(kinds=["ticket"]))
    assert not passes_filters(doc, RetrievalFilters(kinds=["ticket"]))
    assert passes_filters(ticket, RetrievalFilters(tags=["billing"]))
    assert not passes_filters(ticket, RetrievalFilters(tags=["sso"]))
    assert not passes_filters(doc, RetrievalFilters(tags=["billing"]))
    assert passes_filters(doc, None) and passes_filters(doc, RetrievalFilters())


def test_date_range_uses_updated_then_created_and_excludes_undated() -> None:
    updated = _chunk("T-2", metadata={"created": "2023-01-01T00:00:00Z", "updated": "2024-06-01T10:00:00Z"})
    created_only = _chunk("T-3", metadata={"created": "2024-02-01"})
    undated = _chunk("a.md")
    since = RetrievalFilters(since=datetime(2024, 1, 1, tzinfo=UTC))
    assert passes_filters(updated, since)
    assert passes_filters(created_only, since)
    assert not passes_filters(undated, since)
    until = RetrievalFilters(until=datetime(2024, 3, 1))  # naive means UTC
    assert not passes_filters(updated, until)
    assert passes_filters(created_only, until)


@pytest.mark.parametrize(("question", "exact"), [
    ("Error LDG-7731 on webhooks", True), ("what is idempotency_conflict", True), ("resetting 2FA", True),
    ("How do I refund an invoice?", False), ("billed on the 1st of the month", False), ("invoices from 2024", False),
])
def test_questions_with_codes_are_recognised(question: str, exact: bool) -> None:
    assert has_exact_token(question) is exact


def test_keyword_query_drops_function_words_but_never_everything() -> None:
    assert keyword_query("How do I refund an invoice?") == "refund invoice"
    assert keyword_query("Can US clients pay?") == "US clients pay"
    assert keyword_query("what is it") == "what is it"


def test_a_how_to_question_gets_the_procedure_of_a_page_within_its_cap() -> None:
    """The page's procedure replaces its last chunk within the cap; the other pages, and a page
    that already offers steps, keep their chunks in their order."""
    steps = "Turn on 2FA:\n1. Go to Settings > Security.\n2. Click Set up."

    def cand(row: int, doc: str, text: str) -> Candidate:
        chunk = _chunk(doc, ordinal=row, text=text)
        return Candidate(row=row, fused=1 - row / 100, stored=StoredChunk.of(chunk, _unit(1, 0, 0)))

    ranking = [cand(0, "2fa", "intro"), cand(1, "2fa", "Trusted devices"), cand(2, "2fa", "Require 2FA"),
               cand(3, "2fa", "Backup codes"), cand(4, "2fa", steps), cand(5, "tips", "Use a password manager."),
               cand(6, "tips", steps), cand(7, "tips", "intro")]
    assert [c.row for c in procedures_within_cap(ranking, per_document_cap=3)] == [0, 1, 4, 2, 3, 5, 6, 7]
    assert [c.row for c in procedures_within_cap(ranking, per_document_cap=5)] == list(range(8))
    one_numbered_line = cand(9, "faq", "1. One numbered line is not a procedure.")
    assert [c.row for c in procedures_within_cap([cand(8, "faq", "a"), one_numbered_line], 1)] == [8, 9]


def test_a_price_question_gets_the_chunk_of_a_page_that_names_the_price() -> None:
    """"How much is the fee …?" over a page whose three best chunks speak of disputes and fees but name
    no amount: its chunk with "$15 dispute fee" replaces the third."""
    def cand(row: int, doc: str, text: str) -> Candidate:
        chunk = _chunk(doc, ordinal=row, text=text)
        return Candidate(row=row, fused=1 - row / 100, stored=StoredChunk.of(chunk, _unit(1, 0, 0)))

    ranking = [cand(0, "disputes", "The funds and fee are not returned."), cand(1, "disputes", "A dispute happens …"),
               cand(2, "disputes", "Use a clear business name."), cand(3, "disputes", "Open the dispute."),
               cand(4, "disputes", "The disputed amount plus a $15 dispute fee is deducted from your balance."),
               cand(5, "refunds", "Cards: 2.9% + $0.30 per payment are not refunded."), cand(6, "refunds", "intro")]
    assert [c.row for c in answers_within_cap(ranking, 3, lambda chunk: states_price(chunk.text))] == \
        [0, 1, 4, 2, 3, 5, 6]


def test_a_short_question_gets_the_section_its_heading_names_within_its_page_cap() -> None:
    """"How do I turn on 2FA?": the section headed "Turn on 2FA" replaces the page's last chunk within
    the cap, whatever its text says; a page already offering such a section, a heading that names only
    some of the words, and a question of one word or of many leave every page as it was."""
    def cand(row: int, doc: str, section: str) -> Candidate:
        chunk = _chunk(doc, ordinal=row, section=section, text=f"text {row}")
        return Candidate(row=row, fused=1 - row / 100, stored=StoredChunk.of(chunk, _unit(1, 0, 0)))

    ranking = [cand(0, "2fa", ""), cand(1, "2fa", "Trusted devices"), cand(2, "2fa", "Require 2FA for your team"),
               cand(3, "2fa", "Lost your phone?"), cand(4, "2fa", "Turn on 2FA"), cand(5, "sso", "Turn on SSO")]
    assert [c.row for c in headings_within_cap(ranking, 3, "How do I turn on 2FA?")] == [0, 1, 4, 2, 3, 5]
    assert [c.row for c in headings_within_cap(ranking, 3, "how do i TURNING on 2fa")] == [0, 1, 4, 2, 3, 5]
    assert [c.row for c in headings_within_cap(ranking, 5, "How do I turn on 2FA?")] == list(range(6))
    for question in ("How do I turn on SSO for 2FA?", "2FA?", "How do I turn on 2FA for my whole team of "
                     "accountants when they sign in from a new phone?"):
        assert [c.row for c in headings_within_cap(ranking, 3, question)] == list(range(6)), question
    nested = [cand(0, "log", "Access Log"), cand(1, "log", "Access Log > Common Log Format"),
              cand(2, "log", "Access Log > Conditional Logs")]
    assert [c.row for c in headings_within_cap(nested, 1, "conditional logs?")] == [2, 0, 1]
