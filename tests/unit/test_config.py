"""Settings: environment names ops rely on, and refusing what would silently do nothing."""

from __future__ import annotations

import pytest

from assistant.config import check_environment, load_settings
from assistant.errors import ConfigError


def test_interface_environment_names_reach_their_settings(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSISTANT_LLM_BACKEND", "tgi")
    monkeypatch.setenv("ASSISTANT_TGI_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("ASSISTANT_ALLOWED_ORIGINS", "https://shop.example, https://help.example/")
    monkeypatch.setenv("ASSISTANT_SLACK_API_URL", "http://127.0.0.1:1/api/")
    monkeypatch.setenv("ASSISTANT_SLACK_CHANNELS", str(tmp_path / "channels.yaml"))
    monkeypatch.setenv("ASSISTANT_EMBEDDING_DEVICE", "cpu")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    settings = load_settings(_env_file=None)
    assert settings.data_dir == tmp_path
    assert settings.llm.backend == "tgi" and settings.tgi.url == "http://127.0.0.1:9999"
    assert settings.allowed_origins == ["https://shop.example", "https://help.example"]
    assert settings.slack.api_url == "http://127.0.0.1:1/api/"
    assert settings.slack.channels == tmp_path / "channels.yaml"
    assert settings.embedding.device == "cpu"
    assert settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value() == "xoxb-test"
    assert settings.store_path == tmp_path / "store.sqlite"


def test_defaults_need_no_environment() -> None:
    settings = load_settings(_env_file=None)
    assert settings.llm.backend == "extractive"  # chosen by measurement; needs no model
    assert str(settings.data_dir) == "var"


def test_a_misspelt_variable_is_refused_with_the_closest_name() -> None:
    with pytest.raises(ConfigError, match="ASSISTANT_LLM_BAKEND") as err:
        check_environment({"ASSISTANT_LLM_BAKEND": "tgi"})
    assert err.value.hint == "did you mean ASSISTANT_LLM_BACKEND?"


def test_a_misspelt_key_in_the_env_file_gets_the_same_did_you_mean(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ASSISTANT_LLM_BACKEND=extractive\nASSISTANT_WEB_WORKRES=8\n")
    with pytest.raises(ConfigError, match=r"ASSISTANT_WEB_WORKRES in .*\.env") as err:
        load_settings(_env_file=env_file)
    assert err.value.hint == "did you mean ASSISTANT_WEB_WORKERS?"
    monkeypatch.chdir(tmp_path)  # the default: .env in the working directory
    with pytest.raises(ConfigError, match="ASSISTANT_WEB_WORKRES"):
        load_settings()
    env_file.write_text("ASSISTANT_LLM_BACKEND=extractive\nASSISTANT_WEB_WORKERS=8\n")
    assert load_settings().web.workers == 8


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM_BACKEND", "gpt")
    with pytest.raises(ConfigError, match="ASSISTANT_LLM_BACKEND"):
        load_settings(_env_file=None)
