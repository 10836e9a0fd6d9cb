"""Socket Mode: the bot opens a WebSocket to Slack, so it needs no public URL.

Slack hands events over the socket and waits for the acknowledgement on it; the same Bolt app
as HTTP mode handles them (request signatures do not apply: the app token authenticates).
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from assistant.config import Settings
from assistant.store import Store
from bots.slack.app import create_slack_app, shared_http_session
from bots.slack.deps import AnswerPipeline

log = logging.getLogger(__name__)


def socket_mode_handler(app: AsyncApp, app_token: str) -> AsyncSocketModeHandler:
    """The handler for ``app``; its WebSocket URL comes from ``apps.connections.open`` on the
    app's own Web API client, so ``ASSISTANT_SLACK_API_URL`` applies here too."""
    return AsyncSocketModeHandler(app, app_token, web_client=app.client)


async def run_socket_mode(settings: Settings, *, pipeline: AnswerPipeline, store: Store, app_token: str) -> None:
    app = create_slack_app(settings, pipeline=pipeline, store=store)
    handler = socket_mode_handler(app, app_token)
    log.info("connecting to Slack in Socket Mode")
    async with shared_http_session(app.client):
        await handler.start_async()  # runs until the process is stopped
