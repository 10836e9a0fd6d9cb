"""The bounded worker pool that runs blocking answer work for every channel (web, Slack).

Answering is blocking work (embedding, SQLite, FAISS, an LLM stream over HTTP or llama.cpp),
so it runs on threads while the event loops stay free. Those threads come from one
:class:`WorkerPool` per process: ``workers`` threads (``ASSISTANT_WEB_WORKERS``) and at most
``queue`` admitted jobs waiting for one (``ASSISTANT_WEB_QUEUE``). Past that the pool raises
:class:`Busy` at once instead of piling up threads or requests: the web answers 503 with
``Retry-After``, Slack says "busy, try again" in the thread.

The pool is a ``concurrent.futures.ThreadPoolExecutor`` plus an admission count. Its API::

    pool = WorkerPool(workers=32, queue=64)

    # a blocking generator, run start to end on one worker; items arrive in the event loop
    events = pool.stream(lambda: pipeline.stream(request))   # raises Busy now when full
    async for event in events:
        ...
    await events.aclose()   # optional: stops the worker at its next item (client went away)

    # one blocking call
    rows = await pool.run(store.history, conversation_id)    # raises Busy when full

Admission happens when :meth:`WorkerPool.stream` or :meth:`WorkerPool.run` is *called*, not
when the result is first awaited, so a caller can turn :class:`Busy` into its own refusal
before it has promised anything to its client (an HTTP status, a Slack message). A generator
runs on one thread from start to end, so whatever it opens on that thread (a SQLite
connection of that worker, a model lock) stays with that thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from assistant.errors import AssistantError, user_message

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_RETRY_AFTER_S = 2


class Busy(AssistantError):
    """Every worker is taken and the waiting line is full; try again after ``retry_after_s``."""

    code = "busy"
    retryable = True

    def __init__(self, retry_after_s: int = DEFAULT_RETRY_AFTER_S, *, detail: str | None = None) -> None:
        super().__init__(user_message("busy"), detail=detail)
        self.retry_after_s = retry_after_s


# The stop flag of the stream the current worker job produces (None outside :meth:`WorkerPool.stream`).
_STOP: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("assistant_stream_stop", default=None)


def stop_requested() -> bool:
    """Whether whoever consumes the stream this code runs for has gone away.

    The worker checks between items; a loop that may run long between two items (an LLM stream
    whose grounding guard holds a sentence back until it ends) checks this itself, or it keeps
    generating for nobody, holding a worker and the model."""
    event = _STOP.get()
    return event is not None and event.is_set()


class _Channel:
    """What the worker thread and the async consumer share for one stream."""

    __slots__ = ("loop", "queue", "stop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.stop = threading.Event()

    def put(self, kind: str, value: Any) -> None:
        if self.stop.is_set() and kind == "item":
            return
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, value))
        except RuntimeError:  # the consumer's loop is closed: nobody is listening any more
            self.stop.set()


class PoolStream(AsyncIterator[T], Generic[T]):
    """The items of a blocking generator running on a pool worker, as an async iterator.

    Exceptions raised by the generator are raised here, in the consumer. :meth:`aclose` (or
    dropping the stream) tells the worker to stop at its next item; the generator is closed
    on its own thread, so its ``finally`` blocks release what it holds.
    """

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel
        self._finished = False

    def __aiter__(self) -> PoolStream[T]:
        return self

    async def __anext__(self) -> T:
        if self._finished:
            raise StopAsyncIteration
        kind, value = await self._channel.queue.get()
        if kind == "item":
            return value
        self._finished = True
        self._channel.stop.set()
        if kind == "error":
            raise value
        raise StopAsyncIteration

    def ready(self) -> list[T]:
        """Items already delivered and waiting, without blocking (lets callers batch socket writes).

        Stops at the end or an error; those are returned by the next ``__anext__``.
        """
        out: list[T] = []
        queue = self._channel.queue
        while not self._finished and not queue.empty():
            kind = queue._queue[0][0]  # type: ignore[attr-defined]  # peek: asyncio.Queue has no API
            if kind != "item":
                break
            out.append(queue.get_nowait()[1])
        return out

    async def aclose(self) -> None:
        self._finished = True
        self._channel.stop.set()

    def __del__(self) -> None:
        self._channel.stop.set()


class WorkerPool:
    """A fixed number of worker threads and a bounded waiting line (see the module docstring)."""

    def __init__(self, workers: int, *, queue: int = 0, retry_after_s: int = DEFAULT_RETRY_AFTER_S,
                 name: str = "assistant-worker") -> None:
        if workers < 1 or queue < 0:
            raise ValueError("workers must be >= 1 and queue >= 0")
        self.workers = workers
        self.queue = queue
        self.retry_after_s = retry_after_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._admitted = 0
        self._closed = False
        self.rejected = 0  # jobs refused with Busy since start (exported as a metric)

    @property
    def admitted(self) -> int:
        """Jobs running or waiting for a worker."""
        return self._admitted

    @property
    def capacity(self) -> int:
        return self.workers + self.queue

    def _admit(self) -> None:
        with self._lock:
            if self._closed:
                raise Busy(self.retry_after_s, detail="worker pool is shut down")
            if self._admitted >= self.capacity:
                self.rejected += 1
                raise Busy(self.retry_after_s,
                           detail=f"{self._admitted} jobs admitted; {self.workers} workers, queue {self.queue}")
            self._admitted += 1

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    def stream(self, produce: Callable[[], Iterator[T]]) -> PoolStream[T]:
        """Run ``produce()`` and iterate it on one worker; raises :class:`Busy` now when full.

        Call from a coroutine (the items are delivered to the running event loop). The
        caller's context variables are copied to the worker.
        """
        channel = _Channel(asyncio.get_running_loop())
        self._admit()
        context = contextvars.copy_context()

        def work() -> None:
            outcome: tuple[str, Any] = ("end", None)
            _STOP.set(channel.stop)  # in this job's own copy of the caller's context
            try:
                items = produce()
                try:
                    for item in items:
                        if channel.stop.is_set():
                            break
                        channel.put("item", item)
                finally:
                    close = getattr(items, "close", None)
                    if close is not None:
                        close()
            except BaseException as exc:  # raised again in the consumer, which knows its medium
                outcome = ("error", exc)
            finally:
                # The slot is free before the consumer hears the end: whoever sees a stream finish
                # (a test, the next request of the same client) finds the pool already released.
                self._release()
                channel.put(*outcome)

        self._submit(context, work)
        return PoolStream(channel)

    async def run(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """``fn(*args, **kwargs)`` on a worker; :class:`Busy` when full (raised before any await)."""
        self._admit()
        context = contextvars.copy_context()

        def work() -> R:
            try:
                return fn(*args, **kwargs)
            finally:
                self._release()

        return await asyncio.wrap_future(self._submit(context, work))

    def prestart(self, *, timeout_s: float = 10.0) -> None:
        """Start every worker thread now (a server calls this at startup, before any job).

        ``ThreadPoolExecutor`` starts a thread inside ``submit`` while fewer than ``workers``
        exist, on the caller's thread, and ``Thread.start`` waits until the new thread runs: in
        a burst, on the event loop, in front of every first event (on a loaded 2-core machine
        that is milliseconds per thread). Each warm-up job waits for all the others, so none can
        reuse a thread another has started.
        """
        barrier = threading.Barrier(self.workers)

        def meet() -> None:
            # A broken barrier (some thread was busy) only means fewer threads started: no harm.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout_s)

        for future in [self._executor.submit(meet) for _ in range(self.workers)]:
            future.result()

    def _submit(self, context: contextvars.Context, work: Callable[[], R]) -> Any:
        try:
            return self._executor.submit(context.run, work)
        except RuntimeError as exc:  # shut down between admission and submit
            self._release()
            raise Busy(self.retry_after_s, detail="worker pool is shut down") from exc

    def close(self, *, wait: bool = True) -> None:
        """Refuse new work; with ``wait``, let admitted jobs finish. Idle threads exit."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
