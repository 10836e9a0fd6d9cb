"""``assistant index list|rollback``: inspect and move the published generation."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from assistant import generations
from assistant.config import load_settings

index_app = typer.Typer(help="List index generations and roll back to an earlier one.", no_args_is_help=True)


@index_app.command("list")
def list_cmd(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show kept generations, newest first; * marks the published one."""
    settings = load_settings()
    gens = generations.list_generations(settings.data_dir)
    if json_out:
        typer.echo(json.dumps([
            {"generation": g.id, "current": g.current, "complete": g.complete,
             "created_at": g.manifest.get("created_at"), "chunks": g.manifest.get("counts", {}).get("chunks"),
             "model": g.manifest.get("embedding", {}).get("model")} for g in gens
        ]))
        return
    if not gens:
        typer.echo(f"no generations in {generations.generations_dir(settings.data_dir)}")
        return
    for g in gens:
        chunks = g.manifest.get("counts", {}).get("chunks", {})
        detail = (f"{g.manifest.get('created_at', '?')}  public {chunks.get('public', 0):>6}"
                  f"  internal {chunks.get('internal', 0):>6}" if g.complete else "incomplete")
        typer.echo(f"{'*' if g.current else ' '} {g.id}  {detail}")


@index_app.command("rollback")
def rollback_cmd(
    generation: Annotated[str | None, typer.Argument(help="generation id; default: the one before")] = None,
) -> None:
    """Publish an earlier generation; running servers switch to it on their next query."""
    settings = load_settings()
    before = generations.current_id(settings.data_dir)
    target = generations.rollback(settings.data_dir, generation)
    typer.echo(f"published {target} (was {before})")


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
