"""Answer-level evaluation: does the text a user reads hold the facts, and nothing invented?

Retrieval metrics say whether the right page was found; these say whether the answer is right.
A golden-set line may carry ``facts``: a list of fact groups, each a list of accepted
alternatives (``[["5-10 business days", "5–10 business days"], ["Refund payment"]]``). A group
is found when any alternative occurs in the answer (case-insensitive, dashes, quotes and
Markdown emphasis folded). Per answer, :func:`score_answer` also finds

- **invented terms**: numbers, identifiers, quoted or bold UI labels and capitalised names that
  occur in neither the question nor the passages offered to the model
  (:func:`assistant.grounding.invented_terms`);
- **unsupported units**: sentences or list items the grounding check would not show;
- **leaks**: prompt or template text in the answer;
- **the opening**: whether the answer's first paragraph (after the brand's intro) already holds one
  of the facts. A reader takes the first paragraph for the answer; an answer that holds every fact
  but opens with background ("Authentication is any process by which …") reads as a miss.

The brand's own texts (the extractive intro, the abstention and interruption notices, the
attribution label) are part of every answer's evidence and are not scored as answer text.
:func:`aggregate` turns per-question scores into the report's metrics; each is ``None`` when
there is nothing to score (no backend answered, or no question carries facts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.grounding import Evidence, check_unit, is_leak, normalise, split_units, strip_citations

ANSWER_METRICS = ("answer_correct", "fact_recall", "fact_in_opening", "invented_rate", "unsupported_rate", "leak_rate")


@dataclass
class AnswerScore:
    facts_total: int = 0
    facts_found: int = 0
    missing_facts: list[list[str]] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    units: int = 0
    unsupported: list[str] = field(default_factory=list)
    leak: bool = False
    fact_in_opening: bool = False  # the first paragraph holds one of the facts

    @property
    def correct(self) -> bool:
        return self.facts_total > 0 and self.facts_found == self.facts_total


def fact_found(answer: str, alternatives: Sequence[str]) -> bool:
    text = normalise(answer)
    return any(normalise(alt) in text for alt in alternatives if alt.strip())


def score_answer(answer: str, *, question: str, passages: Iterable[str], facts: Sequence[Sequence[str]] | None,
                 fixed_texts: Sequence[str] = ()) -> AnswerScore:
    """Score one answer against its facts and the passages that were offered for it."""
    score = AnswerScore()
    for group in facts or []:
        score.facts_total += 1
        if fact_found(answer, group):
            score.facts_found += 1
        else:
            score.missing_facts.append(list(group))
    body = answer
    # The brand's sentences (intro, notices) and labels ("Sources:") are not answer text. Its short
    # values ("Ledgerly") stay: they are words of the answer ("Ledgerly-Request-Id"), and evidence.
    removable = (f.strip() for f in fixed_texts if len(f.split()) >= 3 or f.strip().endswith(":"))
    for fixed in sorted(removable, key=len, reverse=True):
        body = body.replace(fixed, " ")
    evidence = Evidence.build(question, passages, extra=fixed_texts)
    for unit in split_units(body):
        if not strip_citations(unit).strip(" \n\t-*•:"):
            continue
        score.units += 1
        verdict = check_unit(unit, evidence)
        if verdict.terms:
            score.invented.extend(t for t in verdict.terms if t not in score.invented)
        if not verdict.kept:
            score.unsupported.append(unit.strip())
    score.leak = is_leak(body, evidence)
    opening = opening_paragraph(body)
    score.fact_in_opening = any(fact_found(opening, group) for group in facts or [])
    return score


def opening_paragraph(body: str) -> str:
    """The first paragraph with words in it: what the reader sees before deciding to read on."""
    for paragraph in re.split(r"\n[ \t]*\n", body):
        if strip_citations(paragraph).strip(" \n\t-*•:"):
            return paragraph
    return ""


def aggregate(results: Sequence[Any]) -> dict[str, float | None]:
    """The answer metrics from results carrying ``answer``, ``answerable``, ``abstained`` and the
    :class:`AnswerScore` fields (``facts_total`` …); answers that were never produced are skipped.
    ``fact_in_opening`` is over the answers shown for questions with facts (a decline has no opening)."""
    answered = [r for r in results if r.answer is not None]
    with_facts = [r for r in answered if r.answerable and r.facts_total]
    shown = [r for r in answered if not r.abstained]
    units = sum(r.units for r in shown)
    opened = [r for r in with_facts if not r.abstained]
    return {
        "answer_correct": _ratio(sum(r.facts_found == r.facts_total for r in with_facts), len(with_facts)),
        "fact_recall": _ratio(sum(r.facts_found for r in with_facts), sum(r.facts_total for r in with_facts)),
        "fact_in_opening": _ratio(sum(r.fact_in_opening for r in opened), len(opened)),
        "invented_rate": _ratio(sum(bool(r.invented) for r in shown), len(shown)),
        "unsupported_rate": _ratio(sum(len(r.unsupported) for r in shown), units),
        "leak_rate": _ratio(sum(r.leak for r in answered), len(answered)),
    }


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None
