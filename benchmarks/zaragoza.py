"""Retrieval benchmark on the public Zaragoza construction FAQ (503 English Q/A pairs, CC-BY-4.0).

The 503 answers are indexed as public one-chunk documents into a temporary generation (the
same files ingestion writes); the 503 questions are asked, and each must find its own answer.
Prints recall@1/5/10 and MRR@10 for dense-only, keyword-only and hybrid retrieval, plus a
small sweep of the fusion weights.

    python benchmarks/zaragoza.py [--sweep]

Dense-only all-MiniLM-L6-v2 is reported at about recall@5 0.81 and MRR@10 0.67 on this set.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODES = ("dense", "keyword", "hybrid")


class QueryCache:
    """Embeds each question once, however many retrieval modes ask it (503 × modes on a CPU adds up)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.cache: dict[str, Any] = {}

    def encode_query(self, text: str) -> Any:
        if text not in self.cache:
            self.cache[text] = self.embedder.encode_query(text)
        return self.cache[text]


def run(data_dir: Path, *, embedder: Any = None, sweep: bool = False) -> dict[str, dict[str, Any]]:
    """Index the answers under ``data_dir`` and score each retrieval mode; returns metrics by row name."""
    from assistant.config import RetrievalSettings
    from assistant.embeddings import Embedder
    from assistant.eval_datasets import load_zaragoza, write_generation, zaragoza_chunks, zaragoza_dataset
    from assistant.evaluation import parse_dataset, run_evaluation
    from assistant.index import IndexHandle
    from assistant.retrieval import HybridRetriever

    embedder = embedder or Embedder(device="cpu")
    items = load_zaragoza()
    chunks = zaragoza_chunks(items, model_id=embedder.model_id)
    t0 = time.perf_counter()
    write_generation(data_dir, chunks, embedder.encode([c.embed_text for c in chunks]), model_id=embedder.model_id)
    index_s = time.perf_counter() - t0
    cases = parse_dataset([__import__("json").dumps(line) for line in zaragoza_dataset(items)], name="zaragoza")
    handle = IndexHandle(data_dir, model_id=embedder.model_id)
    queries = QueryCache(embedder)
    # The abstention threshold plays no part in a retrieval benchmark: every question is answerable.
    rows: list[tuple[str, RetrievalSettings]] = [(mode, RetrievalSettings(mode=mode)) for mode in MODES]
    rows[-1] = ("hybrid (defaults)", rows[-1][1])
    if sweep:
        for keyword_w, rrf_k in ((1.0, 60), (0.5, 60), (1.0, 20), (0.5, 10), (0.3, 5), (0.5, 2)):
            rows.append((f"hybrid w_k={keyword_w} rrf_k={rrf_k}",
                         RetrievalSettings(keyword_weight=keyword_w, exact_keyword_weight=keyword_w, rrf_k=rrf_k)))
    results: dict[str, dict[str, Any]] = {}
    for name, settings in rows:
        retriever = HybridRetriever(handle, queries, settings)
        report = run_evaluation(cases, retriever=retriever, abstain_threshold=0.0, dataset="zaragoza")
        results[name] = {k: report[k] for k in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")}
    results["_meta"] = {"documents": len(chunks), "questions": len(cases), "index_seconds": round(index_s, 1),
                        "model": embedder.model_id}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", action="store_true", help="also try other fusion weights and rrf_k")
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory() as tmp:
        results = run(Path(tmp), sweep=args.sweep)
    meta = results.pop("_meta")
    table = Table(title=f"Zaragoza FAQ: {meta['questions']} questions over {meta['documents']} answers "
                        f"({meta['model']}, indexed in {meta['index_seconds']} s)")
    for column in ("retrieval", "recall@1", "recall@5", "recall@10", "MRR@10", "nDCG@10"):
        table.add_column(column, justify="left" if column == "retrieval" else "right", no_wrap=True)
    for name, m in results.items():
        table.add_row(name, *(f"{m[k]:.3f}" for k in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")))
    table.add_row("reported dense MiniLM", "", "0.81", "", "0.67", "")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
