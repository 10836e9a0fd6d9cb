"""Starting the web app: production refuses weak secrets and half-configured hand-offs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import ConfigError
from bots.web.app import create_app, session_secret
from bots.web.middleware import OriginPolicy


def settings(tmp_path: Path, **kw) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None, **kw)


def test_production_without_session_secret_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        session_secret(settings(tmp_path, env="production"))
    assert "ASSISTANT_WEB_SESSION_SECRET" in err.value.message
    assert err.value.hint and "token_urlsafe" in err.value.hint


@pytest.mark.parametrize("weak", ["changeme", "short-but-16-chars"])
def test_production_refuses_placeholder_or_short_secret(tmp_path: Path, weak: str) -> None:
    with pytest.raises(ConfigError):
        session_secret(settings(tmp_path, env="production", web={"session_secret": weak}))


def test_development_uses_a_random_secret_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        first = session_secret(settings(tmp_path))
    assert len(first) == 32 and first != session_secret(settings(tmp_path))
    assert "random per-process secret" in caplog.text


@pytest.mark.parametrize("web, setting", [
    ({"handoff": "webhook"}, "ASSISTANT_WEB_HANDOFF_WEBHOOK_URL"),
    ({"handoff": "smtp", "handoff_email_to": "support@ledgerly.example"}, "ASSISTANT_WEB_HANDOFF_SMTP_HOST"),
])
def test_half_configured_handoff_fails_at_start(tmp_path: Path, web: dict, setting: str) -> None:
    with pytest.raises(ConfigError) as err:
        create_app(settings(tmp_path, web=web), pipeline=object())  # type: ignore[arg-type]
    assert setting in (err.value.hint or "")


def test_origin_policy_allows_listed_origins_and_same_origin_only_when_enabled() -> None:
    scope = {"scheme": "http", "headers": [(b"host", b"127.0.0.1:8000")]}
    policy = OriginPolicy(["https://Help.Ledgerly.example/"], same_origin=False)
    assert policy.allows("https://help.ledgerly.example", scope)
    assert not policy.allows("https://help.ledgerly.example.evil.example", scope)
    assert not policy.allows(None, scope)
    assert not policy.allows("null", scope)
    assert not policy.allows("http://127.0.0.1:8000", scope)
    assert OriginPolicy([], same_origin=True).allows("http://127.0.0.1:8000", scope)
    assert not OriginPolicy([], same_origin=True).allows("http://127.0.0.1:8001", scope)


def test_create_app_does_no_pipeline_work_before_startup(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path))  # no index exists: building the pipeline now would fail
    assert app.state.pipeline is None
