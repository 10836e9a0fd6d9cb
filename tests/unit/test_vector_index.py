"""FAISS index choice by size: exact search for small partitions, HNSW or IVF above the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import vectors


def _normalised(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    data = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def test_small_partitions_use_exact_inner_product_search() -> None:
    data = _normalised(200)
    index, kind = vectors.build_index(data, flat_max=1000, ann="hnsw")
    assert kind == "flat"
    scores, ids = vectors.search(index, data[:5], 1)
    assert ids[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)  # inner product of normalised vectors = cosine


def test_one_question_on_an_exact_index_finds_what_faiss_finds() -> None:
    """A single query on a flat index is a matrix-vector product over FAISS's storage (faster than
    its scan at k in the hundreds): same neighbours, same scores, best first, fewer than k kept."""
    data = _normalised(3000, dim=48, seed=1)
    index, _ = vectors.build_index(data, flat_max=10_000, ann="hnsw")
    for seed in range(20):
        query = _normalised(1, dim=48, seed=100 + seed)
        want_scores, want_ids = index.search(query, 200)
        scores, ids = vectors.search(index, query, 200)
        assert set(ids[0].tolist()) == set(want_ids[0].tolist())
        assert np.allclose(scores[0], want_scores[0], atol=1e-5)
        assert np.all(np.diff(scores[0]) <= 0)
    few, _ = vectors.build_index(data[:5], flat_max=10_000, ann="hnsw")
    scores, ids = vectors.search(few, data[:1], 200)
    assert ids.shape == (1, 5) and ids[0, 0] == 0


@pytest.mark.parametrize("ann", ["hnsw", "ivf"])
def test_large_partitions_use_the_configured_ann_index_and_still_find_neighbours(ann: str, tmp_path) -> None:
    data = _normalised(4000)
    index, kind = vectors.build_index(data, flat_max=1000, ann=ann)
    assert kind == ann
    path = tmp_path / "part.faiss"
    vectors.save_index(index, path)
    loaded, device = vectors.load_index(path, device="cpu")
    assert device == "cpu" and loaded.ntotal == 4000
    queries = data[:200] + 0.05 * _normalised(200, seed=1)
    _, ids = vectors.search(loaded, queries, 1)
    recall = float(np.mean(ids[:, 0] == np.arange(200)))
    assert recall >= 0.9, recall


def test_asking_for_cuda_without_a_gpu_build_of_faiss_is_a_clear_error(tmp_path) -> None:
    if vectors.faiss_has_gpu():
        pytest.skip("this machine has FAISS on GPU")
    path = tmp_path / "p.faiss"
    vectors.save_index(vectors.build_index(_normalised(10), flat_max=100, ann="hnsw")[0], path)
    from assistant.errors import ConfigError

    with pytest.raises(ConfigError, match="ASSISTANT_INDEX_DEVICE=cuda"):
        vectors.load_index(path, device="cuda")
    assert vectors.load_index(path, device="auto")[1] == "cpu"  # auto falls back to CPU


@pytest.mark.gpu
def test_auto_places_flat_indexes_and_embeddings_on_the_gpu(tmp_path) -> None:
    import torch

    if not (torch.cuda.is_available() and vectors.faiss_has_gpu()):
        pytest.skip("needs a CUDA GPU with torch and faiss-gpu")
    from assistant.embeddings import Embedder

    path = tmp_path / "p.faiss"
    vectors.save_index(vectors.build_index(_normalised(500), flat_max=1000, ann="hnsw")[0], path)
    assert vectors.load_index(path, device="auto")[1] == "cuda"
    embedder = Embedder(device="auto")
    assert embedder.device.startswith("cuda")
    assert embedder.encode(["a refund question"]).shape == (1, 384)
