"""Answer-level metrics: facts found, invented terms, unsupported sentences, leaks; report and compare."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from assistant.answer_quality import aggregate, fact_found, opening_paragraph, score_answer
from assistant.errors import ConfigError
from assistant.eval_report import compare_reports, render_html
from assistant.evaluation import parse_dataset

PASSAGES = ["Card refunds take 5-10 business days to reach the client's card. Click **Refund payment** to confirm.",
            "Payouts are paused for 72 hours after the bank account changes."]
INTRO = "Here is what the Ledgerly help material says about this:"


def test_a_fact_group_is_found_when_any_alternative_is_in_the_answer() -> None:
    assert fact_found("Refunds take 5–10 business days.", ["5-10 business days"])  # dashes folded
    assert fact_found("click **Refund Payment**", ["Refund payment"])  # case and emphasis folded
    assert not fact_found("Refunds take a week.", ["5-10 business days", "five to ten"])


def test_a_correct_answer_holds_every_group_and_invents_nothing() -> None:
    score = score_answer(f"{INTRO}\n\nCard refunds take 5-10 business days [1]. Click **Refund payment** [1].",
                         question="How long do refunds take?", passages=PASSAGES, fixed_texts=[INTRO, "Ledgerly"],
                         facts=[["5-10 business days"], ["Refund payment"]])
    assert score.correct and score.facts_found == 2 and score.missing_facts == []
    assert score.invented == [] and score.unsupported == [] and not score.leak and score.units == 2


def test_the_opening_counts_when_its_first_paragraph_holds_a_fact() -> None:
    """A reader takes the first paragraph for the answer: one that holds every fact further down but
    opens with background is a correct answer that reads like a miss."""
    facts = [["5-10 business days"], ["Refund payment"]]
    late = score_answer(f"{INTRO}\n\nRefunds go back to the card the client paid with [1].\n\n"
                        "Card refunds take 5-10 business days [1]. Click **Refund payment** [1].",
                        question="How long do refunds take?", passages=PASSAGES, fixed_texts=[INTRO], facts=facts)
    assert late.correct and not late.fact_in_opening
    early = score_answer(f"{INTRO}\n\nClick **Refund payment** [1].\n\nCard refunds take 5-10 business days [1].",
                         question="How long do refunds take?", passages=PASSAGES, fixed_texts=[INTRO], facts=facts)
    assert early.correct and early.fact_in_opening
    assert opening_paragraph("\n\n[1]\n\nFirst words [1].\n\nMore.") == "First words [1]."


def test_a_brand_name_inside_a_quoted_identifier_is_not_cut_out_of_the_answer() -> None:
    """The brand's short values are evidence, not removed text: "Ledgerly-Request-Id" stays whole."""
    score = score_answer(f"{INTRO}\n\nSend us the `Ledgerly-Request-Id` header of the request [1].",
                         question="What do I send support?", passages=["Send the `Ledgerly-Request-Id` header."],
                         fixed_texts=[INTRO, "Ledgerly"], facts=[["Ledgerly-Request-Id"]])
    assert score.correct and score.invented == [] and score.units == 1


def test_invented_terms_unsupported_sentences_and_leaks_are_counted() -> None:
    answer = ("Card refunds take 180 days [1]. Open Microsoft Excel and go to the Data tab. "
              "The customer asked about refunds.")
    score = score_answer(answer, question="How long do refunds take?", passages=PASSAGES,
                         facts=[["5-10 business days"]])
    assert not score.correct and score.missing_facts == [["5-10 business days"]]
    assert score.invented == ["180", "Microsoft", "Excel", "Data"]
    assert len(score.unsupported) == 3 and score.leak


def _result(**kw):
    base = dict(answer="x", answerable=True, abstained=False, facts_total=1, facts_found=1, invented=[], units=1,
                unsupported=[], leak=False, fact_in_opening=True)
    return SimpleNamespace(**{**base, **kw})


def test_aggregate_metrics_and_nulls() -> None:
    metrics = aggregate([_result(), _result(facts_found=0, invented=["180"], unsupported=["a"], units=2,
                                            fact_in_opening=False),
                         _result(answerable=False, facts_total=0, facts_found=0, abstained=True)])
    assert metrics == {"answer_correct": 0.5, "fact_recall": 0.5, "fact_in_opening": 0.5, "invented_rate": 0.5,
                       "unsupported_rate": 0.3333, "leak_rate": 0.0}
    assert set(aggregate([_result(answer=None)]).values()) == {None}  # no backend answered
    assert aggregate([_result(facts_total=0, facts_found=0)])["answer_correct"] is None  # no facts


def test_facts_are_validated_with_the_line_and_the_fix() -> None:
    ok = parse_dataset(['{"question": "q", "expected_sources": ["a"], "answerable": true, "audience": "public", '
                        '"facts": [["x", "y"], ["z"]]}'], name="set.jsonl")
    assert ok[0].facts == [["x", "y"], ["z"]]
    with pytest.raises(ConfigError, match=r"set\.jsonl, line 1: every facts group"):
        parse_dataset(['{"question": "q", "expected_sources": ["a"], "answerable": true, "audience": "public", '
                       '"facts": [[]]}'], name="set.jsonl")


def test_compare_flags_a_drop_in_correctness_and_a_rise_in_the_rates() -> None:
    previous = {"answer_correct": 0.8, "fact_recall": 0.8, "invented_rate": 0.0, "unsupported_rate": 0.01,
                "leak_rate": 0.0}
    current = {"answer_correct": 0.7, "fact_recall": 0.8, "invented_rate": 0.05, "unsupported_rate": 0.02,
               "leak_rate": 0.01}
    rows = {r["metric"]: r["regressed"] for r in compare_reports(current, previous)}
    assert rows["answer_correct"] and not rows["fact_recall"]
    assert rows["invented_rate"] and not rows["unsupported_rate"] and rows["leak_rate"]


def test_the_html_report_marks_facts_found_and_invented_terms() -> None:
    question = {"line": 3, "question": "How long?", "audience": "public", "answerable": True, "first_rank": 1,
                "best_dense": 0.7, "abstained": False, "cited_valid": 1, "cited": 1, "retrieval_ms": 1.0,
                "answer_ms": 2.0, "error": None, "answer": "It takes 180 days <b>now</b>.", "facts": [["5-10 days"]],
                "facts_total": 1, "facts_found": 0, "missing_facts": [["5-10 days"]], "invented": ["180"],
                "unsupported": [], "leak": False, "grounding": {"checked": 2, "dropped": 1, "fell_back": False}}
    page = render_html({"per_question": [question], "latency_ms": {}})
    assert "<mark class=inv>180</mark>" in page and "&lt;b&gt;now&lt;/b&gt;" in page  # marked and escaped
    assert "missing: 5-10 days" in page and "guard dropped 1/2" in page
