"""Ticket sources: one entry point for every helpdesk format.

:func:`iter_tickets` yields a :class:`Ticket` per record and a :class:`SourceError` (with
path, row and reason) per record it cannot use, then carries on: one bad row never stops a
run. Unresolved tickets are yielded too, with ``resolved=False``; the ingestion job skips
them when ``cfg.resolved_only`` and counts them as skipped, so the report can say how many
there were. A ticket id seen twice in one source is reported and the later record skipped.

``Ticket.fingerprint`` hashes the normalised ticket (JSON, sorted keys) plus the options that
change what is indexed, so it is stable across runs and changes only when the ticket does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from assistant.errors import SourceError
from assistant.schemas import Ticket

from . import freshdesk, generic, intercom, jira, zendesk
from .config import SourceConfig
from .exports import Page, RawRecord, RecordError, read_records

Builder = Callable[[Any, Page, SourceConfig], Ticket]

FINGERPRINT_VERSION = "tickets-1"

_VENDORS: dict[str, tuple[Builder, tuple[str, ...], tuple[str, ...]]] = {
    "zendesk": (zendesk.build_ticket, zendesk.LIST_KEYS, zendesk.SINGLE_KEYS),
    "freshdesk": (freshdesk.build_ticket, freshdesk.LIST_KEYS, freshdesk.SINGLE_KEYS),
    "jira": (jira.build_ticket, jira.LIST_KEYS, jira.SINGLE_KEYS),
    "intercom": (intercom.build_ticket, intercom.LIST_KEYS, intercom.SINGLE_KEYS),
}


class TicketError(SourceError):
    """A record that could not become a ticket. ``ticket_id`` is set when the record still names
    its ticket, so the ingestion job can keep that ticket's last good version; a plain
    :class:`SourceError` (an unreadable file, a line that is not JSON) names no ticket."""

    def __init__(self, message: str, *, ticket_id: str | None, path: str | None = None, row: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, path=path, row=row, hint=hint)
        self.ticket_id = ticket_id


_ID_KEYS: dict[str, tuple[str, ...]] = {"zendesk": ("id",), "freshdesk": ("id",), "intercom": ("id",),
                                        "jira": ("key", "id")}


def record_ticket_id(data: Any, cfg: SourceConfig) -> str | None:
    """The id a raw record gives its ticket, when it gives one (best effort, for error reports)."""
    keys = _ID_KEYS.get(cfg.type) or ((cfg.columns.id,) if cfg.columns else ("id",))
    for key in keys:
        value: Any = data
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def iter_tickets(cfg: SourceConfig) -> Iterator[Ticket | SourceError]:
    """Every ticket of a ticket source, in file order, or the error that replaced it."""
    records: Iterator[RawRecord | SourceError]
    if cfg.type in ("csv", "jsonl"):
        build: Builder = generic.build_ticket
        records = generic.iter_generic_records(cfg)
        hint = generic.CSV_ROW_HINT if cfg.type == "csv" else None
    elif cfg.type in _VENDORS:
        build, list_keys, single_keys = _VENDORS[cfg.type]
        records = read_records(cfg.path, list_keys=list_keys, single_keys=single_keys, encoding=cfg.encoding)
        hint = None
    else:
        raise ValueError(f"source '{cfg.name}' of type '{cfg.type}' is not a ticket source")

    shown = str(cfg.path)
    seen: dict[str, str] = {}
    for item in records:
        if isinstance(item, SourceError):
            yield item
            continue
        try:
            ticket = build(item.data, item.page, cfg)
        except RecordError as exc:
            yield TicketError(f"{item.where}: {exc}", ticket_id=record_ticket_id(item.data, cfg), path=shown,
                              row=item.row, hint=hint)
            continue
        if ticket.id in seen:
            yield TicketError(f"{item.where}: duplicate ticket id '{ticket.id}' (first at {seen[ticket.id]}); "
                              "skipped", ticket_id=ticket.id, path=shown, row=item.row)
            continue
        seen[ticket.id] = item.where
        ticket.row = item.row
        ticket.fingerprint = ticket_fingerprint(ticket, cfg)
        yield ticket


def ticket_fingerprint(ticket: Ticket, cfg: SourceConfig) -> str:
    """sha256 of the ticket's content (not its position in the file) and the options that shape output."""
    content = ticket.model_dump(mode="json", exclude={"row", "fingerprint"})
    payload = {"v": FINGERPRINT_VERSION, "ticket": content, "redact": cfg.should_redact}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
