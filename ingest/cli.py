"""``assistant ingest``: registered through the ``assistant.commands`` entry point."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.config import BrandSettings, load_settings
from assistant.errors import AssistantError
from assistant.factory import build_embedder
from ingest.interrupts import Interrupts

log = logging.getLogger(__name__)


class RichProgress:
    """Progress bars on stderr, so stdout stays clean for ``--json``."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=Console(stderr=True), transient=False)
        self._task: Any = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, phase: str, total: int | None) -> None:
        if self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, total=task.completed or task.total)
        self._task = self._progress.add_task(phase, total=total)

    def advance(self, done: int) -> None:
        self._progress.update(self._task, completed=done)


class LogProgress:
    """Without a terminal (cron, systemd, CI): a log line as each phase starts, and one every
    ``every_s`` seconds while it runs ("embedding: 4,096 of 13,352 (31%)"), so a run's log shows
    where it was when it stopped. Embedding a 1,169-page manual took 8 minutes on 2 cores: one line
    at its start was 8 minutes of silence."""

    def __init__(self, *, every_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self.clock = clock
        self.phase = ""
        self.total: int | None = None
        self.last = 0.0

    def start(self, phase: str, total: int | None) -> None:
        self.phase, self.total, self.last = phase, total, self.clock()
        log.info("%s%s", phase, f" ({total:,} items)" if total is not None else "")

    def advance(self, done: int) -> None:
        now = self.clock()
        if now - self.last < self.every_s:
            return
        self.last = now
        share = f" ({done / self.total:.0%})" if self.total else ""
        log.info("%s: %s%s%s", self.phase, f"{done:,}", f" of {self.total:,}" if self.total else "", share)


@contextlib.contextmanager
def _progress(*, quiet: bool) -> Iterator[RichProgress | LogProgress | None]:
    """Progress bars on a terminal, phase lines in a log (both on stderr), nothing with --quiet."""
    if quiet:
        yield None
    elif sys.stderr.isatty():
        with RichProgress() as bars:
            yield bars
    else:
        yield LogProgress()


EXAMPLE_SOURCES = Path(__file__).resolve().parents[1] / "examples" / "sources.yaml"


def brand_reminder(brand: BrandSettings, sources: Path) -> str | None:
    """A line for whoever indexes their own documents with the demo's brand still set: every
    answer would name "Ledgerly" ("Here is what the Ledgerly help material says about this")."""
    demo = BrandSettings()
    if (brand.product_name, brand.company_name) != (demo.product_name, demo.company_name):
        return None
    if sources.resolve() == EXAMPLE_SOURCES:
        return None
    return (f"answers will speak for the demo's product, \"{demo.product_name}\": set ASSISTANT_BRAND_PRODUCT_NAME, "
            "ASSISTANT_BRAND_COMPANY_NAME and ASSISTANT_BRAND_ESCALATION_CONTACT to yours (README, Configuration)")


def _summary(report: Any) -> str:
    d, t, c = report.documents, report.tickets, report.chunks
    lines = [
        f"generation {report.generation or '-'} {'published' if report.published else 'NOT published'}"
        f" in {report.seconds:.1f}s",
        f"documents: +{d.added} ~{d.updated} -{d.removed} ={d.unchanged} failed {d.failed}"
        f" (kept from the last run: {d.kept_stale}) skipped (only links) {d.skipped}",
        f"tickets:   +{t.added} ~{t.updated} -{t.removed} ={t.unchanged} failed {t.failed}"
        f" (kept from the last run: {t.kept_stale}) skipped (unresolved) {t.skipped}",
        f"chunks:    {c.total} total, {c.embedded} embedded, {c.reused} reused, {c.boilerplate} repeated copies"
        " not searchable;"
        f" public {report.audiences.get('public', 0)}, internal {report.audiences.get('internal', 0)}",
    ]
    if report.redactions:
        lines.append("redacted:  " + ", ".join(f"{k} {v}" for k, v in sorted(report.redactions.items())))
    for f in report.failures[:50]:
        lines.append(f"  skipped {f.path}{f' row {f.row}' if f.row else ''}: {f.reason}")
    if len(report.failures) > 50:
        lines.append(f"  ... and {len(report.failures) - 50} more (see the JSON report)")
    if report.message and not report.published:
        lines.append(report.message)
    return "\n".join(lines)


def ingest(
    config: Annotated[Path, typer.Option("--config", "-c", help="sources.yaml describing what to ingest")],
    json_out: Annotated[bool, typer.Option("--json", help="print the run report as one JSON line last")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars, warnings only")] = False,
    engine: Annotated[str, typer.Option("--engine", help="local (this process) or ray (Ray tasks + actor pool)")]
    = "local",
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="Ray cluster to join with --engine ray (default: start a local Ray)")] = None,
) -> None:
    """Build a new index generation from the sources file and publish it atomically."""
    from ingest.jobs import IngestAborted, IngestReport, run_ingest

    settings = load_settings()
    # --json keeps stdout for the report; the log (stderr) still shows where the run is: every deploy
    # file runs the nightly job with --json, and its log was silent until the end.
    logging.getLogger().setLevel(logging.WARNING if quiet else logging.INFO)
    for noisy in ("faiss", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    embedder = build_embedder(settings)
    aborted: list[IngestReport] = []
    interrupts = Interrupts()
    try:
        with interrupts.installed(), _progress(quiet=quiet) as progress:
            report = run_ingest(settings, config, embedder=embedder, progress=progress, on_abort=aborted.append,
                                engine=engine, ray_address=ray_address, interrupts=interrupts)
    except KeyboardInterrupt:
        if json_out and aborted:
            typer.echo(json.dumps(aborted[0].model_dump(mode="json")))
        name = signal.Signals(interrupts.signum or signal.SIGINT).name
        message = aborted[0].message if aborted else "interrupted: nothing was published"
        typer.secho(f"{name}: {message}", err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(interrupts.exit_code) from None
    except IngestAborted as exc:
        if json_out:
            typer.echo(json.dumps(aborted[0].model_dump(mode="json")))
        elif aborted:
            typer.echo(_summary(aborted[0]), err=True)
        typer.secho(f"error: {exc.message}", err=True, fg=typer.colors.RED)
        if exc.hint:
            typer.secho(f"hint: {exc.hint}", err=True)
        raise typer.Exit(1) from None
    except AssistantError:
        raise
    reminder = brand_reminder(settings.brand, config) if report.published else None
    if reminder:
        log.warning("brand: %s", reminder)
    if json_out:
        typer.echo(json.dumps(report.model_dump(mode="json")))
    elif not quiet:
        typer.echo(_summary(report) + (f"\nnote: {reminder}" if reminder else ""))


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
