"""``assistant slack``: run the Slack bot in Socket Mode."""

from __future__ import annotations

import asyncio
import gc

import typer

from assistant.config import Settings
from assistant.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("slack")(slack)


def slack() -> None:
    """Run the Slack bot in Socket Mode (no public URL needed; needs SLACK_APP_TOKEN and SLACK_BOT_TOKEN).

    For HTTP mode instead, set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET and run `assistant serve`:
    Slack then calls POST /slack/events.
    """
    from assistant.config import get_settings
    from assistant.factory import build_pipeline, build_store
    from bots.slack.channels import ChannelConfig
    from bots.slack.socket_mode import run_socket_mode

    settings = get_settings()
    app_token = socket_mode_tokens(settings)
    ChannelConfig.load(settings.slack.channels)  # a bad channel file fails now, not after the models load
    store = build_store(settings)
    pipeline = build_pipeline(settings, store=store)  # fails here, with a clear message, if there is no index
    pipeline.warm()  # the model and the index load now, not on the first mention
    gc.freeze()  # their objects out of the cyclic collector's walks, as `assistant serve` does (bots/web/app.py)
    typer.echo("Slack bot running in Socket Mode. Press Ctrl+C to stop.")
    try:
        asyncio.run(run_socket_mode(settings, pipeline=pipeline, store=store, app_token=app_token))
    except KeyboardInterrupt:
        typer.echo("Stopped.")


def socket_mode_tokens(settings: Settings) -> str:
    """Check both tokens are there and not swapped; returns the app-level token."""
    bot = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    missing = [name for name, value in (("SLACK_APP_TOKEN", app_token), ("SLACK_BOT_TOKEN", bot)) if not value]
    if missing:
        raise ConfigError(
            f"Socket Mode needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not set",
            hint="SLACK_APP_TOKEN is the app-level token (xapp-…, Basic Information > App-Level Tokens, scope "
                 "connections:write); SLACK_BOT_TOKEN is the Bot User OAuth Token (xoxb-…). See README.md, Slack")
    if not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN is not an app-level token (it should start with xapp-)",
                          hint="create one under Basic Information > App-Level Tokens with connections:write")
    if not bot.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN is not a bot token (it should start with xoxb-)",
                          hint="copy the Bot User OAuth Token from OAuth & Permissions")
    return app_token
