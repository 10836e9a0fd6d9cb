"""The Slack bot in HTTP mode as deployed: the ``mount`` entry point on a FastAPI app served by
uvicorn on 127.0.0.1, its Web API client pointed at a :class:`FakeSlack` server."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from assistant.config import Settings
from assistant.store import Store
from bots.slack.mount import mount
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackRequests


def slack_settings(tmp_path: Path, fake: FakeSlack, *, channels: str | None = None, **slack: Any) -> Settings:
    if channels is not None:
        (tmp_path / "channels.yaml").write_text(channels, encoding="utf-8")
        slack["channels"] = tmp_path / "channels.yaml"
    section = {"api_url": fake.api_url, "update_interval_s": 0.1, **slack}
    return Settings(data_dir=tmp_path / "var", slack=section, SLACK_BOT_TOKEN=BOT_TOKEN,
                    SLACK_SIGNING_SECRET=SIGNING_SECRET)


@asynccontextmanager
async def _run_lifespan_hooks(app: FastAPI) -> AsyncIterator[None]:
    """What ``assistant serve`` does with ``app.state.lifespan_hooks`` (see bots/web/app.py)."""
    async with AsyncExitStack() as stack:
        for hook in app.state.lifespan_hooks:
            await stack.enter_async_context(hook(app))
        yield


class UvicornThread:
    """A real uvicorn server for ``app`` on a free loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class SlackHttpBot:
    """Send Slack's requests to ``POST /slack/events`` and read back what the bot did."""

    def __init__(self, settings: Settings, pipeline: Any, fake: FakeSlack, *, store: Store | None = None,
                 wrap: Callable[[Any], Any] | None = None) -> None:
        self.settings = settings
        self.fake = fake
        self.pipeline = pipeline
        self.store = store or Store(settings.store_path)
        if getattr(pipeline, "store", "absent") is None:
            pipeline.store = self.store  # the fake pipeline records turns like the real one
        self.app = FastAPI(lifespan=_run_lifespan_hooks)
        self.app.state.pipeline = pipeline
        self.app.state.lifespan_hooks = []
        mount(self.app, settings, self.store)
        self.slack = SlackRequests()
        self._server = UvicornThread(wrap(self.app) if wrap else self.app)  # wrap: e.g. a timing middleware
        self.http: httpx.Client | None = None

    def __enter__(self) -> SlackHttpBot:
        base = self._server.__enter__()
        self.http = httpx.Client(base_url=base, timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.http is not None:
            self.http.close()
        self._server.__exit__(*exc)

    def post(self, signed: tuple[str, dict[str, str]]) -> httpx.Response:
        assert self.http is not None
        body, headers = signed
        return self.http.post("/slack/events", content=body.encode(), headers=headers)

    def send_event(self, event: dict[str, Any], **kw: Any) -> httpx.Response:
        response = self.post(self.slack.event(event, **kw))
        assert response.status_code == 200, response.text
        return response
