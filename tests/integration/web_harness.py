"""Helpers for the web tests: a real uvicorn server on 127.0.0.1, an SSE reader, a session opener.

Used by tests/integration/test_web_*.py and tests/browser/. The server runs in a thread of the
test process on a port the OS picks, so tests can share objects (store, fake pipeline) with it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from assistant.config import Settings

ORIGIN = "https://help.ledgerly.example"
SECRET = "test-session-secret-0123456789abcdef"
IDENTITY_SECRET = "test-identity-secret-fedcba9876543210"


def web_settings(data_dir: Path, **web: Any) -> Settings:
    """Settings for a test server: our test origin allowed, fixed secrets, generous limits."""
    base: dict[str, Any] = {"session_secret": SECRET, "identity_secret": IDENTITY_SECRET,
                            "rate_per_minute_session": 1000, "rate_per_minute_ip": 1000, "daily_quota_ip": 10000}
    base.update(web)
    return Settings(data_dir=data_dir, allowed_origins=[ORIGIN], web=base, _env_file=None)  # type: ignore[call-arg]


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (OS-chosen port); yields the base URL."""
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on such sockets (else each response waits ~40 ms)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2,
                                           server_header=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test web server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def open_session(client: httpx.Client, origin: str = ORIGIN, **body: Any) -> str:
    response = client.post("/v1/session", json=body or None, headers={"Origin": origin})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def auth(token: str, origin: str = ORIGIN, accept: str = "text/event-stream") -> dict[str, str]:
    return {"Origin": origin, "Authorization": f"Bearer {token}", "Accept": accept}


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``(event name, parsed data)`` for each event of a text/event-stream body; comments skipped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def chat(client: httpx.Client, token: str, message: str, conversation_id: str | None = None,
         origin: str = ORIGIN) -> tuple[httpx.Response, list[tuple[str, dict[str, Any]]]]:
    """One streamed chat call; returns the response and its parsed events."""
    body: dict[str, Any] = {"message": message}
    if conversation_id:
        body["conversation_id"] = conversation_id
    response = client.post("/v1/chat", json=body, headers=auth(token, origin))
    events = parse_sse(response.text) if response.headers.get("content-type", "").startswith(
        "text/event-stream") else []
    return response, events
