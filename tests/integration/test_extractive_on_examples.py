"""The extractive answer on the real example index: what a customer reads for questions it got wrong."""

from __future__ import annotations

import pytest

from assistant.factory import build_pipeline, build_retriever
from assistant.schemas import AnswerRequest


@pytest.fixture(scope="module")
def answer(example_index, embedder):
    pipeline = build_pipeline(example_index, backend="extractive",
                              retriever=build_retriever(example_index, embedder=embedder))

    def ask(question: str) -> str:
        done = [e for e in pipeline.stream(AnswerRequest(question=question, audience="public", channel="test"))
                if e.type == "done"]
        assert done and not done[0].abstained
        return done[0].answer

    return ask


def test_a_yes_no_question_opens_with_the_sentence_that_says_yes_or_no(answer) -> None:
    """Three passages of the QuickBooks Online page reach the answer; the one word that sets this
    question apart ("Desktop") must still win over sentences MiniLM finds closer ("Sync is one-way"),
    and, the question asking whether it can, the answer opens with it: quoted third, after the
    connection steps, the answer read as a yes to a reader who skims."""
    text = answer("Our accountant is on QuickBooks Desktop, can Ledgerly sync with it?")
    opening = text.split("\n\n")[1]
    assert opening.startswith("QuickBooks Online integration: QuickBooks Desktop is not supported. [1]"), text


def test_the_third_section_of_the_page_that_answers_reaches_the_answer(answer) -> None:
    """Where the data is stored and the SOC 2 report are two sections of one page beside its
    introduction: with two passages per page the hosting section never reached the answer."""
    text = answer("Where is my data stored and do you have a SOC 2 report?")
    assert "Amazon Web Services" in text and "SOC 2 Type II" in text
    assert "N. Virginia" in text  # one sentence, not cut after the initial
