"""Reading a published generation: dense and keyword search per audience partition, with hot reload.

:class:`LoadedGeneration` opens one generation (FAISS files + ``chunks.sqlite``), checks that
its parts agree (vector counts against chunk rows) and refuses it when its embedding model
differs from the one we query with. :class:`IndexHandle` follows ``CURRENT``: each
:meth:`IndexHandle.current` call reads the pointer (a few bytes) and swaps to a newly
published generation; queries already holding the old object finish on it.

Resources: a generation's SQLite connections (one per pool worker that queried it) and its
FAISS indexes belong to its :class:`LoadedGeneration`. When a swap retires it, it is released
as soon as no query holds it any more (the last reference goes: CPython frees it at once, and
a finalizer closes its connections), so a long-running server does not accumulate
generations.

A bad publish (missing or corrupt files, vectors that do not match the rows, another embedding
model) does not take serving down: the handle keeps the last good generation, logs the
operator detail, reports the failure through :meth:`IndexHandle.status` (``/readyz``), and
tries the load again with exponential backoff (1 s doubling to 60 s) rather than on every
query. With nothing loaded yet, queries get the same error until the next retry is due.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant import generations, vectors
from assistant.chunkdb import ChunkDB, StoredChunk
from assistant.errors import AssistantError, IndexError_, ModelMismatchError
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
        # Closes this generation's connections once it is unreachable, whichever thread opened them.
        self._release = weakref.finalize(self, self.db.close)
        self._indexes: dict[Audience, Any] = {}
        self.devices: dict[Audience, str] = {}
        # FAISS GPU indexes are not thread-safe, even for search: one search at a time on each.
        self._gpu_locks: dict[Audience, threading.Lock] = {}
        try:
            for audience in AUDIENCES:
                file = self.path / f"{audience}.faiss"
                if file.exists():
                    self._indexes[audience], self.devices[audience] = vectors.load_index(file, device=device)
                else:
                    self._indexes[audience], self.devices[audience] = vectors.empty_index(self.dimension), "cpu"
                if self.devices[audience] != "cpu":
                    self._gpu_locks[audience] = threading.Lock()
            self._check_counts()
            # Chunks whose heading asks a question (FAQ entries): few, searched exhaustively.
            self._questions = {audience: self.db.heading_questions(audience) for audience in AUDIENCES}
        except Exception:
            self.close()
            raise

    def _check_counts(self) -> None:
        """Each partition's FAISS index holds exactly one vector per searchable chunk row of that audience
        (rows of repeated text beyond their first copy have none: ``ChunkDBWriter.finalize``)."""
        rows = dict(self.db.db.execute(
            "SELECT audience, count(*) FROM chunks WHERE faiss_id IS NOT NULL GROUP BY audience").fetchall())
        for audience in AUDIENCES:
            have, want = int(self._indexes[audience].ntotal), int(rows.get(audience, 0))
            if have != want:
                raise IndexError_(
                    f"Generation {self.id}: {audience}.faiss has {have} vectors but chunks.sqlite has {want} "
                    f"{audience} chunks",
                    hint="the generation is damaged; roll back (`assistant index rollback`) or re-run ingest",
                )

    def size(self, audience: Audience) -> int:
        return int(self._indexes[audience].ntotal)

    def dense_search(self, audience: Audience, query: np.ndarray, k: int,
                     question_weight: float = 0.0) -> list[tuple[int, float]]:
        """(chunk row id, cosine) from one partition's FAISS index, best first.

        ``question_weight`` w > 0: a chunk whose heading asks a question scores
        ``max(cosine, (1 - w) × cosine + w × the question's cosine)``: a customer's question is
        compared with the FAQ entry's question as well as with its answer, which rarely repeats
        the question's words ("some phones and curl complain they can't verify our certificate"
        ↔ "Why do browsers complain that they cannot verify my server certificate?")."""
        pairs = self._faiss_search(audience, query, k)
        if question_weight > 0:
            pairs = self._with_heading_questions(audience, query, k, pairs, question_weight)
        return pairs

    def _with_heading_questions(self, audience: Audience, query: np.ndarray, k: int,
                                pairs: list[tuple[int, float]], weight: float) -> list[tuple[int, float]]:
        ids, chunk_vectors, question_vectors = self._questions[audience]
        if not len(ids):
            return pairs
        cosine = chunk_vectors @ query
        boosted = np.maximum(cosine, (1 - weight) * cosine + weight * (question_vectors @ query))
        scores = dict(pairs)
        floor = pairs[-1][1] if len(pairs) >= k else -np.inf
        for row, score in zip(ids.tolist(), boosted.tolist(), strict=True):
            if row in scores or score > floor:  # never below its FAISS cosine: boosted >= cosine
                scores[row] = score
        return sorted(scores.items(), key=lambda pair: -pair[1])[:k]

    def _faiss_search(self, audience: Audience, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        index = self._indexes[audience]
        if index.ntotal == 0:
            return []
        gpu_lock = self._gpu_locks.get(audience)
        if gpu_lock is None:
            scores, positions = vectors.search(index, query.reshape(1, -1), k)
        else:
            with gpu_lock:
                scores, positions = vectors.search(index, query.reshape(1, -1), k)
        pairs = [(int(p), float(s)) for p, s in zip(positions[0], scores[0], strict=True) if p >= 0]
        ids = self.db.ids_for_positions(audience, [p for p, _ in pairs])
        return [(i, s) for i, (_, s) in zip(ids, pairs, strict=True) if i is not None]

    def keyword_search(self, audience: Audience, query: str, k: int) -> list[tuple[int, float]]:
        return self.db.keyword_search(audience, query, k)

    def chunks(self, ids: list[int]) -> dict[int, Chunk]:
        return self.db.chunks(ids)

    def stored(self, ids: list[int]) -> dict[int, StoredChunk]:
        return self.db.stored(ids)

    def close(self) -> None:
        """Close the SQLite connections now (queries must be done with this generation)."""
        self._release()


RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0


@dataclass(frozen=True)
class IndexStatus:
    """What ``/readyz`` reports about the index: what is served, and what failed to load."""

    serving: str | None  # generation id, None before the first successful load
    failed: str | None  # the published generation that could not be loaded, if any
    reason: str | None  # a few words for operators, without paths ("published index cannot be loaded")


@dataclass
class _Failure:
    generation: str | None
    error: AssistantError
    delay_s: float
    retry_at: float


_REASONS = {
    "no_index": "no index published yet",
    "model_mismatch": "index built with another embedding model",
}


class IndexHandle:
    """The published generation for a long-running server, swapped when ``CURRENT`` changes."""

    def __init__(self, data_dir: Path, *, model_id: str | None = None, dimension: int | None = None,
                 device: str = "auto", clock: Callable[[], float] = time.monotonic) -> None:
        self.data_dir = Path(data_dir)
        self._kwargs: dict[str, Any] = {"model_id": model_id, "dimension": dimension, "device": device}
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded: LoadedGeneration | None = None
        self._failure: _Failure | None = None

    def current(self) -> LoadedGeneration:
        """The generation to use for one query; loads or swaps as needed.

        Raises the load error (an :class:`~assistant.errors.IndexError_`) only when no generation
        has ever loaded; otherwise a failed swap keeps serving the last good one.
        """
        wanted = generations.current_id(self.data_dir)
        loaded = self._loaded
        if loaded is not None and (wanted is None or wanted == loaded.id):
            return loaded  # CURRENT vanished (manual edit)? keep serving what we have
        failure = self._failure
        if failure is not None and failure.generation == wanted and self._clock() < failure.retry_at:
            if loaded is not None:
                return loaded
            raise failure.error
        with self._lock:
            return self._swap()

    def _swap(self) -> LoadedGeneration:
        wanted = generations.current_id(self.data_dir)
        loaded = self._loaded
        if loaded is not None and (wanted is None or wanted == loaded.id):
            return loaded
        failure = self._failure
        if failure is not None and failure.generation == wanted and self._clock() < failure.retry_at:
            if loaded is not None:
                return loaded
            raise failure.error
        try:
            fresh = LoadedGeneration(self.data_dir, **self._kwargs)
        except Exception as exc:
            error = exc if isinstance(exc, AssistantError) else IndexError_(
                f"Generation {wanted} cannot be loaded", detail=f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, (AssistantError, OSError, RuntimeError, sqlite3.Error, ValueError)):
                raise
            self._failed(wanted, error)
            if loaded is not None:
                return loaded
            if error is exc:
                raise
            raise error from exc
        if loaded is not None:
            log.info("index generation %s replaces %s", fresh.id, loaded.id)
        elif self._failure is not None:
            log.info("index generation %s loaded after earlier failures", fresh.id)
        self._failure = None
        # The old generation is not closed here: queries in flight may still hold it. It is
        # released when the last of them lets go (see the module docstring).
        self._loaded = fresh
        return fresh

    def _failed(self, generation: str | None, error: AssistantError) -> None:
        previous = self._failure
        same = previous is not None and previous.generation == generation
        delay = min(previous.delay_s * 2, RETRY_MAX_S) if same and previous is not None else RETRY_FIRST_S
        self._failure = _Failure(generation, error, delay, self._clock() + delay)
        serving = self._loaded.id if self._loaded is not None else None
        if generation is None:  # nothing published: normal before the first ingest, not worth a loud log
            log.warning("no index to serve: %s (%s); next check in %.0f s", error.message, error.hint or "", delay)
        else:
            log.error("index generation %s failed to load: %s [%s] %s; %s; retry in %.0f s", generation,
                      error.message, error.code, error.detail or "",
                      f"still serving {serving}" if serving else "nothing to serve", delay)

    def status(self) -> IndexStatus:
        """The served and failed generations, checking ``CURRENT`` first (may load or swap)."""
        try:
            serving: str | None = self.current().id
        except AssistantError:
            serving = None
        failure = self._failure
        if failure is None or (serving is not None and failure.generation != generations.current_id(self.data_dir)):
            return IndexStatus(serving, None, None)  # the failed one is no longer published (a rollback)
        reason = _REASONS.get(failure.error.code, "published index cannot be loaded")
        if serving is not None:
            reason = f"newest index failed to load ({reason}); serving the previous one"
        return IndexStatus(serving, failure.generation, reason)

    def close(self) -> None:
        """Release the served generation (at shutdown)."""
        with self._lock:
            if self._loaded is not None:
                self._loaded.close()
                self._loaded = None
