"""The bounded worker pool: items arrive in order, errors reach the consumer, a full pool says Busy."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from assistant.errors import USER_MESSAGES
from assistant.workers import Busy, WorkerPool, stop_requested


def _numbers(n: int, gate: threading.Event | None = None, closed: threading.Event | None = None) -> Iterator[int]:
    try:
        for i in range(n):
            if gate is not None:
                gate.wait(10)
            yield i
    finally:
        if closed is not None:
            closed.set()


async def test_a_stream_delivers_every_item_in_order_on_a_pool_thread() -> None:
    pool = WorkerPool(2)
    seen_threads: set[str] = set()

    def produce() -> Iterator[int]:
        for i in range(100):
            seen_threads.add(threading.current_thread().name)
            yield i

    assert [i async for i in pool.stream(produce)] == list(range(100))
    assert len(seen_threads) == 1 and next(iter(seen_threads)).startswith("assistant-worker")
    pool.close()


async def test_an_exception_in_the_worker_is_raised_in_the_consumer() -> None:
    pool = WorkerPool(1)

    def produce() -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    got = []
    with pytest.raises(ValueError, match="boom"):
        async for item in pool.stream(produce):
            got.append(item)
    assert got == [1]
    assert pool.admitted == 0
    pool.close()


async def test_a_full_pool_refuses_at_once_with_busy_and_recovers_when_work_ends() -> None:
    pool = WorkerPool(1, queue=1, retry_after_s=3)
    gate = threading.Event()
    running = pool.stream(lambda: _numbers(2, gate))
    waiting = pool.stream(lambda: _numbers(2, gate))
    with pytest.raises(Busy) as refused:
        pool.stream(lambda: _numbers(2))
    assert refused.value.code == "busy" and refused.value.retry_after_s == 3
    assert refused.value.message == USER_MESSAGES["busy"]
    with pytest.raises(Busy):
        await pool.run(len, "abc")
    assert pool.rejected == 2

    gate.set()
    assert [i async for i in running] == [0, 1] and [i async for i in waiting] == [0, 1]
    assert await pool.run(len, "abc") == 3  # admitted again once the work ended
    pool.close()


async def test_threads_stay_bounded_however_many_streams_run() -> None:
    pool = WorkerPool(4, queue=1000)
    before = threading.active_count()

    async def one() -> list[int]:
        return [i async for i in pool.stream(lambda: _numbers(20))]

    results = await asyncio.gather(*(one() for _ in range(200)))
    assert all(r == list(range(20)) for r in results)
    assert threading.active_count() - before <= 4
    pool.close()


async def test_closing_the_stream_stops_the_worker_and_closes_the_generator() -> None:
    pool = WorkerPool(1)
    gate, closed = threading.Event(), threading.Event()
    gate.set()
    stream = pool.stream(lambda: _numbers(1_000_000, gate, closed))
    async for item in stream:
        if item == 3:
            break
    await stream.aclose()
    assert await asyncio.to_thread(closed.wait, 5)
    pool.close()  # waits for the worker: it has stopped, so this returns
    assert pool.admitted == 0


async def test_a_job_between_two_items_can_see_that_its_consumer_went_away() -> None:
    """A generator that works long before its next item (an LLM stream whose sentence the guard holds
    back) cannot be stopped between items: it asks ``stop_requested`` itself."""
    pool = WorkerPool(1)
    asked, stopped = threading.Event(), threading.Event()

    def quiet() -> Iterator[int]:
        yield 1
        asked.set()
        for _ in range(500):  # no item until the consumer is gone (at most 5 s)
            if stop_requested():
                stopped.set()
                return
            time.sleep(0.01)

    stream = pool.stream(quiet)
    assert await stream.__anext__() == 1
    assert await asyncio.to_thread(asked.wait, 5)
    await stream.aclose()
    assert await asyncio.to_thread(stopped.wait, 5)
    pool.close()
    assert not stop_requested()  # outside a pool stream there is nobody to go away


async def test_context_variables_reach_the_worker() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("request-42")
    pool = WorkerPool(1)
    assert await pool.run(var.get) == "request-42"
    pool.close()


async def test_a_closed_pool_refuses_new_work() -> None:
    pool = WorkerPool(1)
    pool.close()
    with pytest.raises(Busy):
        pool.stream(lambda: _numbers(1))


async def test_prestart_starts_every_worker_thread_before_any_job() -> None:
    pool = WorkerPool(6, queue=0, name="prestart-test")

    def pool_threads() -> int:
        return sum(1 for t in threading.enumerate() if t.name.startswith("prestart-test"))

    assert pool_threads() == 0
    pool.prestart()
    assert pool_threads() == 6
    async def one() -> list[int]:
        return [i async for i in pool.stream(lambda: _numbers(3))]

    results = await asyncio.gather(*(one() for _ in range(6)))
    assert results == [[0, 1, 2]] * 6
    assert pool_threads() == 6  # the jobs ran on the threads already there
    pool.close()
