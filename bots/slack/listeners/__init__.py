"""Bolt listeners, one module per kind, each exposing ``register(app, deps)``."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bots.slack.deps import SlackDeps


def register(app: AsyncApp, deps: SlackDeps) -> None:
    from bots.slack.listeners import actions, assistant, commands, events

    # The assistant middleware goes first so it claims assistant-thread messages before the
    # plain message listener could see them.
    for module in (assistant, events, commands, actions):
        module.register(app, deps)
