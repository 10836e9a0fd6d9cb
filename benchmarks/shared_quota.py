"""Shared quota across replicas: exactness and the cost of a Redis round trip per limit check.

Starts a throwaway ``redis-server`` on loopback. Two "replicas" (two independent
``SharedState`` objects, each with its own connection pool) send ``--requests`` hits from
``--threads`` threads against one daily quota of ``--quota``: exactly ``--quota`` must be
accepted. Then the per-hit latency of the Redis-backed window beside the in-process sliding
window, same run. (The end-to-end version with two ``assistant serve`` processes is the test
``tests/integration/test_shared_state_redis.py``.)

Usage: python benchmarks/shared_quota.py [--requests 200] [--quota 100] [--threads 16] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--quota", type=int, default=100)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--latency-hits", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from assistant.shared_state import SharedState
    from bots.web.ratelimit import SlidingWindow
    from tests.integration.services import redis_server

    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as url:
        replicas = [SharedState(url), SharedState(url)]
        quotas = [r.daily("bench:daily", args.quota) for r in replicas]
        with ThreadPoolExecutor(args.threads) as pool:
            results = list(pool.map(lambda n: quotas[n % 2].hit("203.0.113.7") is None, range(args.requests)))
        accepted = sum(results)

        shared = replicas[0].window("bench:window", 10**9, 60)
        local = SlidingWindow(10**9, 60)

        def timed(limit: object) -> list[float]:
            out = []
            for n in range(args.latency_hits):
                t0 = time.perf_counter()
                limit.hit(f"k{n % 50}")  # type: ignore[attr-defined]
                out.append(time.perf_counter() - t0)
            return out

        redis_s, memory_s = timed(shared), timed(local)
        for r in replicas:
            r.close()

    def pct(samples: list[float], q: int) -> float:
        return round(float(np.percentile(np.asarray(samples) * 1000, q)), 4)

    result = {"requests": args.requests, "quota": args.quota, "accepted": accepted, "exact": accepted == args.quota,
              "redis_hit_p50_ms": pct(redis_s, 50), "redis_hit_p95_ms": pct(redis_s, 95),
              "memory_hit_p50_ms": pct(memory_s, 50), "memory_hit_p95_ms": pct(memory_s, 95)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"two replicas, {args.requests} requests from {args.threads} threads against a quota of {args.quota}: "
          f"{accepted} accepted ({'exact' if result['exact'] else 'WRONG'})")
    print(f"limit check: Redis p50 {result['redis_hit_p50_ms']} ms / p95 {result['redis_hit_p95_ms']} ms, "
          f"in-process p50 {result['memory_hit_p50_ms']} ms / p95 {result['memory_hit_p95_ms']} ms")


if __name__ == "__main__":
    main()
