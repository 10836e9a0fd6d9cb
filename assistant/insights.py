"""Insights for support leads: is the assistant helping, where does it fail, what to write next.

Everything is computed from what the store already records (docs/architecture.md §9): the audit row
of each answer, feedback, hand-offs. Definitions, so the numbers mean the same everywhere:

- ``questions``: answers recorded in the period (one audit row each), replies to small talk left out.
- ``answered``: not abstained (a ``fallback`` answer is answered, by the extractive backend).
- ``deflection_rate``: answered, no 👎 on that answer, and no hand-off anywhere in its
  conversation, over ``questions`` — the share settled without a human.
- ``unsure``: answered on weak evidence: a retrieval confidence under the "unsure" bound
  (``ASSISTANT_RETRIEVAL_ABSTAIN_UNSURE_CONFIDENCE``), where an extractive answer opens by saying it
  may not be a direct one. Answers recorded before confidences were stored count as sure.
- ``gaps``: questions that were declined, answered unsure, got a 👎 or were followed by a hand-off,
  redacted, embedded with the index's model and grouped (:mod:`assistant.gaps`).

The reading is a few plain ``SELECT`` statements over the store's tables; aggregation happens
in Python and numpy, so it does not depend on one database's date or JSON functions.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import ConfigError
from assistant.redact import Redactor
from assistant.small_talk import BACKEND as SMALL_TALK_BACKEND

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.embeddings import Embedder
    from assistant.gaps import VectorCache
    from assistant.index import LoadedGeneration
    from assistant.store import Store

CHANNELS = ("web", "slack", "cli", "eval")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_when(value: str, *, now: float) -> float:
    """A moment from ``7d``/``12h``/``2w`` (that long before ``now``) or an ISO date/time (UTC if naive)."""
    match = _DURATION.match(value)
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2).lower()]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"Cannot read the time {value!r}",
                          hint="use a duration like 7d, 12h, 2w or a date like 2026-11-01") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class Period:
    start: float
    end: float

    @classmethod
    def parse(cls, since: str = "7d", until: str | None = None, *, now: float | None = None) -> Period:
        now = time.time() if now is None else now
        end = parse_when(until, now=now) if until else now
        start = parse_when(since, now=end if _DURATION.match(since) else now)
        if start >= end:
            raise ConfigError("The period is empty: --since must be before --until",
                              hint="e.g. --since 2026-11-01 --until 2026-11-08, or --since 7d")
        return cls(start, end)

    def label(self) -> str:
        fmt = "%Y-%m-%d %H:%M"
        return (f"{datetime.fromtimestamp(self.start, UTC).strftime(fmt)} – "
                f"{datetime.fromtimestamp(self.end, UTC).strftime(fmt)} UTC")


@dataclass
class FailedQuestion:
    """One answer that did not settle the question, with why."""

    turn_id: str
    conversation_id: str
    question: str  # redacted
    channel: str
    created_at: float
    reasons: set[str] = field(default_factory=set)  # abstained | unsure | down | handoff


@dataclass
class Insights:
    period: dict[str, Any]
    channel: str | None
    questions: int
    answered: int
    abstained: int
    unsure: int
    fallback: int
    feedback: dict[str, int]
    down_reasons: list[dict[str, Any]]
    handoffs: int
    deflected: int
    deflection_rate: float
    latency_ms: dict[str, float | None]
    per_day: list[dict[str, Any]]
    channels: dict[str, int]
    top_cited: list[dict[str, Any]]
    never_cited: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    generation: str | None
    elapsed_ms: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def _reading(store: Store) -> Iterator[sqlite3.Connection]:
    """The store's connection for one read; the single place that reaches into the store."""
    with store._connect() as db:  # the store's connection API, read-only use
        yield db


def _rows(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.execute(sql, params).fetchall()]


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values, dtype=np.float64), q)), 1) if values else None


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def compute_insights(store: Store, period: Period, *, channel: str | None = None,
                     embedder: Embedder | None = None, generation: LoadedGeneration | None = None,
                     gap_distance: float = 0.55, max_gap_questions: int = 1000, max_gaps: int = 20,
                     vector_cache: VectorCache | None = None, redactor: Redactor | None = None,
                     gap_members: bool = False, unsure_below: float | None = None) -> Insights:
    """The whole report for ``period`` (optionally one ``channel``).

    ``unsure_below``: an answer whose retrieval confidence is under it was given on weak evidence
    (``unsure``, and a gap); None counts none as such.

    ``embedder`` is needed for gaps (without it ``gaps`` is empty); ``generation`` (the published
    index) gives document titles, never-cited documents and each gap's nearest documents.
    """
    if channel is not None and channel not in CHANNELS:
        raise ConfigError(f"Unknown channel {channel!r}", hint=f"use one of: {', '.join(CHANNELS)}")
    clock = time.perf_counter()
    elapsed: dict[str, float] = {}
    redactor = redactor or Redactor()
    where = "a.created_at >= ? AND a.created_at < ?" + (" AND a.channel = ?" if channel else "")
    params: tuple[Any, ...] = (period.start, period.end, *((channel,) if channel else ()))
    # A reply to "hi" or "thanks!" is not a question: neither answered nor a gap, no latency.
    question_where = f"{where} AND a.backend <> ?"
    question_params = (*params, SMALL_TALK_BACKEND)
    with _reading(store) as db:
        # A follow-up is grouped by what it was searched as: "How long does it take?" alone says nothing.
        audit = _rows(db, "SELECT a.turn_id, a.conversation_id, a.channel, COALESCE(a.searched, a.question),"
                          " a.chunk_ids, a.abstained,"
                          f" a.fallback, a.timings_ms, a.created_at, a.confidence FROM audit a WHERE {question_where}",
                      question_params)
        ratings = _rows(db, "SELECT f.turn_id, f.rating, f.comment FROM feedback f JOIN audit a"
                            f" ON a.turn_id = f.turn_id WHERE {question_where} ORDER BY f.id", question_params)
        hand_where = "h.created_at >= ? AND h.created_at < ?" + (" AND h.channel = ?" if channel else "")
        handoffs = _rows(db, "SELECT h.conversation_id, h.turn_id, h.created_at FROM handoffs h"
                             f" WHERE {hand_where}", params)
    elapsed["read"] = _ms(clock)

    clock = time.perf_counter()
    by_turn: dict[str, int] = {}
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    channels: Counter[str] = Counter()
    latencies: list[float] = []
    cited: Counter[str] = Counter()
    abstained = fallback = 0
    unsure: set[int] = set()  # positions in ``audit`` answered on weak evidence
    for i, (turn_id, _conv, chan, _q, chunk_ids, abst, fb, timings, created, confidence) in enumerate(audit):
        by_turn[turn_id] = i
        day = per_day[_day(created)]
        day["questions"] += 1
        channels[chan] += 1
        if abst:
            abstained += 1
            day["abstained"] += 1
        else:
            day["answered"] += 1
            if unsure_below is not None and confidence is not None and confidence < unsure_below:
                unsure.add(i)
        fallback += 1 if fb else 0
        total = json.loads(timings).get("total") if timings and timings != "{}" else None
        if isinstance(total, int | float):
            latencies.append(float(total))
        if chunk_ids and chunk_ids != "[]":
            cited.update(set(json.loads(chunk_ids)))

    up = down = 0
    downed: set[str] = set()
    reasons: Counter[str] = Counter()
    for turn_id, rating, comment in ratings:
        if rating > 0:
            up += 1
            continue
        down += 1
        downed.add(turn_id)
        if turn_id in by_turn:
            per_day[_day(audit[by_turn[turn_id]][8])]["down"] += 1
        if comment and comment.strip():
            reasons[redactor.redact(" ".join(comment.split()).lower())[0]] += 1

    handed_conversations: dict[str, list[tuple[str | None, float]]] = defaultdict(list)
    for conv, turn_id, created in handoffs:
        if conv:
            handed_conversations[conv].append((turn_id, created))
        per_day[_day(created)]["handoffs"] += 1

    deflected = 0
    failed: dict[str, FailedQuestion] = {}

    def fail(i: int, reason: str) -> None:
        turn_id, conv, chan, question, *_rest, created, _confidence = audit[i]
        item = failed.get(turn_id)
        if item is None:
            item = failed[turn_id] = FailedQuestion(turn_id, conv, question, chan, created)
        item.reasons.add(reason)

    last_question: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for i, (turn_id, conv, _c, _q, _ch, abst, _f, _t, created, _conf) in enumerate(audit):
        if abst:
            fail(i, "abstained")
        if i in unsure:
            fail(i, "unsure")
        if turn_id in downed:
            fail(i, "down")
        if conv in handed_conversations:
            last_question[conv].append((created, i))
        elif not abst and turn_id not in downed:
            deflected += 1
    for conv, events in handed_conversations.items():
        asked = sorted(last_question.get(conv, []))
        for turn_id, created in events:
            if turn_id and turn_id in by_turn:
                fail(by_turn[turn_id], "handoff")
                continue
            before = [i for t, i in asked if t <= created]  # the question the customer gave up on
            if before:
                fail(before[-1], "handoff")
    elapsed["aggregate"] = _ms(clock)

    clock = time.perf_counter()
    doc_of: dict[str, tuple[str, str, str | None, str]] = {}
    never_cited: list[dict[str, Any]] = []
    if generation is not None:
        documents = generation.db.documents()
        for chunk_id, doc_key in generation.db.db.execute("SELECT chunk_id, doc_key FROM chunks"):
            doc = documents.get(doc_key)
            if doc is not None:
                doc_of[chunk_id] = (doc_key, doc["title"], doc["url"], doc["audience"])
    cited_docs: Counter[str] = Counter()
    doc_info: dict[str, dict[str, Any]] = {}
    for chunk_id, count in cited.items():
        key, title, url, audience = doc_of.get(chunk_id, (chunk_id, chunk_id, None, "?"))
        cited_docs[key] += count
        doc_info[key] = {"doc_key": key, "title": title, "url": url, "audience": audience}
    top_cited = [{**doc_info[k], "citations": n} for k, n in cited_docs.most_common(15)]
    if generation is not None:
        for key, doc in sorted(generation.db.documents().items(), key=lambda kv: kv[1]["title"].lower()):
            if doc["kind"] == "document" and key not in cited_docs:
                never_cited.append({"doc_key": key, "title": doc["title"], "url": doc["url"],
                                    "audience": doc["audience"]})
    elapsed["documents"] = _ms(clock)

    clock = time.perf_counter()
    gap_list: list[dict[str, Any]] = []
    if embedder is not None and failed:
        from assistant.gaps import find_gaps

        for item in failed.values():
            item.question = redactor.redact(item.question)[0]
        gap_list = find_gaps(list(failed.values()), embedder, now=period.end, generation=generation,
                             distance=gap_distance, max_questions=max_gap_questions, limit=max_gaps,
                             cache=vector_cache, members_out=gap_members)
    elapsed["gaps"] = _ms(clock)

    questions = len(audit)
    days = [{"day": d, **{k: per_day[d].get(k, 0) for k in ("questions", "answered", "abstained", "down",
                                                             "handoffs")}}
            for d in _days(period)]
    return Insights(
        period={"since": datetime.fromtimestamp(period.start, UTC).isoformat(),
                "until": datetime.fromtimestamp(period.end, UTC).isoformat()},
        channel=channel, questions=questions, answered=questions - abstained, abstained=abstained,
        unsure=len(unsure), fallback=fallback, feedback={"up": up, "down": down},
        down_reasons=[{"reason": r, "count": n} for r, n in reasons.most_common(10)],
        handoffs=len(handoffs), deflected=deflected,
        deflection_rate=round(deflected / questions, 4) if questions else 0.0,
        latency_ms={"p50": _percentile(latencies, 50), "p95": _percentile(latencies, 95)},
        per_day=days, channels=dict(channels.most_common()), top_cited=top_cited, never_cited=never_cited,
        gaps=gap_list, generation=generation.id if generation is not None else None, elapsed_ms=elapsed,
    )


def _days(period: Period) -> list[str]:
    """Every day of the period (UTC), so quiet days show as zeros in the trend."""
    out: list[str] = []
    day = datetime.fromtimestamp(period.start, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    last = _day(period.end - 1e-6)
    while True:
        label = day.strftime("%Y-%m-%d")
        out.append(label)
        if label >= last or len(out) > 3660:
            return out
        day = datetime.fromtimestamp(day.timestamp() + 86_400, UTC)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def open_generation(settings: Settings, embedder: Embedder | None = None) -> LoadedGeneration | None:
    """The published generation, or ``None`` when nothing is published yet (the report still runs)."""
    from assistant import generations
    from assistant.index import LoadedGeneration

    if generations.current_id(settings.data_dir) is None:
        return None
    return LoadedGeneration(settings.data_dir, model_id=embedder.model_id if embedder is not None else None,
                            device="cpu")


def vector_cache_for(settings: Settings) -> VectorCache:
    from assistant.gaps import VectorCache

    return VectorCache(settings.data_dir / "cache" / "question-vectors.sqlite")


def insights_from_settings(settings: Settings, store: Store, period: Period, *, channel: str | None = None,
                           embedder: Embedder | None = None, generation: LoadedGeneration | None = None,
                           gaps: bool = True, gap_members: bool = False) -> Insights:
    """:func:`compute_insights` with the parts and knobs ``settings`` names (CLI and admin page)."""
    if gaps and embedder is None:
        from assistant.factory import build_embedder

        embedder = build_embedder(settings)
    if generation is None:
        generation = open_generation(settings, embedder)
    return compute_insights(store, period, channel=channel, embedder=embedder if gaps else None,
                            generation=generation, gap_distance=settings.insights.gap_distance,
                            max_gap_questions=settings.insights.max_gap_questions,
                            vector_cache=vector_cache_for(settings) if gaps else None, gap_members=gap_members,
                            unsure_below=settings.retrieval.abstain_unsure_confidence)


def recent_conversations(store: Store, *, limit: int = 25, channel: str | None = None,
                         redactor: Redactor | None = None) -> list[dict[str, Any]]:
    """The latest conversations with their first question, outcome, feedback and hand-offs (redacted)."""
    redactor = redactor or Redactor()
    with _reading(store) as db:
        convs = _rows(db, "SELECT id, channel, audience, created_at FROM conversations"
                          + (" WHERE channel = ?" if channel else "") + " ORDER BY created_at DESC LIMIT ?",
                      (*((channel,) if channel else ()), limit))
        out: list[dict[str, Any]] = []
        for conv_id, chan, audience, created in convs:
            answers = _rows(db, "SELECT turn_id, question, abstained, created_at FROM audit"
                                " WHERE conversation_id = ? ORDER BY created_at", (conv_id,))
            ratings = _rows(db, "SELECT f.rating FROM feedback f JOIN audit a ON a.turn_id = f.turn_id"
                                " WHERE a.conversation_id = ?", (conv_id,))
            handed = _rows(db, "SELECT COUNT(*) FROM handoffs WHERE conversation_id = ?", (conv_id,))[0][0]
            out.append({
                "id": conv_id, "channel": chan, "audience": audience, "created_at": created,
                "first_question": redactor.redact(answers[0][1])[0] if answers else "",
                "questions": len(answers), "abstained": sum(1 for a in answers if a[2]),
                "up": sum(1 for r in ratings if r[0] > 0), "down": sum(1 for r in ratings if r[0] < 0),
                "handoffs": int(handed),
            })
    return out


def conversation_detail(store: Store, conversation_id: str, *, generation: LoadedGeneration | None = None,
                        redactor: Redactor | None = None) -> dict[str, Any] | None:
    """One conversation turn by turn: each answer with its sources, outcome and feedback (redacted)."""
    redactor = redactor or Redactor()
    with _reading(store) as db:
        conv = _rows(db, "SELECT id, channel, audience, created_at FROM conversations WHERE id = ?",
                     (conversation_id,))
        if not conv:
            return None
        turns = _rows(db, "SELECT t.id, t.role, t.text, t.created_at, a.chunk_ids, a.abstained, a.fallback,"
                          " a.backend, a.timings_ms, a.searched, a.declined, a.confidence FROM turns t"
                          " LEFT JOIN audit a ON a.turn_id = t.id"
                          " WHERE t.conversation_id = ? ORDER BY t.created_at, t.id", (conversation_id,))
        ratings = _rows(db, "SELECT f.turn_id, f.rating, f.comment, f.created_at FROM feedback f JOIN audit a"
                            " ON a.turn_id = f.turn_id WHERE a.conversation_id = ? ORDER BY f.id", (conversation_id,))
        handoffs = _rows(db, "SELECT destination, status, created_at FROM handoffs WHERE conversation_id = ?"
                             " ORDER BY created_at", (conversation_id,))
    titles: dict[str, dict[str, Any]] = {}
    chunk_ids = {c for t in turns if t[4] for c in json.loads(t[4])}
    if generation is not None and chunk_ids:
        marks = ",".join("?" * len(chunk_ids))
        for chunk_id, title, url, audience in generation.db.db.execute(
                f"SELECT chunk_id, title, url, audience FROM chunks WHERE chunk_id IN ({marks})", list(chunk_ids)):
            titles[chunk_id] = {"title": title, "url": url, "audience": audience}
    feedback: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for turn_id, rating, comment, created in ratings:
        feedback[turn_id].append({"rating": rating, "comment": redactor.redact(comment)[0] if comment else None,
                                  "created_at": created})
    return {
        "id": conv[0][0], "channel": conv[0][1], "audience": conv[0][2], "created_at": conv[0][3],
        "turns": [{
            "id": turn_id, "role": role, "text": redactor.redact(text)[0], "created_at": created,
            "sources": [{"chunk_id": c, **titles.get(c, {"title": c, "url": None, "audience": "?"})}
                        for c in (json.loads(chunk_json) if chunk_json else [])],
            "abstained": bool(abst) if abst is not None else None, "fallback": bool(fb) if fb is not None else None,
            "backend": backend, "latency_ms": (json.loads(timings) or {}).get("total") if timings else None,
            "feedback": feedback.get(turn_id, []),
            "searched": redactor.redact(searched)[0] if searched else None,  # a follow-up read with its topic
            "declined": declined,  # why, when it was (pipeline.DECLINE_REASONS)
            "confidence": confidence,  # the retrieval's, when it was recorded
        } for turn_id, role, text, created, chunk_json, abst, fb, backend, timings, searched, declined, confidence
            in turns],
        "handoffs": [{"destination": d, "status": s, "created_at": c} for d, s, c in handoffs],
    }
