"""The bulk embedding path (parallel tokenization, trimmed fixed-width batches, fp16 on GPU) gives
the same vectors as ``Embedder.encode``; its CPU fallback is what runs here, the GPU case is
marked ``gpu``. The FAISS search benchmark's CPU fallback runs at a tiny size."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from assistant.embed_fast import BatchTokenizer, FastEncoder, forward_batch

pytestmark = pytest.mark.integration

TEXTS = [
    "  How do I refund an invoice?  ",  # surrounding spaces: stripped like the model's own tokenize
    "Recurring invoices are sent on the schedule you pick.",
    "VAT",
    "Export every paid invoice of last quarter to CSV, including the customer's tax id and the currency. " * 12,
    *[f"Ticket {i}: the customer could not log in after resetting the password (case {i})." for i in range(70)],
]


def test_fast_encoder_matches_the_embedder_on_cpu(embedder: Any) -> None:
    expected = embedder.encode(TEXTS)
    got = FastEncoder(embedder.model, batch_size=16, workers=3, prefetch=2).encode(TEXTS)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert FastEncoder(embedder.model).encode([]).shape == (0, expected.shape[1])


def test_the_tokenizer_can_be_used_from_many_threads(embedder: Any) -> None:
    tokenize = BatchTokenizer(embedder.model)
    batches = [TEXTS[i:i + 7] for i in range(0, len(TEXTS), 7)] * 4
    with ThreadPoolExecutor(8) as pool:  # one shared Rust tokenizer would fail with "Already borrowed"
        results = list(pool.map(tokenize, batches))
    for batch, arrays in zip(batches, results, strict=True):
        reference = embedder.model.tokenize(batch)
        assert np.array_equal(arrays["input_ids"], reference["input_ids"].numpy())


def test_fixed_width_batches_embed_like_trimmed_ones(embedder: Any) -> None:
    tokenize = BatchTokenizer(embedder.model)
    wide = tokenize(TEXTS[:5], fixed_width=True)
    assert wide["input_ids"].shape[1] == tokenize.max_length  # joinable across Ray blocks
    a = forward_batch(embedder.model, wide, device="cpu")
    b = forward_batch(embedder.model, tokenize(TEXTS[:5]), device="cpu")
    assert np.abs(a - b).max() <= 1e-5


@pytest.mark.gpu
def test_fast_encoder_on_cuda_in_fp16_stays_close_to_cpu(embedder: Any) -> None:
    from assistant.embeddings import Embedder

    cuda = Embedder(device="cuda")
    got = FastEncoder(cuda.model, batch_size=32).encode(TEXTS)
    assert np.abs(got - embedder.encode(TEXTS)).max() <= 5e-3  # fp16 forward pass


def test_faiss_search_benchmark_runs_on_cpu_at_a_tiny_size() -> None:
    from benchmarks.faiss_search import main

    flat, ivf = main(["--sizes", "1000,3000", "--queries", "20", "--batch", "10", "--flat-max", "2000", "--json"])
    assert (flat["index_kind"], ivf["index_kind"]) == ("flat", "ivf")
    # Random vectors are the worst case for IVF's top-10; the passage a question is near is found.
    assert flat["recall_at_10"] == 1.0 and ivf["recall_at_1"] >= 0.9
    for result in (flat, ivf):
        assert result["question_with_embedding"]["p95_ms"] > 0 and result["single_exact"]["p95_ms"] > 0
