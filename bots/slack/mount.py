"""HTTP mode: ``assistant serve`` answers Slack at ``POST /slack/events``.

Registered as the ``slack`` entry point of the ``assistant.web_mounts`` group, so the web
server mounts it without importing this package. Events, interactivity (buttons, dialogs)
and the slash command all arrive at the one URL, as Bolt expects; each request's signature
and timestamp are checked by Bolt before anything else (401 otherwise).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler

from assistant.config import Settings
from assistant.schemas import AnswerEvent, AnswerRequest, ErrorEvent
from assistant.store import Store
from bots.slack.app import create_slack_app, shared_http_session

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


class _SharedPipeline:
    """The web server's pipeline, looked up per request: it is built during startup, after the
    mounts are added, and one copy of models and index serves both channels."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def astream(self, request: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        pipeline: Any = getattr(self.app.state, "pipeline", None)
        if pipeline is None:
            yield ErrorEvent(code="not_ready", retryable=True,
                             message="The assistant is starting up. Please try again in a moment.")
            return
        async for event in pipeline.astream(request):
            yield event


def http_mode_enabled(settings: Settings) -> bool:
    return bool(settings.slack_bot_token and settings.slack_signing_secret)


def mount(app: FastAPI, settings: Settings, store: Store) -> None:
    """Add ``POST /slack/events`` when ``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET`` are set."""
    if not http_mode_enabled(settings):
        log.info("Slack HTTP mode is off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to turn it on)")
        return
    bolt = create_slack_app(settings, pipeline=_SharedPipeline(app), store=store)
    handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    app.add_api_route(EVENTS_PATH, slack_events, methods=["POST"], include_in_schema=False)
    hooks = getattr(app.state, "lifespan_hooks", None)  # startup/shutdown work, when the host app offers it
    if isinstance(hooks, list):
        hooks.append(lambda _app: shared_http_session(bolt.client))
    log.info("Slack HTTP mode on: POST %s", EVENTS_PATH)
