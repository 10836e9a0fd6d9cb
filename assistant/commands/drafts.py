"""``assistant drafts mine|list|show|approve|reject``: turn recurring resolved tickets into articles."""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from typing import Annotated, Literal

import typer

from assistant.config import Settings, load_settings
from assistant.drafts import Draft, DraftStore, mine_drafts
from assistant.errors import ConfigError
from assistant.factory import build_store

drafts_app = typer.Typer(help="Draft help articles from resolved tickets; publish only what a person approves.",
                         no_args_is_help=True)


def _who() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return ""


def _drafts() -> tuple[DraftStore, Settings]:
    settings = load_settings()
    return DraftStore(build_store(settings)), settings


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "-"


@drafts_app.command("mine")
def mine_cmd(
    json_out: Annotated[bool, typer.Option("--json")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be drafted, store nothing")] = False,
) -> None:
    """Find recurring resolved-ticket topics the public help does not cover; store a draft for each."""
    from assistant.factory import build_embedder, build_llm
    from assistant.insights import open_generation, vector_cache_for

    settings = load_settings()
    store = DraftStore(build_store(settings))
    embedder = build_embedder(settings)
    generation = open_generation(settings, embedder)
    if generation is None:
        raise ConfigError("No published index to mine tickets from", hint="run `assistant ingest` first")
    cfg = settings.drafts
    llm = build_llm(settings, cfg.backend) if cfg.backend else None
    report = mine_drafts(generation, embedder, store, min_tickets=cfg.min_tickets,
                         coverage_threshold=cfg.coverage_threshold, cluster_distance=cfg.cluster_distance,
                         dry_run=dry_run, cache=vector_cache_for(settings), llm=llm,
                         brand=(settings.brand.product_name, settings.brand.tone))
    if json_out:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    typer.echo(f"{report.tickets} resolved tickets, {report.topics} recurring topics: {report.covered} covered by "
               f"public docs, {report.already_drafted} already drafted, {len(report.drafts)} new drafts"
               f"{' (dry run: nothing stored)' if dry_run else ''}")
    for draft in report.drafts:
        typer.echo(f"  {draft.id}  {draft.topic_size:>3} tickets  coverage {draft.coverage:.2f}  {draft.title}")


@drafts_app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option(help="pending, approved or rejected")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Drafts, newest first."""
    store, _ = _drafts()
    drafts = store.drafts(status)
    if json_out:
        typer.echo(json.dumps([_summary(d) for d in drafts], ensure_ascii=False))
        return
    if not drafts:
        typer.echo("no drafts" + (f" with status {status}" if status else "") + "; run `assistant drafts mine`")
    for d in drafts:
        typer.echo(f"{d.id}  {d.status:<8}  {d.topic_size:>3} tickets  coverage {d.coverage:.2f}  {d.title}")


def _summary(d: Draft) -> dict[str, object]:
    return {"id": d.id, "status": d.status, "title": d.title, "topic_size": d.topic_size, "coverage": d.coverage,
            "created_at": d.created_at, "decided_by": d.decided_by, "decided_at": d.decided_at}


@drafts_app.command("show")
def show_cmd(draft_id: str, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One draft: the article, its source tickets and its history."""
    store, _ = _drafts()
    d = store.get(draft_id)
    if json_out:
        typer.echo(json.dumps(d.to_dict(), ensure_ascii=False))
        return
    typer.echo(f"{d.id}  {d.status}  ({d.topic_size} tickets, best public coverage {d.coverage:.2f}"
               f"{f': {d.nearest_doc}' if d.nearest_doc else ''})\n")
    typer.echo(d.markdown("internal"))
    for e in d.events:
        typer.echo(f"{_when(e['at'])}  {e['action']:<8} by {e['actor']}  {e['detail']}")
    if d.reason:
        typer.echo(f"reason: {d.reason}")


@drafts_app.command("approve")
def approve_cmd(
    draft_id: str,
    audience: Annotated[Literal["public", "internal"], typer.Option(help="who may read the article")],
    by: Annotated[str, typer.Option(help="who approves (recorded)")] = "",
) -> None:
    """Publish the draft as Markdown in the curated source; the next ingest indexes it."""
    store, settings = _drafts()
    d = store.approve(draft_id, audience=audience, actor=by or _who(),
                      curated_dir=settings.drafts.curated_dir)
    typer.echo(f"approved {d.id} for {audience} by {d.decided_by}: wrote {d.path}")
    typer.echo("run `assistant ingest` to make it searchable")


@drafts_app.command("reject")
def reject_cmd(
    draft_id: str,
    reason: Annotated[str | None, typer.Option(help="why (recorded)")] = None,
    by: Annotated[str, typer.Option(help="who rejects (recorded)")] = "",
) -> None:
    """Reject the draft; mining will not propose the same tickets again."""
    store, _ = _drafts()
    d = store.reject(draft_id, actor=by or _who(), reason=reason)
    typer.echo(f"rejected {d.id} by {d.decided_by}" + (f": {d.reason}" if d.reason else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(drafts_app, name="drafts")
