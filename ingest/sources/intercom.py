"""Intercom conversations: the opening ``source`` message plus ``conversation_parts``.

Author ``type`` ``user|lead|contact`` is the customer, ``admin|bot|team`` an agent.
``part_type: note`` is internal. Parts without a body (assignments, open/close events)
carry no text and are skipped. Times are Unix seconds. Resolved when ``state`` is closed.
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
    body_text,
    get_path,
    make_part,
    mapping_or_empty,
    matches_status,
    new_ticket,
    parse_time,
    require_id,
    require_mapping,
)
from .text import html_to_text

LIST_KEYS = ("conversations",)
SINGLE_KEYS = ("conversation",)
RESOLVED = ("closed",)
_CUSTOMER_TYPES = frozenset({"user", "lead", "contact"})
_INTERNAL_PARTS = frozenset({"note", "note_and_reopen"})


def build_ticket(raw: Any, page: Page, cfg: SourceConfig) -> Ticket:
    record = require_mapping(raw)
    ticket_id = require_id(record, "id")
    state = record.get("state")
    if not isinstance(state, str) or not state.strip():
        if isinstance(record.get("open"), bool):
            state = "open" if record["open"] else "closed"
        else:
            raise RecordError("missing 'state'")

    created = parse_time(record.get("created_at"), "created_at")
    source = mapping_or_empty(record.get("source"))
    source_author = mapping_or_empty(source.get("author"))
    parts: list[TicketPart | None] = [
        make_part(_role(source_author), body_text(html=source.get("body")), time=created)
    ]
    requester_name = source_author.get("name") if _role(source_author) == "customer" else None

    for n, raw_part in enumerate(as_list(get_path(record, "conversation_parts.conversation_parts"),
                                         "conversation_parts.conversation_parts"), start=1):
        part = require_mapping(raw_part, f"conversation part {n}")
        body = part.get("body")
        if not isinstance(body, str) or not body.strip():
            continue
        author = mapping_or_empty(part.get("author"))
        role = _role(author)
        if role == "customer" and not requester_name:
            requester_name = author.get("name")
        parts.append(make_part(role, body_text(html=body),
                               visibility="internal" if part.get("part_type") in _INTERNAL_PARTS else "public",
                               time=parse_time(part.get("created_at"), f"conversation part {n} created_at")))

    title = record.get("title")
    if not (isinstance(title, str) and title.strip()):
        subject = source.get("subject")
        title = html_to_text(subject) if isinstance(subject, str) else None
    tags = [t.get("name") for t in as_list(get_path(record, "tags.tags"), "tags.tags") if isinstance(t, Mapping)]
    url = record.get("url")
    return new_ticket(
        cfg,
        id=ticket_id,
        subject=title,
        parts=parts,
        status=state.strip().lower(),
        resolved=matches_status(cfg, [state], RESOLVED),
        tags=[str(t) for t in tags if t],
        created=created,
        updated=parse_time(record.get("updated_at"), "updated_at"),
        url=url if isinstance(url, str) and url.startswith(("http://", "https://")) else None,
        requester_name=requester_name if isinstance(requester_name, str) else None,
    )


def _role(author: Mapping[str, Any]) -> Role:
    kind = author.get("type")
    if kind in _CUSTOMER_TYPES:
        return "customer"
    if kind in ("admin", "bot", "team"):
        return "agent"
    return "system" if kind else "customer"
