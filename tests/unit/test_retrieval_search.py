"""HybridRetriever.search over an in-memory generation that follows LoadedGeneration's contract.

Real FAISS and SQLite are covered by tests/integration/test_retrieval_hybrid.py; these tests
need an index that misbehaves on purpose (the audience guard) or counts its calls (over-fetch).
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import numpy as np
import pytest

from assistant.chunkdb import StoredChunk
from assistant.config import RetrievalSettings
from assistant.eval_datasets import document_chunk
from assistant.retrieval import HybridRetriever
from assistant.schemas import Audience, Chunk, RetrievalFilters


class MemoryGeneration:
    def __init__(self, chunks: list[Chunk], vectors: np.ndarray, *, leak: bool = False) -> None:
        self.id = "gen-1"
        self.rows = dict(enumerate(chunks))
        self.vecs = dict(enumerate(vectors))
        self.leak = leak  # a broken index that ignores the partition it is asked for
        self.dense_calls: list[tuple[str, int]] = []

    def _rows(self, audience: Audience) -> list[int]:
        return [r for r, c in self.rows.items() if self.leak or c.audience == audience]

    def dense_search(self, audience: Audience, query: np.ndarray, k: int,
                     question_weight: float = 0.0) -> list[tuple[int, float]]:
        self.dense_calls.append((audience, k))
        scored = sorted(((r, float(self.vecs[r] @ query)) for r in self._rows(audience)), key=lambda p: -p[1])
        return scored[:k]

    def keyword_search(self, audience: Audience, query: str, k: int) -> list[tuple[int, float]]:
        words = set(query.lower().split())
        hits = [(r, float(len(words & set(self.rows[r].text.lower().split())))) for r in self._rows(audience)]
        return sorted([h for h in hits if h[1] > 0], key=lambda p: -p[1])[:k]

    def chunks(self, ids: list[int]) -> dict[int, Chunk]:
        return {i: self.rows[i] for i in ids if i in self.rows}

    def stored(self, ids: list[int]) -> dict[int, StoredChunk]:
        return {i: StoredChunk.of(self.rows[i], self.vecs[i]) for i in ids if i in self.rows}


class Handle:
    def __init__(self, generation: MemoryGeneration) -> None:
        self.generation = generation

    def current(self) -> MemoryGeneration:
        return self.generation


class AxisEmbedder:
    """Queries are unit vectors along axis 0; corpus vectors decide their own cosine."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def encode_query(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        v[0] = 1.0
        return v


def _corpus(n: int, *, tagged_every: int = 0, internal: Collection[int] = ()) -> tuple[list[Chunk], np.ndarray]:
    rng = np.random.default_rng(0)
    chunks, vecs = [], []
    for i in range(n):
        tags = ["rare"] if tagged_every and i % tagged_every == tagged_every - 1 else []
        chunks.append(document_chunk(source="docs", key=f"d{i}.md", title=f"d{i}", text=f"invoice topic {i}",
                                     model_id="m", metadata={"tags": tags},
                                     audience="internal" if i in internal else "public"))
        rest = rng.normal(size=15)
        cosine = 0.99 - 0.9 * i / n  # a strict dense order: d0 best
        rest *= np.sqrt(1 - cosine**2) / np.linalg.norm(rest)
        vecs.append(np.concatenate([[cosine], rest]).astype(np.float32))
    return chunks, np.vstack(vecs)


def _retriever(gen: MemoryGeneration, **settings) -> HybridRetriever:
    return HybridRetriever(Handle(gen), AxisEmbedder(16),  # type: ignore[arg-type]
                           RetrievalSettings(**settings))


def test_public_search_drops_and_logs_internal_chunks_a_broken_index_returns(caplog) -> None:
    chunks, vecs = _corpus(10, internal={0, 3})
    retriever = _retriever(MemoryGeneration(chunks, vecs, leak=True), near_duplicate=1.0)
    with caplog.at_level(logging.ERROR, logger="assistant.retrieval"):
        result = retriever.search("invoice", audience="public", top_k=10)
    assert result.passages and all(p.chunk.audience == "public" for p in result.passages)
    assert "index partition bug" in caplog.text
    internal = retriever.search("invoice", audience="internal", top_k=10)
    assert {p.chunk.path for p in internal.passages} >= {"d0.md", "d3.md"}


def test_public_audience_searches_only_the_public_partition() -> None:
    chunks, vecs = _corpus(5)
    gen = MemoryGeneration(chunks, vecs)
    _retriever(gen).search("invoice", audience="public")
    assert {a for a, _ in gen.dense_calls} == {"public"}
    gen.dense_calls.clear()
    _retriever(gen).search("invoice", audience="internal")
    assert {a for a, _ in gen.dense_calls} == {"public", "internal"}


def test_restrictive_filters_widen_the_search_until_results_are_found() -> None:
    chunks, vecs = _corpus(2000, tagged_every=500)  # 4 tagged chunks, all far down the dense ranking
    gen = MemoryGeneration(chunks, vecs)
    result = _retriever(gen, candidates=20, top_k=4, per_document_cap=1).search(
        "invoice", audience="public", filters=RetrievalFilters(tags=["rare"]))
    assert sorted(p.chunk.path for p in result.passages) == ["d1499.md", "d1999.md", "d499.md", "d999.md"]
    assert len(gen.dense_calls) > 1 and gen.dense_calls[-1][1] > gen.dense_calls[0][1]


def test_without_filters_one_pass_is_enough() -> None:
    chunks, vecs = _corpus(200)
    gen = MemoryGeneration(chunks, vecs)
    _retriever(gen, candidates=20).search("invoice", audience="public")
    assert gen.dense_calls == [("public", 20)]


def test_best_dense_is_the_top_cosine_and_passages_carry_their_scores() -> None:
    chunks, vecs = _corpus(30)
    result = _retriever(MemoryGeneration(chunks, vecs), top_k=3).search("invoice", audience="public")
    assert result.best_dense == pytest.approx(0.99, abs=1e-5)
    assert result.passages[0].chunk.path == "d0.md"
    assert result.passages[0].dense_score == pytest.approx(result.best_dense, abs=1e-6)
    assert result.passages[0].keyword_score is not None
    assert result.generation == "gen-1"
    assert {"embed", "dense", "keyword", "fuse", "fetch", "collapse", "total"} <= set(result.timings_ms)


def test_dense_and_keyword_modes_use_one_retriever_only() -> None:
    chunks, vecs = _corpus(30)
    gen = MemoryGeneration(chunks, vecs)
    dense = _retriever(gen).search("invoice", audience="public", mode="dense")
    assert all(p.keyword_score is None for p in dense.passages)
    keyword = _retriever(gen).search("invoice", audience="public", mode="keyword")
    assert all(p.dense_score is None for p in keyword.passages)
    assert keyword.best_dense > 0  # still measured from stored vectors, for abstention
