"""``assistant eval``: run a question set through retrieval and answering, write JSON + HTML reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

BACKENDS = ("tgi", "openai", "local", "extractive")


def _print_summary(report: dict[str, Any], out_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{report['questions']} questions · generation {report['generation']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "abstention_precision",
                 "abstention_recall", "citation_validity", "answer_correct", "fact_recall", "fact_in_opening",
                 "invented_rate", "unsupported_rate", "leak_rate"):
        value = report.get(name)
        table.add_row(name, "–" if value is None else f"{value:.3f}")
    for stage, values in report["latency_ms"].items():
        if values:
            table.add_row(f"{stage} ms p50/p95/p99", f"{values['p50']:.0f} / {values['p95']:.0f} / {values['p99']:.0f}")
    console.print(table)
    calibration = report.get("calibration")
    if calibration:
        console.print(f"calibrated abstain threshold: {calibration['threshold']:.3f} (F1 {calibration['f1']}) — "
                      f"configured {report['abstain_threshold']:.3f}")
    for warning in report.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {warning}")
    console.print(f"report: {out_dir / 'report.html'}")


def _print_comparison(rows: list[dict[str, Any]], *, to_stderr: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=to_stderr)
    table = Table(title="compared with the previous report")
    for column in ("metric", "previous", "current", "delta", ""):
        table.add_column(column, justify="left" if column in ("metric", "") else "right")

    def fmt(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"

    for row in rows:
        table.add_row(row["metric"], fmt(row["previous"]), fmt(row["current"]),
                      ("+" if (row["delta"] or 0) > 0 else "") + fmt(row["delta"]),
                      "[red]REGRESSED[/red]" if row["regressed"] else "")
    console.print(table)


def eval_command(
    dataset: Annotated[Path, typer.Option("--dataset", help="JSONL question set")],
    backend: Annotated[str | None, typer.Option(help="tgi | openai | local | extractive")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
    compare: Annotated[Path | None, typer.Option(help="report.json of an earlier run to compare with")] = None,
    out: Annotated[Path, typer.Option(help="directory for report.json and report.html")] = Path("eval-report"),
    retrieval_only: Annotated[bool, typer.Option(
        "--retrieval-only", help="skip answering; abstention from the retrieval score and threshold")] = False,
    fail_on_regression: Annotated[bool, typer.Option(help="exit 1 when --compare finds a regression")] = False,
) -> None:
    """Score retrieval (recall@k, MRR, nDCG), abstention, citations, answers (facts, invented terms,
    unsupported sentences, prompt leaks) and latency on a question set."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from assistant import factory
    from assistant.config import load_settings
    from assistant.errors import ConfigError
    from assistant.eval_report import compare_reports, load_report, write_report
    from assistant.evaluation import load_dataset, run_evaluation

    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"Unknown backend {backend!r}", hint="use one of: " + ", ".join(BACKENDS))
    cases = load_dataset(dataset)
    previous = load_report(compare) if compare else None
    settings = load_settings()
    embedder = factory.build_embedder(settings)
    retriever = factory.build_retriever(settings, embedder=embedder)
    pipeline = None
    if not retrieval_only:
        pipeline = factory.build_pipeline(settings, backend=backend, retriever=retriever)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("evaluating", total=len(cases))
        report = run_evaluation(cases, retriever=retriever, pipeline=pipeline,
                                backend=backend or settings.llm.backend, dataset=str(dataset),
                                abstain_threshold=settings.retrieval.abstain_threshold,
                                progress=lambda n: bar.update(task, completed=n))
    comparison = compare_reports(report, previous) if previous else None
    if comparison is not None:
        report["comparison"] = comparison
    write_report(report, out, comparison)
    if as_json:
        sys.stdout.write(json.dumps(report, default=str) + "\n")
        if comparison:
            _print_comparison(comparison, to_stderr=True)
    else:
        _print_summary(report, out)
        if comparison:
            _print_comparison(comparison, to_stderr=False)
    if fail_on_regression and comparison and any(r["regressed"] for r in comparison):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
