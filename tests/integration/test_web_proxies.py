"""``ASSISTANT_WEB_TRUSTED_PROXIES`` decides whose X-Forwarded-For is believed, also under
``uvicorn --factory bots.web.app:app_from_env`` (the per-IP rate limit shows which address counted).

The server runs with uvicorn's own proxy handling off (``--no-proxy-headers``, as ``assistant
serve`` runs it), so only the app's setting can make a forwarded address count.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from bots.web.app import app_from_env
from tests.integration.web_harness import ORIGIN, SECRET, auth, open_session

pytestmark = pytest.mark.integration


@contextmanager
def _running_without_uvicorn_proxy_headers(app: FastAPI) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "server did not start"
            thread.join(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _statuses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, proxies: str) -> list[int]:
    monkeypatch.chdir(tmp_path)  # no .env here
    for key, value in {"ASSISTANT_DATA_DIR": str(tmp_path / "var"), "ASSISTANT_ALLOWED_ORIGINS": ORIGIN,
                       "ASSISTANT_WEB_SESSION_SECRET": SECRET, "ASSISTANT_LLM_BACKEND": "extractive",
                       "ASSISTANT_WEB_RATE_PER_MINUTE_IP": "1", "ASSISTANT_WEB_TRUSTED_PROXIES": proxies}.items():
        monkeypatch.setenv(key, value)
    statuses = []
    with _running_without_uvicorn_proxy_headers(app_from_env()) as base, \
            httpx.Client(base_url=base, timeout=30) as client:
        token = open_session(client)
        for visitor in ("203.0.113.1", "203.0.113.2", "203.0.113.1"):
            headers = {**auth(token, accept="application/json"), "X-Forwarded-For": visitor}
            statuses.append(client.post("/v1/chat", json={"message": "hello"}, headers=headers).status_code)
    return statuses


def test_a_trusted_proxy_s_forwarded_address_is_the_one_rate_limited(monkeypatch, tmp_path: Path) -> None:
    # 503: no index is published, so the answer itself is "not ready"; the limit is checked first.
    assert _statuses(monkeypatch, tmp_path, "127.0.0.1") == [503, 503, 429]


def test_without_trusted_proxies_the_forwarded_header_is_ignored(monkeypatch, tmp_path: Path) -> None:
    assert _statuses(monkeypatch, tmp_path, "") == [503, 429, 429]
