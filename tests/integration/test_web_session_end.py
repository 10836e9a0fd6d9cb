"""``DELETE /v1/session`` on one server without Redis: the session's tokens and renewals stop working.

(With ``ASSISTANT_REDIS_URL`` the same holds across replicas: tests/integration/test_shared_state_redis.py.)
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bots.web.app import create_app
from tests.fakes import FakePipeline, ScriptedAnswer
from tests.integration.web_harness import ORIGIN, open_session, running, web_settings

pytestmark = pytest.mark.integration


def test_an_ended_session_is_refused_and_cannot_be_renewed(tmp_path: Path) -> None:
    app = create_app(web_settings(tmp_path), pipeline=FakePipeline(ScriptedAnswer("Hello.", [])))
    with running(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        token = open_session(client)
        other = open_session(client)
        headers = {"Origin": ORIGIN, "Authorization": f"Bearer {token}"}
        assert client.get("/v1/conversations/none", headers=headers).status_code == 404  # token accepted

        assert client.delete("/v1/session", headers=headers).status_code == 204
        refused = client.get("/v1/conversations/none", headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "revoked_token"
        assert "ended" in refused.json()["error"]["message"]
        assert client.delete("/v1/session", headers=headers).status_code == 401  # already ended

        renewed = client.post("/v1/session", headers=headers).json()["token"]
        fresh = {"Origin": ORIGIN, "Authorization": f"Bearer {renewed}"}
        assert client.get("/v1/conversations/none", headers=fresh).status_code == 404  # a new session works
        still = {"Origin": ORIGIN, "Authorization": f"Bearer {other}"}
        assert client.get("/v1/conversations/none", headers=still).status_code == 404  # others unaffected
        assert client.delete("/v1/session", headers={"Origin": ORIGIN}).status_code == 401  # no token
