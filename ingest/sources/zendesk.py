"""Zendesk tickets (REST API ticket objects, with ``comments`` nested when the export has them).

Roles: a side-loaded user's ``role`` decides (``end-user`` is the customer); without users
the author is the customer when ``author_id == requester_id``. Author ``-1`` is Zendesk
itself (triggers, automations). ``public: false`` comments are internal notes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from assistant.schemas import Role, Ticket, TicketPart

from .config import SourceConfig
from .exports import (
    Page,
    RecordError,
    as_list,
    as_tags,
    body_text,
    make_part,
    matches_status,
    new_ticket,
    parse_time,
    require_id,
    require_mapping,
)

LIST_KEYS = ("tickets", "results")
SINGLE_KEYS = ("ticket",)
RESOLVED = ("solved", "closed")
_API_URL = re.compile(r"^(https?://[^/]+)/api/v2/tickets/(\d+)(?:\.json)?$")
_SYSTEM_AUTHOR = "-1"


def build_ticket(raw: Any, page: Page, cfg: SourceConfig) -> Ticket:
    record = require_mapping(raw)
    ticket_id = require_id(record, "id")
    status = record.get("status")
    if not isinstance(status, str) or not status.strip():
        raise RecordError("missing 'status'")
    requester_id = _str_id(record.get("requester_id"))
    users = dict(page.users)
    for user in as_list(record.get("users"), "users"):  # some export scripts nest users per ticket
        if isinstance(user, Mapping) and user.get("id") is not None:
            users[str(user["id"])] = user

    parts: list[TicketPart | None] = []
    for n, raw_comment in enumerate(as_list(record.get("comments"), "comments"), start=1):
        comment = require_mapping(raw_comment, f"comment {n}")
        text = body_text(plain=comment.get("plain_body") or comment.get("body"), html=comment.get("html_body"))
        public = comment.get("public", True) is not False
        parts.append(make_part(_role(_str_id(comment.get("author_id")), requester_id, users), text,
                               visibility="public" if public else "internal",
                               time=parse_time(comment.get("created_at"), f"comment {n} created_at")))
    if all(part is None for part in parts):
        description = record.get("description")
        if description is not None and not isinstance(description, str):
            raise RecordError("'description' must be text")
        parts = [make_part("customer", body_text(plain=description),
                           time=parse_time(record.get("created_at"), "created_at"))]

    requester = record.get("requester")
    name = None
    if requester_id and requester_id in users:
        name = users[requester_id].get("name")
    elif isinstance(requester, Mapping):
        name = requester.get("name")
    subject = record.get("subject") or record.get("raw_subject")
    return new_ticket(
        cfg,
        id=ticket_id,
        subject=subject if isinstance(subject, str) else None,
        parts=parts,
        status=status.strip().lower(),
        resolved=matches_status(cfg, [status], RESOLVED),
        tags=as_tags(record.get("tags")),
        created=parse_time(record.get("created_at"), "created_at"),
        updated=parse_time(record.get("updated_at"), "updated_at"),
        url=_agent_url(record.get("url")),
        requester_name=name if isinstance(name, str) else None,
    )


def _str_id(value: Any) -> str | None:
    return None if value is None or isinstance(value, bool) else str(value)


def _role(author_id: str | None, requester_id: str | None, users: Mapping[str, Mapping[str, Any]]) -> Role:
    if author_id == _SYSTEM_AUTHOR:
        return "system"
    user = users.get(author_id) if author_id else None
    if user is not None and isinstance(user.get("role"), str):
        return "customer" if user["role"] == "end-user" else "agent"
    return "customer" if author_id is not None and author_id == requester_id else "agent"


def _agent_url(value: Any) -> str | None:
    """The API's ``url`` (``.../api/v2/tickets/1.json``) becomes the agent UI link people can open."""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        return None
    match = _API_URL.match(value)
    return f"{match.group(1)}/agent/tickets/{match.group(2)}" if match else value
