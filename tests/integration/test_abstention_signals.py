"""The abstention signals on the real example index (real MiniLM, FAISS, FTS5): a question about a
product the documentation does not cover is declined, the answerable one beside it is not, and
single-term vectors are embedded once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from assistant.factory import build_retriever

pytestmark = pytest.mark.integration


class CountingEmbedder:
    """The real embedder, counting what the retriever asks it to encode beyond the question."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.encoded: list[str] = []

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_query(text)

    def encode(self, texts: list[str], **kw: Any) -> np.ndarray:
        self.encoded.extend(texts)
        return self.inner.encode(texts, **kw)


@pytest.fixture(scope="module")
def counting(embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


@pytest.fixture(scope="module")
def retriever(example_index, counting):
    return build_retriever(example_index, embedder=counting)


def test_a_question_about_another_product_is_declined_and_the_answerable_one_is_not(retriever) -> None:
    # Xero is an integration the help centre documents; reconciling inside Xero is not
    other = retriever.search("In Xero, how do I reconcile one bank statement line against two different bills?",
                             audience="public")
    ours = retriever.search("Xero sync error says the contact is archived, what do I do?", audience="public")
    assert "xero" in other.passages[0].chunk.path and "xero" in ours.passages[0].chunk.path  # same page found
    assert other.evidence["salient_missing"] > ours.evidence["salient_missing"]
    assert other.abstain is True and ours.abstain is False
    assert {"best_cosine", "coverage", "unknown", "rare", "salient_missing", "agreement", "top_agree",
            "keyword_rank", "margin"} <= set(ours.evidence)
    assert "rerank" not in ours.evidence  # no reranker ran: left out, not reported as 0


def test_asker_wording_the_corpus_lacks_does_not_decline_an_answerable_question(retriever) -> None:
    result = retriever.search("Prices on my site already include tax. When I put them on an invoice the tax gets "
                              "added on top again. How do I stop the double tax?", audience="public")
    assert "tax-rates" in result.passages[0].chunk.path
    assert result.abstain is False


def test_single_term_vectors_are_embedded_once(retriever, counting) -> None:
    question = "What Square Terminal setting turns on tipping when my clients pay in person?"
    counting.encoded.clear()
    first = retriever.search(question, audience="public")
    asked = list(counting.encoded)
    assert asked and "square" in asked  # the terms the best passages lack, one batch
    counting.encoded.clear()
    again = retriever.search(question, audience="public")
    assert counting.encoded == []  # kept from the first time
    assert again.evidence == first.evidence and again.abstain is first.abstain is True
