"""Whether a question gets answered, and for which audience: allowlist, duplicates, rate limits,
Slack Connect users and externally shared conversations.

Refusals that a person should understand (rate limits, a channel the bot is not enabled in)
come back as a short ephemeral notice that only the asker sees.
"""

from __future__ import annotations

import math
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.answering import quietly
from bots.slack.audience import shared_flag
from bots.slack.channels import ChannelPolicy
from bots.slack.deps import SlackDeps

NOT_ENABLED = "I'm not enabled in this channel. Ask an admin to add it to the Slack channel file, or DM me."


def rate_limit_notice(deps: SlackDeps, user: str | None, channel: str) -> str | None:
    """None when the question may go ahead; otherwise what to tell the asker."""
    if user and not deps.user_limits.allow(user):
        wait = math.ceil(deps.user_limits.retry_after_s(user))
        return f"You're asking faster than I can answer. Please try again in about {wait} seconds."
    if not deps.channel_limits.allow(channel):
        wait = math.ceil(deps.channel_limits.retry_after_s(channel))
        return f"This channel is asking a lot right now. Please try again in about {wait} seconds."
    return None


def is_external(event: dict[str, Any], team_id: str | None) -> bool:
    """A Slack Connect member of another organisation: answered from public material only."""
    user_team = event.get("user_team")
    team = team_id or event.get("team")
    return bool(user_team and team and user_team != team)


async def conversation_policy(deps: SlackDeps, client: AsyncWebClient, channel: str, *,
                              external_user: bool = False, body: dict[str, Any] | None = None,
                              event: dict[str, Any] | None = None, fresh: bool = False) -> ChannelPolicy:
    """The one admission every entry point uses: the channel's policy, made public when the asker
    belongs to another organisation or the conversation is externally shared (whoever asks)."""
    shared = await deps.shared.is_shared(client, channel, flag=shared_flag(body, event), fresh=fresh)
    return deps.channels.policy(channel, external_user=external_user, shared=shared)


async def tell(client: AsyncWebClient, *, channel: str, user: str | None, text: str,
               thread_ts: str | None = None) -> None:
    if user:
        await quietly(client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts))
