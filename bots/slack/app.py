"""The Slack app: one Bolt ``AsyncApp`` for both Socket Mode and HTTP mode.

Built by :func:`create_slack_app` from settings, an answer pipeline and the store; nothing is
created at import time. Bolt acknowledges events before the listener runs and slash
commands and buttons as soon as the listener calls ``ack()``, so the work of answering never
delays the acknowledgement Slack wants within 3 seconds.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.store import Store
from bots.slack import listeners
from bots.slack.deps import AnswerPipeline, SlackDeps

log = logging.getLogger("bots.slack")


def build_web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client: base URL from ``ASSISTANT_SLACK_API_URL``, retrying 429s after the
    ``Retry-After`` Slack sends (a 429 means the call was not carried out, so a retry cannot
    post twice) and connection errors."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    if not token:
        raise ConfigError("SLACK_BOT_TOKEN is not set", hint="copy the Bot User OAuth Token (xoxb-…) from the "
                          "Slack app's OAuth & Permissions page; see README.md, section Slack")
    base_url = settings.slack.api_url if settings.slack.api_url.endswith("/") else settings.slack.api_url + "/"
    return AsyncWebClient(
        token=token, base_url=base_url, timeout=30, logger=logging.getLogger("bots.slack.web"),
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1),
                        AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )


@asynccontextmanager
async def shared_http_session(client: AsyncWebClient) -> AsyncIterator[None]:
    """One connection pool for every Web API call while the app runs. Without it ``slack_sdk``
    opens a new session, and a new TCP+TLS connection, for each call."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
    client.session = session
    try:
        yield
    finally:
        client.session = None
        await session.close()


def create_slack_app(settings: Settings, *, pipeline: AnswerPipeline, store: Store,
                     client: AsyncWebClient | None = None) -> AsyncApp:
    deps = SlackDeps.build(settings, pipeline=pipeline, store=store)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = AsyncApp(
        client=client or build_web_client(settings),
        signing_secret=secret,  # checked in HTTP mode only; Socket Mode requests are not signed
        name="support-assistant",
        logger=log,
        process_before_response=False,
    )
    app.use(_skip_duplicate_events(deps))
    listeners.register(app, deps)
    return app


def _skip_duplicate_events(deps: SlackDeps) -> Any:
    async def skip_duplicate_events(body: dict[str, Any], request: AsyncBoltRequest, next: Any) -> Any:
        """Slack retries an event it thinks was not acknowledged (``X-Slack-Retry-Num``) with the
        same ``event_id``; the first delivery wins, later ones are acknowledged and dropped."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not deps.seen_events.first_time(str(event_id)):
            retry = (request.headers.get("x-slack-retry-num") or ["-"])[0]
            log.info("duplicate delivery of %s ignored (retry %s)", event_id, retry)
            return BoltResponse(status=200, body="")
        return await next()

    return skip_duplicate_events
