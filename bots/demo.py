"""``assistant demo``: ingest the example corpus, then serve the widget, API and demo page.

Everything runs in this process with the embedded LLM (``local`` backend) unless
``ASSISTANT_LLM_BACKEND`` says otherwise, so the demo needs no server and no GPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "sources.yaml"


def demo(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    config: Annotated[Path, typer.Option("--config", "-c", help="sources file to ingest")] = EXAMPLES,
    skip_ingest: Annotated[bool, typer.Option("--skip-ingest", help="serve the index already published")] = False,
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
    serve(host=host, port=port)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
