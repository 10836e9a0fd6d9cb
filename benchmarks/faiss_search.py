"""Dense search as the server does it, at 1M/10M vectors, beside exact search with torch, same run.

For each size: random normalised 384-d vectors (all-MiniLM-L6-v2's shape), the index type the
ingest job would choose (``assistant.vectors.build_index``: flat up to ``--flat-max``, else
``--ann``), placed on the GPU the way the server places it (``vectors.load_index``, device auto);
then p50/p95 per query one at a time and per query in batches, beside exact inner-product search
with torch (a matmul + top-k on the same device), and the p95 of a whole question: embedding it
with the real model plus the search. Recall@10 of the index against exact search is printed too.

Targets (issue 12, H100/H200): p95 ≤ 10 ms per question including embedding it; anchor: exact
search over 10M×384 in 2.8 ms on an H100. On a machine without a GPU everything runs on CPU
(use small ``--sizes``; CI runs it that way through tests/integration/test_embed_fast.py).

Usage: python benchmarks/faiss_search.py [--sizes 1000000,10000000] [--queries 200] [--batch 64] [--ann ivf]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DIM = 384
K = 10


def random_unit(n: int, rng: np.random.Generator, chunk: int = 1_000_000) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, chunk):
        block = rng.standard_normal((min(chunk, n - start), DIM), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:start + len(block)] = block
    return out


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.asarray(samples_s) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3)}


def bench_size(n: int, *, queries: int, batch: int, ann: str, flat_max: int, embedder: Any,
               rng: np.random.Generator) -> dict[str, Any]:
    import torch

    from assistant import vectors

    data = random_unit(n, rng)
    # Queries near real data points, as real questions are near real passages.
    picks = rng.choice(n, queries, replace=False)
    q = data[picks] + 0.05 * rng.standard_normal((queries, DIM), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)

    t0 = time.perf_counter()
    index, kind = vectors.build_index(data, flat_max=flat_max, ann=ann)
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:  # through a file, as a published generation is
        path = Path(tmp) / "bench.faiss"
        vectors.save_index(index, path)
        del index
        index, placed = vectors.load_index(path, device="auto")

    device = "cuda" if torch.cuda.is_available() else "cpu"
    matrix = torch.from_numpy(data).to(device)
    if device == "cuda":
        matrix = matrix.half()  # 10M x 384 fp16 = 7.7 GB; exact search the way a GPU does it fast

    def exact(qs: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(qs).to(device)
        scores = t.to(matrix.dtype) @ matrix.T
        ids = torch.topk(scores, K, dim=1).indices
        return ids.cpu().numpy()

    vectors.search(index, q[:1], K)
    exact(q[:1])  # warm-up
    single, single_exact = [], []
    for i in range(queries):
        t0 = time.perf_counter()
        vectors.search(index, q[i:i + 1], K)
        single.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        exact(q[i:i + 1])
        single_exact.append(time.perf_counter() - t0)
    batched, batched_exact = [], []
    for start in range(0, queries, batch):
        part = q[start:start + batch]
        t0 = time.perf_counter()
        vectors.search(index, part, K)
        batched.append((time.perf_counter() - t0) / len(part))
        t0 = time.perf_counter()
        exact(part)
        batched_exact.append((time.perf_counter() - t0) / len(part))

    _, found = vectors.search(index, q, K)
    truth = exact(q)
    recall = float(np.mean([len(set(found[i]) & set(truth[i])) / K for i in range(queries)]))
    recall_1 = float(np.mean(found[:, 0] == truth[:, 0]))

    question = []
    texts = [f"How do I change the billing address on invoice {i}?" for i in range(min(queries, 100))]
    embedder.encode_query("warm-up")
    for text in texts:
        t0 = time.perf_counter()
        vec = embedder.encode_query(text)
        vectors.search(index, vec[None, :], K)
        question.append(time.perf_counter() - t0)

    return {"n": n, "index_kind": kind, "index_device": placed, "exact_device": device,
            "build_s": round(build_s, 2), "recall_at_10": round(recall, 4), "recall_at_1": round(recall_1, 4),
            "single": percentiles(single), "single_exact": percentiles(single_exact),
            "batched_per_query": percentiles(batched), "batched_exact_per_query": percentiles(batched_exact),
            "question_with_embedding": percentiles(question)}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000", help="comma-separated vector counts")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--ann", default="ivf", choices=["ivf", "hnsw"], help="index type above --flat-max")
    parser.add_argument("--flat-max", type=int, default=50_000, help="ASSISTANT_INDEX_FLAT_MAX")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from assistant.embeddings import Embedder

    embedder = Embedder()
    rng = np.random.default_rng(0)
    results = [bench_size(int(n), queries=args.queries, batch=args.batch, ann=args.ann, flat_max=args.flat_max,
                          embedder=embedder, rng=rng) for n in args.sizes.split(",")]
    if args.json:
        print(json.dumps(results))
        return results
    for r in results:
        print(f"{r['n']:>11,} vectors: {r['index_kind']} on {r['index_device']} (built {r['build_s']}s, "
              f"recall@1 {r['recall_at_1']}, recall@10 {r['recall_at_10']}); "
              f"exact search with torch on {r['exact_device']}")
        print(f"    one query:   index p95 {r['single']['p95_ms']} ms   "
              f"exact p95 {r['single_exact']['p95_ms']} ms")
        print(f"    batch {args.batch}:   index p95 {r['batched_per_query']['p95_ms']} ms/query   exact p95 "
              f"{r['batched_exact_per_query']['p95_ms']} ms/query")
        print(f"    question (embed + search) p95 {r['question_with_embedding']['p95_ms']} ms (target <= 10 ms on GPU)")
    return results


if __name__ == "__main__":
    main()
