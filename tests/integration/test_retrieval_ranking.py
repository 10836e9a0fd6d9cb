"""Ranking features and the abstention decision on the real example index (real model, FAISS, FTS5)."""

from __future__ import annotations

import pytest

from assistant.config import RetrievalSettings
from assistant.factory import build_retriever
from assistant.ranking import analyse_query

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def retriever(example_index, embedder):
    return build_retriever(example_index, embedder=embedder)


def test_vocabulary_lookup_uses_fts5_stems_and_bounds_the_keyword_query(retriever) -> None:
    db = retriever.index.current().db
    freq = db.term_frequencies("public", ["invoices", "invoice", "invoicing", "zzzunknownword"])
    assert freq["invoices"] == freq["invoice"] > 0  # one Porter stem, as FTS5 stores it
    assert freq["zzzunknownword"] == 0
    kept = db.bounded_terms("public", ["invoice", "quickbooks", "zzzunknownword", "sync"], max_postings=1)
    present = db.term_frequencies("public", ["invoice", "quickbooks", "sync"])
    rarest = min(present, key=lambda w: present[w])
    assert kept == [rarest]  # over budget at once: the rarest word alone is kept
    everything = db.bounded_terms("public", ["invoice", "quickbooks", "zzzunknownword", "sync"],
                                  max_postings=10**9)
    assert sorted(everything) == ["invoice", "quickbooks", "sync"]  # words the index lacks add nothing


def test_exact_phrase_search_finds_the_chunk_holding_the_identifier(retriever) -> None:
    db = retriever.index.current().db
    profile = analyse_query("QuickBooks sync fails with 'Duplicate Document Number'")
    hits = db.phrase_search("public", profile.phrases(), 5)
    assert hits
    texts = db.chunks([row for row, _ in hits])
    assert all("quickbooks" in (c.title + c.text).lower() for c in texts.values())


def test_an_error_message_pasted_without_quotes_finds_the_page_that_quotes_it(retriever) -> None:
    question = "Our nightly import logs error: too many requests, retry after 42 seconds. What now?"
    db = retriever.index.current().db
    hits = db.phrase_search("public", analyse_query(question).phrases(), 5)
    pages = {c.doc_key for c in db.chunks([row for row, _ in hits]).values()}
    assert pages and all("api" in page for page in pages)  # the rate-limit and error pages quote it
    assert "api/rate-limits" in retriever.search(question, audience="public").passages[0].chunk.doc_key


def test_passages_of_one_page_come_together_when_aggregating(retriever) -> None:
    result = retriever.search("How do I set up recurring invoices for a retainer client?", audience="public",
                              top_k=8)
    docs = [p.chunk.doc_key for p in result.passages]
    first_positions = {d: docs.index(d) for d in docs}
    last_positions = {d: len(docs) - 1 - docs[::-1].index(d) for d in docs}
    # every document's chunks are contiguous: ranks are over pages, then chunks within a page
    assert all(last_positions[d] - first_positions[d] + 1 == docs.count(d) for d in docs)
    assert "recurring" in result.passages[0].chunk.path


def test_the_evidence_decides_abstention_for_off_topic_and_keeps_answerable(retriever) -> None:
    answered = retriever.search("my customer paid the same invoice twice by card, how do I give one of the "
                                "payments back?", audience="public")
    off_topic = retriever.search("What is the best recipe for sourdough bread with rye flour?", audience="public")
    assert answered.abstain is False and off_topic.abstain is True
    assert answered.confidence is not None and off_topic.confidence is not None
    assert answered.confidence > off_topic.confidence
    assert {"best_cosine", "coverage", "unknown", "agreement", "margin"} <= set(answered.evidence)


def test_cosine_mode_keeps_the_old_threshold_rule(example_index, embedder) -> None:
    settings = example_index.model_copy(update={"retrieval": RetrievalSettings(abstention="cosine",
                                                                               abstain_threshold=2.0)})
    result = build_retriever(settings, embedder=embedder).search("refund a card payment", audience="public")
    assert result.abstain is True and result.confidence is None


def test_an_index_built_before_the_terms_table_still_answers_frequencies(retriever, tmp_path) -> None:
    import shutil
    import sqlite3

    from assistant.chunkdb import ChunkDB

    current = retriever.index.current().db
    old = tmp_path / "chunks.sqlite"
    shutil.copy(current.path, old)
    with sqlite3.connect(old) as db:
        db.execute("DROP TABLE terms_public")
        db.execute("DROP TABLE terms_internal")
    words = ["invoice", "refund", "quickbooks", "zzzunknownword"]
    reopened = ChunkDB(old)
    try:
        assert reopened.term_frequencies("public", words) == current.term_frequencies("public", words)
    finally:
        reopened.close()


def test_an_american_spelling_over_the_british_help_centre_is_answered(retriever) -> None:
    """The help centre says "customise" and "colour"; "customize the color" was declined with the right page first."""
    result = retriever.search("How do I customize the color of my invoices?", audience="public")
    assert result.passages[0].chunk.title == "Customising your invoice design"
    assert not result.abstain and result.evidence["unknown"] == 0.0


def test_a_question_with_typos_is_answered_from_the_page_it_meant(retriever) -> None:
    """"refnd" and "paymnet" read as words the corpus never uses: the question was declined (confidence
    0.05) and the refunds article ranked third. They are respelled against the index's own words."""
    result = retriever.search("How do I refnd a card paymnet?", audience="public")
    assert result.passages[0].chunk.title == "Refunds and partial refunds"
    assert not result.abstain and result.evidence["unknown"] == 0.0


def test_only_a_typo_is_respelled_and_a_real_word_the_corpus_lacks_still_counts_unknown(retriever) -> None:
    """The index's nearest words: "refnd" → "refund"; "bitcoin", "toddler" and "pay" have none. A real
    English word (the embedding model's vocabulary) is never taken for a typo: "wine" is one edit from
    "wide" but a question about wine stains is still declined for it."""
    db = retriever.index.current().db
    spellings = db.near_spellings("public", ["refnd", "paymnet", "authentification", "bitcoin", "toddler", "pay"])
    assert spellings == {"refnd": "refund", "paymnet": "payment", "authentification": "authent"}
    typo = retriever._typo_check()
    assert typo is not None and typo("refnd") and not typo("wine") and not typo("chokes")
    assert retriever.search("Can I acept payments in bitcoin?", audience="public").abstain
