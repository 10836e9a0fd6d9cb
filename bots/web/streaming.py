"""Answer events to the wire: server-sent events for the widget, one JSON object for simple clients.

The web layer only translates (STYLE: "the Slack and web layers only translate events to
their medium"), with one guard of its own: a source whose audience is not ``public`` is never
forwarded. The pipeline already searches the public partition only; if that ever broke, this
stops the answer instead of showing staff material to a customer (docs/architecture.md §2).
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

from assistant.errors import AssistantError, public_error
from assistant.schemas import AnswerEvent, AnswerRequest, DoneEvent, ErrorEvent, SourceRef, SourcesEvent, TokenEvent
from assistant.workers import Busy, PoolStream
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
                      abstained=done.abstained, sources=_public(done.sources), offer_handoff=done.offer_handoff)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return format_sse_event(event=event, data_str=json.dumps(data, ensure_ascii=False))


def _error(code: str, message: str, retryable: bool) -> dict[str, Any]:
    return {"code": code, "message": message, "retryable": retryable}


_Event = SourcesEvent | TokenEvent | DoneEvent | ErrorEvent


def _busy(ctx: WebContext, exc: Busy) -> ApiError:
    ctx.metrics.busy.inc()
    log.warning("answer refused, worker pool full: %s", exc.detail)
    return ApiError(503, "busy", exc.message, headers={"Retry-After": str(exc.retry_after_s)})


def refuse_if_busy(ctx: WebContext) -> None:
    """An early 503 ``busy`` when the pool is already full, before a conversation row is written.

    Only a shortcut: :func:`open_answer` is where admission really happens.
    """
    pool = getattr(ctx.pipeline, "pool", None)
    if pool is not None and pool.admitted >= pool.capacity:
        raise _busy(ctx, Busy(pool.retry_after_s, detail=f"{pool.admitted} answers admitted"))


def open_answer(ctx: WebContext, request: AnswerRequest) -> AsyncIterator[AnswerEvent]:
    """Start the answer on the worker pool, before any response is promised.

    A full pool is a 503 with ``Retry-After`` and the ``busy`` error body; nothing of the
    request has been done yet, so retrying is safe.
    """
    try:
        return ctx.answerer().astream(request)
    except Busy as exc:
        raise _busy(ctx, exc) from exc
    except AssistantError as exc:
        log.warning("answer could not start: %s [%s] %s", exc.message, exc.code, exc.detail or "")
        shown = public_error(exc)
        raise ApiError(503 if shown.retryable else 500, shown.code, shown.message) from exc


async def _events(stream: AsyncIterator[AnswerEvent]) -> AsyncGenerator[list[_Event | None], None]:
    """The pipeline's events in batches of those ready at once; ``None`` for each quiet ``KEEPALIVE_S``.

    Under load several tokens are often waiting: batching them makes one socket write instead of
    one each. A worker pool's stream (:class:`assistant.workers.PoolStream`, what the pipeline
    returns) is read directly, a keep-alive timer armed around each wait: waiting on it can be
    cancelled without losing an item. Any other async iterator is read by a pump task into a
    queue, beside a ticker task for the keep-alives, since cancelling it mid-item would break it;
    that costs two task switches and a queue per token, about 15% of a stream's CPU (in process,
    60 tokens, 2.3 ms of 16).
    """
    if isinstance(stream, PoolStream):
        async for ready in _pool_events(stream):
            yield ready
        return
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    last = time.monotonic()

    async def pump() -> None:
        try:
            async for event in stream:
                queue.put_nowait(("event", event))
            queue.put_nowait(("end", None))
        except Exception as exc:  # re-raised in the consumer, which knows how to answer it
            queue.put_nowait(("raise", exc))

    async def tick() -> None:
        while True:
            await asyncio.sleep(max(KEEPALIVE_S - (time.monotonic() - last), 0.01))
            if time.monotonic() - last >= KEEPALIVE_S:
                queue.put_nowait(("ping", None))

    tasks = [asyncio.create_task(pump()), asyncio.create_task(tick())]
    try:
        while True:
            entries = [await queue.get()]
            while not queue.empty():
                entries.append(queue.get_nowait())
            last = time.monotonic()
            batch: list[_Event | None] = []
            for kind, item in entries:
                if kind == "event":
                    batch.append(item)
                elif kind == "ping":
                    batch.append(None)
                else:
                    if batch:
                        yield batch
                    if kind == "raise":
                        raise item
                    return
            yield batch
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


async def _pool_events(stream: PoolStream[AnswerEvent]) -> AsyncGenerator[list[_Event | None], None]:
    """:func:`_events` for a worker pool's stream: no task of its own, a timer per wait."""
    try:
        while True:
            try:
                async with asyncio.timeout(KEEPALIVE_S):
                    first = await anext(stream)
            except TimeoutError:
                yield [None]
                continue
            except StopAsyncIteration:
                return
            yield [first, *stream.ready()]
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()


def _remember(ctx: WebContext, done: DoneEvent, answer: ChatAnswer, mode: str) -> None:
    ctx.metrics.observe_done(done, mode=mode)
    if done.answer_id:
        ctx.sources.remember(done.answer_id, answer.sources)


def _encode(ctx: WebContext, event: _Event | None) -> tuple[bytes, bool]:
    """One event on the wire, and whether it ends the stream."""
    if event is None:
        return KEEPALIVE_COMMENT, False
    if isinstance(event, SourcesEvent):
        return _sse("sources", {"sources": [s.model_dump() for s in _public(event.sources)]}), False
    if isinstance(event, TokenEvent):
        return _sse("token", {"text": event.text}), False
    if isinstance(event, DoneEvent):
        answer = _answer(event)
        _remember(ctx, event, answer, "stream")
        return _sse("done", answer.model_dump()), True
    shown = public_error(event.code)  # the catalogue's words, whatever text the event carried
    ctx.metrics.answer_errors.labels(code=shown.code).inc()
    return _sse("error", _error(shown.code, shown.message, event.retryable)), True


async def sse_stream(ctx: WebContext, stream: AsyncIterator[AnswerEvent]) -> AsyncIterator[bytes]:
    """``sources`` first, ``token``s, ``done`` last — or an ``error`` that ends the stream.

    ``stream`` comes from :func:`open_answer`, called before the response started.
    """
    started = time.perf_counter()
    first = True
    try:
        async with contextlib.aclosing(_events(stream)) as events:
            async for batch in events:
                if first and any(event is not None for event in batch):
                    ctx.metrics.first_event_seconds.observe(time.perf_counter() - started)
                    first = False
                out = []
                for event in batch:
                    data, final = _encode(ctx, event)
                    out.append(data)
                    if final:
                        yield b"".join(out)
                        return
                yield b"".join(out)
        log.error("answer stream ended without a done event")
        raise _Refused("no done event")
    except _Refused:
        code, message, retryable = "internal_error", GENERIC_MESSAGE, False
    except AssistantError as exc:  # operator text goes to the log; the user reads the catalogue
        log.warning("answer failed: %s [%s] %s", exc.message, exc.code, exc.detail or "")
        code, message, retryable = public_error(exc)
    except ApiError as exc:
        code, message, retryable = exc.code, exc.message, True
    except Exception:
        log.exception("answer stream failed")
        code, message, retryable = "internal_error", GENERIC_MESSAGE, True
    ctx.metrics.answer_errors.labels(code=code).inc()
    yield _sse("error", _error(code, message, retryable))


async def json_answer(ctx: WebContext, stream: AsyncIterator[AnswerEvent]) -> ChatAnswer:
    """The whole answer at once; a failed answer is an HTTP error with the same JSON error shape."""
    try:
        async with contextlib.aclosing(_events(stream)) as events:
            async for batch in events:
                for event in batch:
                    if isinstance(event, SourcesEvent):
                        _public(event.sources)
                    elif isinstance(event, DoneEvent):
                        answer = _answer(event)
                        _remember(ctx, event, answer, "json")
                        return answer
                    elif isinstance(event, ErrorEvent):
                        shown = public_error(event.code)
                        ctx.metrics.answer_errors.labels(code=shown.code).inc()
                        raise ApiError(503 if event.retryable else 500, shown.code, shown.message)
        raise _Refused("no done event")
    except _Refused as exc:
        ctx.metrics.answer_errors.labels(code="internal_error").inc()
        raise ApiError(500, "internal_error", GENERIC_MESSAGE) from exc
    except AssistantError as exc:
        log.warning("answer failed: %s [%s] %s", exc.message, exc.code, exc.detail or "")
        shown = public_error(exc)
        ctx.metrics.answer_errors.labels(code=shown.code).inc()
        raise ApiError(503 if shown.retryable else 500, shown.code, shown.message) from exc
