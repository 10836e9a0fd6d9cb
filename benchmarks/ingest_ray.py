"""Ray engine overhead: ``--engine ray`` vs ``--engine local`` on the same corpus, same run.

Both engines ingest examples/ scaled up (``benchmarks/ingest.py``'s corpus) into fresh data
dirs, one after the other; the ratio is Ray's total time (``ray.init`` on this machine
included, as an operator pays it) over the local engine's. Target on a 2-core machine: ≤ 1.3.
The two generations are compared too: same chunk ids, vectors within 1e-5.

Usage: python benchmarks/ingest_ray.py [--copies 4] [--cpus 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def published_chunks(data_dir: Path) -> tuple[list[str], np.ndarray]:
    current = (data_dir / "CURRENT").read_text().strip()
    con = sqlite3.connect(f"file:{data_dir / 'generations' / current / 'chunks.sqlite'}?mode=ro", uri=True)
    rows = con.execute("SELECT chunk_id, vector FROM chunks ORDER BY chunk_id").fetchall()
    con.close()
    return [r[0] for r in rows], np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs the local Ray may use")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from assistant.config import Settings
    from assistant.embeddings import Embedder
    from benchmarks.ingest import scale_corpus
    from ingest.jobs import run_ingest
    from ingest.ray_engine import ray_session

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        scale_corpus(tmpdir / "kb", args.copies)
        sources = tmpdir / "kb" / "sources.yaml"
        embedder = Embedder()
        embedder.encode(["warm-up so model loading is in neither measurement"])

        local_settings = Settings(data_dir=tmpdir / "local", _env_file=None)
        t0 = time.perf_counter()
        local = run_ingest(local_settings, sources, embedder=embedder)
        local_s = time.perf_counter() - t0

        ray_settings = Settings(data_dir=tmpdir / "ray", _env_file=None)
        t0 = time.perf_counter()
        with ray_session(None, num_cpus=args.cpus):
            init_s = time.perf_counter() - t0
            ray_report = run_ingest(ray_settings, sources, embedder=embedder, engine="ray")
            ray_s = time.perf_counter() - t0

        ids_local, vec_local = published_chunks(local_settings.data_dir)
        ids_ray, vec_ray = published_chunks(ray_settings.data_dir)
        same_ids = ids_local == ids_ray
        max_diff = float(np.abs(vec_local - vec_ray).max()) if same_ids else float("nan")

    result = {
        "chunks": local.chunks.total,
        "local_s": round(local_s, 2),
        "ray_s": round(ray_s, 2),
        "ray_init_s": round(init_s, 2),
        "ratio": round(ray_s / local_s, 3),
        "ratio_without_init": round((ray_s - init_s) / local_s, 3),
        "target": 1.3,
        "same_chunk_ids": same_ids,
        "max_vector_diff": max_diff,
        "local_timings": local.timings,
        "ray_timings": ray_report.timings,
        "cpus": args.cpus,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"examples/ x{args.copies}: {result['chunks']} chunks, Ray on {args.cpus} CPUs")
    print(f"local engine {local_s:.1f}s; ray engine {ray_s:.1f}s (ray.init {init_s:.1f}s): ratio "
          f"{result['ratio']:.3f} (target <= 1.3), {result['ratio_without_init']:.3f} without ray.init")
    print(f"identical output: same chunk ids {same_ids}, max vector difference {max_diff:.2e}")
    print(f"stage timings local {local.timings} ray {ray_report.timings}")


if __name__ == "__main__":
    main()
