"""Slack's AI-app threads (the assistant side panel), where the workspace has them.

A new thread gets a greeting and suggested prompts; each message in it is answered like a
DM, with a "thinking…" status while the pipeline works, through the same admission (an
externally shared conversation gets the public audience). Bolt's ``AsyncAssistant`` middleware
claims these events, so the plain DM listener never sees them twice.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncAssistant, AsyncBoltContext, AsyncSay, AsyncSetSuggestedPrompts
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.answering import quietly
from bots.slack.deps import SlackDeps
from bots.slack.listeners.events import handle_message


def default_prompts(product: str) -> list[str]:
    return [f"How do I get started with {product}?", "Find past tickets about a customer's problem",
            "What is the documented fix for an error message?"]


def register(app: AsyncApp, deps: SlackDeps) -> None:
    assistant = AsyncAssistant()

    @assistant.thread_started
    async def on_thread_started(say: AsyncSay, set_suggested_prompts: AsyncSetSuggestedPrompts) -> None:
        product = deps.settings.brand.product_name
        await say(f"Hi! I answer questions about {product} from our docs and past tickets, with sources.")
        prompts = deps.channels.suggested_prompts or default_prompts(product)
        await quietly(set_suggested_prompts(prompts=[{"title": p[:75], "message": p} for p in prompts]))

    @assistant.user_message
    async def on_user_message(body: dict[str, Any], payload: dict[str, Any], context: AsyncBoltContext,
                              client: AsyncWebClient) -> None:
        await handle_message(deps, client, payload, context, mentioned=False, assistant_thread=True, body=body)

    app.use(assistant)
