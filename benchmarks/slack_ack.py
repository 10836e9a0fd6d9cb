"""Slack HTTP mode under a burst: how fast events are acknowledged, and Web API calls per answer.

Slack wants ``200 OK`` within 3 seconds or it retries. This sends a burst of signed
``app_mention`` events at once to ``POST /slack/events`` (the real mount on uvicorn) while
earlier answers are still being written, and measures:

- time from event receipt to the acknowledgement, server side (an ASGI timer around the
  route) and client side (send to response, over loopback), p50 / p90 / p99 / max;
- Web API calls per answer (from the fake Slack server the real ``slack_sdk`` client talks to),
  for Slack's streaming methods and for the ``chat.update`` fallback.

The answers come from a scripted pipeline that streams tokens over ``--answer-seconds`` (an LLM
stand-in), so answering overlaps the burst as it would in production.

    python benchmarks/slack_ack.py --events 200 --answer-seconds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from starlette.types import ASGIApp, Receive, Scope, Send  # noqa: E402

from tests.fake_slack import FakeSlack, SlackRequests  # noqa: E402
from tests.fakes import FakePipeline, ScriptedAnswer, source  # noqa: E402
from tests.integration.slack_harness import slack_settings  # noqa: E402

ANSWER_WORDS = 120


class AckTimer:
    """Time from the request reaching the app to the response status going out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.samples: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.samples.append(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, timed_send)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50) * 1000, 1), "p90": round(percentile(values, 90) * 1000, 1),
            "p99": round(percentile(values, 99) * 1000, 1), "max": round(max(values) * 1000, 1),
            "mean": round(statistics.fmean(values) * 1000, 1)}


async def burst(base_url: str, requests: list[tuple[str, dict[str, str]]], rate: float) -> list[float]:
    """Send all requests at once (``rate`` 0) or ``rate`` per second; returns each one's latency."""
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        begin = time.perf_counter()

        async def one(i: int, body: str, headers: dict[str, str]) -> float:
            if rate:
                await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
            started = time.perf_counter()
            response = await client.post("/slack/events", content=body.encode(), headers=headers)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"status {response.status_code}: {response.text}")
            return elapsed

        return list(await asyncio.gather(*(one(i, b, h) for i, (b, h) in enumerate(requests))))


def serve(args: argparse.Namespace) -> None:
    """The bot process: the Slack mount on uvicorn, with a scripted pipeline; prints its port."""
    import threading
    from contextlib import AsyncExitStack, asynccontextmanager

    import uvicorn
    from fastapi import FastAPI

    from assistant.store import Store
    from bots.slack.mount import mount

    words = " ".join(f"word{i}" for i in range(ANSWER_WORDS))
    answer = ScriptedAnswer(f"**Refunds**: {words} [1]",
                            [source(1, "Refunding an invoice", url="https://help.example/refunds")])
    tmp = Path(tempfile.mkdtemp(prefix="slack-bench-"))
    fake_api = argparse.Namespace(api_url=args.api_url)
    settings = slack_settings(tmp, fake_api, rate_per_minute_user=10_000,  # type: ignore[arg-type]
                              rate_per_minute_channel=10_000, max_concurrent_answers=args.concurrency,
                              answer_queue=100_000,  # every event waits its turn: this measures acks
                              update_interval_s=1.0, streaming="auto" if args.mode == "stream" else "update")
    store = Store(settings.store_path)
    pipeline = FakePipeline(answer, store=store, token_delay_s=args.answer_seconds / ANSWER_WORDS)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        async with AsyncExitStack() as stack:
            for hook in app.state.lifespan_hooks:
                await stack.enter_async_context(hook(app))
            yield

    app = FastAPI(lifespan=lifespan)
    app.state.pipeline = pipeline
    app.state.lifespan_hooks = []
    mount(app, settings, store)
    timer = AckTimer(app)

    def samples() -> dict[str, Any]:
        return {"samples": list(timer.samples), "answers": len(pipeline.requests)}

    app.add_api_route("/bench/acks", samples, methods=["GET"])
    server = uvicorn.Server(uvicorn.Config(timer, host="127.0.0.1", port=0, log_level="warning"))

    def announce() -> None:
        while not server.started:
            time.sleep(0.01)
        print(server.servers[0].sockets[0].getsockname()[1], flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run()


def run(mode: str, events: int, answer_seconds: float, concurrency: int, duplicates: float,
        rate: float) -> dict[str, Any]:
    import subprocess

    slack = SlackRequests()
    with FakeSlack(streaming=mode == "stream") as fake:
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--api-url", fake.api_url, "--mode", mode,
             "--answer-seconds", str(answer_seconds), "--concurrency", str(concurrency)],
            stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            base_url = f"http://127.0.0.1:{int(child.stdout.readline())}"
            http = httpx.Client(base_url=base_url, timeout=30)
            warm = slack.mention("warm-up", channel="C0WARM")  # auth.test and other first-call costs
            body, headers = slack.event(warm)
            http.post("/slack/events", content=body.encode(), headers=headers).raise_for_status()
            fake.final_answer("C0WARM", warm["ts"], 30)
            skip = len(http.get("/bench/acks").json()["samples"]) + 1  # + this request itself
            mentions = [slack.mention(f"How do I refund invoice {i}?", channel=f"C0CHAN{i % 20:02d}",
                                      user=f"U{i:05d}") for i in range(events)]
            payloads = [slack.event(m) for m in mentions]
            n_dup = int(events * duplicates)
            payloads += [slack.event(m, event_id=json.loads(p[0])["event_id"], retry_num=1)
                         for m, p in zip(mentions[:n_dup], payloads[:n_dup], strict=True)]
            calls_before = len(fake.calls)
            started = time.perf_counter()
            client_s = asyncio.run(burst(base_url, payloads, rate))
            acked_all = time.perf_counter() - started
            for m in mentions:
                fake.final_answer(m["channel"], m["ts"], timeout=600)
            answered_all = time.perf_counter() - started
            time.sleep(0.5)
            stats = http.get("/bench/acks").json()
            server_s = stats["samples"][skip:][: len(payloads)]
            answers = stats["answers"] - 1
            calls = Counter(c.method for c in fake.calls[calls_before:])
        finally:
            child.terminate()
            child.wait(10)
    return {
        "mode": mode, "events": events, "rate_per_s": rate or "all at once", "duplicate_deliveries": n_dup,
        "answers": answers,
        "answer_seconds": answer_seconds, "max_concurrent_answers": concurrency,
        "ack_server_ms": summary_ms(server_s), "ack_client_ms": summary_ms(client_s),
        "burst_acked_s": round(acked_all, 2), "all_answered_s": round(answered_all, 2),
        "web_api_calls_per_answer": round(sum(calls.values()) / max(answers, 1), 2),
        "web_api_calls_by_method": dict(calls.most_common()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200, help="events in the burst")
    parser.add_argument("--answer-seconds", type=float, default=2.0, help="how long each answer takes to write")
    parser.add_argument("--concurrency", type=int, default=16, help="ASSISTANT_SLACK_MAX_CONCURRENT_ANSWERS")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of events Slack delivers twice")
    parser.add_argument("--mode", choices=["stream", "update", "both"], default="both")
    parser.add_argument("--rate", type=float, default=0, help="events per second (0: the whole burst at once)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the bot process
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    modes = ["stream", "update"] if args.mode == "both" else [args.mode]
    results = [run(m, args.events, args.answer_seconds, args.concurrency, args.duplicates, args.rate)
               for m in modes]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"\nmode={r['mode']}: {r['events']} events (+{r['duplicate_deliveries']} duplicate deliveries) "
              f"sent {r['rate_per_s'] if isinstance(r['rate_per_s'], str) else str(r['rate_per_s']) + '/s'}, "
              f"{r['answers']} answers, {r['answer_seconds']} s per answer, {r['max_concurrent_answers']} at once")
        for side in ("server", "client"):
            s = r[f"ack_{side}_ms"]
            print(f"  ack ({side}): p50 {s['p50']} ms  p90 {s['p90']} ms  p99 {s['p99']} ms  max {s['max']} ms")
        print(f"  whole burst acknowledged in {r['burst_acked_s']} s; all answered in {r['all_answered_s']} s")
        print(f"  Web API calls per answer: {r['web_api_calls_per_answer']}  {r['web_api_calls_by_method']}")


if __name__ == "__main__":
    main()
