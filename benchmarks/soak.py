"""Soak: thousands of answers through the real server and pipeline; resources must stay flat.

The server is ``bots.web.app.create_app`` with the real answer pipeline
(``assistant.factory.build_pipeline``, extractive backend: retrieval, prompts, store, no LLM)
over the example index, on uvicorn in its own process on 127.0.0.1, exactly as ``assistant
serve`` runs it. ``--clients`` concurrent clients (default 50) each open a widget session and
ask questions from the golden set in a loop until ``--answers`` (default 5,000) have completed.
Every ``--every`` answers (default 500) it prints the server process's open file descriptors,
threads and resident memory. After warm-up (the first report) the three should stay flat:
before the bounded pool and owned connections, descriptors grew by one or two per answer and
the server stopped at the default limit of 1,024.

    python benchmarks/soak.py                         # 5,000 answers, 50 clients
    python benchmarks/soak.py --answers 1000 --every 250 --json
    python benchmarks/soak.py --off-topic 9           # 9 in 10 questions off-topic: they abstain

A full extractive answer costs about a CPU-second (it embeds the passages' sentences), so 5,000
of them take over an hour on 2 cores. ``--off-topic N`` makes N in 10 questions off-topic ones
that abstain after retrieval (the server then abstains on the best cosine alone): they still
open the generation's connections and write the store, at a fraction of the cost.

The example index is built once into ``--data-dir`` (default ``var/soak``) if it has none.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ORIGIN = "https://help.ledgerly.example"


def ensure_index(data_dir: Path) -> None:
    """Ingest the example corpus into ``data_dir`` unless a generation is already published there."""
    from assistant.config import Settings
    from assistant.generations import current_id

    if current_id(data_dir):
        return
    from assistant.factory import build_embedder
    from ingest.jobs import run_ingest

    print(f"building the example index in {data_dir} (once) ...", file=sys.stderr, flush=True)
    settings = Settings(data_dir=data_dir, _env_file=None)
    report = run_ingest(settings, ROOT / "examples" / "sources.yaml", embedder=build_embedder(settings))
    if not report.published:
        raise SystemExit(f"ingest failed: {report.message}")


def serve(args: argparse.Namespace) -> None:
    """Child process: the real app and pipeline; prints its port, serves until killed."""
    import logging

    import uvicorn

    from assistant.config import Settings
    from assistant.factory import build_pipeline
    from assistant.store import Store
    from bots.web.app import create_app

    logging.basicConfig(level=logging.ERROR)
    retrieval = {"abstention": "cosine"} if args.off_topic else {}
    settings = Settings(data_dir=Path(args.data_dir), allowed_origins=[ORIGIN], _env_file=None,
                        llm={"backend": "extractive"}, retrieval=retrieval, web={
                            "session_secret": "soak-secret-0123456789abcdef0123", "workers": args.workers,
                            "session_ttl_s": 86_400,  # one session per client for the whole run
                            "rate_per_minute_session": 1_000_000, "rate_per_minute_ip": 1_000_000,
                            "daily_quota_ip": 1_000_000})
    store = Store(Path(args.store))
    app = create_app(settings, pipeline=build_pipeline(settings, store=store), store=store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="error", backlog=4096)).run(sockets=[sock])


# --------------------------------------------------------------------------- client side


@dataclass
class Sample:
    answers: int
    seconds: float
    fds: int
    threads: int
    rss_mb: float


@dataclass
class Progress:
    target: int
    every: int
    pid: int
    started: float = field(default_factory=time.perf_counter)
    done: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    def sample(self) -> None:
        status = Path(f"/proc/{self.pid}/status").read_text().splitlines()
        value = {line.split(":")[0]: line.split(":")[1].split() for line in status if ":" in line}
        sample = Sample(self.done, round(time.perf_counter() - self.started, 1),
                        len(os.listdir(f"/proc/{self.pid}/fd")), int(value["Threads"][0]),
                        round(int(value["VmRSS"][0]) / 1024, 1))
        self.samples.append(sample)
        print(f"{sample.answers:>7} {sample.seconds:>8.1f} {sample.fds:>5} {sample.threads:>7} {sample.rss_mb:>8.1f}"
              f" {sum(self.errors.values()):>6}", flush=True)


OFF_TOPIC = ("What is the weather like on Mars today?", "Who won the football world cup in 1998?",
             "Give me a recipe for lasagna", "How tall is Mount Everest?", "What is the capital of Mongolia?",
             "Which planet has the most moons?", "How do I train for a marathon?",
             "What year did the Berlin wall fall?", "Recommend a good science fiction novel")


def questions(off_topic: int) -> list[str]:
    """Blocks of ten: ``off_topic`` off-topic questions, then golden-set questions."""
    rows = [json.loads(r) for r in (ROOT / "examples" / "eval" / "golden.jsonl").read_text().splitlines() if r.strip()]
    golden = [r["question"] for r in rows if r.get("audience", "public") == "public" and r.get("answerable", True)]
    out: list[str] = []
    for block in range(len(golden)):
        out += [OFF_TOPIC[(block + i) % len(OFF_TOPIC)] for i in range(off_topic)]
        out += golden[block * (10 - off_topic):(block + 1) * (10 - off_topic)] or golden[:10 - off_topic]
    return out


async def client(session: Any, base: str, asked: list[str], progress: Progress, offset: int) -> None:
    async with session.post(f"{base}/v1/session", json={}, headers={"Origin": ORIGIN}) as response:
        token = (await response.json())["token"]
    headers = {"Origin": ORIGIN, "Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    n = offset
    while progress.done < progress.target:
        n += 1
        error = None
        try:
            async with session.post(f"{base}/v1/chat", json={"message": asked[n % len(asked)]},
                                    headers=headers) as response:
                if response.status != 200:
                    error = f"HTTP {response.status}"
                else:
                    body = await response.text()
                    if "event: error" in body:
                        error = "error event"
                    elif "event: done" not in body:
                        error = "no done event"
        except Exception as exc:  # a soak counts failures, it does not stop at the first
            error = type(exc).__name__
        if error:
            progress.errors[error] = progress.errors.get(error, 0) + 1
        if progress.done < progress.target:
            progress.done += 1
            if progress.done % progress.every == 0:
                progress.sample()


async def soak(base: str, args: argparse.Namespace, pid: int) -> Progress:
    import aiohttp

    progress = Progress(args.answers, args.every, pid)
    print(f"{'answers':>7} {'seconds':>8} {'fds':>5} {'threads':>7} {'RSS MB':>8} {'errors':>6}", flush=True)
    progress.sample()  # before the first answer
    progress.samples[0].answers = 0
    asked = questions(args.off_topic)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        await asyncio.gather(*(client(session, base, asked, progress, i * 7) for i in range(args.clients)))
    return progress


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--every", type=int, default=500, help="print resources every N answers")
    parser.add_argument("--workers", type=int, default=32, help="ASSISTANT_WEB_WORKERS of the server")
    parser.add_argument("--off-topic", type=int, default=0, choices=range(10),
                        help="in every 10 questions, this many off-topic ones that abstain (cheap)")
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "soak"), help="example index (built if absent)")
    parser.add_argument("--json", action="store_true", help="print the samples as one JSON object at the end")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return

    data_dir = Path(args.data_dir)
    ensure_index(data_dir)
    store = data_dir / f"soak-store-{os.getpid()}.sqlite"
    command = [sys.executable, __file__, "--serve", "--data-dir", str(data_dir), "--store", str(store),
               "--workers", str(args.workers), "--off-topic", str(args.off_topic)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        print(f"server pid {server.pid}: {args.clients} clients, {args.answers} answers, extractive backend,"
              f" {args.workers} workers, {args.off_topic} in 10 questions off-topic", flush=True)
        progress = asyncio.run(soak(f"http://127.0.0.1:{port}", args, server.pid))
    finally:
        server.terminate()
        server.wait(30)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)

    samples = progress.samples
    warm = samples[1] if len(samples) > 2 else samples[0]
    last = samples[-1]
    growth = {"fds": last.fds - warm.fds, "threads": last.threads - warm.threads,
              "rss_mb": round(last.rss_mb - warm.rss_mb, 1)}
    rate = last.answers / max(last.seconds, 1e-9)
    print(f"after warm-up ({warm.answers} answers) to {last.answers}: fds {growth['fds']:+d}, threads "
          f"{growth['threads']:+d}, RSS {growth['rss_mb']:+.1f} MB; {rate:.1f} answers/s;"
          f" errors {progress.errors or 0}")
    if args.json:
        print(json.dumps({"samples": [s.__dict__ for s in samples], "growth_after_warmup": growth,
                          "answers_per_s": round(rate, 2), "errors": progress.errors}, indent=2))


if __name__ == "__main__":
    main()
