"""The real retriever shared by many threads answers exactly as it does alone.

A server runs retrieval on every worker of its pool at once: the embedding model's fast
tokenizer ("Already borrowed" when two threads use it), FAISS and the SQLite connections of
one generation are all shared. 16 threads x 25 questions must give the serial results.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.config import Settings
from assistant.factory import build_retriever
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

THREADS = 16
PER_THREAD = 25


def _questions() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (REPO_ROOT / "examples/eval/golden.jsonl").read_text().splitlines() if line]
    picked = [(r["question"], r.get("audience", "public")) for r in rows][:PER_THREAD]
    assert len(picked) == PER_THREAD
    return picked


def test_sixteen_threads_get_the_same_results_as_a_serial_run(example_index: Settings, embedder) -> None:
    retriever = build_retriever(example_index, embedder=embedder)
    questions = _questions()

    def run(question: str, audience: str) -> tuple[list[str], float]:
        result = retriever.search(question, audience=audience)  # type: ignore[arg-type]
        return [p.chunk.chunk_id for p in result.passages], round(result.best_dense, 5)

    serial = [run(q, a) for q, a in questions]
    assert all(ids for ids, _ in serial)

    start = threading.Barrier(THREADS)

    def worker(offset: int) -> list[tuple[int, tuple[list[str], float]]]:
        start.wait()  # all threads begin together, so calls really overlap
        out = []
        for i in range(PER_THREAD):
            n = (i + offset) % PER_THREAD  # each thread walks the list from a different place
            out.append((n, run(*questions[n])))
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        results = [item for part in pool.map(worker, range(THREADS)) for item in part]

    assert len(results) == THREADS * PER_THREAD
    mismatches = [(questions[n][0], got, serial[n]) for n, got in results if got != serial[n]]
    assert mismatches == []
