"""Messages: mentions in channels, DMs, follow-ups in threads the bot is part of.

Slack sends a mention twice (``app_mention`` and ``message``); the ``message`` listener skips
messages that mention the bot, and every answer claims its ``channel:ts`` first, so one
message never gets two answers. Messages from bots (this one included) and edits are ignored.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.admission import NOT_ENABLED, conversation_policy, is_external, rate_limit_notice, tell
from bots.slack.answering import Ask, answer_in_thread, bot_is_in_thread
from bots.slack.deps import SlackDeps
from bots.slack.formatting import plain_question

log = logging.getLogger(__name__)

_ANSWERABLE_SUBTYPES = {None, "file_share", "thread_broadcast"}
EMPTY_QUESTION = "Hi! Ask me a question about our product, docs or past tickets, e.g. _How do I issue a refund?_"


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.event("app_mention")
    async def on_mention(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext,
                         client: AsyncWebClient) -> None:
        await handle_message(deps, client, event, context, mentioned=True, body=body)

    @app.event("message")
    async def on_message(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext,
                         client: AsyncWebClient) -> None:
        await handle_message(deps, client, event, context, mentioned=False, body=body)

    @app.event("channel_shared")
    async def on_channel_shared(event: dict[str, Any]) -> None:
        """Shared with another organisation: public answers from the next message on."""
        if event.get("channel"):
            deps.shared.remember(str(event["channel"]), True)

    @app.event("channel_unshared")
    async def on_channel_unshared(event: dict[str, Any]) -> None:
        """Unshared from one organisation; Slack says whether others remain (else ask it again)."""
        if event.get("channel"):
            still_shared = event.get("is_ext_shared")
            if isinstance(still_shared, bool):
                deps.shared.remember(str(event["channel"]), still_shared)
            else:
                deps.shared.forget(str(event["channel"]))


async def handle_message(deps: SlackDeps, client: AsyncWebClient, event: dict[str, Any],
                         context: AsyncBoltContext, *, mentioned: bool, assistant_thread: bool = False,
                         body: dict[str, Any] | None = None) -> None:
    if event.get("subtype") not in _ANSWERABLE_SUBTYPES or event.get("bot_id") or not event.get("user"):
        return
    bot_user = context.bot_user_id
    channel: str = event["channel"]
    text: str = event.get("text") or ""
    is_dm = event.get("channel_type") == "im" or channel.startswith("D")
    if not mentioned and not is_dm and bot_user and f"<@{bot_user}>" in text:
        return  # the app_mention event for the same message answers it
    thread_ts: str | None = event.get("thread_ts")
    if not (mentioned or is_dm or assistant_thread or thread_ts) and deps.channels.policy(channel).respond != "all":
        return  # channel chatter: not a question for the bot (decided before asking Slack anything)
    user: str = event["user"]
    if not deps.channels.allows(channel, is_dm=is_dm):
        if mentioned:
            await tell(client, channel=channel, user=user, text=NOT_ENABLED, thread_ts=thread_ts)
        return
    policy = await conversation_policy(deps, client, channel, external_user=is_external(event, context.team_id),
                                       body=body, event=event)
    if not (mentioned or is_dm or assistant_thread) and thread_ts:
        in_thread = await asyncio.to_thread(bot_is_in_thread, deps, channel, thread_ts, policy.audience)
        if not in_thread:
            return
    reply_ts = thread_ts or event["ts"]
    if not deps.seen_messages.first_time(f"{channel}:{event['ts']}"):
        return
    question = plain_question(text, bot_user)
    if not question:
        await client.chat_postMessage(channel=channel, thread_ts=reply_ts, text=EMPTY_QUESTION)
        return
    notice = rate_limit_notice(deps, user, channel)
    if notice:
        await tell(client, channel=channel, user=user, text=notice, thread_ts=thread_ts)
        return
    ask = Ask(question=question, channel=channel, user=user, team=context.team_id or event.get("team"),
              audience=policy.audience, prompt=policy.prompt, thread_ts=reply_ts, assistant_thread=assistant_thread)
    await answer_in_thread(deps, client, ask)
