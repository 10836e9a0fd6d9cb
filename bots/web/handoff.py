"""Where "talk to a human" goes: a file drop, a webhook, or an email.

The destination is chosen by ``ASSISTANT_WEB_HANDOFF`` (``file``, ``webhook``, ``smtp``) and
checked when the server starts, so a missing URL or mail host fails the start, not the first
customer who asks for help. Each destination gets the same payload: the transcript with the
sources the customer was shown.
"""

from __future__ import annotations

import asyncio
import json
import os
import smtplib
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import httpx

from assistant.config import Settings
from assistant.errors import ConfigError


class HandoffFailed(Exception):
    """The destination could not take the hand-off; the detail is for logs only."""


class HandoffDestination(Protocol):
    name: str

    async def send(self, handoff_id: str, payload: dict[str, Any]) -> None: ...


class FileDrop:
    """One JSON file per hand-off in ``<data_dir>/handoffs/`` (the demo's destination)."""

    name = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, handoff_id: str, payload: dict[str, Any]) -> None:
        await asyncio.to_thread(self._write, handoff_id, payload)

    def _write(self, handoff_id: str, payload: dict[str, Any]) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".handoff-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=2, ensure_ascii=False)
            os.replace(tmp, self.directory / f"{handoff_id}.json")  # readers never see half a file
        except OSError as exc:
            raise HandoffFailed(f"cannot write to {self.directory}: {exc}") from exc


class Webhook:
    """POSTs the payload as JSON; any 2xx answer counts as delivered."""

    name = "webhook"

    def __init__(self, url: str, *, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s

    async def send(self, handoff_id: str, payload: dict[str, Any]) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(self.url, json=payload, headers={"Idempotency-Key": handoff_id})
        except httpx.HTTPError as exc:
            raise HandoffFailed(f"webhook unreachable: {exc!r}") from exc
        if not response.is_success:
            raise HandoffFailed(f"webhook answered {response.status_code}")


class Email:
    """Sends a plain-text transcript through an SMTP relay (no auth: a local relay, as for cron mail)."""

    name = "smtp"

    def __init__(self, *, host: str, port: int, to: str, sender: str, timeout_s: float) -> None:
        self.host, self.port, self.to, self.sender, self.timeout_s = host, port, to, sender, timeout_s

    async def send(self, handoff_id: str, payload: dict[str, Any]) -> None:
        await asyncio.to_thread(self._send, handoff_id, payload)

    def _send(self, handoff_id: str, payload: dict[str, Any]) -> None:
        message = EmailMessage()
        first = next((t["text"] for t in payload.get("transcript", []) if t["role"] == "user"), "")
        subject = " ".join(first.split())[:80] or "a conversation"
        message["Subject"] = f"Customer asks for a human: {subject}"
        message["From"] = self.sender
        message["To"] = self.to
        if payload.get("email"):
            message["Reply-To"] = payload["email"]
        message["X-Handoff-Id"] = handoff_id
        message.set_content(render_text(payload))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise HandoffFailed(f"smtp {self.host}:{self.port}: {exc!r}") from exc


def render_text(payload: dict[str, Any]) -> str:
    """The transcript as an agent reads it in a mail client."""
    lines = [f"Conversation {payload['conversation_id']} (hand-off {payload['handoff_id']})"]
    if payload.get("email"):
        lines.append(f"Customer email: {payload['email']}")
    if payload.get("user_id"):
        lines.append(f"Verified user id: {payload['user_id']}")
    if payload.get("page_url"):
        lines.append(f"Page: {payload['page_url']}")
    if payload.get("note"):
        lines += ["", "Customer's note:", payload["note"]]
    lines.append("")
    for turn in payload.get("transcript", []):
        who = "Customer" if turn["role"] == "user" else "Assistant"
        lines += [f"{who}:", turn["text"]]
        for src in turn.get("sources") or []:
            lines.append(f"  [{src['n']}] {src['title']}" + (f" <{src['url']}>" if src.get("url") else ""))
        lines.append("")
    return "\n".join(lines)


def destination_from_settings(settings: Settings) -> HandoffDestination:
    web = settings.web
    if web.handoff == "file":
        return FileDrop(settings.data_dir / "handoffs")
    if web.handoff == "webhook":
        if not web.handoff_webhook_url:
            raise ConfigError("ASSISTANT_WEB_HANDOFF=webhook needs a URL",
                              hint="set ASSISTANT_WEB_HANDOFF_WEBHOOK_URL")
        return Webhook(web.handoff_webhook_url, timeout_s=web.handoff_timeout_s)
    if web.handoff == "smtp":
        if not web.handoff_smtp_host or not web.handoff_email_to:
            raise ConfigError("ASSISTANT_WEB_HANDOFF=smtp needs a mail host and a recipient",
                              hint="set ASSISTANT_WEB_HANDOFF_SMTP_HOST and ASSISTANT_WEB_HANDOFF_EMAIL_TO")
        return Email(host=web.handoff_smtp_host, port=web.handoff_smtp_port, to=web.handoff_email_to,
                     sender=web.handoff_email_from, timeout_s=web.handoff_timeout_s)
    raise ConfigError(f"Unknown hand-off destination {web.handoff!r}",
                      hint="set ASSISTANT_WEB_HANDOFF to file, webhook or smtp")
