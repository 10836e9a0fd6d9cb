"""Evaluation of retrieval and answering on a question set (``assistant eval``).

A dataset is JSONL, one question per line::

    {"question": "...", "expected_sources": ["billing/refunds.md"], "answerable": true, "audience": "public"}

An expected source matches a retrieved document by its relative path, its URL, or its file
name without extension (``refunds``). Ranks count distinct documents (a file or a ticket),
not chunks: three chunks of one file are one rank. Metrics:

- ``recall@k``: share of answerable questions with an expected document among the first k;
- ``mrr@10``: mean of 1/rank of the first expected document (0 beyond 10);
- ``ndcg@10``: binary relevance, ideal = every expected document the index holds, ranked first;
- ``abstention_precision`` / ``abstention_recall``: the positive class is "abstained", and a
  question should be abstained on when ``answerable`` is false;
- ``citation_validity``: share of cited sources that were offered to the model and whose
  audience the asker may read;
- latency percentiles (p50/p95/p99) of retrieval, answer and first token;
- answer level, when a backend answers (:mod:`assistant.answer_quality`): ``answer_correct``
  (share of answerable questions with ``facts`` whose every fact group is in the answer),
  ``fact_recall`` (share of fact groups found), ``invented_rate`` (share of shown answers with a
  number, identifier, UI label or name found in neither question nor offered passages),
  ``unsupported_rate`` (share of answer sentences the grounding check would not show) and
  ``leak_rate`` (answers showing prompt or template text); ``grounding`` sums what the guard did.

Abstention comes from the answer pipeline when it runs, else from the retrieval score and the
configured threshold. :func:`calibrate_threshold` sweeps that threshold on the same data.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.answer_quality import aggregate, score_answer
from assistant.errors import AssistantError, ConfigError
from assistant.follow_up import searched_text
from assistant.schemas import (
    AnswerEvent,
    AnswerRequest,
    Audience,
    HistoryTurn,
    Passage,
    SourceRef,
    partitions_for,
)

if TYPE_CHECKING:
    from assistant.retrieval import HybridRetriever

KS = (1, 5, 10)
DEPTH = 10  # ranks scored; retrieval is asked for enough chunks to fill this many documents


class EvalCase(BaseModel):
    """One dataset line. Unknown keys (ids, notes) are kept out of the way, not refused."""

    model_config = ConfigDict(extra="ignore")

    question: str = Field(min_length=1)
    expected_sources: list[str] = Field(default_factory=list)
    answerable: bool
    # Fact groups for answer-level metrics: each group is a list of accepted alternatives.
    facts: list[list[str]] | None = None
    audience: Audience
    # The customer's earlier messages in the conversation, oldest first: the question is a follow-up.
    history: list[str] = Field(default_factory=list)
    line: int = Field(0, exclude=True)


_LINE_SHAPE = '{"question": ..., "expected_sources": [...], "answerable": true, "audience": "public"}'


def parse_dataset(lines: Iterable[str], *, name: str) -> list[EvalCase]:
    cases: list[EvalCase] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("//"):
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{name}, line {number}: not valid JSON ({exc.msg})",
                              hint="each line must be one JSON object") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{name}, line {number}: expected a JSON object", hint=_LINE_SHAPE)
        try:
            case = EvalCase(**data, line=number)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{name}, line {number}: {problems}",
                              hint='needs "question", "answerable" (true/false) and "audience" '
                                   '("public" or "internal")') from exc
        if case.facts is not None and any(not g or not all(a.strip() for a in g) for g in case.facts):
            raise ConfigError(f"{name}, line {number}: every facts group needs at least one non-empty string",
                              hint='"facts": [["5-10 business days", "5–10 business days"], ["Refund payment"]]')
        if case.answerable and not case.expected_sources:
            raise ConfigError(f"{name}, line {number}: an answerable question needs expected_sources",
                              hint="list the document path, URL or file name that answers it")
        cases.append(case)
    if not cases:
        raise ConfigError(f"{name} holds no questions", hint="one JSON object per line")
    return cases


def load_dataset(path: Path) -> list[EvalCase]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"Dataset {path} not found", hint="pass --dataset with a JSONL file") from exc
    return parse_dataset(text.splitlines(), name=str(path))


# --------------------------------------------------------------------------- matching and ranks


def _norm(value: str) -> str:
    value = value.strip().lower()
    while value.startswith("./"):
        value = value[2:]
    return value.rstrip("/")


def document_names(*, doc_key: str, path: str, url: str | None) -> set[str]:
    """Every name an expected source may use for one document."""
    names = {_norm(doc_key), _norm(path)}
    if ":" in doc_key:
        names.add(_norm(doc_key.split(":", 1)[1]))
    if path:
        pure = PurePosixPath(_norm(path))
        names.add(pure.stem)
        names.add(str(pure.with_suffix("")) if pure.suffix else str(pure))
    if url:
        names.add(_norm(url))
    names.discard("")
    return names


@dataclass
class RankedDoc:
    doc_key: str
    title: str
    path: str
    url: str | None
    audience: str

    def names(self) -> set[str]:
        return document_names(doc_key=self.doc_key, path=self.path, url=self.url)


def rank_documents(passages: Sequence[Passage], depth: int = DEPTH) -> list[RankedDoc]:
    """Distinct documents in the order their first chunk appears."""
    seen: dict[str, RankedDoc] = {}
    for p in passages:
        c = p.chunk
        if c.doc_key not in seen:
            seen[c.doc_key] = RankedDoc(c.doc_key, c.title, c.path, c.url, c.audience)
            if len(seen) >= depth:
                break
    return list(seen.values())


def relevant_ranks(ranked: Sequence[RankedDoc], expected: Sequence[str]) -> list[int]:
    """1-based ranks of documents that match any expected source."""
    wanted = {_norm(e) for e in expected}
    return [n for n, doc in enumerate(ranked, start=1) if doc.names() & wanted]


def ndcg(ranks: Sequence[int], ideal_count: int, depth: int = DEPTH) -> float:
    if ideal_count <= 0:
        return 0.0
    dcg = sum(1 / math.log2(r + 1) for r in ranks if r <= depth)
    idcg = sum(1 / math.log2(i + 1) for i in range(1, min(ideal_count, depth) + 1))
    return dcg / idcg


# --------------------------------------------------------------------------- per question


@dataclass
class QuestionResult:
    question: str
    audience: str
    answerable: bool
    expected: list[str]
    ranked: list[str] = field(default_factory=list)  # doc keys, best first
    relevant_ranks: list[int] = field(default_factory=list)
    relevant_in_index: int = 0  # expected documents the audience's partitions hold
    best_dense: float = 0.0
    confidence: float | None = None  # the retriever's abstention confidence, when it decides
    evidence: dict[str, float] = field(default_factory=dict)  # the signals behind it
    retrieval_ms: float = 0.0
    abstained: bool | None = None
    declined: str | None = None  # why, when abstained (pipeline.DECLINE_REASONS)
    answer_ms: float | None = None
    first_token_ms: float | None = None
    cited: int = 0
    cited_valid: int = 0
    cited_not_offered: int = 0
    cited_wrong_audience: int = 0
    fallback: bool | None = None
    error: str | None = None
    line: int = 0
    # answer level (assistant.answer_quality): None / zero when no backend answered
    answer: str | None = None
    facts: list[list[str]] | None = None
    facts_total: int = 0
    facts_found: int = 0
    missing_facts: list[list[str]] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    units: int = 0
    unsupported: list[str] = field(default_factory=list)
    leak: bool = False
    fact_in_opening: bool = False  # the answer's first paragraph holds one of the facts
    grounding: dict[str, Any] = field(default_factory=dict)

    @property
    def first_rank(self) -> int | None:
        return self.relevant_ranks[0] if self.relevant_ranks else None


def check_citations(result: QuestionResult, offered: Sequence[SourceRef], cited: Sequence[SourceRef]) -> None:
    allowed = set(partitions_for(result.audience))  # type: ignore[arg-type]
    offered_ids = {s.chunk_id for s in offered}
    for source in cited:
        result.cited += 1
        ok_offered = source.chunk_id in offered_ids
        ok_audience = source.audience in allowed
        result.cited_not_offered += not ok_offered
        result.cited_wrong_audience += not ok_audience
        result.cited_valid += ok_offered and ok_audience


# --------------------------------------------------------------------------- metrics


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def percentiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)

    def at(q: float) -> float:  # linear interpolation, as numpy's default
        pos = (len(ordered) - 1) * q
        lo, hi = math.floor(pos), math.ceil(pos)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    return {"p50": round(at(0.50), 2), "p95": round(at(0.95), 2), "p99": round(at(0.99), 2)}


def abstention_scores(pairs: Iterable[tuple[bool, bool]]) -> dict[str, float | None]:
    """Precision/recall/F1 of the class "abstained" from (should_abstain, abstained) pairs."""
    tp = fp = fn = 0
    for should, did in pairs:
        tp += should and did
        fp += did and not should
        fn += should and not did
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = (round(2 * precision * recall / (precision + recall), 4)
          if precision is not None and recall is not None and precision + recall > 0 else None)
    return {"precision": precision, "recall": recall, "f1": f1}


def compute_metrics(results: Sequence[QuestionResult]) -> dict[str, Any]:
    answerable = [r for r in results if r.answerable]
    metrics: dict[str, Any] = {}
    for k in KS:
        hits = sum(1 for r in answerable if r.first_rank is not None and r.first_rank <= k)
        metrics[f"recall@{k}"] = _ratio(hits, len(answerable))
    metrics["mrr@10"] = _ratio(
        sum(1 / r.first_rank for r in answerable if r.first_rank is not None and r.first_rank <= DEPTH),
        len(answerable))
    metrics["ndcg@10"] = _ratio(
        sum(ndcg(r.relevant_ranks, r.relevant_in_index or len(r.expected)) for r in answerable), len(answerable))
    judged = [(not r.answerable, r.abstained) for r in results if r.abstained is not None]
    scores = abstention_scores(judged)
    metrics["abstention_precision"] = scores["precision"]
    metrics["abstention_recall"] = scores["recall"]
    metrics["abstention_f1"] = scores["f1"]
    cited = sum(r.cited for r in results)
    metrics["citation_validity"] = _ratio(sum(r.cited_valid for r in results), cited)
    metrics["citations"] = {
        "total": cited,
        "valid": sum(r.cited_valid for r in results),
        "not_offered": sum(r.cited_not_offered for r in results),
        "wrong_audience": sum(r.cited_wrong_audience for r in results),
    }
    metrics.update(aggregate(results))
    metrics["grounding"] = {
        "checked": sum(r.grounding.get("checked", 0) for r in results),
        "dropped": sum(r.grounding.get("dropped", 0) for r in results),
        "fell_back": sum(bool(r.grounding.get("fell_back")) for r in results),
    }
    metrics["latency_ms"] = {
        "retrieval": percentiles([r.retrieval_ms for r in results]),
        "answer": percentiles([r.answer_ms for r in results if r.answer_ms is not None]),
        "first_token": percentiles([r.first_token_ms for r in results if r.first_token_ms is not None]),
    }
    return metrics


def calibrate_threshold(results: Sequence[QuestionResult]) -> dict[str, Any] | None:
    """Sweep the abstention threshold over ``best_dense``: abstain when the score is below it.

    Candidates are the midpoints between consecutive distinct scores (plus one below and one
    above all). The pick maximises F1 of the class "abstained"; ties go to higher precision
    (fewer answerable questions declined), then to the lower threshold.
    """
    should = [r.best_dense for r in results if not r.answerable]
    answer = [r.best_dense for r in results if r.answerable]
    if not should or not answer:
        return None
    values = sorted({round(v, 6) for v in should + answer})
    candidates = [values[0] - 0.01] + [(a + b) / 2 for a, b in itertools.pairwise(values)]
    candidates.append(values[-1] + 0.01)
    sweep = []
    for t in candidates:
        pairs = [(True, s < t) for s in should] + [(False, s < t) for s in answer]
        scores = abstention_scores(pairs)
        sweep.append({"threshold": round(t, 4), **scores})
    best = max(sweep, key=lambda s: (s["f1"] or 0.0, s["precision"] or 0.0, -(s["threshold"] or 0.0)))
    return {
        "criterion": "max F1 of abstention (ties: higher precision, then lower threshold)",
        "threshold": best["threshold"], "precision": best["precision"], "recall": best["recall"],
        "f1": best["f1"], "answerable": len(answer), "unanswerable": len(should),
        "answerable_best_dense": percentiles(answer), "unanswerable_best_dense": percentiles(should),
        "sweep": sweep,
    }


# --------------------------------------------------------------------------- runner


class Answering(Protocol):
    """The part of :class:`assistant.pipeline.AnswerPipeline` the evaluation uses."""

    def stream(self, request: AnswerRequest) -> Iterator[AnswerEvent]: ...


Progress = Callable[[int], None]


def _relevant_in_index(documents: dict[str, RankedDoc], case: EvalCase) -> int:
    allowed = set(partitions_for(case.audience))
    wanted = {_norm(e) for e in case.expected_sources}
    return sum(1 for d in documents.values() if d.audience in allowed and d.names() & wanted)


def _index_documents(retriever: HybridRetriever) -> dict[str, RankedDoc]:
    generation = retriever.index.current()
    return {key: RankedDoc(key, row["title"], row["path"], row["url"], row["audience"])
            for key, row in generation.db.documents().items()}


def evaluate_case(case: EvalCase, *, retriever: HybridRetriever, documents: dict[str, RankedDoc],
                  pipeline: Answering | None, backend: str | None, abstain_threshold: float) -> QuestionResult:
    result = QuestionResult(question=case.question, audience=case.audience, answerable=case.answerable,
                            expected=list(case.expected_sources), line=case.line)
    cap = retriever.settings.per_document_cap
    t0 = time.perf_counter()
    history = [HistoryTurn(role="user", text=text) for text in case.history]
    # What the pipeline searches for a follow-up when no model condenses it (assistant/follow_up.py).
    searched = searched_text(case.question, history, retriever, case.audience) if history else case.question
    found = retriever.search(searched, audience=case.audience, top_k=DEPTH * cap, asked=case.question)
    result.retrieval_ms = round((time.perf_counter() - t0) * 1000, 3)
    ranked = rank_documents(found.passages)
    result.ranked = [d.doc_key for d in ranked]
    result.relevant_ranks = relevant_ranks(ranked, case.expected_sources)
    result.relevant_in_index = _relevant_in_index(documents, case)
    result.best_dense = round(found.best_dense, 4)
    result.confidence = found.confidence
    result.evidence = dict(found.evidence)
    if pipeline is None:
        result.abstained = found.abstain if found.abstain is not None else found.best_dense < abstain_threshold
        if result.abstained:
            from assistant.pipeline import decline_reason

            result.declined = decline_reason(found, found.passages)
        return result
    request = AnswerRequest(question=case.question, audience=case.audience, channel="eval", backend=backend,
                            history=history)
    offered: list[SourceRef] = []
    t0 = time.perf_counter()
    try:
        for event in pipeline.stream(request):
            if event.type == "sources":
                offered = list(event.sources)
            elif event.type == "token" and result.first_token_ms is None:
                result.first_token_ms = round((time.perf_counter() - t0) * 1000, 3)
            elif event.type == "done":
                result.abstained = event.abstained
                result.declined = event.declined
                result.fallback = event.fallback
                result.answer = event.answer
                result.grounding = event.grounding.model_dump()
                check_citations(result, offered, event.sources)
            elif event.type == "error":
                result.error = f"{event.code}: {event.message}"
    except AssistantError as exc:
        result.error = f"{exc.code}: {exc.message}"
    result.answer_ms = round((time.perf_counter() - t0) * 1000, 3)
    if result.answer is not None:
        _score_answer(result, case, offered, found.passages, pipeline)
    return result


def _score_answer(result: QuestionResult, case: EvalCase, offered: Sequence[SourceRef],
                  retrieved: Sequence[Passage], pipeline: Answering) -> None:
    """Answer-level scores: facts found, invented terms, unsupported units, leaks."""
    texts = {p.chunk.chunk_id: p.chunk for p in retrieved}
    passages: list[str] = []
    for source in offered:
        chunk = texts.get(source.chunk_id)
        passages.extend([source.title, source.section, chunk.text if chunk is not None else source.snippet])
    score = score_answer(result.answer or "", question=case.question, passages=passages, facts=case.facts,
                         fixed_texts=_fixed_texts(pipeline, case.audience))
    result.facts = case.facts
    result.facts_total, result.facts_found = score.facts_total, score.facts_found
    result.missing_facts, result.invented = score.missing_facts, score.invented
    result.units, result.unsupported, result.leak = score.units, score.unsupported, score.leak
    result.fact_in_opening = score.fact_in_opening


def _fixed_texts(pipeline: Answering, audience: Audience) -> list[str]:
    """The brand's own texts an answer may contain (intro, notices, attribution label)."""
    prompts, settings = getattr(pipeline, "prompts", None), getattr(pipeline, "settings", None)
    if prompts is None or settings is None:
        return []
    from assistant.pipeline import ATTRIBUTION_LABEL
    from assistant.prompts import brand_values

    prompt = prompts.answer(audience, audience)
    return [*prompt.brand_texts(settings.brand), ATTRIBUTION_LABEL,
            *brand_values(settings.brand).values()]


def run_evaluation(cases: Sequence[EvalCase], *, retriever: HybridRetriever, pipeline: Answering | None = None,
                   backend: str | None = None, abstain_threshold: float, dataset: str = "",
                   progress: Progress | None = None, warmup: bool = True) -> dict[str, Any]:
    """Run every case and return the report (a JSON-ready dict).

    One untimed warm-up question runs first, so loading models does not land in the latency
    percentiles of whichever question happens to come first.
    """
    documents = _index_documents(retriever)
    if warmup and cases:
        retriever.search(cases[0].question, audience=cases[0].audience)
        if pipeline is not None:
            try:
                for _ in pipeline.stream(AnswerRequest(question=cases[0].question, audience=cases[0].audience,
                                                       channel="eval", backend=backend)):
                    pass
            except AssistantError:
                pass  # the timed run records the failure
    generation = retriever.index.current().id
    results: list[QuestionResult] = []
    warnings: list[str] = []
    for n, case in enumerate(cases, start=1):
        result = evaluate_case(case, retriever=retriever, documents=documents, pipeline=pipeline,
                               backend=backend, abstain_threshold=abstain_threshold)
        if case.answerable and result.relevant_in_index == 0:
            warnings.append(f"line {case.line}: no document the {case.audience} audience can read matches "
                            f"{case.expected_sources}")
        if result.error:
            warnings.append(f"line {case.line}: the pipeline failed ({result.error})")
        results.append(result)
        if progress:
            progress(n)
    report: dict[str, Any] = {
        "dataset": dataset,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "generation": generation,
        "backend": backend if pipeline is not None else None,
        "retrieval": retriever.settings.model_dump(),
        "reranker": retriever.reranker is not None,
        "abstain_threshold": abstain_threshold,
        "abstention_from": "pipeline" if pipeline is not None else "retrieval threshold",
        "questions": len(results),
        "answerable": sum(r.answerable for r in results),
        "unanswerable": sum(not r.answerable for r in results),
        "errors": sum(r.error is not None for r in results),
        **compute_metrics(results),
        "calibration": calibrate_threshold(results),
        "warnings": warnings,
        "per_question": [{**asdict(r), "first_rank": r.first_rank} for r in results],
    }
    return report
