"""Domain tuning's pure parts: pairs from a corpus, the adapter's training, the page reordering."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.domain_tuning import (
    ADAPTER_FILE,
    DomainAdapter,
    TuningParams,
    corpus_pairs,
    reorder,
    rerank_documents,
    train_adapter,
)

ROWS = [
    ("guide:a", "Virtual hosts > Name-based hosts\nName-based virtual hosting serves several sites from one address. "
                "The server picks the site from the Host header the client sends.",
     "Name-based virtual hosting serves several sites from one address. The server picks the site from the Host "
     "header the client sends."),
    ("guide:a", "Virtual hosts > IP-based hosts\nIP-based hosting needs one address per site. It is rarely needed "
                "today because every client sends the Host header.",
     "IP-based hosting needs one address per site. It is rarely needed today because every client sends the "
     "Host header."),
    ("faq:1", "Refunds\nYou can refund a paid invoice from its page. Refunds reach the card in five to ten days, "
              "and the processing fee is not returned.",
     "You can refund a paid invoice from its page. Refunds reach the card in five to ten days, and the processing "
     "fee is not returned."),
    ("faq:2", "Short\nToo short to teach.", "Too short to teach."),
]


def test_pairs_come_from_headings_and_sentences_of_each_chunk_and_are_seeded() -> None:
    pairs = corpus_pairs(ROWS, seed=1, max_pairs=100)
    assert pairs == corpus_pairs(ROWS, seed=1, max_pairs=100)
    by_target: dict[int, list[str]] = {}
    for text, target in pairs:
        by_target.setdefault(target, []).append(text)
    assert set(by_target) == {0, 1, 2}  # the chunk under 8 words teaches nothing
    assert "Virtual hosts Name-based hosts" in by_target[0]  # heading path -> its section
    assert all(text in ROWS[i][2] or text == ROWS[i][1].split("\n")[0].replace(" > ", " ")
               for i, texts in by_target.items() for text in texts)
    # a one-chunk page (an FAQ answer): its opening sentence says what it answers
    assert "You can refund a paid invoice from its page." in by_target[2]
    assert len(corpus_pairs(ROWS, seed=1, max_pairs=3)) == 3


def test_the_adapter_learns_to_find_each_pseudo_querys_chunk_deterministically() -> None:
    rng = np.random.default_rng(0)
    corpus = rng.normal(size=(40, 16)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    # pseudo-queries: a chunk seen through a fixed distortion the identity does not undo
    mix = np.eye(16, dtype=np.float32) + 0.8 * rng.normal(size=(16, 16)).astype(np.float32)
    targets = [i % 40 for i in range(200)]
    anchors = corpus[targets] @ mix + 0.05 * rng.normal(size=(200, 16)).astype(np.float32)
    params = TuningParams(steps=150, batch=64, l2=0.0, lr=0.01, seed=3)
    seen: list[int] = []
    w = train_adapter(anchors, targets, corpus, params, progress=seen.append)
    assert np.array_equal(w, train_adapter(anchors, targets, corpus, params))
    assert seen[-1] == 150

    def hits(matrix: np.ndarray) -> int:
        q = anchors @ matrix
        return int(np.sum(np.argmax(q @ corpus.T, axis=1) == np.array(targets)))

    assert hits(w) > hits(np.eye(16, dtype=np.float32))


def test_adapter_is_stored_in_the_generation_and_read_back(tmp_path: Path) -> None:
    w = np.eye(4, dtype=np.float32) * 2
    DomainAdapter(matrices={"public": w}, meta={"format": 1, "kind": "query-adapter"}).save(tmp_path)
    loaded = DomainAdapter.load(tmp_path)
    assert loaded is not None and np.array_equal(loaded.matrices["public"], w)
    adapted = loaded.transform("public", np.array([1.0, 0, 0, 0], dtype=np.float32))
    assert adapted is not None and np.allclose(adapted, [1, 0, 0, 0])
    assert loaded.transform("internal", np.ones(4, dtype=np.float32)) is None  # none trained for it
    assert DomainAdapter.load(tmp_path / "elsewhere") is None
    DomainAdapter(matrices={"public": w}, meta={"format": 99}).save(tmp_path)
    assert DomainAdapter.load(tmp_path) is None  # a format this code does not read is ignored
    (tmp_path / ADAPTER_FILE).write_bytes(b"not an npz")
    assert DomainAdapter.load(tmp_path) is None


def test_rerank_documents_fuses_the_shipped_order_with_the_scores() -> None:
    shipped = ["a", "b", "c"]
    assert rerank_documents(shipped, {"a": 0.1, "b": 0.2, "c": 0.9}, weight=0.0, rrf_k=5) == shipped
    # a: 1/6 + 1/8 and c: 1/8 + 1/6 tie (a keeps its shipped place), both above b: 1/7 + 1/7
    assert rerank_documents(shipped, {"a": 0.1, "b": 0.2, "c": 0.9}, weight=1.0, rrf_k=5) == ["a", "c", "b"]
    assert rerank_documents(shipped, {"a": 0.1, "b": 0.2, "c": 0.9}, weight=3.0, rrf_k=5)[0] == "c"


@dataclass
class _Cand:
    doc_key: str
    vector: np.ndarray


def test_reorder_moves_whole_pages_and_keeps_the_rest() -> None:
    up = np.array([1.0, 0.0], dtype=np.float32)
    down = np.array([0.0, 1.0], dtype=np.float32)
    cands = [_Cand("a", down), _Cand("a", down), _Cand("b", up), _Cand("b", down),
             _Cand("c", up), _Cand("d", up)]
    out = reorder(cands, up, weight=5.0, depth=3, per_page=2, rrf_k=5)
    assert [c.doc_key for c in out] == ["b", "b", "a", "a", "c", "d"]  # only pages a, b are in the head
    assert out[0] is cands[2] and out[1] is cands[3]  # chunk order inside a page kept
    assert reorder(cands, up, weight=0.0, depth=3, per_page=2, rrf_k=5) == cands


def test_adapter_for_sees_an_adapter_written_after_the_first_query(tmp_path: Path) -> None:
    from assistant.domain_tuning import adapter_for

    class Generation:
        path = tmp_path

    assert adapter_for(Generation()) is None
    DomainAdapter(matrices={"public": np.eye(3, dtype=np.float32)}, meta={"format": 1}).save(tmp_path)
    found = adapter_for(Generation())
    assert found is not None and adapter_for(Generation()) is found  # read once, then cached
    (tmp_path / ADAPTER_FILE).unlink()
    assert adapter_for(Generation()) is None
