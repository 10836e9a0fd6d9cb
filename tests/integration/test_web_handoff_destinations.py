""""Talk to a human" reaches each configured destination: webhook and SMTP, on 127.0.0.1.

The webhook receiver and the SMTP server are real servers on loopback sockets (a minimal
SMTP dialogue, enough for smtplib); a failing destination is reported to the visitor with
the escalation contact and recorded as failed.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.store import Store
from bots.web.app import create_app
from tests.fakes import FakePipeline, ScriptedAnswer, source
from tests.integration.web_harness import auth, chat, open_session, running, web_settings

pytestmark = pytest.mark.integration

ANSWER = ScriptedAnswer("Open Settings > Billing [1].", [
    source(1, "Changing your plan", url="https://help.ledgerly.example/billing/plans")])


@contextmanager
def webhook_receiver(status: int = 200) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append({"body": json.loads(self.rfile.read(length)), "headers": dict(self.headers)})
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/support", received
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[bytes]]]:
    """Just enough SMTP for smtplib.send_message: greeting, EHLO, MAIL, RCPT, DATA, QUIT."""
    messages: list[bytes] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 test ESMTP\r\n")
            while line := self.rfile.readline():
                verb = line[:4].upper()
                if verb == b"DATA":
                    self.wfile.write(b"354 go ahead\r\n")
                    data = b""
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk
                    messages.append(data)
                    self.wfile.write(b"250 queued\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], messages
    finally:
        server.shutdown()
        server.server_close()


def _conversation(client: httpx.Client) -> tuple[str, str]:
    token = open_session(client)
    _, events = chat(client, token, "How do I upgrade?")
    return token, events[-1][1]["conversation_id"]


def test_webhook_receives_the_transcript_and_sources(tmp_path: Path) -> None:
    with webhook_receiver() as (url, received):
        settings = web_settings(tmp_path, handoff="webhook", handoff_webhook_url=url)
        store = Store(tmp_path / "store.sqlite")
        app = create_app(settings, pipeline=FakePipeline(ANSWER, store=store), store=store)
        with running(app) as base, httpx.Client(base_url=base) as client:
            token, conversation_id = _conversation(client)
            response = client.post("/v1/handoff", json={"conversation_id": conversation_id,
                                                        "email": "kim@example.com"}, headers=auth(token))
    assert response.status_code == 202
    [hook] = received
    payload = hook["body"]
    assert hook["headers"]["Idempotency-Key"] == response.json()["handoff_id"] == payload["handoff_id"]
    assert [t["role"] for t in payload["transcript"]] == ["user", "assistant"]
    assert payload["transcript"][1]["sources"][0]["url"] == "https://help.ledgerly.example/billing/plans"
    assert store.handoffs(conversation_id)[0]["status"] == "sent"


def test_failing_webhook_tells_the_visitor_who_to_contact_and_is_recorded(tmp_path: Path) -> None:
    with webhook_receiver(status=500) as (url, _):
        settings = web_settings(tmp_path, handoff="webhook", handoff_webhook_url=url)
        store = Store(tmp_path / "store.sqlite")
        app = create_app(settings, pipeline=FakePipeline(ANSWER, store=store), store=store)
        with running(app) as base, httpx.Client(base_url=base) as client:
            token, conversation_id = _conversation(client)
            response = client.post("/v1/handoff", json={"conversation_id": conversation_id}, headers=auth(token))
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "handoff_failed" and "support@ledgerly.example" in error["message"]
    assert "500" not in error["message"] and "127.0.0.1" not in error["message"]
    assert store.handoffs(conversation_id)[0]["status"] == "failed"


def test_smtp_handoff_sends_a_readable_email(tmp_path: Path) -> None:
    with smtp_server() as (port, messages):
        settings = web_settings(tmp_path, handoff="smtp", handoff_smtp_host="127.0.0.1", handoff_smtp_port=port,
                                handoff_email_to="support@ledgerly.example")
        store = Store(tmp_path / "store.sqlite")
        app = create_app(settings, pipeline=FakePipeline(ANSWER, store=store), store=store)
        with running(app) as base, httpx.Client(base_url=base) as client:
            token, conversation_id = _conversation(client)
            response = client.post("/v1/handoff", json={
                "conversation_id": conversation_id, "email": "kim@example.com", "note": "urgent\r\nBcc: x@evil"},
                headers=auth(token))
    assert response.status_code == 202
    [raw] = messages
    mail = message_from_bytes(raw)
    assert mail["To"] == "support@ledgerly.example" and mail["Reply-To"] == "kim@example.com"
    assert mail["Subject"] == "Customer asks for a human: How do I upgrade?"
    assert mail["Bcc"] is None  # the visitor's note stays in the body
    body = mail.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert "Customer:\nHow do I upgrade?" in body
    assert "[1] Changing your plan <https://help.ledgerly.example/billing/plans>" in body


def test_handoff_is_limited_per_session(tmp_path: Path) -> None:
    settings = web_settings(tmp_path, handoff_per_hour_session=1)
    store = Store(tmp_path / "store.sqlite")
    app = create_app(settings, pipeline=FakePipeline(ANSWER, store=store), store=store)
    with running(app) as base, httpx.Client(base_url=base) as client:
        token, conversation_id = _conversation(client)
        first = client.post("/v1/handoff", json={"conversation_id": conversation_id}, headers=auth(token))
        second = client.post("/v1/handoff", json={"conversation_id": conversation_id}, headers=auth(token))
    assert first.status_code == 202
    assert second.status_code == 429 and int(second.headers["Retry-After"]) > 60
