"""``assistant serve``: the web API, the widget and the demo page (and any web mounts, e.g. Slack)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 to listen on all)."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Serve the HTTP API, the embeddable widget and a demo page from the published index."""
    import uvicorn

    from assistant.config import get_settings
    from assistant.factory import build_pipeline, build_store
    from bots.web.app import create_app, discover_mounts

    settings = get_settings()
    store = build_store(settings)
    pipeline = build_pipeline(settings, store=store)  # fails here, with a clear message, if no index
    app = create_app(settings, pipeline=pipeline, store=store, mounts=discover_mounts())
    typer.echo(f"Serving on http://{host}:{port}  (demo page: http://{host}:{port}/demo, API docs: /docs)")
    # proxy_headers off: the app applies ASSISTANT_WEB_TRUSTED_PROXIES itself (create_app), the same
    # way under any ASGI server.
    try:
        uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(),
                    proxy_headers=False, server_header=False)
    finally:  # the server has stopped taking requests: release workers, index and store connections
        pipeline.close(wait=False)
        store.close()
