"""Vectors of single words, computed at ingest, so the abstention signal needs no encode to read them.

The ``salient_missing`` signal (assistant/abstention.py) embeds the question's rarest words one by
one. On a word the server has not seen before that is a forward pass of the model, as long as the
question's own (about 7 ms on two CPU cores, 11 ms for four words): most of the search time at
100k chunks (issue 9, item 4). The words are nearly always ordinary English, and a model's
tokenizer lists ordinary English: the whole-word entries of its vocabulary (22,501 for
all-MiniLM-L6-v2). Their vectors, encoded once at ingest, are the same vectors a query-time encode
gives (to 1e-7), so the signal, and every decision made on it, is unchanged; only the wait goes.

The table depends on the model only. A generation built with the same model as the previous one
links the previous table (no encode, no extra disk) instead of encoding it again. Small corpora
skip it (``ASSISTANT_RETRIEVAL_TERM_TABLE_MIN_CHUNKS``): the ~10 s of encoding would be most of
their ingest, and their words are soon in the retriever's own cache anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

VECTORS_FILE = "term_vectors.npy"
WORDS_FILE = "term_vectors.txt"
FILES = (VECTORS_FILE, WORDS_FILE)
STEP = 2048  # words per encode call: progress between calls, the same batches inside


class _Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def table_words(embedder: Any) -> list[str]:
    """The words the table holds: the model vocabulary's whole lower-case words, sorted."""
    known = getattr(embedder, "known_words", None)
    return sorted(known()) if callable(known) else []


def build(generation_dir: Path, embedder: Any, *, previous: Path | None = None,
          progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Write the table into ``generation_dir``; what was done, for the manifest.

    ``previous``: the last generation's directory, built with the same model (the caller checks);
    its table is linked when it holds the same words. ``progress(done, total)`` is called with
    the count of words encoded so far, first with 0 before any is.
    """
    started = time.perf_counter()
    words = table_words(embedder)
    if not words:
        return {"words": 0, "reused": False, "seconds": 0.0}
    held = TermTable.load(previous) if previous is not None else None
    if previous is not None and held is not None and list(held.rows) == words:
        for name in FILES:
            link_or_copy(previous / name, generation_dir / name)
        return {"words": len(words), "reused": True, "seconds": round(time.perf_counter() - started, 3),
                "sha256": digests(generation_dir)}
    parts = []
    if progress:
        progress(0, len(words))
    for start in range(0, len(words), STEP):
        parts.append(np.asarray(embedder.encode(words[start:start + STEP]), dtype=np.float32))
        if progress:
            progress(min(start + STEP, len(words)), len(words))
    matrix = np.concatenate(parts)
    tmp = generation_dir / f".{VECTORS_FILE}.tmp"
    with open(tmp, "wb") as handle:
        np.save(handle, matrix)
    os.replace(tmp, generation_dir / VECTORS_FILE)
    (generation_dir / WORDS_FILE).write_text("\n".join(words) + "\n", encoding="utf-8")
    return {"words": len(words), "reused": False, "seconds": round(time.perf_counter() - started, 3),
            "sha256": digests(generation_dir)}


def digests(generation_dir: Path) -> dict[str, str]:
    """The table's files by content (the manifest keeps them): the same table from one night to the
    next is recognised without reading it twice, so ``index push`` and ``index sync`` copy it
    in place instead of moving 35 MB over the network again (assistant/index_sync.py)."""
    out = {}
    for name in FILES:
        digest = hashlib.sha256()
        with open(generation_dir / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        out[name] = digest.hexdigest()
    return out


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link where both lie on one file system (the generations do): no second copy on disk."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


class TermTable:
    """A generation's table, read-only and memory-mapped: a lookup touches only its words' rows."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray) -> None:
        self.rows = {w: i for i, w in enumerate(words)}
        self.vectors = vectors

    def __contains__(self, word: object) -> bool:
        return word in self.rows

    def lookup(self, words: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of those ``words`` the table holds (a copy each, float32)."""
        return {w: np.array(self.vectors[self.rows[w]], dtype=np.float32) for w in words if w in self.rows}

    @classmethod
    def load(cls, generation_dir: Path) -> TermTable | None:
        """None without a table, or with one that does not read (logged: the signal encodes instead)."""
        vectors_file, words_file = generation_dir / VECTORS_FILE, generation_dir / WORDS_FILE
        if not vectors_file.exists():
            return None
        try:
            words = words_file.read_text(encoding="utf-8").split("\n")[:-1]
            vectors = np.load(vectors_file, mmap_mode="r")
        except (OSError, ValueError):
            log.warning("term table in %s could not be read; single words are encoded at query time",
                        generation_dir, exc_info=True)
            return None
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            log.warning("term table in %s has %s vectors for %d words; not used", generation_dir,
                        vectors.shape, len(words))
            return None
        return cls(words, vectors)


_UNREAD = object()


def table_for(generation: Any) -> TermTable | None:
    """The table of a loaded generation, read on its first use and kept on the generation object,
    so it is released with that generation (a retired one's memory map goes with it); None without
    one, or for an in-memory generation, which has no directory. Two threads reading it at once
    both load it, and one of the two is kept: cheaper than a lock on every query."""
    table = getattr(generation, "_term_table", _UNREAD)
    if table is _UNREAD:
        path = getattr(generation, "path", None)
        table = TermTable.load(Path(path)) if path is not None else None
        with contextlib.suppress(AttributeError):  # a generation type that takes no new attributes
            generation._term_table = table
    return table if isinstance(table, TermTable) else None
