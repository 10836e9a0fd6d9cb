"""Concurrent chat streams against the real web server, with an LLM stand-in of known speed.

The server is the app ``assistant serve`` runs (``bots.web.app.create_app``: origin gate,
session tokens, rate limits, conversation store in SQLite, SSE encoding, metrics) on uvicorn,
in its own process on 127.0.0.1. Only the answer pipeline is replaced, by a stand-in that
follows its contract and threading (run on the bounded :class:`assistant.workers.WorkerPool`,
like ``AnswerPipeline.astream``), records the turns and audit row in the store like the real
one, and answers at a fixed pace: the first event ``--first-ms`` after it starts, then
``--tokens`` tokens at ``--rate`` tokens per second.

Beside it, in the same run, the **baseline**: a bare uvicorn app that streams the same
stand-in through the same pool as server-sent events, with no middleware, tokens, limits or
store. It is the floor this machine, uvicorn and the client impose; the app's figures minus the
baseline's are what the app itself costs.

For each round of N simultaneous streams (default 50 then 200) it reports, from the client:

- time to first event, p50 / p95, and the server's added latency over the stand-in's own
  (measured minus ``--first-ms``);
- whole-stream time and the server's added time over the stand-in's own (first + tokens/rate);
- the server process's CPU time per request (user + system, over the round), which does not
  depend on how much CPU the client took on a shared machine;
- errors: non-200 answers, ``error`` events, streams without ``done`` (must be 0);
- the server process's resident memory before the rounds, after each, and the growth.

    python benchmarks/web_load.py                      # rounds of 50 and 200 streams
    python benchmarks/web_load.py --streams 50 200 200 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ORIGIN = "https://help.ledgerly.example"


# --------------------------------------------------------------------------- server side


class StandInPipeline:
    """The answer pipeline's contract at a fixed pace: sources, tokens, done; records like the real one."""

    def __init__(self, store: Any, pool: Any, *, first_ms: float, rate: float, tokens: int) -> None:
        self.store = store
        self.pool = pool
        self.first_s = first_ms / 1000
        self.interval_s = 1 / rate
        self.tokens = tokens

    def stream(self, request: Any) -> Iterator[Any]:
        from assistant.schemas import DoneEvent, SourceRef, SourcesEvent, TokenEvent

        started = time.perf_counter()
        asked_at = time.time()
        conversation = None
        if self.store is not None and request.conversation_id:
            conversation = self.store.get_conversation(request.conversation_id)
        source = SourceRef(n=1, title="Recurring invoices", url="https://help.ledgerly.example/invoicing/recurring",
                           source="help", audience="public", chunk_id="bench-1", snippet="Recurring invoices ...")
        time.sleep(self.first_s)  # after the store read: that is the server's, and counts as added time
        yield SourcesEvent(sources=[source])
        words = []
        for i in range(self.tokens):
            if i:
                time.sleep(self.interval_s)
            words.append(f"word{i} ")
            yield TokenEvent(text=words[-1])
        done = DoneEvent(answer="".join(words) + "[1]", sources=[source], abstained=False, fallback=False,
                         backend="stand-in", conversation_id=request.conversation_id,
                         timings_ms={"total": (time.perf_counter() - started) * 1000})
        if conversation is not None:
            done.answer_id = self.store.record_answer(conversation=conversation, question=request.question, done=done,
                                                      asked_at=asked_at)  # both turns and the audit row
        yield done

    def astream(self, request: Any) -> AsyncIterator[Any]:
        """Exactly ``AnswerPipeline.astream``: the whole answer on one worker of the bounded pool."""
        return self.pool.stream(lambda: self.stream(request))


def baseline_app(pipeline: StandInPipeline) -> Any:
    """The floor: the same stand-in streamed as SSE by a bare app (no middleware, auth, limits, store)."""
    import json as _json

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    from assistant.schemas import AnswerRequest

    async def session(_request: Any) -> Any:
        return JSONResponse({"token": "baseline"})

    async def chat(request: Any) -> Any:
        body = await request.json()
        events = pipeline.astream(AnswerRequest(question=body["message"], audience="public"))

        async def sse() -> AsyncIterator[bytes]:
            async for event in events:
                yield f"event: {event.type}\ndata: {_json.dumps(event.model_dump(mode='json'))}\n\n".encode()

        return StreamingResponse(sse(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/session", session, methods=["POST"]),
                             Route("/v1/chat", chat, methods=["POST"])])


def serve(args: argparse.Namespace) -> None:
    """Child process: the real app (or the baseline) with the stand-in; prints its port, serves until killed."""
    import logging

    import uvicorn

    from assistant.config import Settings
    from assistant.store import Store
    from assistant.workers import WorkerPool
    from bots.web.app import create_app

    logging.basicConfig(level=logging.ERROR)
    data_dir = Path(args.data_dir)
    settings = Settings(data_dir=data_dir, allowed_origins=[ORIGIN], _env_file=None, web={
        "session_secret": "benchmark-secret-0123456789abcdef", "workers": args.workers, "queue": args.queue,
        "rate_per_minute_session": 1_000_000, "rate_per_minute_ip": 1_000_000, "daily_quota_ip": 1_000_000})
    pool = WorkerPool(settings.web.workers, queue=settings.web.queue)
    if args.baseline:
        pool.prestart()  # as the app's startup does
        app = baseline_app(StandInPipeline(None, pool, first_ms=args.first_ms, rate=args.rate, tokens=args.tokens))
    else:
        store = Store(settings.store_path)
        pipeline = StandInPipeline(store, pool, first_ms=args.first_ms, rate=args.rate, tokens=args.tokens)
        app = create_app(settings, pipeline=pipeline, store=store)
    # The same socket kind uvicorn makes for --host/--port; asyncio sets TCP_NODELAY only on IPPROTO_TCP.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="error", backlog=4096)).run(sockets=[sock])


# --------------------------------------------------------------------------- client side


@dataclass
class StreamResult:
    first_s: float | None = None
    total_s: float | None = None
    error: str | None = None


@dataclass
class Round:
    streams: int
    results: list[StreamResult] = field(default_factory=list)
    rss_after_kb: int = 0
    cpu_s: float = 0.0  # the server process's user + system time during the chat streams


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def one_stream(session: Any, base: str, token: str, start: asyncio.Event) -> StreamResult:
    result = StreamResult()
    await start.wait()
    began = time.perf_counter()
    try:
        async with session.post(f"{base}/v1/chat", json={"message": "How do I set up recurring invoices?"},
                                headers={"Origin": ORIGIN, "Authorization": f"Bearer {token}",
                                         "Accept": "text/event-stream"}) as response:
            if response.status != 200:
                result.error = f"HTTP {response.status}"
                return result
            done = False
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    if result.first_s is None:
                        result.first_s = time.perf_counter() - began
                    name = line.partition(":")[2].strip()
                    if name == "error":
                        result.error = "error event"
                    elif name == "done":
                        done = True
            result.total_s = time.perf_counter() - began
            if not done and result.error is None:
                result.error = "stream ended without done"
    except Exception as exc:  # a benchmark counts failures, it does not stop at the first
        result.error = f"{type(exc).__name__}: {exc}"
    return result


async def run_round(base: str, streams: int, server_pid: int) -> Round:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tokens = []
        for _ in range(streams):  # sessions first: the round times chat streams only
            async with session.post(f"{base}/v1/session", json={}, headers={"Origin": ORIGIN}) as response:
                tokens.append((await response.json())["token"])
        start = asyncio.Event()
        tasks = [asyncio.create_task(one_stream(session, base, token, start)) for token in tokens]
        await asyncio.sleep(0.2)
        cpu_before = cpu_seconds(server_pid)
        start.set()
        results = await asyncio.gather(*tasks)
        cpu = cpu_seconds(server_pid) - cpu_before
    return Round(streams, list(results), rss_kb(server_pid), cpu)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarise(round_: Round, args: argparse.Namespace) -> dict[str, Any]:
    firsts = [r.first_s * 1000 for r in round_.results if r.first_s is not None]
    totals = [r.total_s * 1000 for r in round_.results if r.total_s is not None and r.error is None]
    own_total = args.first_ms + (args.tokens - 1) * 1000 / args.rate
    errors = [r.error for r in round_.results if r.error]
    return {
        "streams": round_.streams,
        "first_event_ms": {"p50": percentile(firsts, 0.5), "p95": percentile(firsts, 0.95), "max": max(firsts or [0])},
        "added_first_event_ms": {"p50": percentile(firsts, 0.5) - args.first_ms,
                                 "p95": percentile(firsts, 0.95) - args.first_ms},
        "stream_ms": {"p50": percentile(totals, 0.5), "p95": percentile(totals, 0.95)},
        "added_stream_ms": {"p50": percentile(totals, 0.5) - own_total, "p95": percentile(totals, 0.95) - own_total},
        "server_cpu_ms_per_request": round(round_.cpu_s * 1000 / max(round_.streams, 1), 2),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "server_rss_mb_after": round(round_.rss_after_kb / 1024, 1),
    }


def run_server(args: argparse.Namespace, *, baseline: bool) -> dict[str, Any]:
    """Start one server process, warm it up, run the rounds; the report for that server."""
    with tempfile.TemporaryDirectory(prefix="web-load-") as tmp:
        command = [sys.executable, __file__, "--serve", "--data-dir", tmp, "--first-ms", str(args.first_ms),
                   "--rate", str(args.rate), "--tokens", str(args.tokens), "--workers", str(args.workers),
                   "--queue", str(args.queue)] + (["--baseline"] if baseline else [])
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):  # wait for uvicorn to accept
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            asyncio.run(run_round(base, args.warmup, server.pid))
            rss_start = rss_kb(server.pid)
            rounds = [asyncio.run(run_round(base, n, server.pid)) for n in args.streams]
        finally:
            server.terminate()
            server.wait(10)
    return {
        "server_rss_mb_before": round(rss_start / 1024, 1),
        "rounds": [summarise(r, args) for r in rounds],
        "server_rss_growth_mb": round((rounds[-1].rss_after_kb - rss_start) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, nargs="+", default=[50, 200], help="concurrent streams per round")
    parser.add_argument("--first-ms", type=float, default=300.0, help="stand-in: delay before the first event")
    parser.add_argument("--rate", type=float, default=40.0, help="stand-in: tokens per second")
    parser.add_argument("--tokens", type=int, default=60, help="stand-in: tokens per answer")
    parser.add_argument("--warmup", type=int, default=10, help="streams before the measured rounds")
    parser.add_argument("--workers", type=int, default=256,
                        help="ASSISTANT_WEB_WORKERS for the run: enough for every stream to hold a worker, so "
                             "the pool's queueing is not what is measured (a stand-in answer holds one for 1.8 s)")
    parser.add_argument("--queue", type=int, default=256, help="ASSISTANT_WEB_QUEUE for the run")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare-server baseline")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return

    report: dict[str, Any] = {
        "stand_in": {"first_event_ms": args.first_ms, "tokens": args.tokens, "tokens_per_s": args.rate},
        "cpus": os.cpu_count(), "workers": args.workers, "queue": args.queue,
        "app": run_server(args, baseline=False),
    }
    if not args.no_baseline:
        report["baseline"] = run_server(args, baseline=True)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"stand-in: first event after {args.first_ms:.0f} ms, {args.tokens} tokens at {args.rate:.0f}/s;"
          f" {report['cpus']} CPUs, client and server on 127.0.0.1; pool {args.workers} workers")
    header = (f"{'server':>8} {'streams':>7} {'1st ev p50':>10} {'p95':>7} {'added p50':>9} {'p95':>7}"
              f" {'stream p50':>10} {'added p95':>9} {'CPU ms/req':>10} {'errors':>6} {'RSS MB':>7}")
    print(header)
    for name in ("app", "baseline"):
        if name not in report:
            continue
        for r in report[name]["rounds"]:
            print(f"{name:>8} {r['streams']:>7} {r['first_event_ms']['p50']:>10.1f} {r['first_event_ms']['p95']:>7.1f}"
                  f" {r['added_first_event_ms']['p50']:>9.1f} {r['added_first_event_ms']['p95']:>7.1f}"
                  f" {r['stream_ms']['p50']:>10.1f} {r['added_stream_ms']['p95']:>9.1f}"
                  f" {r['server_cpu_ms_per_request']:>10.2f} {r['errors']:>6} {r['server_rss_mb_after']:>7.1f}")
            if r["error_kinds"]:
                print("        errors:", "; ".join(r["error_kinds"]))
    app = report["app"]
    print(f"app server RSS: {app['server_rss_mb_before']} MB after warm-up,"
          f" growth over the rounds {app['server_rss_growth_mb']:+.1f} MB")
    if "baseline" in report:
        for ours, floor in zip(app["rounds"], report["baseline"]["rounds"], strict=True):
            print(f"{ours['streams']:>4} streams: app adds p95 {ours['added_first_event_ms']['p95']:.1f} ms to the"
                  f" first event vs baseline {floor['added_first_event_ms']['p95']:.1f} ms; CPU per request"
                  f" {ours['server_cpu_ms_per_request']:.2f} ms vs {floor['server_cpu_ms_per_request']:.2f} ms"
                  f" ({ours['server_cpu_ms_per_request'] / max(floor['server_cpu_ms_per_request'], 0.01):.1f}x)")


if __name__ == "__main__":
    main()
