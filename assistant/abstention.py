"""Deciding "I don't know" from the evidence a retrieval found, not from one cosine (docs/architecture.md §7).

The best cosine alone does not transfer between corpora: long questions in the asker's own
words over a reference manual score lower than short ones over a help centre, so a cut-off fit
on one declines answerable questions on the other. The signals (:class:`Evidence`):

- ``best_cosine``: the best dense similarity of any candidate (what docs/architecture.md §7 started from);
- ``coverage``: the share of the question's key terms, weighted by how rare each is in the
  corpus (IDF, from the corpus's own document frequencies), that the best passage contains
  (title, heading path and text);
- ``unknown``: the IDF-weighted share of key terms the corpus never uses at all (a product,
  tool or vendor the documentation does not cover);
- ``rare``: the IDF-weighted share of key terms the corpus knows only rarely (a passing
  mention) that the best passages lack;
- ``salient_missing``: how central to the question the most telling term the best passages
  lack is: the cosine between that term alone and the question (the embedding model's own
  sense of "what is this question about"), times its rarity in the corpus. "In nginx, how do
  I ..." over the Apache manual: "nginx" is mentioned once in the corpus, the retrieved
  passages about Apache's ProxyPass lack it, and the question is about it. A common word the
  corpus happens not to use ("happens", "myself") is not what a question is about, so it
  scores low where the plain ``unknown`` share would decline the question. None when it was
  not measured: the retriever embeds the missing terms only when the decision depends on it
  (``salient_bound``, the rarity of the rarest missing term, caps what it could be), or when it
  cannot embed single terms;
- ``agreement``: whether the best document is among the first documents of the dense and of
  the keyword search (0, 0.5 or 1); ``top_agree``: 1 when both searches rank the same
  document first; ``keyword_rank``: 1 / rank of the dense search's best document in the
  keyword search's document ranking (0 when absent);
- ``margin``: how far the best document's fused score is ahead of the second one;
- ``rerank``: the reranker's score of the best passage, None when no reranker ran.

They are combined by a logistic model (:class:`AbstentionModel`); a signal that is missing
(None) takes the model's ``fallback`` value, the mean of the fitting rows, so it moves the
confidence neither way. The shipped weights were fit on the example corpus only (the golden
set plus examples/eval/abstention.jsonl: questions in the asker's own words and near-domain
questions the documentation does not answer) with ``python benchmarks/quality.py --sets
examples --no-baselines --fit-abstention``; ``benchmarks/quality.py`` reports how the model
transfers to the httpd manual and the Zaragoza FAQ without refitting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache

from assistant.ranking import QueryProfile, spelled_apart

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "ly", "s")
RARE_SHARE = 0.001  # "known only rarely": in at most this share of the chunks (and at least ...)
RARE_MIN = 2  # ... in at most this many chunks, whatever the corpus size
SALIENCE_TERMS = 6  # at most this many missing terms are embedded per question (the rarest)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude suffix strip, the same on both sides of a comparison ("redirects" ~ "redirecting").
    Cached: a query stems every word of its best passages, and the words recur."""
    w = word.lower()
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text)}


def held_stems(texts: Sequence[str]) -> set[str]:
    """Every stem any of ``texts`` holds: what "the passages hold the term" is checked against."""
    return set().union(*(stems(text) for text in texts))


def term_parts(term: str) -> list[str]:
    """The words FTS5 indexes a term as: ``mod_rewrite`` → ``mod``, ``rewrite``; ``nginx`` → itself."""
    return [p.lower() for p in _WORD.findall(term)] or [term.lower()]


def idf(df: int, total: int) -> float:
    """BM25's IDF, floored at a small positive value so a very common term still counts a little."""
    return max(0.05, math.log(1 + (total - df + 0.5) / (df + 0.5)))


def key_terms(profile: QueryProfile) -> list[str]:
    """The terms the signals weigh: the question's content terms, bare numbers left out."""
    return [t for t in profile.terms if not t.isdigit()]


# Endings that tell apart words of one family which Porter's stemmer (FTS5's) leaves apart:
# "cheapest" / "cheap", "visitors" / "visit", "thick" / "thicker".
_FAMILY_SUFFIXES = ("s", "es", "er", "ers", "est", "or", "ors", "ing", "ings", "ed", "ly", "al", "ation",
                    "ations", "ion", "ions", "ment", "ments", "ness", "ity", "ive")


def relatives(term: str) -> list[str]:
    """Words of the term's family a page may write instead: the term less one of those endings (at
    least four letters left) or with one. A question asking for "the cheapest quote" over answers
    that say "cheap" and "cheaper" does not use a word the corpus never heard of."""
    word = term.lower()
    if not word.isalpha() or len(word) < 4:
        return []
    out = [word[: -len(s)] for s in _FAMILY_SUFFIXES if word.endswith(s) and len(word) - len(s) >= 4]
    return list(dict.fromkeys([*out, *(word + s for s in _FAMILY_SUFFIXES), *other_spellings(word)]))


# British and American spellings of one word: a customer writes "customise" or "cancelled" to a
# manual that says "customize" and "canceled" (or the other way round). Pairs of (British, American).
_SPELLINGS = (("our", "or"), ("ise", "ize"), ("ised", "ized"), ("ises", "izes"), ("ising", "izing"),
              ("isation", "ization"), ("yse", "yze"), ("ysed", "yzed"), ("lled", "led"), ("lling", "ling"),
              ("ence", "ense"), ("tre", "ter"), ("ogue", "og"))


def other_spellings(word: str) -> list[str]:
    """The word as the other side of the Atlantic spells it ("colour" / "color", "customise" /
    "customize", "cancelled" / "canceled", "centre" / "center"), by its ending or, for "our", inside it
    ("favourite")."""
    out = []
    for british, american in _SPELLINGS:
        if word.endswith(british) and len(word) - len(british) >= 3:
            out.append(word[: -len(british)] + american)
        elif word.endswith(american) and len(word) - len(american) >= 3:
            out.append(word[: -len(american)] + british)
    if "our" in word[1:-1] and len(word) >= 6:  # "favourite", "behaviours", "colourful"
        out.append(word.replace("our", "or"))
    return [w for w in dict.fromkeys(out) if w != word]


def family_words(profile: QueryProfile, frequencies: Mapping[str, int]) -> list[str]:
    """The relatives to look up next, of the key terms no chunk holds as written (a second, small
    lookup, made only when the first found a term unknown)."""
    return list(dict.fromkeys(r for t in key_terms(profile) if _frequency(t, frequencies) == 0
                              for r in relatives(t)))


def unknown_terms(profile: QueryProfile, frequencies: Mapping[str, int]) -> list[str]:
    """Key terms no chunk holds, in any form the lookups so far found."""
    return [t for t in key_terms(profile) if _frequency(t, frequencies) == 0]


_TYPO_MIN_CHARS = 5  # shorter words ("etcd", "indx") have too many real neighbours to respell


def may_be_typo(word: str, dictionary: Container[str]) -> bool:
    """Whether a word no chunk holds may be a misspelling: not a word of ``dictionary`` (the
    embedding model's vocabulary: "office", "stain", "chokes" are words, "refnd" is not), in any
    form of its family, and long enough to have few neighbours."""
    w = word.lower()
    if len(w) < _TYPO_MIN_CHARS or not w.isalpha() or w in dictionary:
        return False
    return not any(r in dictionary for r in relatives(w))


def respelled(profile: QueryProfile, spellings: Mapping[str, str]) -> QueryProfile:
    """``profile`` with each misspelt term replaced by the word the corpus writes ("refnd" →
    "refund"): a customer's typo is not a word the documentation has never heard of."""
    return replace(profile, terms=tuple(dict.fromkeys(spellings.get(t, t) for t in profile.terms)))


def lookup_words(profile: QueryProfile) -> list[str]:
    """Every word whose chunk frequency the signals need (key terms and their FTS5 parts)."""
    return list(dict.fromkeys(w for t in key_terms(profile) for w in (t, *term_parts(t), *spelled_apart(t))))


def _frequency(term: str, frequencies: Mapping[str, int]) -> int:
    """Chunks holding a term; a term FTS5 splits (``mod_rewrite``) counts as its rarest part."""
    parts = term_parts(term)
    if len(parts) > 1:
        return min(frequencies.get(p, 0) for p in parts)
    found = frequencies.get(term, frequencies.get(parts[0], 0))
    runs = spelled_apart(term)  # "ABT06" where the corpus writes "ABT 06": as rare as its rarer run
    found = found or (min(frequencies.get(r, 0) for r in runs) if runs else 0)
    # Known through its family ("cheapest" where pages say "cheap"), once family_words were looked up.
    return found or max((frequencies.get(r, 0) for r in relatives(term)), default=0)


def _covered(term: str, found: set[str]) -> bool:
    if all(stem(p) in found for p in term_parts(term)):
        return True
    runs = spelled_apart(term)
    return bool(runs and all(stem(r) in found for r in runs)) or any(stem(r) in found for r in relatives(term))


def is_rare(df: int, total: int) -> bool:
    return 0 < df <= max(RARE_MIN, RARE_SHARE * total)


def missing_terms(profile: QueryProfile, passage_texts: Sequence[str], frequencies: Mapping[str, int],
                  total: int) -> list[tuple[str, float]]:
    """Key terms the passages lack, with their rarity (IDF over the IDF of an unseen term, 0..1),
    rarest first: the candidates for ``salient_missing``."""
    found = held_stems(passage_texts)
    top = idf(0, total) if total > 0 else 1.0
    out = [(t, idf(_frequency(t, frequencies), total) / top) for t in key_terms(profile) if not _covered(t, found)]
    return sorted(out, key=lambda pair: -pair[1])


# The checks below decline a question whatever its confidence; each is named in the retrieval's
# evidence (1.0) when it did, and the audit records that name as the reason.
PRICE_UNSTATED = "price_unstated"
OUTSIDE_SCOPE = "outside_scope"
VETOES = (PRICE_UNSTATED, OUTSIDE_SCOPE)

# A question that asks what something costs is answered by a price ("$79 a month", "2.9% + $0.30 per
# payment", "no fee"). Passages that state none cannot answer it, however close they are: a software
# manual asked "How much does managed PostgreSQL hosting cost per month?" offered kernel memory settings
# at confidence 0.87. Both questions and passages are read for the money words below.
_MONEY = (r"(?:cost|costs|costing|price|prices|priced|pricing|fee|fees|charge|charges|charged|pay|pays|paid|"
          r"paying|spend|billed|subscription)")
_ASKS_PRICE = re.compile(
    rf"\bhow\s+much\b[^?.!]*\b{_MONEY}\b"  # "how much does X cost", "how much is the fee", "how much do I pay"
    rf"|\b{_MONEY}\b[^?.!]*\bhow\s+much\b"  # "the fee: how much is it?"
    r"|\bwhat\b[^?.!]*\b(?:does\s+(?:it|this|that)|do\s+(?:you|they)|will\s+(?:it|you))\s+(?:cost|charge)\b"
    r"|\bwhat(?:'s|\s+is|\s+are)\s+(?:the|your)\s+(?:price|prices|pricing|cost|costs|fees?)\b",
    re.IGNORECASE)
# An amount of money: a currency sign before digits, or a currency after them. "$1" alone is also a
# query parameter (PostgreSQL) or a regex group (Apache): a one-digit "$" amount counts only in a sentence
# that speaks of money.
_CURRENCIES = ("USD|EUR|GBP|SEK|NOK|DKK|ISK|CHF|PLN|CZK|HUF|JPY|CNY|INR|CAD|AUD|NZD|SGD|HKD|ZAR|BRL|MXN|kr|"
               "dollars?|euros?|pounds?|cents?|kronor|kroner|francs?|yen|rupees?")
_AMOUNT = re.compile(rf"[$€£¥]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,.]*\s?(?:{_CURRENCIES})\b", re.IGNORECASE)
_CLEAR_AMOUNT = re.compile(r"[$€£¥]\s?(?:\d[\d,]*\.\d|\d{2,})")
_PERCENT = re.compile(r"\d(?:[\d.]*)\s?%")
_FREE = re.compile(r"\b(?:free\s+of\s+charge|for\s+free|(?:is|are)\s+free|at\s+no\s+(?:extra\s+)?cost|costs?\s+nothing|"
                   r"no\s+(?:extra\s+|additional\s+)?(?:fee|fees|charge|charges|cost))\b", re.IGNORECASE)
_FREE_WORD = re.compile(r"\bfree\b", re.IGNORECASE)  # "2 months free": a price where the sentence speaks of money
# In a passage, "cost" alone does not speak of money: a query planner's "cost" is a number of pages.
_SPEAKS_OF_MONEY = re.compile(r"\b(?:price|prices|priced|pricing|fee|fees|charge|charges|charged|pay|pays|paid|"
                              r"paying|billed|subscription|refund|refunds|refunded|quote|quoted|budget)\b",
                              re.IGNORECASE)
_FENCED = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_TEXT_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def asks_price(question: str) -> bool:
    """Whether the question asks what something costs ("How much does the Pro plan cost?", "what do you
    charge for ACH payments?"), not how much of something else ("How much memory should I give …?")."""
    return _ASKS_PRICE.search(question) is not None


def states_price(text: str) -> bool:
    """Whether a passage states a price: a sentence (code left out) with an amount of money, or with a
    percentage or "free" / "no fee" where it speaks of money."""
    for sentence in _TEXT_SENTENCE.split(_FENCED.sub(" ", text)):
        if _CLEAR_AMOUNT.search(sentence) or _FREE.search(sentence):
            return True
        if _SPEAKS_OF_MONEY.search(sentence) and (_AMOUNT.search(sentence) or _PERCENT.search(sentence)
                                                  or _FREE_WORD.search(sentence)):
            return True
    return False


# "In nginx, what's the difference between …", "Where in cPanel do I find …", "In FreshBooks, how do I …":
# the question sets its own scope, another product. When the documentation barely knows that name and
# the passages found never mention it, whatever they say is about something else (the Apache manual's
# ProxyPass, the Ledgerly late fees), however close it reads.
# The clause after "In X," must ask (how, what, where …): "In Safari, invoices don't print" describes
# where something happens, and the documents may well answer it without naming the browser. "Using X,"
# and "With X," name a means ("Using curl, how do I create an invoice through the API?"), not a scope.
_SCOPE = re.compile(r"^\s*(?i:in|inside|within)\s+(?P<name>[A-Za-z][\w.+-]*)\s*[,:]\s*"
                    r"(?i:how|what|what's|whats|where|which|why|when|who|can|could|is|are|does|do|should|will|would)\b"
                    r"|\b(?i:where\s+in)\s+(?P<where>[A-Za-z][\w.+-]*)\b")
_NOT_NAMES = frozenset(("a", "an", "the", "my", "our", "your", "their", "his", "her", "its", "this", "that", "these",
                        "those", "which", "what", "each", "every", "some", "any", "all", "general", "short",
                        "addition", "particular", "practice", "theory", "fact", "case", "brief", "total", "order"))


def scoped_name(question: str, dictionary: Container[str] = frozenset()) -> str | None:
    """The name a question scopes itself to ("In nginx, …" → ``nginx``, "Where in cPanel do I …" →
    ``cpanel``), lower-cased; None when it sets no scope or the word is not a name: it must be written
    with a capital letter or be no word of ``dictionary`` (the embedding model's vocabulary: "In
    practice, …", "Inside a transaction, …" name nothing)."""
    match = _SCOPE.search(question)
    if match is None:
        return None
    name = match.group("name") or match.group("where")
    word = name.lower()
    if word in _NOT_NAMES or not (any(c.isupper() for c in name) or (dictionary and word not in dictionary)):
        return None
    return word


def scope_unknown(name: str, passage_texts: Sequence[str], frequencies: Mapping[str, int], total: int) -> bool:
    """Whether the corpus knows the scoped name at most in passing (no chunk, or a rare few) and none
    of ``passage_texts`` holds it: then they answer about something else."""
    df = _frequency(name, frequencies)
    if df and not is_rare(df, total):
        return False
    found = held_stems(passage_texts)
    return not _covered(name, found)


@dataclass(frozen=True)
class Evidence:
    best_cosine: float
    coverage: float
    unknown: float
    agreement: float
    margin: float
    rare: float = 0.0
    salient_missing: float | None = None
    top_agree: float = 0.0
    keyword_rank: float = 0.0
    rerank: float | None = None
    salient_bound: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {k: None if v is None else round(v, 4) for k, v in asdict(self).items()}

    def bounds(self) -> dict[str, tuple[float, float]]:
        """Where an unmeasured signal must lie: a stand-in value is clipped into this range."""
        return {} if self.salient_bound is None else {"salient_missing": (0.0, self.salient_bound)}


def gather_evidence(profile: QueryProfile, *, best_cosine: float, passage_texts: Sequence[str],
                    frequencies: Mapping[str, int], total: int, agreement: float, margin: float,
                    top_agree: float = 0.0, keyword_rank: float = 0.0, salience: Mapping[str, float] | None = None,
                    rerank: float | None = None) -> Evidence:
    """The signals above, for one question.

    ``passage_texts``: the best passages, best first (coverage reads the first, ``rare`` and
    ``salient_missing`` all of them); ``frequencies``: chunks holding each word of
    :func:`lookup_words`; ``salience``: cosine of each term of :func:`missing_terms` alone to
    the question (None: not measured)."""
    terms = key_terms(profile)
    if not terms or total <= 0:
        return Evidence(best_cosine, 0.0, 0.0, agreement, margin, salient_missing=0.0, top_agree=top_agree,
                        keyword_rank=keyword_rank, rerank=rerank, salient_bound=0.0)
    df = {t: _frequency(t, frequencies) for t in terms}
    weights = {t: idf(df[t], total) for t in terms}
    all_weight = sum(weights.values())
    best = stems(passage_texts[0]) if passage_texts else set()
    found = held_stems(passage_texts)
    covered = sum(w for t, w in weights.items() if _covered(t, best))
    unknown = sum(w for t, w in weights.items() if df[t] == 0)
    rare = sum(w for t, w in weights.items() if is_rare(df[t], total) and not _covered(t, found))
    missing = missing_terms(profile, passage_texts, frequencies, total)
    salient: float | None = None
    if salience is not None:
        salient = max((max(0.0, salience[t]) * rarity for t, rarity in missing if t in salience), default=0.0)
    return Evidence(best_cosine, covered / all_weight, unknown / all_weight, agreement, margin,
                    rare=rare / all_weight, salient_missing=salient, top_agree=top_agree, keyword_rank=keyword_rank,
                    rerank=rerank, salient_bound=max((r for _, r in missing[:SALIENCE_TERMS]), default=0.0))


@dataclass(frozen=True)
class AbstentionModel:
    """``confidence = sigmoid(bias + Σ weight × signal)``; abstain when it is under the threshold.

    A signal the evidence lacks (None, or a name it does not have) takes ``fallback[name]``
    (the fitting rows' mean; 0 when unknown), clipped into the range :meth:`Evidence.bounds`
    allows, so a retriever without a reranker or without term embeddings is judged on the
    other signals as an average question would be."""

    bias: float
    weights: Mapping[str, float]
    fallback: Mapping[str, float] = field(default_factory=dict)

    def confidence(self, evidence: Evidence) -> float:
        values = evidence.as_dict()
        bounds = evidence.bounds()
        z = self.bias
        for name, weight in self.weights.items():
            value = values.get(name)
            if value is None:
                low, high = bounds.get(name, (-math.inf, math.inf))
                value = min(max(self.fallback.get(name, 0.0), low), high)
            z += weight * value
        return 1.0 / (1.0 + math.exp(-z))

    def settled(self, evidence: Evidence, cut: float) -> bool:
        """Whether the decision (confidence under ``cut`` or not) is the same wherever the
        unmeasured bounded signals lie in their ranges: then measuring them changes nothing.
        The confidence is monotonic in each signal, so the ends of the ranges decide."""
        bounds = {n: b for n, b in evidence.bounds().items() if getattr(evidence, n) is None and n in self.weights}
        if not bounds:
            return True
        lowest = replace(evidence, **{n: lo if self.weights[n] > 0 else hi for n, (lo, hi) in bounds.items()})
        highest = replace(evidence, **{n: hi if self.weights[n] > 0 else lo for n, (lo, hi) in bounds.items()})
        return (self.confidence(lowest) < cut) == (self.confidence(highest) < cut)


# Fit on the example corpus only: examples/eval/golden.jsonl and examples/eval/abstention.jsonl
# (`python benchmarks/quality.py --sets examples --no-baselines --fit-abstention` prints this fit
# and the cut-off, RetrievalSettings.abstain_confidence). Only the best cosine, the unknown-term
# share and the salient missing term carry weight: coverage, rare terms, agreement and margin
# were measured too and, fit on this corpus, misplaced the decision on the others (README).
SHIPPED_MODEL = AbstentionModel(
    bias=1.5748,
    weights={"best_cosine": 3.4698, "unknown": -2.1502, "salient_missing": -7.7789},
    fallback={"best_cosine": 0.5684, "unknown": 0.2299, "salient_missing": 0.2387},
)


def fit_logistic(rows: Sequence[Evidence], should_answer: Sequence[bool], names: Sequence[str], *,
                 l2: float = 0.1, steps: int = 4000, rate: float = 0.5) -> AbstentionModel:
    """Plain L2-regularised logistic regression by gradient descent (no new dependency; tens of
    rows). A missing signal is filled with the mean of the rows that have it, which is also the
    model's fallback for it."""
    import numpy as np

    fallback: dict[str, float] = {}
    for n in names:
        seen = [getattr(r, n) for r in rows if getattr(r, n) is not None]
        fallback[n] = round(float(np.mean(seen)), 4) if seen else 0.0
    x = np.array([[fallback[n] if getattr(r, n) is None else getattr(r, n) for n in names] for r in rows],
                 dtype=np.float64)
    y = np.array(should_answer, dtype=np.float64)
    w = np.zeros(len(names))
    b = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        grad_w = x.T @ (p - y) / len(y) + l2 * w
        grad_b = float(np.mean(p - y))
        w -= rate * grad_w
        b -= rate * grad_b
    return AbstentionModel(bias=round(b, 4), weights={n: round(float(v), 4) for n, v in zip(names, w, strict=True)},
                           fallback=fallback)
