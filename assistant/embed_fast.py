"""Bulk embedding at the accelerator's speed: tokenization off the hot path, the forward pass on it.

Why a second path beside :class:`assistant.embeddings.Embedder`: on a GPU, ``model.encode``
spends most of its time tokenizing in one Python thread (~3k passages/s for all-MiniLM-L6-v2)
while the forward pass alone does ~30k/s. Here the texts are sorted by length once (little
padding), cut into batches, and tokenized by a pool of CPU threads (the Rust tokenizer
releases the GIL) a few batches ahead of the model; on CUDA each batch is pinned and copied
without blocking, and the forward runs under fp16 autocast. Per-row Python work is limited to
the one length sort.

The same two steps, :class:`BatchTokenizer` and :func:`forward_batch`, are the stages of the Ray
engine's actor pool (``ingest/ray_engine.py``), so the cluster and one machine embed alike.
Results are L2-normalised float32 like ``Embedder.encode``; on CPU they match it to ~1e-6.
"""

from __future__ import annotations

import copy
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def length_order(texts: Sequence[str]) -> np.ndarray:
    """Indices of ``texts`` longest first (characters approximate tokens well enough)."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return np.argsort(-lengths, kind="stable")


class BatchTokenizer:
    """The model's own tokenization (strip, lower-case if configured, truncate to its window),
    callable from many threads: each thread gets its own copy of the tokenizer, because one
    Rust tokenizer shared by threads that set padding per call fails with "Already borrowed".
    """

    def __init__(self, model: SentenceTransformer) -> None:
        first: Any = model[0]
        self._tokenizer = first.tokenizer
        self.max_length = int(model.max_seq_length or 512)
        self.lower = bool(getattr(first, "do_lower_case", False))
        self._local = threading.local()

    def __call__(self, texts: Sequence[str], *, fixed_width: bool = False) -> dict[str, np.ndarray]:
        """int64 arrays ``input_ids``/``attention_mask``(/``token_type_ids``); ``fixed_width`` pads
        every batch to the model's window so batches from different workers can be joined (Ray
        Data); :func:`forward_batch` trims the padding again."""
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            tokenizer = self._local.tokenizer = copy.deepcopy(self._tokenizer)
        cleaned = [t.strip().lower() if self.lower else t.strip() for t in texts]
        encoded = tokenizer(cleaned, padding="max_length" if fixed_width else True,
                            truncation="longest_first", max_length=self.max_length, return_tensors="np")
        return {k: np.asarray(v, dtype=np.int64) for k, v in encoded.items()}


def forward_batch(model: SentenceTransformer, arrays: dict[str, Any], *, device: str,
                  fp16: bool | None = None, to_numpy: bool = True) -> Any:
    """Normalised sentence embeddings for one tokenized batch; trims columns that are all padding."""
    import torch

    mask = np.asarray(arrays["attention_mask"])
    width = int(mask.sum(axis=1).max()) if mask.size else 0
    on_cuda = device.startswith("cuda")
    features: dict[str, Any] = {}
    for key, value in arrays.items():
        tensor = torch.from_numpy(np.ascontiguousarray(np.asarray(value)[:, :width]))
        if on_cuda:
            tensor = tensor.pin_memory().to(device, non_blocking=True)
        features[key] = tensor
    use_fp16 = on_cuda if fp16 is None else fp16
    with torch.inference_mode():
        if use_fp16:
            with torch.autocast(device_type="cuda" if on_cuda else "cpu", dtype=torch.float16):
                out = model(features)["sentence_embedding"]
        else:
            out = model(features)["sentence_embedding"]
        out = torch.nn.functional.normalize(out.float(), p=2, dim=1)
    return out.cpu().numpy() if to_numpy else out


class FastEncoder:
    """Encode many texts with CPU tokenizer threads feeding the model (GPU or CPU) in order.

    ``workers`` tokenizer threads run up to ``prefetch`` batches each ahead of the model;
    on CUDA, results stay on the device and are copied back every ``flush_every`` batches
    so the GPU never waits on a device-to-host copy per batch.
    """

    def __init__(self, model: SentenceTransformer, *, batch_size: int = 256, workers: int | None = None,
                 prefetch: int = 4, fp16: bool | None = None, flush_every: int = 32) -> None:
        self.model = model
        self.batch_size = batch_size
        self.workers = workers or max(1, min(16, (os.cpu_count() or 2) - 1))
        self.prefetch = prefetch
        self.fp16 = fp16
        self.flush_every = flush_every

    @property
    def device(self) -> str:
        return str(self.model.device)

    def encode(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        import torch

        dim_getter = (getattr(self.model, "get_embedding_dimension", None)
                      or self.model.get_sentence_embedding_dimension)
        dim = int(dim_getter() or 0)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        if not texts:
            return out
        order = length_order(texts)
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        device = self.device
        self.model.eval()
        done = 0
        pending_gpu: list[tuple[np.ndarray, Any]] = []

        def flush() -> None:
            if pending_gpu:
                stacked = torch.cat([t for _, t in pending_gpu]).cpu().numpy()
                out[np.concatenate([i for i, _ in pending_gpu])] = stacked
                pending_gpu.clear()

        tokenizer = BatchTokenizer(self.model)

        def tokenize(idx: np.ndarray) -> dict[str, Any]:
            return tokenizer([texts[i] for i in idx])

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="tokenize") as pool:
            window: deque[tuple[np.ndarray, Future[dict[str, Any]]]] = deque()
            ahead = self.workers * self.prefetch
            next_batch = 0
            while next_batch < len(batches) or window:
                while next_batch < len(batches) and len(window) < ahead:
                    idx = batches[next_batch]
                    window.append((idx, pool.submit(tokenize, idx)))
                    next_batch += 1
                idx, future = window.popleft()
                result = forward_batch(self.model, future.result(), device=device, fp16=self.fp16,
                                       to_numpy=False)
                pending_gpu.append((idx, result))
                if len(pending_gpu) >= self.flush_every or not device.startswith("cuda"):
                    flush()
                done += len(idx)
                if progress:
                    progress(done)
            flush()
        return out
