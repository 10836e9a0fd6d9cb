"""The per-channel file: audience, when to answer, allowlist, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import ConfigError
from bots.slack.channels import ChannelConfig


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "channels.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unlisted_channels_are_internal_and_answer_mentions_only() -> None:
    policy = ChannelConfig().policy("C0ANY")
    assert (policy.audience, policy.respond, policy.prompt) == ("internal", "mentions", None)
    assert ChannelConfig.load(None).allows("C0ANY", is_dm=False)


def test_listed_channels_get_their_policy(tmp_path: Path) -> None:
    config = ChannelConfig.load(write(tmp_path, """
channels:
  C0SHARED: {audience: public, respond: all, prompt: customer}
  G0PRIVATE: {respond: all}
suggested_prompts: ["How do refunds work?"]
"""))
    shared = config.policy("C0SHARED")
    assert (shared.audience, shared.respond, shared.prompt) == ("public", "all", "customer")
    assert config.policy("G0PRIVATE").audience == "internal"
    assert config.suggested_prompts == ["How do refunds work?"]


def test_members_of_other_organisations_always_get_public_answers() -> None:
    assert ChannelConfig().policy("C0ANY", external_user=True).audience == "public"


def test_allowlist_limits_channels_but_not_dms_or_configured_channels(tmp_path: Path) -> None:
    config = ChannelConfig.load(write(tmp_path, "allowlist: [C0SUPPORT]\nchannels: {C0SHARED: {audience: public}}"))
    assert config.allows("C0SUPPORT", is_dm=False)
    assert config.allows("C0SHARED", is_dm=False)
    assert not config.allows("C0RANDOM", is_dm=False)
    assert config.allows("D0ALICE", is_dm=True)


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert ChannelConfig.load(write(tmp_path, "")).channels == {}


@pytest.mark.parametrize(("text", "expected"), [
    ("channels: {C0SHARED: {audiance: public}}", "channels.C0SHARED.audiance: unknown key"),
    ("channels: {C0SHARED: {audience: customers}}", "channels.C0SHARED.audience"),
    ("channels: {C0SHARED: {respond: sometimes}}", "channels.C0SHARED.respond"),
    ("chanels: {C0SHARED: {audience: public}}", "chanels: unknown key"),
    ("channels: {'#support': {audience: public}}", "is not a channel ID"),
    ("allowlist: [general]", "is not a channel ID"),
    ("- just a list", "expected a mapping"),
    ("channels: {C0X: [unclosed", "not valid YAML"),
])
def test_bad_files_are_refused_naming_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        ChannelConfig.load(path)
    assert str(path) in err.value.message and expected in err.value.message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as err:
        ChannelConfig.load(tmp_path / "nope.yaml")
    assert "ASSISTANT_SLACK_CHANNELS" in (err.value.hint or "")


def test_prompts_named_in_the_file_must_exist_and_fit_the_audience(tmp_path: Path) -> None:
    from assistant.prompts import load_prompts

    prompts = load_prompts()
    ok = write(tmp_path, "channels: {C0SHARED: {audience: public, prompt: public}}")
    ChannelConfig.load(ok).check_prompts(prompts, ok)
    for text, expected in (("channels: {C0SHARED: {audience: public, prompt: custmer}}", "No answer prompt named"),
                           ("channels: {C0SHARED: {audience: public, prompt: internal}}", "internal audience")):
        path = write(tmp_path, text)
        with pytest.raises(ConfigError) as err:
            ChannelConfig.load(path).check_prompts(prompts, path)
        assert f"{path}: channels.C0SHARED.prompt" in err.value.message and expected in err.value.message


def test_a_guest_in_an_internal_channel_does_not_get_its_internal_prompt(tmp_path: Path) -> None:
    config = ChannelConfig.load(write(tmp_path, "channels: {C0TEAM: {prompt: internal}}"))
    guest = config.policy("C0TEAM", external_user=True)
    assert (guest.audience, guest.prompt) == ("public", None)
