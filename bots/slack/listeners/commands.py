"""``/ask``: an answer only the asker sees, with a button to post it to the channel.

The command is acknowledged at once with a "looking it up" note (Slack wants the ack within
3 seconds); the answer replaces it through the command's ``response_url``. The audience is
decided like a mention's: an externally shared channel gets public material, whoever asks,
because the answer can be posted there with the button.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.admission import NOT_ENABLED, conversation_policy, rate_limit_notice
from bots.slack.answering import Ask, answer_ephemeral
from bots.slack.deps import SlackDeps

COMMAND = "/ask"
USAGE = "Ask me anything about our product, docs or past tickets: `/ask how do I issue a refund?`"
LOOKING = ":hourglass_flowing_sand: Looking it up…"


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.command(COMMAND)
    async def on_ask(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        await handle_ask(deps, ack, command, respond, client)


async def handle_ask(deps: SlackDeps, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond,
                     client: AsyncWebClient) -> None:
    question = (command.get("text") or "").strip()
    channel: str = command["channel_id"]
    user: str | None = command.get("user_id")
    if not question:
        await ack(text=USAGE, response_type="ephemeral")
        return
    is_dm = channel.startswith("D") or command.get("channel_name") == "directmessage"
    if not deps.channels.allows(channel, is_dm=is_dm):
        await ack(text=NOT_ENABLED, response_type="ephemeral")
        return
    notice = rate_limit_notice(deps, user, channel)
    if notice:
        await ack(text=notice, response_type="ephemeral")
        return
    await ack(text=LOOKING, response_type="ephemeral")  # before asking Slack anything: 3 s to acknowledge
    # A member of another organisation can only ask from a conversation shared with it, which
    # the shared-conversation check makes public whoever asks.
    policy = await conversation_policy(deps, client, channel, body=command)
    ask = Ask(question=question, channel=channel, user=user, team=command.get("team_id"),
              audience=policy.audience, prompt=policy.prompt)
    await answer_ephemeral(deps, respond, ask)
