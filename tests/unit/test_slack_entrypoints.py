"""How the bot is started: the ``slack`` command's token checks and the web mount's switch."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.store import Store
from bots.slack.cli import socket_mode_tokens
from bots.slack.mount import mount


def settings(tmp_path: Path, **tokens: Any) -> Settings:
    return Settings(data_dir=tmp_path, **tokens)


@pytest.mark.parametrize(("tokens", "named"), [
    ({}, "SLACK_APP_TOKEN and SLACK_BOT_TOKEN"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN"),
    ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN"),
])
def test_socket_mode_names_the_missing_token(tmp_path: Path, tokens: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as err:
        socket_mode_tokens(settings(tmp_path, **tokens))
    assert f"needs {named}" in err.value.message


def test_socket_mode_spots_swapped_tokens(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN is not an app-level token"):
        socket_mode_tokens(settings(tmp_path, SLACK_APP_TOKEN="xoxb-1", SLACK_BOT_TOKEN="xapp-1"))
    assert socket_mode_tokens(settings(tmp_path, SLACK_APP_TOKEN="xapp-1", SLACK_BOT_TOKEN="xoxb-1")) == "xapp-1"


def test_slack_command_is_registered_through_the_entry_point() -> None:
    commands = {e.name: e.value for e in metadata.entry_points(group="assistant.commands")}
    mounts = {e.name: e.value for e in metadata.entry_points(group="assistant.web_mounts")}
    assert commands["slack"] == "bots.slack.cli:register"
    assert mounts["slack"] == "bots.slack.mount:mount"


def test_http_mode_is_off_without_bot_token_and_signing_secret(tmp_path: Path) -> None:
    for tokens in ({}, {"SLACK_BOT_TOKEN": "xoxb-1"}, {"SLACK_SIGNING_SECRET": "s"}):
        app = FastAPI()
        mount(app, settings(tmp_path, **tokens), Store(tmp_path / "store.sqlite"))
        assert "/slack/events" not in {getattr(r, "path", None) for r in app.routes}
    app = FastAPI()
    mount(app, settings(tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s"), Store(tmp_path / "s.sqlite"))
    assert "/slack/events" in {getattr(r, "path", None) for r in app.routes}


def test_assistant_slack_without_tokens_exits_with_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ASSISTANT_"))}
    env["SLACK_BOT_TOKEN"] = "xoxb-1"
    done = subprocess.run([str(Path(sys.executable).with_name("assistant")), "slack"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Socket Mode needs SLACK_APP_TOKEN, which is not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_app_manifest_asks_for_what_the_app_handles() -> None:
    import yaml

    manifest = yaml.safe_load((Path(__file__).parents[2] / "deploy" / "slack-app-manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history", "channels:history", "groups:history",
            "assistant:write"} <= scopes
    # conversations.info, to tell an externally shared conversation (public answers only)
    assert {"channels:read", "groups:read", "im:read", "mpim:read"} <= scopes
    assert {"app_mention", "message.im", "message.channels", "message.groups", "assistant_thread_started",
            "channel_shared", "channel_unshared"} <= events
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/ask"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
