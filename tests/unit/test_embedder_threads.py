"""The embedder's serving thread: its own torch thread count, small inputs in small batches, same vectors."""

from __future__ import annotations

import threading

import numpy as np
import torch

from assistant.embeddings import SMALL_BATCH, Embedder, serving_threads


def test_serving_threads_is_at_least_one() -> None:
    assert serving_threads() >= 1


def test_worker_encodes_run_on_the_model_thread_with_its_torch_threads() -> None:
    embedder = Embedder(threads=1)
    main_threads = torch.get_num_threads()
    seen: dict[str, int | str] = {}

    def spy() -> None:
        seen["name"] = threading.current_thread().name
        seen["threads"] = torch.get_num_threads()

    worker = threading.Thread(target=lambda: embedder._on_model_thread(spy), name="answer-worker")
    worker.start()
    worker.join()
    assert str(seen["name"]).startswith("embedder")
    assert seen["threads"] == 1
    assert torch.get_num_threads() == main_threads  # the ingest job's thread keeps torch's default


def test_small_inputs_in_small_batches_give_the_same_vectors() -> None:
    texts = ["Refunds go back to the original card within 5 to 10 business days.",
             "To issue a refund: 1. Open the payment. 2. Click Refund. 3. Confirm the amount. " * 6,
             "VAT", "Exports run nightly at 02:00 UTC and land in the Reports tab as CSV files."] * 3
    embedder = Embedder(batch_size=64)
    small = embedder.encode(texts)
    assert len(texts) < 64 and SMALL_BATCH < 64
    large = np.asarray(embedder.model.encode(texts, batch_size=64, normalize_embeddings=True,
                                             convert_to_numpy=True, show_progress_bar=False))
    assert small.shape == large.shape and small.dtype == np.float32
    np.testing.assert_allclose(small, large, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(small, axis=1), 1.0, atol=1e-5)
