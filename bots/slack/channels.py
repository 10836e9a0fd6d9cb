"""Per-channel policy: which audience a channel reads from, and when the bot speaks there.

The file named by ``ASSISTANT_SLACK_CHANNELS`` looks like::

    allowlist: [C0123ABCD, C0456EFGH]   # optional: answer only here, in listed channels and DMs
    channels:
      C0123ABCD: {audience: public, respond: all, prompt: customer}
    suggested_prompts:                  # optional: offered when someone opens an assistant thread
      - How do I issue a partial refund?

A channel that is not listed is ``internal`` and answers mentions only. Audience is a hard
boundary (docs/architecture.md §2): a customer-facing channel must be ``public``, and a message
from a member of another organisation (Slack Connect) is answered as ``public`` wherever it
comes from, so a shared channel someone forgot to list still cannot leak staff material.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.errors import ConfigError
from assistant.schemas import Audience

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class ChannelPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    audience: Audience = "internal"
    respond: Literal["mentions", "all"] = "mentions"  # all: every top-level message is a question
    prompt: str | None = None  # prompt name passed to the pipeline


class _ChannelFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowlist: list[str] | None = None
    channels: dict[str, ChannelPolicy] = Field(default_factory=dict)
    suggested_prompts: list[str] | None = Field(None, max_length=4)

    @field_validator("allowlist")
    @classmethod
    def _ids_in_allowlist(cls, value: list[str] | None) -> list[str] | None:
        for channel in value or []:
            _check_channel_id(channel)
        return value

    @field_validator("channels")
    @classmethod
    def _ids_in_channels(cls, value: dict[str, ChannelPolicy]) -> dict[str, ChannelPolicy]:
        for channel in value:
            _check_channel_id(channel)
        return value


def _check_channel_id(channel: str) -> None:
    if not _CHANNEL_ID.match(channel):
        raise ValueError(f"{channel!r} is not a channel ID: use the ID (C…, G… or D…, shown under the "
                         "channel's name > About), not the channel's name")


class _Prompts(Protocol):
    def answer(self, name: str, audience: Audience) -> object: ...


class ChannelConfig:
    """Resolves the policy of a conversation; an empty config means internal, mentions only."""

    def __init__(self, channels: dict[str, ChannelPolicy] | None = None,
                 allowlist: list[str] | None = None, suggested_prompts: list[str] | None = None) -> None:
        self.channels = dict(channels or {})
        self.allowlist = frozenset(allowlist) if allowlist is not None else None
        self.suggested_prompts = list(suggested_prompts) if suggested_prompts else None

    @classmethod
    def load(cls, path: Path | None) -> ChannelConfig:
        if path is None:
            return cls()
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"Slack channel file {path} does not exist",
                              hint="fix ASSISTANT_SLACK_CHANNELS or create the file") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"Slack channel file {path} is not valid YAML: {exc}",
                              hint="see README.md, section Slack") from exc
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ConfigError(f"Slack channel file {path}: expected a mapping with 'channels'",
                              hint="see README.md, section Slack")
        try:
            parsed = _ChannelFile.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {_message(err)}" for err in exc.errors()
            )
            raise ConfigError(f"Slack channel file {path}: {problems}", hint="allowed keys: allowlist, "
                              "suggested_prompts, channels.<ID>.{audience, respond, prompt}") from exc
        return cls(parsed.channels, parsed.allowlist, parsed.suggested_prompts)

    def allows(self, channel: str, *, is_dm: bool) -> bool:
        """DMs are always allowed; with an allowlist, a channel must be on it or configured below it."""
        return is_dm or self.allowlist is None or channel in self.allowlist or channel in self.channels

    def policy(self, channel: str, *, external_user: bool = False, shared: bool = False) -> ChannelPolicy:
        """The channel's policy, made public when someone from another organisation asks
        (``external_user``) or can read the answer (``shared``: an externally shared conversation)."""
        policy = self.channels.get(channel, ChannelPolicy())
        if (external_user or shared) and policy.audience != "public":
            policy = policy.model_copy(update={"audience": "public", "prompt": None})  # its prompt is internal
        return policy

    def check_prompts(self, prompts: _Prompts, source: Path | str) -> None:
        """Every ``prompt`` named in the file exists and fits its channel's audience."""
        for channel, policy in self.channels.items():
            if policy.prompt is None:
                continue
            try:
                prompts.answer(policy.prompt, policy.audience)
            except ConfigError as exc:
                raise ConfigError(f"Slack channel file {source}: channels.{channel}.prompt: {exc.message}",
                                  hint=exc.hint) from exc


def _message(err: object) -> str:
    data = err if isinstance(err, dict) else {}
    if data.get("type") == "extra_forbidden":
        return "unknown key"
    return str(data.get("msg", "invalid value")).removeprefix("Value error, ")
