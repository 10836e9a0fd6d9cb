"""Reading a published generation: dense and keyword search per audience partition, with hot reload.

:class:`LoadedGeneration` opens one generation (FAISS files + ``chunks.sqlite``) and refuses it
when its embedding model differs from the one we query with. :class:`IndexHandle` follows
``CURRENT``: each :meth:`IndexHandle.current` call reads the pointer (a few bytes) and swaps
to a newly published generation; queries already holding the old object finish on it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from assistant import generations, vectors
from assistant.chunkdb import ChunkDB
from assistant.errors import ModelMismatchError
from assistant.schemas import AUDIENCES, Audience, Chunk

log = logging.getLogger(__name__)


class LoadedGeneration:
    def __init__(self, data_dir: Path, generation: str | None = None, *, model_id: str | None = None,
                 dimension: int | None = None, device: str = "auto") -> None:
        self.id, self.path = generations.resolve(data_dir, generation)
        self.manifest = generations.read_manifest(self.path)
        embedding = self.manifest.get("embedding", {})
        if model_id is not None and embedding.get("model") != model_id:
            raise ModelMismatchError(
                f"Index generation {self.id} was built with embedding model {embedding.get('model')!r}, "
                f"but the configured model is {model_id!r}",
                hint="re-run `assistant ingest` with the configured model, or set ASSISTANT_EMBEDDING_MODEL "
                "back to the one the index was built with",
            )
        if dimension is not None and embedding.get("dimension") != dimension:
            raise ModelMismatchError(
                f"Index generation {self.id} has {embedding.get('dimension')}-dimensional vectors, "
                f"the embedding model makes {dimension}",
                hint="re-run `assistant ingest` with the configured model",
            )
        self.dimension = int(embedding.get("dimension", dimension or 0))
        self.db = ChunkDB(self.path / "chunks.sqlite")
        self._indexes: dict[Audience, Any] = {}
        self.devices: dict[Audience, str] = {}
        for audience in AUDIENCES:
            file = self.path / f"{audience}.faiss"
            if file.exists():
                self._indexes[audience], self.devices[audience] = vectors.load_index(file, device=device)
            else:
                self._indexes[audience], self.devices[audience] = vectors.empty_index(self.dimension), "cpu"

    def size(self, audience: Audience) -> int:
        return int(self._indexes[audience].ntotal)

    def dense_search(self, audience: Audience, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk row id, cosine) from one partition's FAISS index, best first."""
        index = self._indexes[audience]
        if index.ntotal == 0:
            return []
        scores, positions = vectors.search(index, query.reshape(1, -1), k)
        pairs = [(int(p), float(s)) for p, s in zip(positions[0], scores[0], strict=True) if p >= 0]
        ids = self.db.ids_for_positions(audience, [p for p, _ in pairs])
        return [(i, s) for i, (_, s) in zip(ids, pairs, strict=True) if i is not None]

    def keyword_search(self, audience: Audience, query: str, k: int) -> list[tuple[int, float]]:
        return self.db.keyword_search(audience, query, k)

    def chunks(self, ids: list[int]) -> dict[int, Chunk]:
        return self.db.chunks(ids)

    def vectors(self, ids: list[int]) -> dict[int, np.ndarray]:
        return self.db.vectors(ids)

    def close(self) -> None:
        self.db.close()


class IndexHandle:
    """The published generation for a long-running server, swapped when ``CURRENT`` changes."""

    def __init__(self, data_dir: Path, *, model_id: str | None = None, dimension: int | None = None,
                 device: str = "auto") -> None:
        self.data_dir = Path(data_dir)
        self._kwargs: dict[str, Any] = {"model_id": model_id, "dimension": dimension, "device": device}
        self._lock = threading.Lock()
        self._loaded: LoadedGeneration | None = None

    def current(self) -> LoadedGeneration:
        """The generation to use for one query; loads or swaps as needed."""
        wanted = generations.current_id(self.data_dir)
        loaded = self._loaded
        if loaded is not None and (wanted is None or wanted == loaded.id):
            return loaded  # CURRENT vanished (manual edit)? keep serving what we have
        with self._lock:
            if self._loaded is None or self._loaded.id != generations.current_id(self.data_dir):
                fresh = LoadedGeneration(self.data_dir, **self._kwargs)
                if self._loaded is not None:
                    log.info("index generation %s replaces %s", fresh.id, self._loaded.id)
                # The old object is not closed: queries in flight may still hold it; GC frees it.
                self._loaded = fresh
            return self._loaded
