"""Evaluation metrics on hand-made rankings: document-level ranks, source matching, abstention, citations."""

from __future__ import annotations

import math

import pytest

from assistant.errors import ConfigError
from assistant.eval_datasets import document_chunk
from assistant.eval_report import compare_reports, render_html
from assistant.evaluation import (
    QuestionResult,
    calibrate_threshold,
    check_citations,
    compute_metrics,
    ndcg,
    parse_dataset,
    percentiles,
    rank_documents,
    relevant_ranks,
)
from assistant.schemas import Passage, SourceRef


def _passage(key: str, ordinal: int = 0, *, url: str | None = None, source: str = "docs") -> Passage:
    chunk = document_chunk(source=source, key=key, title=key, text=f"{key} {ordinal}", model_id="m",
                           ordinal=ordinal, url=url)
    return Passage(chunk=chunk, score=1.0)


def _result(ranks: list[int], *, answerable: bool = True, expected: int = 1, **kw) -> QuestionResult:
    return QuestionResult(question="q", audience="public", answerable=answerable,
                          expected=[f"e{i}" for i in range(expected)], relevant_ranks=ranks,
                          relevant_in_index=expected, **kw)


def test_ranks_count_distinct_documents_not_chunks() -> None:
    passages = [_passage("a.md", 0), _passage("a.md", 1), _passage("b.md", 0), _passage("a.md", 2),
                _passage("c.md", 0)]
    assert [d.path for d in rank_documents(passages)] == ["a.md", "b.md", "c.md"]
    assert relevant_ranks(rank_documents(passages), ["c.md"]) == [3]


def test_expected_source_matches_path_url_or_file_name_without_extension() -> None:
    ranked = rank_documents([
        _passage("billing/refunds.md"),
        _passage("api/webhooks.html", url="https://help.ledgerly.example/api/webhooks/"),
        _passage("T-1042", source="helpdesk"),
    ])
    assert relevant_ranks(ranked, ["billing/refunds.md"]) == [1]
    assert relevant_ranks(ranked, ["refunds"]) == [1]
    assert relevant_ranks(ranked, ["./Billing/Refunds.md"]) == [1]
    assert relevant_ranks(ranked, ["https://help.ledgerly.example/api/webhooks"]) == [2]
    assert relevant_ranks(ranked, ["webhooks"]) == [2]
    assert relevant_ranks(ranked, ["T-1042"]) == [3]
    assert relevant_ranks(ranked, ["refund"]) == []  # a prefix is not a name
    assert relevant_ranks(ranked, ["billing/refunds.txt"]) == []


def test_recall_and_mrr_use_the_first_expected_document() -> None:
    results = [_result([1]), _result([3, 4]), _result([7]), _result([]),
               _result([], answerable=False)]  # unanswerable: not in recall
    m = compute_metrics(results)
    assert m["recall@1"] == 0.25
    assert m["recall@5"] == 0.5
    assert m["recall@10"] == 0.75
    assert m["mrr@10"] == pytest.approx(round((1 + 1 / 3 + 1 / 7) / 4, 4))


def test_ndcg_is_one_for_an_ideal_ranking_and_discounts_later_hits() -> None:
    assert ndcg([1, 2], ideal_count=2) == pytest.approx(1.0)
    assert ndcg([2], ideal_count=1) == pytest.approx(1 / math.log2(3))
    assert ndcg([1], ideal_count=2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg([], ideal_count=1) == 0.0
    assert ndcg([11], ideal_count=1) == 0.0


def test_abstention_precision_and_recall_treat_abstained_as_positive() -> None:
    results = [
        _result([], answerable=False, abstained=True),   # true positive
        _result([], answerable=False, abstained=False),  # false negative
        _result([1], abstained=True),                    # false positive
        _result([1], abstained=False),                   # true negative
        _result([1], abstained=False),
    ]
    m = compute_metrics(results)
    assert m["abstention_precision"] == 0.5
    assert m["abstention_recall"] == 0.5


def test_abstention_metrics_are_undefined_without_abstentions() -> None:
    m = compute_metrics([_result([1], abstained=False)])
    assert m["abstention_precision"] is None and m["abstention_recall"] is None


def _ref(n: int, chunk_id: str, audience: str = "public") -> SourceRef:
    return SourceRef(n=n, title="t", source="docs", audience=audience, chunk_id=chunk_id)


def test_citation_validity_needs_an_offered_chunk_of_an_allowed_audience() -> None:
    result = _result([1])
    offered = [_ref(1, "c1"), _ref(2, "c2")]
    check_citations(result, offered, [_ref(1, "c1"), _ref(2, "c9"), _ref(3, "c2", "internal")])
    assert (result.cited, result.cited_valid, result.cited_not_offered, result.cited_wrong_audience) == (3, 1, 1, 1)
    assert compute_metrics([result])["citation_validity"] == pytest.approx(0.3333)


def test_internal_citations_are_valid_for_internal_askers() -> None:
    result = QuestionResult(question="q", audience="internal", answerable=True, expected=["x"])
    check_citations(result, [_ref(1, "c1", "internal")], [_ref(1, "c1", "internal")])
    assert result.cited_valid == 1


def test_percentiles_interpolate_linearly() -> None:
    assert percentiles([]) is None
    p = percentiles([float(v) for v in range(1, 101)])
    assert p == {"p50": 50.5, "p95": 95.05, "p99": 99.01}


def test_calibration_finds_the_threshold_that_separates_the_classes() -> None:
    results = [_result([1], best_dense=s) for s in (0.55, 0.61, 0.72)] + \
              [_result([], answerable=False, best_dense=s) for s in (0.21, 0.33, 0.58)]
    cal = calibrate_threshold(results)
    assert cal is not None
    # below 0.44: P 1.0, R 0.67, F1 0.8; below 0.595: P 0.75, R 1.0, F1 0.857 -> the F1 criterion wins
    assert cal["threshold"] == pytest.approx((0.58 + 0.61) / 2)
    assert cal["f1"] == pytest.approx(0.8571)


def test_calibration_prefers_precision_when_f1_ties() -> None:
    results = [_result([1], best_dense=s) for s in (0.2, 0.25, 0.9)] + \
              [_result([], answerable=False, best_dense=s) for s in (0.1, 0.3)]
    cal = calibrate_threshold(results)
    assert cal is not None  # below 0.15: P 1, R .5; below 0.6: P .5, R 1 -- both F1 2/3
    assert cal["threshold"] == pytest.approx(0.15)
    assert cal["precision"] == 1.0


def test_dataset_errors_name_the_line_and_the_fix() -> None:
    good = '{"question": "How?", "expected_sources": ["a.md"], "answerable": true, "audience": "public"}'
    assert len(parse_dataset([good, "", '{"question": "Q", "answerable": false, "audience": "internal", '
                                        '"id": 7}'], name="set.jsonl")) == 2
    with pytest.raises(ConfigError, match=r"set.jsonl, line 2: not valid JSON"):
        parse_dataset([good, "{oops"], name="set.jsonl")
    with pytest.raises(ConfigError, match=r"line 1: audience"):
        parse_dataset(['{"question": "Q", "answerable": true, "audience": "staff", "expected_sources": ["a"]}'],
                      name="set.jsonl")
    with pytest.raises(ConfigError, match="needs expected_sources"):
        parse_dataset(['{"question": "Q", "answerable": true, "audience": "public"}'], name="set.jsonl")


def test_compare_flags_quality_drops_and_latency_growth() -> None:
    before = {"recall@5": 0.9, "mrr@10": 0.7, "latency_ms": {"retrieval": {"p50": 20.0, "p95": 40.0}}}
    after = {"recall@5": 0.85, "mrr@10": 0.69, "latency_ms": {"retrieval": {"p50": 21.0, "p95": 80.0}}}
    rows = {r["metric"]: r for r in compare_reports(after, before)}
    assert rows["recall@5"]["regressed"] and rows["recall@5"]["delta"] == pytest.approx(-0.05)
    assert not rows["mrr@10"]["regressed"]
    assert rows["retrieval_p95_ms"]["regressed"]
    assert not rows["retrieval_p50_ms"]["regressed"]
    assert rows["answer_p50_ms"]["delta"] is None


def test_html_report_is_self_contained_with_inline_svg() -> None:
    results = [_result([2], best_dense=0.6, retrieval_ms=12.0), _result([], answerable=False, best_dense=0.2)]
    from dataclasses import asdict

    report = {"dataset": "d", "generation": "g", "questions": 2, "answerable": 1, "abstain_threshold": 0.35,
              **compute_metrics(results), "calibration": calibrate_threshold(results),
              "per_question": [{**asdict(r), "first_rank": r.first_rank} for r in results]}
    page = render_html(report)
    assert page.count("<svg") >= 3
    assert "<script" not in page and "http://" not in page and "https://" not in page
