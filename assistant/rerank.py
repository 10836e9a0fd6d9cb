"""Optional cross-encoder reranking (docs/architecture.md §4): a model path in settings, none ships.

A cross-encoder reads question and passage together, so it orders a short list better than
the bi-encoder that found it, at a cost of one forward pass per pair. It only ever sees the
candidates the retriever already allowed for the audience: it can reorder, never widen.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from assistant.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

log = logging.getLogger(__name__)


class Reranker(Protocol):
    """Scores (question, passage text) pairs; higher is more relevant."""

    def score(self, question: str, texts: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A ``sentence_transformers.CrossEncoder`` loaded from a local path on first use."""

    def __init__(self, model: str, *, device: str = "auto", batch_size: int = 32) -> None:
        self.model_id = model
        self.requested_device = device
        self.batch_size = batch_size
        self._model: CrossEncoder | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> CrossEncoder:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> CrossEncoder:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import CrossEncoder

        from assistant.embeddings import resolve_device

        device = resolve_device(self.requested_device)
        try:
            model = CrossEncoder(self.model_id, device=device, num_labels=1)
        except OSError as exc:
            raise ConfigError(
                f"Cannot load reranker model {self.model_id!r}",
                hint="set ASSISTANT_RETRIEVAL_RERANKER_MODEL to a local CrossEncoder directory, or unset it",
                detail=str(exc),
            ) from exc
        log.info("reranker %s on %s", self.model_id, device)
        return model

    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        scores = self.model.predict(
            [(question, t) for t in texts], batch_size=self.batch_size, show_progress_bar=False
        )
        return [float(s) for s in scores]
