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


@index_app.command("push")
def push_cmd(
    url: Annotated[str, typer.Argument(help="fsspec URL to publish to, e.g. s3://bucket/assistant or a directory")],
) -> None:
    """Upload the published generation to object storage for replicas that sync (README: Scaling out)."""
    from assistant import index_sync

    settings = load_settings()
    typer.echo(f"pushed {index_sync.push(settings.data_dir, url)} to {url}")


@index_app.command("sync")
def sync_cmd(
    url: Annotated[str, typer.Argument(help="fsspec URL that `assistant index push` publishes to")],
    every: Annotated[float, typer.Option("--every", help="keep syncing every N seconds (0: once)")] = 0.0,
    keep: Annotated[int, typer.Option("--keep", help="generations kept locally")] = 2,
) -> None:
    """Download the generation published at URL into ASSISTANT_DATA_DIR and publish it locally."""
    import logging
    import time

    from assistant import index_sync
    from assistant.errors import AssistantError

    settings = load_settings()
    while True:
        try:
            gen = index_sync.sync(url, settings.data_dir, keep=keep)
            typer.echo(f"serving {gen or 'nothing yet'} from {url}")
        except AssistantError as exc:
            if not every:
                raise
            logging.getLogger(__name__).warning("sync from %s failed, keeping the current generation: %s",
                                                url, exc)
        except OSError as exc:  # storage unreachable: keep serving what is here, try again
            if not every:
                raise AssistantError(f"Cannot read {url}", hint="check the URL and credentials",
                                     detail=str(exc)) from exc
            logging.getLogger(__name__).warning("sync from %s failed: %s", url, exc)
        if not every:
            return
        time.sleep(every)


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
