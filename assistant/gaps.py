"""Coverage gaps: failed questions grouped by meaning, with what the index has nearest to them.

Questions are embedded with the same model as the index (so "nearest document" similarities
are the ones retrieval sees) and grouped by scikit-learn's agglomerative clustering, average
linkage on cosine distance with a distance threshold: the number of groups follows the data,
and a group never chains two topics together through a string of near neighbours the way
single linkage does. Groups are ranked by size x recency (each occurrence weighs
``0.5 ** (age_days / half_life_days)``), so last week's burst outranks last month's.

Identical questions (after redaction and whitespace/case folding) are embedded and clustered
once and counted as often as they were asked; only the ``max_questions`` most recent distinct
questions are clustered, which bounds the cost on a large store.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from assistant.embeddings import Embedder
    from assistant.index import LoadedGeneration
    from assistant.insights import FailedQuestion
    from assistant.schemas import Audience

HALF_LIFE_DAYS = 14.0
# Openers that carry no topic ("Hi, quick question: ..."): left out of what is embedded, kept in what is shown.
_OPENER = re.compile(r"^(?:(?:hi|hello|hey|hiya|dear \w+|good (?:morning|afternoon|evening)|greetings|"
                     r"quick question|sorry to bother you|excuse me|please help|help)\b[\s,:;!.-]*)+",
                     re.IGNORECASE)


def topic_text(question: str) -> str:
    """What is embedded for grouping: the question without its greeting."""
    stripped = _OPENER.sub("", question).strip()
    return stripped or question


@dataclass
class _Distinct:
    text: str
    count: int = 0
    last_seen: float = 0.0
    weight: float = 0.0  # sum of recency weights of its occurrences
    channels: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)


class VectorCache:
    """Question vectors keyed by model and text, in a small SQLite file beside the store.

    A cache, not a record: deleting the file only costs re-embedding. It makes the weekly report
    and the admin page cheap after the first run.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @staticmethod
    def key(model_id: str, text: str) -> str:
        return hashlib.sha256(f"{model_id}\n{text}".encode()).hexdigest()

    def encode(self, embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
        keys = [self.key(embedder.model_id, t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            db = self._db()
            try:
                for start in range(0, len(keys), 500):
                    part = keys[start:start + 500]
                    rows = db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})",
                                      part).fetchall()
                    found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
                missing = [i for i, k in enumerate(keys) if k not in found]
                if missing:
                    fresh = embedder.encode([texts[i] for i in missing]).astype(np.float32)
                    with db:
                        db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                                       [(keys[i], fresh[j].tobytes()) for j, i in enumerate(missing)])
                    found.update((keys[i], fresh[j]) for j, i in enumerate(missing))
            finally:
                db.close()
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)


def cluster_labels(vectors: np.ndarray, distance: float) -> np.ndarray:
    """Agglomerative clustering (average linkage, cosine) cut at ``distance``; one label per row."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=np.int64)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, metric="cosine",
                                    linkage="average")
    return np.asarray(model.fit_predict(vectors), dtype=np.int64)


def nearest_documents(generation: LoadedGeneration, vector: np.ndarray, *, k: int = 3,
                      audiences: Sequence[Audience] = ("public", "internal")) -> list[dict[str, Any]]:
    """The ``k`` documents (articles, runbooks: not tickets) with the chunk most similar to ``vector``,
    best first, one row per document: what the knowledge base already says nearest to a gap."""
    hits: list[tuple[float, int]] = []
    for audience in audiences:
        hits += [(score, row) for row, score in generation.dense_search(audience, vector.astype(np.float32), k * 10)]
    if not hits:
        return []
    chunks = generation.chunks([row for _, row in hits])
    per_doc: dict[str, dict[str, Any]] = {}
    for score, row in hits:
        chunk = chunks.get(row)
        if chunk is None or chunk.kind != "document":
            continue
        seen = per_doc.get(chunk.doc_key)
        if seen is None or score > seen["similarity"]:
            per_doc[chunk.doc_key] = {"doc_key": chunk.doc_key, "title": chunk.title, "url": chunk.url,
                                      "audience": chunk.audience, "kind": chunk.kind,
                                      "similarity": round(float(score), 3)}
    return sorted(per_doc.values(), key=lambda d: -d["similarity"])[:k]


def find_gaps(failed: Sequence[FailedQuestion], embedder: Embedder, *, now: float,
              generation: LoadedGeneration | None = None, distance: float = 0.55, max_questions: int = 1000,
              limit: int = 20, cache: VectorCache | None = None,
              half_life_days: float = HALF_LIFE_DAYS, members_out: bool = False) -> list[dict[str, Any]]:
    """Groups of failed questions, best-ranked first (questions must already be redacted)."""
    distinct: dict[str, _Distinct] = {}
    for item in failed:
        text = " ".join(item.question.split())
        if not text:
            continue
        norm = text.lower()
        entry = distinct.get(norm)
        if entry is None:
            entry = distinct[norm] = _Distinct(text)
        entry.count += 1
        entry.last_seen = max(entry.last_seen, item.created_at)
        entry.weight += 0.5 ** (max(0.0, now - item.created_at) / 86_400 / half_life_days)
        entry.channels[item.channel] += 1
        entry.reasons.update(item.reasons)
    items = sorted(distinct.values(), key=lambda d: -d.last_seen)[:max_questions]
    if not items:
        return []
    texts = [topic_text(d.text) for d in items]
    vectors = cache.encode(embedder, texts) if cache is not None else embedder.encode(texts)
    vectors = np.asarray(vectors, dtype=np.float32)
    labels = cluster_labels(vectors, distance)

    groups: list[dict[str, Any]] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        counts = np.array([items[i].count for i in members], dtype=np.float32)
        centroid = (vectors[members] * counts[:, None]).sum(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        closeness = vectors[members] @ centroid
        order = members[np.argsort(-closeness, kind="stable")]
        size = int(counts.sum())
        weight = float(sum(items[i].weight for i in members))
        channels: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for i in members:
            channels.update(items[i].channels)
            reasons.update(items[i].reasons)
        groups.append({
            "size": size,
            "distinct_questions": len(members),
            "score": round(weight, 3),  # size x mean recency weight
            "recency": round(weight / size, 3),
            "examples": [items[i].text for i in order[:3]],
            "channels": dict(channels.most_common()),
            "reasons": dict(reasons.most_common()),
            "last_seen": max(items[i].last_seen for i in members),
            "cohesion": round(float(closeness.mean()), 3),
            "_centroid": centroid,
        })
        if members_out:
            groups[-1]["questions"] = [items[i].text for i in order]
    groups.sort(key=lambda g: (-g["score"], -g["size"]))
    groups = groups[:limit]
    for group in groups:
        centroid = group.pop("_centroid")
        group["nearest_docs"] = nearest_documents(generation, centroid) if generation is not None else []
    return groups
