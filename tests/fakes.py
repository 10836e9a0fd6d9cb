"""Shared fakes that follow the real contracts (brief: fakes only for Slack's cloud and big LLMs).

``FakePipeline`` stands in for ``assistant.pipeline.AnswerPipeline``: the same ``stream`` /
``astream`` methods and the same event order (one SourcesEvent, TokenEvents, one DoneEvent,
or an ErrorEvent that ends the stream), and it records the conversation in the Store the way
the real pipeline does when the request carries a ``conversation_id``. What it answers is
scripted, so channel tests can check how a medium renders a known answer.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

from assistant.schemas import (
    AnswerEvent,
    AnswerRequest,
    DoneEvent,
    ErrorEvent,
    SourceRef,
    SourcesEvent,
    TokenEvent,
    partitions_for,
)
from assistant.store import Store


@dataclass
class ScriptedAnswer:
    """What the fake pipeline says for one request."""

    text: str
    sources: list[SourceRef] = field(default_factory=list)
    abstained: bool = False
    fallback: bool = False
    backend: str = "fake"
    error: ErrorEvent | None = None  # set: the stream ends with this error instead of an answer


Responder = Callable[[AnswerRequest], ScriptedAnswer]


def source(n: int, title: str, *, audience: str = "public", url: str | None = None,
           snippet: str = "", chunk_id: str | None = None) -> SourceRef:
    """A SourceRef with sensible defaults, for scripting answers."""
    return SourceRef(n=n, title=title, url=url, source="fake", audience=audience,  # type: ignore[arg-type]
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
                 token_delay_s: float = 0.0, tokens_per_event: int = 1) -> None:
        if isinstance(answer, str):
            answer = ScriptedAnswer(answer)
        self._respond: Responder = answer if callable(answer) else (lambda _request, a=answer: a)
        self.store = store
        self.token_delay_s = token_delay_s
        self.tokens_per_event = max(1, tokens_per_event)
        self.requests: list[AnswerRequest] = []
        self._lock = threading.Lock()

    def stream(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        started = time.perf_counter()
        with self._lock:
            self.requests.append(request)
        scripted = self._respond(request)
        conversation = None
        if self.store is not None and request.conversation_id:
            conversation = self.store.get_conversation(request.conversation_id)
            if conversation is not None:
                self.store.add_turn(conversation.id, "user", request.question)
        yield SourcesEvent(sources=scripted.sources)
        if scripted.error is not None:
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
            conversation_id=request.conversation_id, prompt_version="fake-1",
            timings_ms={"total": (time.perf_counter() - started) * 1000},
        )
        if conversation is not None and self.store is not None:
            done.answer_id = self.store.record_answer(conversation=conversation, question=request.question,
                                                      done=done)
        yield done

    async def astream(self, request: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        """Runs ``stream`` in a worker thread, as the real pipeline does, so the loop stays free."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[AnswerEvent | None] = asyncio.Queue()

        def produce() -> None:
            try:
                for event in self.stream(request):
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = loop.run_in_executor(None, produce)
        while (event := await queue.get()) is not None:
            yield event
        await worker
