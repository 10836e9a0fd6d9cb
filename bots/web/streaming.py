"""Answer events to the wire: server-sent events for the widget, one JSON object for simple clients.

The web layer only translates (STYLE: "the Slack and web layers only translate events to
their medium"), with one guard of its own: a source whose audience is not ``public`` is never
forwarded. The pipeline already searches the public partition only; if that ever broke, this
stops the answer instead of showing staff material to a customer (DESIGN decision 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fastapi.sse import KEEPALIVE_COMMENT, format_sse_event

from assistant.errors import AssistantError
from assistant.schemas import AnswerRequest, DoneEvent, ErrorEvent, SourceRef, SourcesEvent, TokenEvent
from bots.web.deps import WebContext
from bots.web.errors import GENERIC_MESSAGE, ApiError
from bots.web.models import ChatAnswer, PublicSource

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing a quiet stream


class _Refused(Exception):
    """The stream broke the public-only rule or the event contract; the customer gets a generic error."""


def _public(sources: list[SourceRef]) -> list[PublicSource]:
    for ref in sources:
        if ref.audience != "public":
            log.critical("non-public source %s reached the web channel; answer withheld", ref.chunk_id)
            raise _Refused("non-public source")
    return [PublicSource.of(ref) for ref in sources]


def _answer(done: DoneEvent) -> ChatAnswer:
    return ChatAnswer(conversation_id=done.conversation_id, answer_id=done.answer_id, answer=done.answer,
                      abstained=done.abstained, sources=_public(done.sources))


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return format_sse_event(event=event, data_str=json.dumps(data, ensure_ascii=False))


def _error(code: str, message: str, retryable: bool) -> dict[str, Any]:
    return {"code": code, "message": message, "retryable": retryable}


_Event = SourcesEvent | TokenEvent | DoneEvent | ErrorEvent


async def _events(ctx: WebContext, request: AnswerRequest) -> AsyncGenerator[_Event | None, None]:
    """The pipeline's events, with ``None`` for each quiet ``KEEPALIVE_S`` stretch."""
    stream = ctx.answerer().astream(request)
    iterator = aiter(stream)
    pending: asyncio.Task[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_S)
            if not done:
                yield None
                continue
            task, pending = pending, None
            try:
                yield task.result()
            except StopAsyncIteration:
                return
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


def _remember(ctx: WebContext, done: DoneEvent, answer: ChatAnswer, mode: str) -> None:
    ctx.metrics.observe_done(done, mode=mode)
    if done.answer_id:
        ctx.sources.remember(done.answer_id, answer.sources)


async def sse_stream(ctx: WebContext, request: AnswerRequest) -> AsyncIterator[bytes]:
    """``sources`` first, ``token``s, ``done`` last — or an ``error`` that ends the stream."""
    started = time.perf_counter()
    first = True
    try:
        async with contextlib.aclosing(_events(ctx, request)) as events:
            async for event in events:
                if event is None:
                    yield KEEPALIVE_COMMENT
                    continue
                if first:
                    ctx.metrics.first_event_seconds.observe(time.perf_counter() - started)
                    first = False
                if isinstance(event, SourcesEvent):
                    yield _sse("sources", {"sources": [s.model_dump() for s in _public(event.sources)]})
                elif isinstance(event, TokenEvent):
                    yield _sse("token", {"text": event.text})
                elif isinstance(event, DoneEvent):
                    answer = _answer(event)
                    _remember(ctx, event, answer, "stream")
                    yield _sse("done", answer.model_dump())
                    return
                else:
                    ctx.metrics.answer_errors.labels(code=event.code).inc()
                    yield _sse("error", _error(event.code, event.message, event.retryable))
                    return
        log.error("answer stream ended without a done event")
        raise _Refused("no done event")
    except _Refused:
        code, message, retryable = "internal_error", GENERIC_MESSAGE, False
    except AssistantError as exc:  # its message is user-safe by contract; detail goes to the log
        log.warning("answer failed: %s (%s)", exc.code, exc.detail)
        code, message, retryable = exc.code, exc.message, exc.retryable
    except ApiError as exc:
        code, message, retryable = exc.code, exc.message, True
    except Exception:
        log.exception("answer stream failed")
        code, message, retryable = "internal_error", GENERIC_MESSAGE, True
    ctx.metrics.answer_errors.labels(code=code).inc()
    yield _sse("error", _error(code, message, retryable))


async def json_answer(ctx: WebContext, request: AnswerRequest) -> ChatAnswer:
    """The whole answer at once; a failed answer is an HTTP error with the same JSON error shape."""
    try:
        async with contextlib.aclosing(_events(ctx, request)) as events:
            async for event in events:
                if isinstance(event, SourcesEvent):
                    _public(event.sources)
                elif isinstance(event, DoneEvent):
                    answer = _answer(event)
                    _remember(ctx, event, answer, "json")
                    return answer
                elif isinstance(event, ErrorEvent):
                    ctx.metrics.answer_errors.labels(code=event.code).inc()
                    raise ApiError(503 if event.retryable else 500, event.code, event.message)
        raise _Refused("no done event")
    except _Refused as exc:
        ctx.metrics.answer_errors.labels(code="internal_error").inc()
        raise ApiError(500, "internal_error", GENERIC_MESSAGE) from exc
    except AssistantError as exc:
        log.warning("answer failed: %s (%s)", exc.code, exc.detail)
        ctx.metrics.answer_errors.labels(code=exc.code).inc()
        raise ApiError(503 if exc.retryable else 500, exc.code, exc.message) from exc
