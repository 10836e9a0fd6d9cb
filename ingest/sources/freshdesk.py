"""Freshdesk tickets, with ``conversations`` nested when the export has them.

The description is the requester's opening message (conversations do not repeat it).
``incoming: true`` (or the requester's own ``user_id``) marks customer text; ``private: true``
is an internal note. Status is numeric: 2 open, 3 pending, 4 resolved, 5 closed.
"""

from __future__ import annotations

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
STATUS_NAMES = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
RESOLVED = ("4", "5", "resolved", "closed")


def build_ticket(raw: Any, page: Page, cfg: SourceConfig) -> Ticket:
    record = require_mapping(raw)
    ticket_id = require_id(record, "id")
    raw_status = record.get("status")
    if raw_status is None or isinstance(raw_status, bool) or str(raw_status).strip() == "":
        raise RecordError("missing 'status'")
    status = _status_name(raw_status)
    requester_id = record.get("requester_id")

    created = parse_time(record.get("created_at"), "created_at")
    parts: list[TicketPart | None] = [
        make_part("customer", body_text(plain=record.get("description_text"), html=record.get("description")),
                  time=created)
    ]
    for n, raw_conv in enumerate(as_list(record.get("conversations"), "conversations"), start=1):
        conv = require_mapping(raw_conv, f"conversation {n}")
        role: Role = "customer" if conv.get("incoming") is True or (
            requester_id is not None and conv.get("user_id") == requester_id) else "agent"
        parts.append(make_part(role, body_text(plain=conv.get("body_text"), html=conv.get("body")),
                               visibility="internal" if conv.get("private") is True else "public",
                               time=parse_time(conv.get("created_at"), f"conversation {n} created_at")))

    requester = record.get("requester")
    name = requester.get("name") if isinstance(requester, Mapping) else None
    if name is None and requester_id is not None:
        user = page.users.get(str(requester_id))
        name = user.get("name") if user else None
    subject = record.get("subject")
    url = record.get("url")
    return new_ticket(
        cfg,
        id=ticket_id,
        subject=subject if isinstance(subject, str) else None,
        parts=parts,
        status=status,
        resolved=matches_status(cfg, [raw_status, status], RESOLVED),
        tags=as_tags(record.get("tags")),
        created=created,
        updated=parse_time(record.get("updated_at"), "updated_at"),
        url=url if isinstance(url, str) and url.startswith(("http://", "https://")) else None,
        requester_name=name if isinstance(name, str) else None,
    )


def _status_name(value: Any) -> str:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return str(value).strip().lower()
    return STATUS_NAMES.get(number, str(number))
