"""``assistant demo``: ingest the example corpus, then serve the widget, API and demo page.

Everything runs in this process with the default backend (``extractive``: no LLM, nothing to build)
unless ``ASSISTANT_LLM_BACKEND`` says otherwise (``local`` runs SmolLM2 in process), so the demo needs
no server and no GPU.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ingest.cli import EXAMPLE_SOURCES as EXAMPLES


def demo(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    config: Annotated[Path, typer.Option("--config", "-c", help="sources file to ingest")] = EXAMPLES,
    skip_ingest: Annotated[bool, typer.Option("--skip-ingest", help="serve the index already published")] = False,
    seed_store: Annotated[bool, typer.Option(
        "--seed-store", help="fill an empty store with a month of example traffic (for /admin and insights)")] = False,
) -> None:
    """Ingest examples/ (incrementally) into ASSISTANT_DATA_DIR and serve http://HOST:PORT/demo."""
    from assistant.config import get_settings
    from bots.web.cli import serve
    from ingest.cli import ingest

    if not config.is_file():
        raise typer.BadParameter(f"{config} not found; run from a checkout of the repository or pass --config")
    # The demo page is served by this server, so its own origin must be allowed to call the API.
    origins = {o for o in os.environ.get("ASSISTANT_ALLOWED_ORIGINS", "").split(",") if o}
    origins |= {f"http://{host}:{port}", f"http://localhost:{port}", f"http://127.0.0.1:{port}"}
    os.environ["ASSISTANT_ALLOWED_ORIGINS"] = ",".join(sorted(origins))
    get_settings.cache_clear()
    if not skip_ingest:
        typer.echo(f"Ingesting {config} into {get_settings().data_dir} ...", err=True)
        ingest(config=config, json_out=False, quiet=False)
    if seed_store:
        _seed_store(config.parent / "tools" / "make_store.py")
    if get_settings().admin_token is not None:
        typer.echo(f"Admin page: http://{host}:{port}/admin (sign in with ASSISTANT_ADMIN_TOKEN)", err=True)
    serve(host=host, port=port)


def _seed_store(script: Path) -> None:
    """examples/tools/make_store.py's month of traffic, only into a store that has no answers yet."""
    import importlib.util

    from assistant.config import get_settings
    from assistant.store import Store

    settings = get_settings()
    store = Store(settings.store_path)
    with store._connect() as db:  # one read to keep a real store's history from being mixed with examples
        if db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]:
            typer.echo("The store already has answers: not seeding it.", err=True)
            return
    spec = importlib.util.spec_from_file_location("make_store", script)
    if spec is None or spec.loader is None or not script.is_file():
        raise typer.BadParameter(f"{script} not found; run from a checkout of the repository")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_store", module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    summary = module.seed_store(store, index_dir=settings.data_dir)
    typer.echo(f"Seeded {summary.questions} example questions over 30 days into {settings.store_path}", err=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
