"""Shared fakes that follow the real contracts (brief: fakes only for Slack's cloud and big LLMs).

``FakePipeline`` stands in for ``assistant.pipeline.AnswerPipeline``: the same ``stream`` /
``astream`` methods and the same event order (one SourcesEvent, TokenEvents, one DoneEvent,
or an ErrorEvent that ends the stream), and it records the conversation in the Store the way
the real pipeline does when the request carries a ``conversation_id``. What it answers is
scripted, so channel tests can check how a medium renders a known answer.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from assistant.schemas import (
    AnswerEvent,
    AnswerRequest,
    Audience,
    Chunk,
    DoneEvent,
    ErrorEvent,
    Passage,
    RetrievalFilters,
    RetrievalResult,
    SourceRef,
    SourcesEvent,
    TokenEvent,
    partitions_for,
)
from assistant.store import Store
from assistant.workers import WorkerPool


@dataclass
class ScriptedAnswer:
    """What the fake pipeline says for one request."""

    text: str
    sources: list[SourceRef] = field(default_factory=list)
    abstained: bool = False
    fallback: bool = False
    backend: str = "fake"
    offer_handoff: bool = False  # a request for a person (assistant/small_talk.py "human")
    error: ErrorEvent | None = None  # set: the stream ends with this error instead of an answer


Responder = Callable[[AnswerRequest], ScriptedAnswer]


def source(n: int, title: str, *, audience: Audience = "public", url: str | None = None,
           snippet: str = "", chunk_id: str | None = None, section: str = "") -> SourceRef:
    """A SourceRef with sensible defaults, for scripting answers."""
    return SourceRef(n=n, title=title, url=url, source="fake", audience=audience, section=section,
                     chunk_id=chunk_id or f"chunk-{title.lower().replace(' ', '-')}", snippet=snippet)


def audience_scoped(passages: list[SourceRef]) -> Responder:
    """A responder that, like the real retriever, only ever sees the partitions of the audience.

    It answers with the snippets of the passages whose words overlap the question, so a test
    can plant internal-only text and check that a public request never returns it.
    """

    def respond(request: AnswerRequest) -> ScriptedAnswer:
        allowed = set(partitions_for(request.audience))
        words = {w for w in re.findall(r"[a-z0-9]+", request.question.lower()) if len(w) > 3}
        hits = [p for p in passages if p.audience in allowed
                and words & set(re.findall(r"[a-z0-9]+", (p.title + " " + p.snippet).lower()))]
        if not hits:
            return ScriptedAnswer("I don't know the answer to that from the knowledge base.", abstained=True)
        cited = [p.model_copy(update={"n": i}) for i, p in enumerate(hits, start=1)]
        text = "\n\n".join(f"{p.snippet} [{p.n}]" for p in cited)
        return ScriptedAnswer(text, cited)

    return respond


class FakePipeline:
    """Scripted answer pipeline with the real one's interface and event contract."""

    def __init__(self, answer: ScriptedAnswer | Responder | str = "It works.", *, store: Store | None = None,
                 token_delay_s: float = 0.0, tokens_per_event: int = 1, pool: WorkerPool | None = None) -> None:
        self.pool = pool or _shared_pool()  # the real pipeline's bounded pool; tests of "busy" pass a small one
        if isinstance(answer, str):
            answer = ScriptedAnswer(answer)
        if isinstance(answer, ScriptedAnswer):
            scripted = answer

            def answer(_request: AnswerRequest) -> ScriptedAnswer:
                return scripted

        self._respond: Responder = answer
        self.store = store
        self.token_delay_s = token_delay_s
        self.tokens_per_event = max(1, tokens_per_event)
        self.requests: list[AnswerRequest] = []
        self.readiness: dict[str, bool] = {"index": True, "llm": True}
        self._lock = threading.Lock()

    def ready(self) -> dict[str, bool]:
        """Readiness checks, as ``/readyz`` asks the real pipeline; tests flip them."""
        return dict(self.readiness)

    def stream(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        started = time.perf_counter()
        with self._lock:
            self.requests.append(request)
        scripted = self._respond(request)
        asked_at = time.time()
        conversation = None
        if self.store is not None and request.conversation_id:
            conversation = self.store.get_conversation(request.conversation_id)
        yield SourcesEvent(sources=scripted.sources)
        if scripted.error is not None:
            if conversation is not None and self.store is not None:  # a failed answer keeps its question
                self.store.add_turn(conversation.id, "user", request.question, created_at=asked_at)
            yield scripted.error
            return
        words = re.findall(r"\S+\s*", scripted.text)
        for i in range(0, len(words), self.tokens_per_event):
            if self.token_delay_s:
                time.sleep(self.token_delay_s)
            yield TokenEvent(text="".join(words[i:i + self.tokens_per_event]))
        done = DoneEvent(
            answer=scripted.text, sources=scripted.sources, abstained=scripted.abstained,
            fallback=scripted.fallback, backend="extractive" if scripted.fallback else scripted.backend,
            offer_handoff=scripted.offer_handoff,
            conversation_id=request.conversation_id, prompt_version="fake-1",
            timings_ms={"total": (time.perf_counter() - started) * 1000},
        )
        if conversation is not None and self.store is not None:
            done.answer_id = self.store.record_answer(conversation=conversation, question=request.question,
                                                      done=done, asked_at=asked_at)
        yield done

    def astream(self, request: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        """Runs ``stream`` on a worker pool, as the real pipeline does (``Busy`` when it is full)."""
        return self.pool.stream(lambda: self.stream(request))


@functools.cache
def _shared_pool() -> WorkerPool:
    """One pool for every FakePipeline without its own, made on first use (threads stay few)."""
    return WorkerPool(16, queue=1024, name="fake-pipeline")


# ---------------------------------------------------------------------- retrieval and LLM fakes
# Used by the pipeline tests: a retriever that returns given passages, and a LangChain chat
# model that streams scripted replies (with usage and model name, as the real backends report).


def make_passage(text: str, *, title: str = "Doc", url: str | None = None, dense: float = 0.6,
                 audience: Audience = "public", kind: str = "document", untrusted: bool = False,
                 section: str = "", doc_key: str | None = None) -> Passage:
    """A retrieved passage with a stable chunk id; ``dense`` is its cosine to the question."""
    import hashlib

    doc_key = doc_key or "docs:" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    digest = hashlib.sha256(f"{doc_key}\n{text}".encode()).hexdigest()
    chunk = Chunk(chunk_id="c-" + digest[:16], doc_key=doc_key, source="docs", kind=kind,
                  audience=audience, title=title, section=section, url=url, path=doc_key.split(":", 1)[1],
                  text=text, embed_text=f"{title}\n{section}\n{text}", content_hash=digest, untrusted=untrusted)
    return Passage(chunk=chunk, score=dense, dense_score=dense)


class FakeRetriever:
    """Returns its passages in the given order, scoped to the audience like the real one
    (``enforce_audience=False`` imitates a leaking retriever, to test the pipeline's own guard)."""

    def __init__(self, passages: list[Passage], *, generation: str | None = "gen-test", best_dense: float | None = None,
                 enforce_audience: bool = True, confidence: float | None = None) -> None:
        self.passages = passages
        self.confidence = confidence  # the abstention model's, when a test sets one
        self.generation = generation
        self.best_dense = best_dense
        self.enforce_audience = enforce_audience
        self.calls: list[tuple[str, Audience, RetrievalFilters | None]] = []

    def search(self, question: str, *, audience: Audience,
               filters: RetrievalFilters | None = None, asked: str | None = None) -> RetrievalResult:
        self.calls.append((question, audience, filters))
        allowed = set(partitions_for(audience))
        found = [p for p in self.passages if not self.enforce_audience or p.chunk.audience in allowed]
        best = self.best_dense if self.best_dense is not None else max(
            (p.dense_score or 0.0 for p in found), default=0.0)
        return RetrievalResult(passages=found, generation=self.generation, best_dense=best, confidence=self.confidence)


_TOKEN = re.compile(r"\w+|[^\w\s]+|\s+")


class ScriptedChatModel(BaseChatModel):
    """Streams ``replies[i]`` for the i-th call, token by token, then a final chunk with the
    model name and usage. ``fail_at={call: token}`` raises ``error`` at that token of that call."""

    replies: list[str]
    fail_at: dict[int, int] = Field(default_factory=dict)
    error: Exception | None = None
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    call_kwargs: list[dict[str, Any]] = Field(default_factory=list)  # e.g. max_tokens per call
    prompt_tokens: int = 50

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        call = len(self.calls)
        self.calls.append(list(messages))
        self.call_kwargs.append(dict(kwargs, stop=stop))
        reply = self.replies[min(call, len(self.replies) - 1)]
        tokens = _TOKEN.findall(reply)
        for i, token in enumerate(tokens):
            if self.fail_at.get(call) == i:
                raise self.error or RuntimeError("scripted backend failure")
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
            if run_manager is not None:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk
        if self.fail_at.get(call) == len(tokens):
            raise self.error or RuntimeError("scripted backend failure")
        usage = {"input_tokens": self.prompt_tokens, "output_tokens": len(tokens),
                 "total_tokens": self.prompt_tokens + len(tokens)}
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="", response_metadata={"model_name": "scripted-model"}, usage_metadata=usage))
