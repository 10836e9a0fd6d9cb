"""Domain tuning from the corpus itself: a query adapter trained at ingest, stored in the generation.

No pretrained cross-encoder ships for this machine, and the real questions of a new corpus are
not known when it is indexed. What is known is the corpus: every chunk has a title and heading
path, and sentences that say what the chunk is about. Those give (pseudo-query → chunk) pairs:

- heading path → its chunk (``"mod_rewrite RewriteRule"`` → the section under it);
- a sentence → the rest of its chunk (the inverse cloze task: the sentence is left out of the
  target text's words, but the stored chunk vector is what it must find);
- for a one-chunk document (an FAQ answer) its first sentence → the chunk.

From them a *query adapter* is trained: a 384×384 matrix ``W`` (starting at the identity, pulled
back towards it by an L2 term) so that ``normalise(q·W)`` ranks each pseudo-query's own chunk
first among **all** stored chunk vectors of the partition (a full softmax, not only in-batch
negatives). The chunk vectors stay as stored, so nothing is re-embedded; at query time the
retriever reorders its top ``rerank_candidates`` pages by the adapted query's cosine, fused with
the shipped order by reciprocal rank (``domain_weight``). Query cost: one matrix-vector product
and 20 dot products (microseconds); training cost: encoding the pseudo-queries once (the bulk:
~2 minutes for 4,000 on two CPU cores) plus ``steps`` optimiser steps (seconds). Everything is
seeded, so the same generation trains the same adapter.

Why an adapter and not a full MiniLM fine-tune or a cross-encoder: on the two shared CPU cores
this was built on, one MultipleNegativesRankingLoss step of MiniLM (batch 32, 128 tokens) took
~26 s, so a useful fine-tune does not fit an ingest run; and a cross-encoder over 20 passages
costs one transformer pass per pair, far over the 60 ms budget here. Measured effect (README,
"Domain tuning"): small gain on the Zaragoza FAQ, a loss on the httpd manual and the example set,
so training is off by default (``ASSISTANT_RETRIEVAL_DOMAIN_TUNING``) and a generation without
an adapter ranks exactly as before.

Audience boundary: one adapter per audience that searches: ``public`` is trained on public
chunks only, ``internal`` on both partitions (what an internal query may read), so statistics of
internal text never shape a public ranking.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from assistant.schemas import Audience

if TYPE_CHECKING:
    from assistant.embeddings import Embedder

log = logging.getLogger(__name__)

ADAPTER_FILE = "domain_adapter.npz"
ADAPTER_FORMAT = 1
# The audiences a query comes from, and the chunk partitions each one's adapter learns from.
TRAINED_ON: dict[Audience, tuple[Audience, ...]] = {"public": ("public",), "internal": ("public", "internal")}
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(`])")
MIN_TARGET_WORDS = 8  # a chunk shorter than this teaches nothing about its topic
SENTENCE_WORDS = (5, 60)  # a pseudo-query sentence: long enough to mean something, short like a question
SENTENCES_PER_CHUNK = 2

Progress = Callable[[int], None]


@dataclass(frozen=True)
class TuningParams:
    """Bounds and seeds of one training run (defaults: replayed on the example set, Zaragoza and httpd)."""

    steps: int = 200  # optimiser steps per audience
    max_pairs: int = 4000  # pseudo-queries encoded per audience (the bulk of the time)
    seed: int = 13
    l2: float = 0.1  # pull of W back towards the identity (sum of squared differences)
    scale: float = 20.0  # softmax temperature over cosines, as in MultipleNegativesRankingLoss
    batch: int = 512
    lr: float = 1e-3


def corpus_pairs(chunks: Iterable[tuple[str, str, str]], *, seed: int, max_pairs: int) -> list[tuple[str, int]]:
    """(pseudo-query, index of its chunk) pairs from ``(doc_key, embed_text, text)`` rows, shuffled
    with ``seed`` and capped at ``max_pairs``.

    ``embed_text`` is the chunk's heading context (title and section path) on its first line,
    then its text (:mod:`ingest.chunking`).
    """
    rng = random.Random(seed)
    rows = list(chunks)
    per_doc: dict[str, int] = {}
    for doc_key, _, _ in rows:
        per_doc[doc_key] = per_doc.get(doc_key, 0) + 1
    pairs: list[tuple[str, int]] = []
    for index, (doc_key, embed_text, text) in enumerate(rows):
        context, _, body = embed_text.partition("\n")
        body = body or text
        if len(body.split()) < MIN_TARGET_WORDS:
            continue
        heading = " ".join(context.replace(" > ", " ").split())
        if heading:
            pairs.append((heading, index))
        low, high = SENTENCE_WORDS
        sentences = [s.strip() for s in _SENTENCE.split(" ".join(body.split())) if low <= len(s.split()) <= high]
        if not sentences:
            continue
        if per_doc[doc_key] == 1 and len(sentences) > 1:  # an FAQ-like answer: its opening says what it answers
            picked = [sentences[0], *rng.sample(sentences[1:], min(SENTENCES_PER_CHUNK - 1, len(sentences) - 1))]
        else:
            picked = rng.sample(sentences, min(SENTENCES_PER_CHUNK, len(sentences)))
        pairs.extend((sentence, index) for sentence in picked)
    rng.shuffle(pairs)
    return pairs[:max_pairs]


def train_adapter(anchors: np.ndarray, targets: Sequence[int], corpus: np.ndarray, params: TuningParams, *,
                  progress: Progress | None = None) -> np.ndarray:
    """``W`` so that ``normalise(anchors[i]·W)`` ranks ``corpus[targets[i]]`` first among all of
    ``corpus`` (cross-entropy over scaled cosines), plus ``l2``·‖W − I‖². Deterministic for a seed."""
    import torch

    dim = int(corpus.shape[1])
    if len(anchors) == 0:
        return np.eye(dim, dtype=np.float32)
    generator = torch.Generator().manual_seed(params.seed)
    a = torch.from_numpy(np.ascontiguousarray(anchors, dtype=np.float32))
    c = torch.from_numpy(np.ascontiguousarray(corpus, dtype=np.float32))
    t = torch.tensor(list(targets), dtype=torch.long)
    eye = torch.eye(dim)
    weights = eye.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([weights], lr=params.lr)
    size = min(params.batch, len(a))
    every = max(1, params.steps // 10)
    threads = torch.get_num_threads()
    # Small matrices: one thread is ~20x faster than several on a busy machine, and its sums are
    # in one fixed order, so the result does not depend on the core count.
    torch.set_num_threads(1)
    try:
        for step in range(params.steps):
            batch = torch.randint(0, len(a), (size,), generator=generator)
            queries = torch.nn.functional.normalize(a[batch] @ weights, dim=-1)
            loss = torch.nn.functional.cross_entropy(queries @ c.T * params.scale, t[batch])
            loss = loss + params.l2 * ((weights - eye) ** 2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if progress and ((step + 1) % every == 0 or step + 1 == params.steps):
                progress(step + 1)
    finally:
        torch.set_num_threads(threads)
    return weights.detach().numpy().astype(np.float32)


@dataclass
class DomainAdapter:
    """The trained matrices of one generation, by the audience that searches."""

    matrices: dict[str, np.ndarray]
    meta: dict[str, Any]

    def transform(self, audience: Audience, query: np.ndarray) -> np.ndarray | None:
        """The adapted, normalised query vector; None when no adapter was trained for ``audience``."""
        matrix = self.matrices.get(audience)
        if matrix is None or matrix.shape[0] != query.shape[0]:
            return None
        adapted = query.astype(np.float32) @ matrix
        norm = float(np.linalg.norm(adapted))
        return adapted / norm if norm > 0 else None

    def save(self, generation_dir: Path) -> Path:
        path = Path(generation_dir) / ADAPTER_FILE
        arrays: dict[str, Any] = {f"w_{a}": m for a, m in self.matrices.items()}
        arrays["meta"] = np.array(json.dumps(self.meta))
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, generation_dir: Path) -> DomainAdapter | None:
        """The adapter stored in a generation, or None (none trained, or a format this code does not read)."""
        path = Path(generation_dir) / ADAPTER_FILE
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                matrices = {k[2:]: np.asarray(data[k], dtype=np.float32) for k in data.files if k.startswith("w_")}
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable domain adapter %s: %s", path, exc)
            return None
        if meta.get("format") != ADAPTER_FORMAT:
            log.warning("ignoring domain adapter %s of format %s (this code reads %s)", path, meta.get("format"),
                        ADAPTER_FORMAT)
            return None
        return cls(matrices=matrices, meta=meta)


_cache: dict[str, tuple[int, DomainAdapter | None]] = {}
_cache_lock = threading.Lock()


def adapter_for(generation: Any) -> DomainAdapter | None:
    """The adapter of a loaded generation, read once per generation directory and file version
    (one stat per query: a file written after the generation was first queried is still seen);
    None without one."""
    path = getattr(generation, "path", None)
    if path is None:
        return None
    key = str(path)
    try:
        version = (Path(path) / ADAPTER_FILE).stat().st_mtime_ns
    except OSError:
        version = -1
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
    adapter = DomainAdapter.load(Path(path)) if version != -1 else None
    with _cache_lock:
        if len(_cache) > 8:  # old generations are pruned; keep the cache from growing with them
            _cache.clear()
        _cache[key] = (version, adapter)
    return adapter


def corpus_fingerprint(rows: Iterable[tuple[str, str]]) -> str:
    """sha256 over the sorted (audience, content hash) of every chunk: equal means the same corpus."""
    digest = hashlib.sha256()
    for audience, content_hash in sorted(rows):
        digest.update(f"{audience}\t{content_hash}\n".encode())
    return digest.hexdigest()


def tune_generation(generation_dir: Path, embedder: Embedder, params: TuningParams | None = None, *,
                    say: Callable[[str], None] | None = None, previous: Path | None = None) -> dict[str, Any]:
    """Train the adapters for the generation in ``generation_dir`` (its chunks.sqlite) and store
    them beside it; returns what the manifest records. Bounded by ``params`` (pairs, steps).

    ``previous``: a generation whose adapter was trained on the same chunks with the same model
    and params is copied instead (a nightly run over an unchanged corpus costs nothing)."""
    from assistant.chunkdb import ChunkDB, blob_to_vector

    params = params or TuningParams()
    note = say or log.info
    started = time.perf_counter()
    db = ChunkDB(Path(generation_dir) / "chunks.sqlite")
    try:
        rows = db.db.execute(
            "SELECT audience, doc_key, embed_text, text, vector, content_hash FROM chunks"
            " WHERE faiss_id IS NOT NULL ORDER BY id").fetchall()  # searchable rows: not the repeated copies
    finally:
        db.close()
    corpus_fp = corpus_fingerprint((r[0], r[5]) for r in rows)
    old = DomainAdapter.load(previous) if previous is not None else None
    if (old is not None and old.meta.get("corpus") == corpus_fp and old.meta.get("params") == asdict(params)
            and old.meta.get("embedding_model") == embedder.model_id):
        assert previous is not None
        shutil.copyfile(Path(previous) / ADAPTER_FILE, Path(generation_dir) / ADAPTER_FILE)
        note(f"domain tuning: same chunks as {Path(previous).name}, its adapter reused")
        return {**old.meta, "reused_from": Path(previous).name}
    matrices: dict[str, np.ndarray] = {}
    counts: dict[str, dict[str, int]] = {}
    trained: dict[tuple[str, ...], np.ndarray] = {}
    for audience, partitions in TRAINED_ON.items():
        part = [r for r in rows if r[0] in partitions]
        if not part:
            continue
        present = tuple(sorted({r[0] for r in part}))  # no internal chunks: internal reuses the public one
        if present in trained:
            matrices[audience] = trained[present]
            continue
        corpus = np.stack([blob_to_vector(r[4]) for r in part]).astype(np.float32)
        pairs = corpus_pairs(((r[1], r[2], r[3]) for r in part), seed=params.seed, max_pairs=params.max_pairs)
        note(f"domain tuning [{audience}]: encoding {len(pairs)} pseudo-queries from {len(part)} chunks")
        anchors = embedder.encode([text for text, _ in pairs])
        note(f"domain tuning [{audience}]: {params.steps} steps")

        def progress(step: int, audience: str = audience) -> None:
            note(f"domain tuning [{audience}]: step {step}/{params.steps}")

        matrices[audience] = train_adapter(anchors, [i for _, i in pairs], corpus, params, progress=progress)
        trained[present] = matrices[audience]
        counts[audience] = {"chunks": len(part), "pairs": len(pairs)}
    meta = {"format": ADAPTER_FORMAT, "kind": "query-adapter", "embedding_model": embedder.model_id,
            "corpus": corpus_fp, "params": asdict(params), "trained": counts,
            "seconds": round(time.perf_counter() - started, 1)}
    if matrices:
        DomainAdapter(matrices=matrices, meta=meta).save(Path(generation_dir))
    note(f"domain tuning: done in {meta['seconds']} s")
    return meta


def rerank_documents(shipped: Sequence[str], scores: dict[str, float], *, weight: float, rrf_k: int) -> list[str]:
    """The shipped page order fused by reciprocal rank with the order of ``scores`` (higher first).

    Pages missing from ``scores`` keep their shipped vote only. Ties keep the shipped order.
    """
    fused: dict[str, float] = {}
    for rank, doc in enumerate(shipped, start=1):
        fused[doc] = fused.get(doc, 0.0) + 1.0 / (rrf_k + rank)
    if weight > 0:
        for rank, doc in enumerate(sorted(scores, key=lambda d: -scores[d]), start=1):
            fused[doc] = fused.get(doc, 0.0) + weight / (rrf_k + rank)
    position = {doc: n for n, doc in enumerate(shipped)}
    return sorted(fused, key=lambda d: (-fused[d], position.get(d, len(position))))


class _Ranked(Protocol):
    @property
    def vector(self) -> np.ndarray: ...

    @property
    def doc_key(self) -> str: ...


R = TypeVar("R", bound=_Ranked)


def reorder(candidates: Sequence[R], adapted_query: np.ndarray, *, weight: float, depth: int, per_page: int,
            rrf_k: int) -> list[R]:
    """Candidates (best first, every chunk of a page before the next page) with their first pages
    reordered by :func:`rerank_documents`. The pages are those of the first ``depth`` chunks when
    each page gives at most ``per_page`` (the passages a user would see), each scored by the best
    of those chunks' cosines to the adapted query. Chunks keep their order inside a page; the
    pages after them follow unchanged."""
    if weight <= 0 or not candidates:
        return list(candidates)
    taken: dict[str, int] = {}
    best: dict[str, float] = {}
    for cand in candidates:
        doc = cand.doc_key
        if taken.get(doc, 0) >= per_page:
            continue
        taken[doc] = taken.get(doc, 0) + 1
        score = float(cand.vector @ adapted_query)
        best[doc] = max(best.get(doc, score), score)
        if sum(taken.values()) >= depth:
            break
    shipped = list(best)  # pages in their shipped order (the candidates come grouped by page)
    position = {doc: n for n, doc in enumerate(rerank_documents(shipped, best, weight=weight, rrf_k=rrf_k))}
    head = [c for c in candidates if c.doc_key in position]
    tail = [c for c in candidates if c.doc_key not in position]
    head.sort(key=lambda c: position[c.doc_key])  # stable: chunk order inside a page is kept
    return [*head, *tail]
