"""Jira Service Management issues (Jira Cloud REST v2 strings or v3 ADF rich text).

The ticket id is the issue key (``SUP-123``) when present. A comment is the customer's when
its author is the reporter (or a JSM portal ``customer`` account); ``app`` accounts are
automation (system); ``jsdPublic: false`` is an internal comment. Resolved by status
category ``done`` unless ``resolved_statuses`` names status names or category keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from assistant.schemas import Role, Ticket, TicketPart

from .adf import adf_to_text
from .config import SourceConfig
from .exports import (
    Page,
    RecordError,
    as_list,
    as_tags,
    get_path,
    make_part,
    mapping_or_empty,
    matches_status,
    new_ticket,
    parse_time,
    require_id,
    require_mapping,
)

LIST_KEYS = ("issues",)
SINGLE_KEYS = ("issue",)
RESOLVED = ("done",)
_API_SELF = re.compile(r"^(https?://[^/]+)/rest/api/")


def build_ticket(raw: Any, page: Page, cfg: SourceConfig) -> Ticket:
    record = require_mapping(raw)
    ticket_id = require_id(record, "key", "id")
    fields = record.get("fields")
    if not isinstance(fields, Mapping):
        raise RecordError("missing 'fields' (the issue's summary, status and comments live there)")
    status_name = get_path(fields, "status.name")
    category = get_path(fields, "status.statusCategory.key")
    if not isinstance(status_name, str) or not status_name.strip():
        raise RecordError("missing 'fields.status.name'")
    reporter = mapping_or_empty(fields.get("reporter"))
    reporter_id = reporter.get("accountId")

    created = parse_time(fields.get("created"), "fields.created")
    parts: list[TicketPart | None] = [make_part("customer", adf_to_text(fields.get("description")), time=created)]
    comments = get_path(fields, "comment.comments")
    for n, raw_comment in enumerate(as_list(comments, "fields.comment.comments"), start=1):
        comment = require_mapping(raw_comment, f"comment {n}")
        author = mapping_or_empty(comment.get("author"))
        parts.append(make_part(_role(author, reporter_id), adf_to_text(comment.get("body")),
                               visibility="internal" if comment.get("jsdPublic") is False else "public",
                               time=parse_time(comment.get("created"), f"comment {n} created")))

    summary = fields.get("summary")
    name = reporter.get("displayName")
    return new_ticket(
        cfg,
        id=ticket_id,
        subject=summary if isinstance(summary, str) else None,
        parts=parts,
        status=status_name.strip().lower(),
        resolved=_resolved(cfg, status_name, category),
        tags=as_tags(fields.get("labels")),
        created=created,
        updated=parse_time(fields.get("updated"), "fields.updated"),
        url=_browse_url(record.get("self"), record.get("key")),
        requester_name=name if isinstance(name, str) else None,
    )


def _resolved(cfg: SourceConfig, status_name: str, category: Any) -> bool:
    if cfg.resolved_statuses is not None:
        return matches_status(cfg, [status_name, category], ())
    return isinstance(category, str) and category.lower() in RESOLVED


def _role(author: Mapping[str, Any], reporter_id: Any) -> Role:
    account_id = author.get("accountId")
    if reporter_id is not None and account_id == reporter_id:
        return "customer"
    account_type = author.get("accountType")
    if account_type == "customer":
        return "customer"
    if account_type == "app":
        return "system"
    return "agent"


def _browse_url(self_url: Any, key: Any) -> str | None:
    """``https://x.atlassian.net/rest/api/3/issue/10001`` + key -> ``https://x.atlassian.net/browse/KEY``."""
    if not isinstance(self_url, str) or not isinstance(key, str):
        return None
    match = _API_SELF.match(self_url)
    return f"{match.group(1)}/browse/{key}" if match else None
