"""``assistant insights``: how the assistant is doing over a period, for people who run support."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from assistant.config import load_settings
from assistant.factory import build_store
from assistant.insights import CHANNELS, Period, insights_from_settings
from assistant.insights_html import render_report


def insights_cmd(
    since: Annotated[str, typer.Option(help="start: a duration back from --until (7d, 12h, 2w) or a date")] = "7d",
    until: Annotated[str | None, typer.Option(help="end: a date/time or a duration back from now; default now")]
    = None,
    channel: Annotated[str | None, typer.Option(help=f"only one channel: {', '.join(CHANNELS)}")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON on the last line")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="also write a self-contained HTML report here")]
    = None,
    gaps: Annotated[bool, typer.Option("--gaps/--no-gaps", help="group failed questions (loads the model)")]
    = True,
) -> None:
    """Volumes, deflection, feedback, hand-offs, latency, cited documents and coverage gaps."""
    settings = load_settings()
    period = Period.parse(since, until)
    store = build_store(settings)
    report = insights_from_settings(settings, store, period, channel=channel, gaps=gaps)
    data = report.to_dict()
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_report(data, product=settings.brand.product_name), encoding="utf-8")
    if json_out:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    q = report.questions
    typer.echo(f"{period.label()}{f'  channel {channel}' if channel else ''}")
    typer.echo(f"questions {q}  answered {report.answered}  declined {report.abstained}  "
               f"fell back {report.fallback}")
    typer.echo(f"👍 {report.feedback['up']}  👎 {report.feedback['down']}  hand-offs {report.handoffs}  "
               f"deflection {100 * report.deflection_rate:.0f}%")
    typer.echo(f"latency p50 {report.latency_ms['p50']} ms  p95 {report.latency_ms['p95']} ms")
    for n, gap in enumerate(report.gaps[:5], 1):
        near = gap["nearest_docs"][0] if gap["nearest_docs"] else None
        near_text = f"  nearest: {near['title']} ({near['similarity']:.2f})" if near else ""
        typer.echo(f"gap {n}: {gap['size']} questions, e.g. {gap['examples'][0]!r}{near_text}")
    if html is not None:
        typer.echo(f"report written to {html}")


def register(app: typer.Typer) -> None:
    app.command("insights")(insights_cmd)
