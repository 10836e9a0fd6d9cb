"""Deciding "I don't know" from the evidence a retrieval found, not from one cosine (docs/architecture.md §7).

The best cosine alone does not transfer between corpora: long technical questions over a
reference manual score lower than short ones over a help centre, so a cut-off fit on one
declines answerable questions on the other. These signals are closer to "does the index talk
about this at all":

- ``best_cosine``: the best dense similarity of any candidate (what docs/architecture.md §7 started from);
- ``coverage``: the share of the question's key terms, weighted by how rare each is in the
  corpus (IDF), that the best passages contain (title, heading path and text);
- ``unknown``: the IDF-weighted share of key terms the corpus never uses at all (a product,
  tool or vendor the documentation does not cover: "nginx", "cPanel");
- ``agreement``: whether the dense and the keyword search put the same document near the top;
- ``margin``: how far the best document's fused score is ahead of the second one.

They are combined by a logistic model (:class:`AbstentionModel`) whose weights were fit on the
example corpus only (examples/eval/golden.jsonl) and then left alone; ``benchmarks/quality.py``
reports how it transfers to the httpd manual and the Zaragoza FAQ without refitting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from assistant.ranking import QueryProfile

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "ly", "s")


def stem(word: str) -> str:
    """A crude suffix strip, the same on both sides of a comparison ("redirects" ~ "redirecting")."""
    w = word.lower()
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text)}


def idf(df: int, total: int) -> float:
    """BM25's IDF, floored at a small positive value so a very common term still counts a little."""
    return max(0.05, math.log(1 + (total - df + 0.5) / (df + 0.5)))


@dataclass(frozen=True)
class Evidence:
    best_cosine: float
    coverage: float
    unknown: float
    agreement: float
    margin: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def gather_evidence(profile: QueryProfile, *, best_cosine: float, passage_texts: Sequence[str],
                    frequencies: Mapping[str, int], total: int, agreement: float, margin: float) -> Evidence:
    """The signals above, for one question. ``frequencies``: chunks holding each key term."""
    terms = [t for t in profile.terms if not t.isdigit()]
    if not terms or total <= 0:
        return Evidence(best_cosine, 0.0, 0.0, agreement, margin)
    weights = {t: idf(frequencies.get(t, 0), total) for t in terms}
    found = set().union(*(stems(text) for text in passage_texts)) if passage_texts else set()
    all_weight = sum(weights.values())
    covered = sum(w for t, w in weights.items() if stem(t) in found)
    unknown = sum(w for t, w in weights.items() if frequencies.get(t, 0) == 0)
    return Evidence(best_cosine, covered / all_weight, unknown / all_weight, agreement, margin)


@dataclass(frozen=True)
class AbstentionModel:
    """``confidence = sigmoid(bias + Σ weight × signal)``; abstain when it is under the threshold."""

    bias: float
    weights: Mapping[str, float]

    def confidence(self, evidence: Evidence) -> float:
        values = evidence.as_dict()
        z = self.bias + sum(w * values[name] for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-z))


# Fit on examples/eval/golden.jsonl only (`python benchmarks/quality.py --sets examples
# --no-baselines --fit-abstention` prints this fit and the cut-off, RetrievalSettings.abstain_confidence).
# Only the best cosine and the unknown-term share carry weight: coverage, agreement and margin
# shift with how questions are written, and a fit on one corpus misplaced them on the others.
SHIPPED_MODEL = AbstentionModel(bias=-0.9931, weights={"best_cosine": 6.9134, "unknown": -7.7976})


def fit_logistic(rows: Sequence[Evidence], should_answer: Sequence[bool], names: Sequence[str], *,
                 l2: float = 0.1, steps: int = 4000, rate: float = 0.5) -> AbstentionModel:
    """Plain L2-regularised logistic regression by gradient descent (no new dependency; tens of rows)."""
    import numpy as np

    x = np.array([[getattr(r, n) for n in names] for r in rows], dtype=np.float64)
    y = np.array(should_answer, dtype=np.float64)
    w = np.zeros(len(names))
    b = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        grad_w = x.T @ (p - y) / len(y) + l2 * w
        grad_b = float(np.mean(p - y))
        w -= rate * grad_w
        b -= rate * grad_b
    return AbstentionModel(bias=round(b, 4), weights={n: round(float(v), 4) for n, v in zip(names, w, strict=True)})
