"""Answer quality per backend on golden sets: the measurement behind the default backend.

Runs each question set through each backend with the real pipeline (retrieval, abstention, the
grounding guard on generating backends) and prints one row per (set, backend) with the answer
metrics of ``assistant eval`` (answer_correct, fact_recall, invented_rate, unsupported_rate,
leak_rate), abstention, what the guard dropped and the answer latency. Each set is read from an
index already built by ``assistant ingest`` (``--set NAME=DATA_DIR:DATASET``)::

    python benchmarks/answers.py \\
        --set examples=var:examples/eval/golden.jsonl \\
        --set httpd=/tmp/httpd-data:../shared/datasets/httpd/questions.jsonl \\
        --backend extractive --backend local --limit local=20 --out answers.json

``--limit BACKEND=N`` answers only the first N questions of each set with that backend (SmolLM2
takes 5-20 s an answer on two shared cores); the row says how many were run. The default
backend is the one with the highest answer_correct among those with invented_rate <= 0.02.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

METRICS = ("answer_correct", "fact_recall", "fact_in_opening", "invented_rate", "unsupported_rate", "leak_rate")
MAX_INVENTED = 0.02


def run_set(name: str, data_dir: Path, dataset: Path, backend: str, limit: int | None) -> dict[str, Any]:
    from assistant import factory
    from assistant.config import Settings
    from assistant.evaluation import load_dataset, run_evaluation

    settings = Settings(data_dir=data_dir)
    cases = load_dataset(dataset)
    if limit:
        cases = cases[:limit]
    embedder = factory.build_embedder(settings)
    retriever = factory.build_retriever(settings, embedder=embedder)
    pipeline = factory.build_pipeline(settings, backend=backend, retriever=retriever)
    started = time.perf_counter()
    report = run_evaluation(cases, retriever=retriever, pipeline=pipeline, backend=backend, dataset=str(dataset),
                            abstain_threshold=settings.retrieval.abstain_threshold,
                            progress=lambda n: print(f"\r{name}/{backend}: {n}/{len(cases)}", end="",
                                                     file=sys.stderr, flush=True))
    print(file=sys.stderr)
    answer = report["latency_ms"]["answer"] or {}
    return {
        "set": name, "backend": backend, "questions": len(cases), "answerable": report["answerable"],
        **{m: report.get(m) for m in METRICS},
        "abstention_recall": report.get("abstention_recall"), "recall@5": report.get("recall@5"),
        "guard": report.get("grounding"), "answer_ms_p50": answer.get("p50"), "answer_ms_p95": answer.get("p95"),
        "seconds": round(time.perf_counter() - started, 1),
        "per_question": [{k: q.get(k) for k in ("line", "answer", "missing_facts", "invented", "abstained")}
                         for q in report["per_question"]],
    }


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--set", action="append", required=True, help="NAME=DATA_DIR:DATASET")
    parser.add_argument("--backend", action="append", required=True)
    parser.add_argument("--limit", action="append", default=[], help="BACKEND=N questions per set")
    parser.add_argument("--out", type=Path, help="write all rows (with per-question answers) as JSON")
    args = parser.parse_args(argv)
    limits = {k: int(v) for k, v in (item.split("=", 1) for item in args.limit)}
    rows = []
    for spec in args.set:
        name, _, rest = spec.partition("=")
        data_dir, _, dataset = rest.partition(":")
        for backend in args.backend:
            rows.append(run_set(name, Path(data_dir), Path(dataset), backend, limits.get(backend)))
    header = ["set", "backend", "questions", *METRICS, "guard dropped/checked", "fell back", "answer p50 ms"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        guard = row["guard"] or {}
        print("| " + " | ".join([row["set"], row["backend"], str(row["questions"]),
                                 *(_fmt(row[m]) for m in METRICS),
                                 f"{guard.get('dropped', 0)}/{guard.get('checked', 0)}", str(guard.get("fell_back", 0)),
                                 _fmt(row["answer_ms_p50"])]) + " |")
    for name in dict.fromkeys(row["set"] for row in rows):
        eligible = [r for r in rows if r["set"] == name and (r["invented_rate"] or 0) <= MAX_INVENTED]
        if eligible:
            best = max(eligible, key=lambda r: r["answer_correct"] or 0)
            print(f"{name}: highest answer_correct at invented_rate <= {MAX_INVENTED}: {best['backend']}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
