"""Hybrid retrieval over the published generation (docs/architecture.md §2, §4, §7).

One query: embed the question and read it for exact tokens (codes, identifiers, quoted
messages: :mod:`assistant.ranking`); search FAISS, the FTS5 table (BM25 with title and heading
weights, its cost bounded by a postings budget) and, for exact tokens, FTS5 phrases, in every
partition the audience may read; fetch the records and apply metadata filters; turn each
ranking into a ranking of documents and fuse those by weighted reciprocal rank (chunks follow
their document); collapse near-duplicates, cap chunks per document, optionally rerank with a
cross-encoder; and gather the evidence the abstention decision uses (:mod:`assistant.abstention`).
The generation is taken once per query, so a query that started before a new generation was
published finishes on the one it started with.

The audience boundary is enforced twice: only the audience's partitions are searched, and
every fetched record is checked again; a record from another partition is dropped and logged
as the bug it would be.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

from assistant import domain_tuning, term_table
from assistant.abstention import (
    OUTSIDE_SCOPE,
    PRICE_UNSTATED,
    SALIENCE_TERMS,
    SHIPPED_MODEL,
    Evidence,
    asks_price,
    family_words,
    gather_evidence,
    lookup_words,
    may_be_typo,
    missing_terms,
    respelled,
    scope_unknown,
    scoped_name,
    states_price,
    term_parts,
    unknown_terms,
)
from assistant.chunkdb import ChunkDB, StoredChunk, fts_stem, fts_words
from assistant.follow_up import topic_of, with_referent
from assistant.ranking import (
    QueryProfile,
    aggregate_documents,
    analyse_query,
    content_terms,
    document_scores,
    holds_procedure,
    min_max,
    order_by_document,
    ranked,
)
from assistant.schemas import Audience, Chunk, Passage, RetrievalFilters, RetrievalResult, partitions_for

if TYPE_CHECKING:
    from assistant.config import RetrievalSettings
    from assistant.index import LoadedGeneration
    from assistant.rerank import Reranker

log = logging.getLogger(__name__)

RetrievalMode = Literal["hybrid", "dense", "keyword"]
K = TypeVar("K", int, str)
FILTER_OVERFETCH = 4  # first pass with filters fetches this many times more candidates
MAX_CANDIDATES = 4096  # per retriever; filters matching less than this leaves results short
AGREEMENT_DOCS = 3  # "dense and keyword agree": the top document is among each one's first documents
EVIDENCE_PASSAGES = 3  # key-term coverage is read from the best passages
HEADING_MAX_TERMS = 4  # a question of more words than this is never answered by one heading word for word
TERM_CACHE = 4096  # single-term vectors kept for the salience signal
DATE_KEYS = ("updated", "created", "date", "modified")
# Function words dropped from the keyword query: BM25 gives them little weight, but OR-ing them
# still pulls in every chunk that has them. Kept short on purpose ("us", "no", "not" stay).
_STOPWORDS = (
    "a an and are as at be been but by can could did do does for from had has have how i if in into is it "
    "its me my of on or our should so than that the their them then there these they this those to was we "
    "were what when where which who whom why will with would you your"
)
STOPWORDS = frozenset(_STOPWORDS.split())
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class _TermsAhead:
    """What :meth:`HybridRetriever._terms_ahead` prepared for the abstention signals."""

    frequencies: dict[str, int]
    total: int
    terms: list[str] = field(default_factory=list)  # encoding ahead
    pending: Future[np.ndarray] | None = None
    spellings: dict[str, str] = field(default_factory=dict)  # possible typos → the corpus word they may mean
    table: term_table.TermTable | None = None  # the generation's vectors of ordinary words


def _evidence_text(cand: Candidate) -> str:
    """What the abstention signals read of a passage: its title and heading path count as its words."""
    return f"{cand.chunk.title}\n{cand.chunk.section}\n{cand.chunk.text}"


def _chunk_db(generation: object) -> ChunkDB | None:
    """The generation's chunk database (FTS5, statistics, chunk texts); None for a generation
    without one (tests' in-memory ones)."""
    db = getattr(generation, "db", None)
    return db if isinstance(db, ChunkDB) else None


def _chunk_counts(db: ChunkDB, allowed: Sequence[Audience], words: Sequence[str]) -> dict[str, int]:
    """Chunks holding each word, over every partition the audience reads."""
    counts: dict[str, int] = {}
    for audience in allowed:
        for term, n in db.term_frequencies(audience, words).items():
            counts[term] = counts.get(term, 0) + n
    return counts


class QueryEmbedder(Protocol):
    def encode_query(self, text: str) -> np.ndarray: ...


class GenerationSource(Protocol):
    """Anything that hands out the generation to query: :class:`assistant.index.IndexHandle`."""

    def current(self) -> LoadedGeneration: ...


# --------------------------------------------------------------------------- pure steps


def reciprocal_rank_fusion(rankings: Sequence[tuple[Sequence[K], float]], rrf_k: int) -> list[tuple[K, float]]:
    """Weighted RRF: ``sum(weight / (rrf_k + rank))`` over the rankings an id appears in (rank from 1).

    Ids are chunk rows or document keys. Ties keep the order of first appearance, so the result
    is deterministic.
    """
    scores: dict[K, float] = {}
    for ids, weight in rankings:
        if weight <= 0:
            continue
        for rank, item in enumerate(ids, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (rrf_k + rank)
    order = {item: n for n, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


_EXACT = re.compile(r"[\w-]*(?:_[\w-]*|[A-Za-z][\w-]*\d|\d[\w-]*[A-Za-z])[\w-]*")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)", re.IGNORECASE)


def has_exact_token(question: str) -> bool:
    """Whether the question holds a token only an exact match finds: an error code, a field
    name, a plan id (letters mixed with digits, or an underscore), but not "1st" or "2024"."""
    return any(not _ORDINAL.fullmatch(m.group(0)) for m in _EXACT.finditer(question))


def keyword_query(question: str) -> str:
    """The question without function words, for BM25; the question itself if nothing else is left."""
    words = [w for w in _WORD.findall(question) if w.lower() not in STOPWORDS]
    return " ".join(words) if words else question


def present(values: dict[str, float | None]) -> dict[str, float]:
    """The signals that were measured (a missing reranker score is left out, not reported as 0)."""
    return {k: v for k, v in values.items() if v is not None}


def merge_by_score(lists: Iterable[list[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    """Partition results (id, score) merged into one best-first list of at most ``k``."""
    merged = [pair for part in lists for pair in part]
    merged.sort(key=lambda pair: -pair[1])
    return merged[:k]


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def chunk_date(chunk: Chunk) -> datetime | None:
    """The date a date-range filter compares: last update, else creation, from the chunk metadata."""
    for key in DATE_KEYS:
        found = _as_datetime(chunk.metadata.get(key))
        if found is not None:
            return found
    return None


def filters_active(filters: RetrievalFilters | None) -> bool:
    return filters is not None and any(
        v is not None for v in (filters.sources, filters.tags, filters.kinds, filters.since, filters.until)
    )


def passes_filters(chunk: Chunk, filters: RetrievalFilters | None) -> bool:
    """Metadata filters; a date range excludes undated chunks (the range asks for dated material)."""
    if filters is None:
        return True
    if filters.sources is not None and chunk.source not in filters.sources:
        return False
    if filters.kinds is not None and chunk.kind not in filters.kinds:
        return False
    if filters.tags is not None:
        tags = chunk.metadata.get("tags") or []
        wanted = {t.lower() for t in filters.tags}
        if not wanted.intersection(str(t).lower() for t in tags):
            return False
    if filters.since is not None or filters.until is not None:
        when = chunk_date(chunk)
        if when is None:
            return False
        since, until = _as_datetime(filters.since), _as_datetime(filters.until)
        if since is not None and when < since:
            return False
        if until is not None and when > until:
            return False
    return True


@dataclass
class Candidate:
    """A fused candidate on its way to becoming a :class:`Passage`."""

    row: int
    fused: float
    stored: StoredChunk
    dense: float | None = None
    keyword: float | None = None
    rerank: float | None = None
    cosine: float = 0.0  # to the question, from the stored vector (dense or not)

    @property
    def chunk(self) -> Chunk:
        return self.stored.chunk

    @property
    def doc_key(self) -> str:
        return self.stored.doc_key

    @property
    def vector(self) -> np.ndarray:
        return self.stored.vector


def select_diverse(candidates: Sequence[Candidate], *, near_duplicate: float, per_document_cap: int,
                   limit: int) -> list[Candidate]:
    """Walk the ranking best first, keeping at most ``limit`` candidates, skipping:

    - a chunk whose document (or ticket) already has ``per_document_cap`` kept chunks, so one
      long document cannot fill the context;
    - a chunk whose cosine to a kept chunk is ``>= near_duplicate`` (tickets repeat each other):
      the best-ranked copy is the one kept.

    A chunk skipped for the cap does not suppress its near-duplicates elsewhere: they still add
    something the context lacks.
    """
    kept: list[Candidate] = []
    if limit <= 0 or not candidates:
        return kept
    dim = candidates[0].vector.shape[0]
    matrix = np.empty((limit, dim), dtype=np.float32)
    per_doc: dict[str, int] = {}
    for cand in candidates:
        if per_doc.get(cand.doc_key, 0) >= per_document_cap:
            continue
        if kept and float(np.max(matrix[: len(kept)] @ cand.vector)) >= near_duplicate:
            continue
        matrix[len(kept)] = cand.vector
        kept.append(cand)
        per_doc[cand.doc_key] = per_doc.get(cand.doc_key, 0) + 1
        if len(kept) >= limit:
            break
    return kept


def procedures_within_cap(candidates: Sequence[Candidate], per_document_cap: int) -> list[Candidate]:
    """For a question that asks how to do something: a page whose ``per_document_cap`` best chunks
    hold no numbered procedure, but a lower one does, offers its best procedure in place of its
    last chunk within the cap.

    Within a page, chunks rank by their match to the question's words, and steps rarely repeat
    them ("How do I enable two-factor authentication?" against "Turn on 2FA: 1. Go to Settings >
    Profile > Security …" ranked fifth of its page, under "Trusted devices"): the page was offered
    without the steps that answer. Pages keep their order; only which of a page's chunks reach the
    passages changes.
    """
    return answers_within_cap(candidates, per_document_cap, lambda chunk: holds_procedure(chunk.text))


def headings_within_cap(candidates: Sequence[Candidate], per_document_cap: int, question: str) -> list[Candidate]:
    """A page whose ``per_document_cap`` best chunks include none whose heading names every word
    the question asks about, but a lower one does, offers that section in place of its last chunk
    within the cap.

    A section's heading is its author's summary of it, and a question that a heading answers word
    for word ("How do I turn on 2FA?" and "Turn on 2FA"; "How do I rename a column?" and "Renaming
    a Column") is asking for that section. Its text may not say so: the 2FA steps list apps, keys
    and SMS, and ranked fourth of their page, under "Trusted devices" ("… skip the 2FA step"). Only
    questions of two to four such words are read this way: one word names a topic, not a section,
    and a long question's words are never all in one heading."""
    wanted = {fts_stem(w) for w in content_terms(question)}
    if not 2 <= len(wanted) <= HEADING_MAX_TERMS:
        return list(candidates)

    def named(chunk: Chunk) -> bool:
        return bool(chunk.section) and wanted <= {fts_stem(w) for w in fts_words(chunk.section)}

    return answers_within_cap(candidates, per_document_cap, named)


def answers_within_cap(candidates: Sequence[Candidate], per_document_cap: int,
                       answers: Callable[[Chunk], bool]) -> list[Candidate]:
    """A page whose ``per_document_cap`` best chunks hold no text of the kind the question asks for
    (``answers``: steps for "how do I", a price for "how much does … cost", a heading that names
    the question), but a lower one does, offers its best such chunk in place of its last one within
    the cap."""
    positions: dict[str, list[int]] = {}
    for i, cand in enumerate(candidates):
        positions.setdefault(cand.doc_key, []).append(i)
    key = [float(i) for i in range(len(candidates))]
    for rows in positions.values():
        if len(rows) <= per_document_cap or any(answers(candidates[i].chunk) for i in rows[:per_document_cap]):
            continue
        found = next((i for i in rows[per_document_cap:] if answers(candidates[i].chunk)), None)
        if found is not None:
            key[found] = rows[per_document_cap - 1] - 0.5
    order = sorted(range(len(candidates)), key=key.__getitem__)
    return [candidates[i] for i in order]


# --------------------------------------------------------------------------- the retriever


@dataclass
class _Timer:
    timings: dict[str, float] = field(default_factory=dict)
    _start: float = field(default_factory=time.perf_counter)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + (now - self._start) * 1000
        self._start = now


class HybridRetriever:
    """Dense + BM25 retrieval, fused by reciprocal rank, scoped to an audience's partitions."""

    def __init__(self, index: GenerationSource, embedder: QueryEmbedder, settings: RetrievalSettings, *,
                 reranker: Reranker | None = None, own_names: Sequence[str] = ()) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        # The product's and company's own names: "In Ledgerly, how do I …" is in scope, whether or
        # not the documentation writes the name.
        self.own_names = frozenset(w.lower() for name in own_names for w in re.findall(r"[\w.+-]+", name))
        self._term_vectors: OrderedDict[str, np.ndarray] = OrderedDict()  # salience: single-term vectors
        self._term_lock = threading.Lock()

    def search(self, question: str, *, audience: Audience, filters: RetrievalFilters | None = None,
               top_k: int | None = None, mode: RetrievalMode | None = None,
               rerank: bool | None = None, asked: str | None = None) -> RetrievalResult:
        """The passages for one question; ``best_dense`` is the abstention signal (docs/architecture.md §7).

        ``top_k``, ``mode`` and ``rerank`` override the settings for one call (evaluation and
        benchmarks use them); the audience boundary has no override. ``asked``: the customer's own
        message when ``question`` is a follow-up read with its topic; what it asks for (a price, a
        product's scope) is read from it alone ("How much is the Pro plan?" then "and does it include
        2FA?" asks no price).
        """
        cfg = self.settings
        mode = mode or cfg.mode
        top_k = top_k or cfg.top_k
        use_reranker = self.reranker is not None and (rerank is None or rerank)
        allowed = partitions_for(audience)
        generation = self.index.current()  # once: a query finishes on the generation it started with
        timer = _Timer()
        qvec = np.asarray(self.embedder.encode_query(question), dtype=np.float32)
        timer.lap("embed")

        profile = analyse_query(question)
        typo = self._typo_check()  # which unknown words may be typos: the keyword search and the signals ask
        ahead = self._terms_ahead(generation, allowed, profile, typo) if cfg.abstention == "evidence" else None
        timer.lap("terms")
        exact_query = has_exact_token(question) or profile.kind == "exact"
        keyword_weight = cfg.exact_keyword_weight if exact_query else length_scaled_keyword_weight(question, cfg)
        weights = (cfg.title_weight, cfg.section_weight, 1.0)
        phrases = profile.phrases() if cfg.exact_weight > 0 and mode != "dense" else []
        active = filters_active(filters)
        need = min(cfg.candidates, top_k * 4)
        k = min(cfg.candidates * (FILTER_OVERFETCH if active else 1), MAX_CANDIDATES)
        seen: set[int] = set()
        survivors: list[Candidate] = []
        while True:
            dense = self._dense(generation, allowed, qvec, k, cfg.question_heading_weight) if mode != "keyword" else []
            timer.lap("dense")
            keyword = (self._keyword(generation, allowed, question, k, weights, cfg.keyword_max_postings, typo)
                       if mode != "dense" else [])
            exact = self._exact(generation, allowed, phrases, k, weights) if phrases else []
            timer.lap("keyword")
            fused = reciprocal_rank_fusion(
                [([i for i, _ in dense], cfg.dense_weight if mode != "keyword" else 1.0),
                 ([i for i, _ in keyword], keyword_weight if mode != "dense" else 1.0),
                 ([i for i, _ in exact], cfg.exact_weight)],
                cfg.rrf_k,
            )
            timer.lap("fuse")
            survivors = self._fetch(generation, allowed, fused, dict(dense), dict(keyword), qvec, filters,
                                    seen, survivors)
            timer.lap("fetch")
            exhausted = len(dense) < k and len(keyword) < k
            if not active or len(survivors) >= need or exhausted or k >= MAX_CANDIDATES:
                break
            k = min(k * 4, MAX_CANDIDATES)
        survivors = self._order(survivors, dense, keyword, exact, cfg,
                                keyword_weight=keyword_weight if mode != "dense" else 1.0,
                                dense_weight=cfg.dense_weight if mode != "keyword" else 1.0)
        adapter = domain_tuning.adapter_for(generation) if cfg.domain_weight > 0 and mode == "hybrid" else None
        adapted = adapter.transform(audience, qvec) if adapter is not None else None
        if adapted is not None:  # a generation trained with ASSISTANT_RETRIEVAL_DOMAIN_TUNING
            survivors = domain_tuning.reorder(survivors, adapted, weight=cfg.domain_weight,
                                              depth=cfg.rerank_candidates, per_page=cfg.per_document_cap,
                                              rrf_k=cfg.doc_rrf_k)
            timer.lap("domain")
        own = asked if asked is not None else question
        # What the message asks for is read from the customer's own words too: "How much does 2FA cost? And
        # how do I turn it on?" asks for steps, not a price (a follow-up to a how-to topic, "Can I refund only
        # part of it?", still gets the topic's steps).
        if profile.how_to or (own != question and analyse_query(own).how_to):
            survivors = procedures_within_cap(survivors, cfg.per_document_cap)
        price_asked = asks_price(own)
        if price_asked:  # "How much is the fee …?": the page's chunk that names the fee, not only its best three
            survivors = answers_within_cap(survivors, cfg.per_document_cap, lambda chunk: states_price(chunk.text))
        if cfg.heading_sections and mode != "dense":
            # A follow-up's own words, and the names its topic gave: "And how do I turn it on?" after
            # "How much does 2FA cost?" is read as "turn on 2FA", not as "2FA cost turn".
            asks = with_referent(own, topic_of(own, question)) if own != question else own
            survivors = headings_within_cap(survivors, cfg.per_document_cap, asks)
        best_dense = max((c.cosine for c in survivors), default=0.0)

        pool = select_diverse(
            survivors, near_duplicate=cfg.near_duplicate, per_document_cap=cfg.per_document_cap,
            limit=max(cfg.rerank_candidates, top_k) if use_reranker else top_k,
        )
        timer.lap("collapse")
        if use_reranker and pool:
            assert self.reranker is not None
            scores = self.reranker.score(question, [c.chunk.embed_text for c in pool])
            for cand, score in zip(pool, scores, strict=True):
                cand.rerank = score
            pool.sort(key=lambda c: -(c.rerank if c.rerank is not None else float("-inf")))
            timer.lap("rerank")
        chosen = pool[:top_k]
        passages = [
            Passage(chunk=c.chunk, score=c.fused, dense_score=c.dense, keyword_score=c.keyword,
                    rerank_score=c.rerank)
            for c in chosen
        ]
        abstain: bool | None = None
        confidence: float | None = None
        evidence: Evidence | None = None
        if cfg.abstention == "evidence":
            evidence = self._evidence(ahead, profile, chosen, survivors, dense, keyword, best_dense, qvec, timer)
            timer.lap("evidence")
        if evidence is not None:
            confidence = SHIPPED_MODEL.confidence(evidence)
            abstain = not passages or confidence < cfg.abstain_confidence
        elif cfg.abstention == "cosine" or not passages:
            abstain = not passages or best_dense < cfg.abstain_threshold
        price_unstated = (cfg.abstain_unstated_price and abstain is False and price_asked
                          and not any(states_price(p.chunk.text) for p in passages))
        outside = (cfg.abstain_outside_scope and abstain is False and not price_unstated
                   and self._outside_scope(own, generation, allowed, ahead, chosen))
        if price_unstated or outside:  # close to the question, and yet not about what it asks
            abstain = True
        timings = timer.timings
        timings["total"] = sum(timings.values())
        return RetrievalResult(passages=passages, generation=generation.id, best_dense=best_dense,
                               timings_ms={name: round(ms, 3) for name, ms in timings.items()},
                               abstain=abstain, confidence=None if confidence is None else round(confidence, 4),
                               evidence={**(present(evidence.as_dict()) if evidence else {}),
                                         **({PRICE_UNSTATED: 1.0} if price_unstated else {}),
                                         **({OUTSIDE_SCOPE: 1.0} if outside else {})})

    def _outside_scope(self, question: str, generation: LoadedGeneration, allowed: Sequence[Audience],
                       ahead: _TermsAhead | None, chosen: Sequence[Candidate]) -> bool:
        """Whether the question scopes itself to a product the documents barely know and the passages
        never name ("In nginx, …" over the Apache manual): :func:`scoped_name`, :func:`scope_unknown`."""
        db = _chunk_db(generation)
        if ahead is None or db is None:
            return False
        known = getattr(self.embedder, "known_words", None)
        name = scoped_name(question, known() if callable(known) else frozenset())
        if name is None or name in self.own_names:
            return False
        frequencies = ahead.frequencies
        if name not in frequencies:
            frequencies = {**frequencies, **_chunk_counts(db, allowed, term_parts(name))}
        return scope_unknown(name, [_evidence_text(c) for c in chosen], frequencies, ahead.total)

    def _typo_check(self) -> Callable[[str], bool] | None:
        """Which words the corpus never uses may be a customer's typos (:func:`may_be_typo`, with the
        embedding model's vocabulary as the dictionary); None, respelling nothing, without one."""
        known = getattr(self.embedder, "known_words", None)
        dictionary = known() if callable(known) else frozenset()
        return partial(may_be_typo, dictionary=dictionary) if dictionary else None

    def term_shares(self, words: Sequence[str], *, audience: Audience) -> dict[str, float]:
        """The share of the audience's chunks holding each word the documents use (after FTS5's
        stemming); words they never use are left out, and so is everything for a generation
        without FTS5 statistics (in-memory test ones). Follow-up questions use it to tell a
        subject ("QuickBooks") from an action ("connect")."""
        db = _chunk_db(self.index.current())
        if db is None or not words:
            return {}
        allowed = partitions_for(audience)
        total = sum(db.partition_size(a) for a in allowed)
        counts = _chunk_counts(db, allowed, words)
        return {w: counts[w] / total for w in words if counts.get(w) and total}

    def holds_together(self, words: Sequence[str], *, audience: Audience) -> bool:
        """Whether one chunk the audience reads holds all ``words``: follow-ups ask it whether the
        documents discuss "the fees" with the conversation's subject ("PayPal"). False for a
        generation without a chunk database (in-memory test ones)."""
        db = _chunk_db(self.index.current())
        if db is None or not words:
            return False
        return any(db.holds_together(part, words) for part in partitions_for(audience))

    def capitalised_shares(self, words: Sequence[str], *, audience: Audience) -> dict[str, float]:
        """Share of each word's uses inside a sentence that the documents the audience reads write
        with a capital (:meth:`ChunkDB.capitalised_counts`): follow-ups tell a name typed in lower
        case ("and xero?") from a word. Words they never use are left out, and so is everything
        for a generation without a chunk database (in-memory test ones)."""
        db = _chunk_db(self.index.current())
        if db is None or not words:
            return {}
        counts: dict[str, tuple[int, int]] = {}
        for part in partitions_for(audience):
            for word, (capital, total) in db.capitalised_counts(part, words).items():
                seen = counts.get(word, (0, 0))
                counts[word] = (seen[0] + capital, seen[1] + total)
        return {w: capital / total for w, (capital, total) in counts.items() if total}

    def _terms_ahead(self, generation: LoadedGeneration, allowed: Sequence[Audience],
                     profile: QueryProfile, typo: Callable[[str], bool] | None = None) -> _TermsAhead | None:
        """The corpus statistics of the question's words, and, when the embedder can work in the
        background, the vectors of its rarest words started now: the salience signal needs the
        ones the best passages lack, and they are nearly always among these. Encoding them while
        the searches run takes the encode off the critical path. None for a generation without
        FTS5 statistics (in-memory test ones)."""
        db = _chunk_db(generation)
        if db is None:
            return None
        frequencies: dict[str, int] = {}
        words = lookup_words(profile)
        while words:  # the question's words, then the families of those no chunk holds as written
            frequencies.update(_chunk_counts(db, allowed, words))
            words = [w for w in family_words(profile, frequencies) if w not in frequencies]
        total = sum(db.partition_size(a) for a in allowed)
        ahead = _TermsAhead(frequencies, total, table=term_table.table_for(generation))
        typos = [t for t in unknown_terms(profile, frequencies) if typo(t)] if typo is not None else []
        for audience in allowed if typos else ():  # words still unknown may be typos of the corpus's words
            ahead.spellings.update(db.near_spellings(audience, [t for t in typos if t not in ahead.spellings]))
        meant = [w for w in dict.fromkeys(ahead.spellings.values()) if w not in frequencies]
        if meant:  # a word the question also spells right is counted once
            frequencies.update(_chunk_counts(db, allowed, meant))
        soon = getattr(self.embedder, "encode_soon", None)
        if self.settings.abstain_salience == "never" or not callable(soon):
            return ahead
        table = ahead.table
        with self._term_lock:
            rarest = [t for t, _ in missing_terms(profile, [], frequencies, total)
                      if t not in self._term_vectors and (table is None or t not in table)]
        ahead.terms = rarest[:SALIENCE_TERMS]
        if ahead.terms:
            try:  # on an idle model thread only: a busy server measures them later, when needed
                ahead.pending = soon(ahead.terms, only_if_idle=True)
            except Exception:  # measured later, the usual way
                log.warning("abstention: could not start embedding %s", ahead.terms, exc_info=True)
            if ahead.pending is None:
                ahead.terms = []
            else:
                ahead.pending.add_done_callback(partial(self._remember, ahead.terms))
        return ahead

    def _remember(self, terms: Sequence[str], done: Future[np.ndarray]) -> None:
        """Keep vectors encoded ahead, whether or not this question needed them (LRU, TERM_CACHE)."""
        if done.cancelled() or done.exception() is not None:
            return
        with self._term_lock:
            for t, v in zip(terms, done.result(), strict=True):
                self._term_vectors[t] = np.asarray(v, dtype=np.float32)
                self._term_vectors.move_to_end(t)
            while len(self._term_vectors) > TERM_CACHE:
                self._term_vectors.popitem(last=False)

    def _evidence(self, ahead: _TermsAhead | None, profile: QueryProfile,
                  chosen: Sequence[Candidate], survivors: Sequence[Candidate], dense: Sequence[tuple[int, float]],
                  keyword: Sequence[tuple[int, float]], best_dense: float, qvec: np.ndarray,
                  timer: _Timer) -> Evidence | None:
        """The abstention signals; None without corpus statistics (see :meth:`_terms_ahead`)."""
        if ahead is None or not chosen:
            return None
        frequencies, total = ahead.frequencies, ahead.total
        doc_of = {c.row: c.doc_key for c in survivors}
        top_doc = chosen[0].doc_key

        def documents(ranking: Sequence[tuple[int, float]]) -> list[str]:
            return list(dict.fromkeys(doc_of[r] for r, _ in ranking if r in doc_of))

        dense_docs, keyword_docs = documents(dense), documents(keyword)
        agreement = 0.5 * (top_doc in dense_docs[:AGREEMENT_DOCS]) + 0.5 * (top_doc in keyword_docs[:AGREEMENT_DOCS])
        top_agree = float(bool(dense_docs and keyword_docs and dense_docs[0] == keyword_docs[0]))
        keyword_rank = (1.0 / (keyword_docs.index(dense_docs[0]) + 1)
                        if dense_docs and dense_docs[0] in keyword_docs else 0.0)
        doc_best: dict[str, float] = {}
        for cand in survivors:
            doc_best.setdefault(cand.doc_key, cand.fused)
        scores = sorted(doc_best.values(), reverse=True)
        margin = (scores[0] - scores[1]) / scores[0] if len(scores) > 1 and scores[0] > 0 else 1.0
        texts = [_evidence_text(c) for c in chosen[:EVIDENCE_PASSAGES]]
        if ahead.spellings:  # a typo counts as the word it meant where the best passages use that word
            held = {fts_stem(w) for text in texts for w in fts_words(text)}
            profile = respelled(profile, {w: c for w, c in ahead.spellings.items() if c in held})
        gather = partial(gather_evidence, profile, best_cosine=best_dense, passage_texts=texts,
                         frequencies=frequencies, total=total, agreement=agreement, margin=margin,
                         top_agree=top_agree, keyword_rank=keyword_rank, rerank=chosen[0].rerank)
        unmeasured = gather()
        # Embedding the missing terms costs an encode; skip it when no salience could change the decision.
        how = self.settings.abstain_salience
        if how == "never" or (how == "when-needed" and SHIPPED_MODEL.settled(unmeasured,
                                                                             self.settings.abstain_confidence)):
            return unmeasured
        missing = [t for t, _ in missing_terms(profile, texts, frequencies, total)][:SALIENCE_TERMS]
        timer.lap("evidence")
        salience = self._salience(missing, qvec, ahead)
        timer.lap("embed_terms")  # an encode (or the wait for one), like "embed": benchmarks tell the two apart
        return gather(salience=salience)

    def _salience(self, terms: Sequence[str], qvec: np.ndarray,
                  ahead: _TermsAhead | None = None) -> dict[str, float] | None:
        """Cosine of each term alone to the question. An ordinary word's vector is read from the
        generation's term table (assistant/term_table.py); others are kept once encoded (LRU,
        TERM_CACHE): the same words recur across questions, and a new one costs one short encode
        (started ahead by :meth:`_terms_ahead` for the question's rarest words)."""
        if not terms:
            return {}
        known = ahead.table.lookup(terms) if ahead is not None and ahead.table is not None else {}
        if len(known) == len(terms):
            return self._cosines(qvec, known)
        if ahead is not None and ahead.pending is not None and set(terms) & set(ahead.terms):
            try:
                ahead.pending.result()  # its callback has put the vectors in the cache
            except Exception:
                log.warning("abstention: could not embed terms %s", ahead.terms, exc_info=True)
            self._remember(ahead.terms, ahead.pending)  # the callback may not have run yet
        with self._term_lock:
            vectors = {t: self._term_vectors[t] for t in terms if t in self._term_vectors and t not in known}
            for t in vectors:
                self._term_vectors.move_to_end(t)
        vectors.update(known)
        new = [t for t in terms if t not in vectors]
        if new:
            try:
                batch = getattr(self.embedder, "encode", None)
                encoded = (batch(new) if callable(batch)
                           else np.stack([np.asarray(self.embedder.encode_query(t)) for t in new]))
            except Exception:  # the decision falls back to the other signals; the question still gets an answer
                log.warning("abstention: could not embed terms %s", new, exc_info=True)
                return None
            with self._term_lock:
                for t, v in zip(new, encoded, strict=True):
                    vector = np.asarray(v, dtype=np.float32)
                    vectors[t] = vector
                    self._term_vectors[t] = vector
                while len(self._term_vectors) > TERM_CACHE:
                    self._term_vectors.popitem(last=False)
        return self._cosines(qvec, vectors)

    @staticmethod
    def _cosines(qvec: np.ndarray, vectors: dict[str, np.ndarray]) -> dict[str, float]:
        q = qvec / (float(np.linalg.norm(qvec)) or 1.0)
        return {t: float(q @ (v / (float(np.linalg.norm(v)) or 1.0))) for t, v in vectors.items()}

    # ------------------------------------------------------------------ steps with I/O

    @staticmethod
    def _dense(generation: LoadedGeneration, allowed: Sequence[Audience], qvec: np.ndarray, k: int,
               question_weight: float = 0.0) -> list[tuple[int, float]]:
        return merge_by_score((generation.dense_search(a, qvec, k, question_weight=question_weight)
                               for a in allowed), k)

    @staticmethod
    def _keyword(generation: LoadedGeneration, allowed: Sequence[Audience], question: str, k: int,
                 weights: tuple[float, float, float], max_postings: int = 0,
                 respell: Callable[[str], bool] | None = None) -> list[tuple[int, float]]:
        query = keyword_query(question)
        db = _chunk_db(generation)
        if db is not None:
            return merge_by_score((db.keyword_search(a, query, k, weights=weights, max_postings=max_postings,
                                                     respell=respell) for a in allowed), k)
        return merge_by_score((generation.keyword_search(a, query, k) for a in allowed), k)

    @staticmethod
    def _exact(generation: LoadedGeneration, allowed: Sequence[Audience], phrases: Sequence[tuple[str, ...]],
               k: int, weights: tuple[float, float, float]) -> list[tuple[int, float]]:
        """Chunks holding the question's codes, identifiers or quoted fragments verbatim."""
        db = _chunk_db(generation)
        if db is None:
            return []  # a generation without FTS5 (tests' in-memory ones): nothing to add
        return merge_by_score((db.phrase_search(a, phrases, k, weights=weights) for a in allowed), k)

    @staticmethod
    def _order(candidates: list[Candidate], dense: Sequence[tuple[int, float]], keyword: Sequence[tuple[int, float]],
               exact: Sequence[tuple[int, float]], cfg: RetrievalSettings, *, keyword_weight: float,
               dense_weight: float) -> list[Candidate]:
        """Best first, every chunk of a page before the next page.

        ``fusion="document"``: each retriever's chunk list becomes a ranking of documents first
        (dense: soft maximum of the cosines; BM25: best chunk plus a damped share of the next),
        and those document rankings are fused by reciprocal rank, plus ``score_fusion`` × each
        retriever's weight × its document scores rescaled to [0, 1]; chunks follow their document,
        best fused chunk first. ``fusion="chunk"``: chunks fused by rank, documents ordered by
        their best chunk (plus ``doc_aggregation`` × their next ones)."""
        if not candidates:
            return []
        items = [(c.doc_key, c.fused) for c in candidates]
        if cfg.fusion == "chunk":
            if cfg.doc_aggregation <= 0:
                return sorted(candidates, key=lambda c: -c.fused)
            doc_scores = aggregate_documents(items, weight=cfg.doc_aggregation)
            return [candidates[i] for i in order_by_document(items, doc_scores)]
        doc_of = {c.row: c.doc_key for c in candidates}

        def docs(ranking: Sequence[tuple[int, float]], **how: float) -> dict[str, float]:
            return document_scores(((doc_of[r], s) for r, s in ranking if r in doc_of), **how)

        per_retriever = [(docs(dense, temperature=cfg.dense_temperature), dense_weight),
                         (docs(keyword, aggregation=cfg.doc_aggregation), keyword_weight),
                         (docs(exact), cfg.exact_weight)]
        fused = reciprocal_rank_fusion([(ranked(scores), weight) for scores, weight in per_retriever],
                                       cfg.doc_rrf_k)
        doc_scores = dict(fused)
        if cfg.score_fusion > 0:  # plus the retrievers' own scores, rescaled: gaps that ranks hide
            for scores, weight in per_retriever:
                if weight > 0:
                    for doc, value in min_max(scores).items():
                        doc_scores[doc] = doc_scores.get(doc, 0.0) + cfg.score_fusion * weight * value
        for doc, _ in items:
            doc_scores.setdefault(doc, 0.0)
        return [candidates[i] for i in order_by_document(items, doc_scores)]

    @staticmethod
    def _fetch(generation: LoadedGeneration, allowed: Sequence[Audience], fused: list[tuple[int, float]],
               dense: dict[int, float], keyword: dict[int, float], qvec: np.ndarray,
               filters: RetrievalFilters | None, seen: set[int], survivors: list[Candidate]) -> list[Candidate]:
        """Records for the fused ids not fetched yet, checked for audience, filtered, with vectors."""
        fresh = [(row, score) for row, score in fused if row not in seen]
        seen.update(row for row, _ in fresh)
        records = generation.stored([row for row, _ in fresh])
        active = filters_active(filters)
        kept: list[tuple[int, float, StoredChunk]] = []
        for row, score in fresh:
            record = records.get(row)
            if record is None:
                continue
            if record.audience not in allowed:
                log.error("dropped chunk %s of audience %s from a search limited to %s (index partition bug)",
                          record.chunk.chunk_id, record.audience, "+".join(allowed))
                continue
            if not active or passes_filters(record.chunk, filters):
                kept.append((row, score, record))
        # A wider pass ranks rows fetched before differently: refresh their scores.
        fused_now = dict(fused)
        for cand in survivors:
            cand.fused = fused_now.get(cand.row, cand.fused)
            cand.dense = dense.get(cand.row, cand.dense)
            cand.keyword = keyword.get(cand.row, cand.keyword)
        fetched = [Candidate(row=row, fused=score, stored=record, dense=dense.get(row),
                             keyword=keyword.get(row), cosine=float(record.vector @ qvec))
                   for row, score, record in kept]
        return [*survivors, *fetched]

    # ------------------------------------------------------------------ LangChain

    def as_langchain(self, *, audience: Audience, filters: RetrievalFilters | None = None) -> AudienceRetriever:
        """This retriever as a LangChain ``BaseRetriever`` bound to one audience."""
        return AudienceRetriever(retriever=self, audience=audience, filters=filters)


def passage_to_document(passage: Passage, *, generation: str | None, best_dense: float) -> LCDocument:
    chunk = passage.chunk
    return LCDocument(
        page_content=chunk.text,
        id=chunk.chunk_id,
        metadata={
            "chunk_id": chunk.chunk_id, "doc_key": chunk.doc_key, "source": chunk.source, "kind": chunk.kind,
            "audience": chunk.audience, "title": chunk.title, "section": chunk.section, "url": chunk.url,
            "path": chunk.path, "untrusted": chunk.untrusted, "score": passage.score,
            "dense_score": passage.dense_score, "keyword_score": passage.keyword_score,
            "rerank_score": passage.rerank_score, "generation": generation, "best_dense": best_dense,
            **{f"meta_{k}": v for k, v in chunk.metadata.items()},
        },
    )


class AudienceRetriever(BaseRetriever):
    """LangChain view of :class:`HybridRetriever`; the audience is fixed when it is built."""

    retriever: HybridRetriever
    audience: Audience
    filters: RetrievalFilters | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        result = self.retriever.search(query, audience=self.audience, filters=self.filters)
        return [passage_to_document(p, generation=result.generation, best_dense=result.best_dense)
                for p in result.passages]


def length_scaled_keyword_weight(question: str, cfg: RetrievalSettings) -> float:
    """BM25's fusion weight for a question without codes: lower for short questions (few words to match)."""
    words = len(question.split())
    low, high = cfg.short_question_words, max(cfg.long_question_words, cfg.short_question_words + 1)
    if words <= low:
        return cfg.short_keyword_weight
    if words >= high:
        return cfg.keyword_weight
    return cfg.short_keyword_weight + (cfg.keyword_weight - cfg.short_keyword_weight) * (words - low) / (high - low)
