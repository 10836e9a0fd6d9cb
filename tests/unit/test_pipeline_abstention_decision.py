"""The pipeline follows the retriever's own abstention decision when it makes one."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from assistant.config import Settings
from assistant.pipeline import AnswerPipeline
from assistant.prompts import load_prompts
from assistant.schemas import AnswerRequest, Audience, DoneEvent, RetrievalFilters, RetrievalResult
from tests.fakes import FakeRetriever, make_passage

PASSAGE = make_passage("Refunds are issued within 5 business days.", title="Refund policy", dense=0.82)


class DecidingRetriever(FakeRetriever):
    """A retriever that reports its own decision, as HybridRetriever does with abstention="evidence"."""

    def __init__(self, *, abstain: bool, best_dense: float) -> None:
        super().__init__([PASSAGE], best_dense=best_dense)
        self.abstain = abstain

    def search(self, question: str, *, audience: Audience,
               filters: RetrievalFilters | None = None, asked: str | None = None) -> RetrievalResult:
        found = super().search(question, audience=audience, filters=filters)
        return found.model_copy(update={"abstain": self.abstain, "confidence": 0.1 if self.abstain else 0.9})


def _done(retriever: FakeRetriever) -> DoneEvent:
    llm = GenericFakeChatModel(messages=iter(["Refunds take five business days [1]."]))
    pipeline = AnswerPipeline(retriever=retriever, prompts=load_prompts(), llm_provider=lambda _name: llm,
                              settings=Settings(_env_file=None), store=None, backend="local")
    events = list(pipeline.stream(AnswerRequest(question="How long do refunds take?", audience="public")))
    assert isinstance(events[-1], DoneEvent)
    return events[-1]


@pytest.mark.parametrize(("abstain", "best_dense"), [(True, 0.95), (False, 0.05)])
def test_the_retrievers_decision_wins_over_the_cosine_threshold(abstain: bool, best_dense: float) -> None:
    assert _done(DecidingRetriever(abstain=abstain, best_dense=best_dense)).abstained is abstain


def test_without_a_decision_the_cosine_threshold_applies() -> None:
    assert _done(FakeRetriever([PASSAGE], best_dense=0.05)).abstained is True
    assert _done(FakeRetriever([PASSAGE], best_dense=0.95)).abstained is False


def test_every_reason_the_pipeline_declines_for_has_words_for_operators() -> None:
    """The CLI's note and /admin's conversation view read one catalogue; a new veto without words
    would show operators its bare code."""
    from assistant.abstention import VETOES
    from assistant.pipeline import DECLINE_REASONS

    assert set(DECLINE_REASONS) == {"no_passages", *VETOES, "low_confidence"}
    assert all(text and not text.endswith(".") for text in DECLINE_REASONS.values())
