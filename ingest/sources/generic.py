"""Generic ticket exports: CSV or JSON Lines with a column mapping from ``sources.yaml``.

One row is one ticket. ``question`` becomes the customer's part and ``answer`` the agent's;
a ``conversation`` column may hold the whole exchange, either as JSON (a list of
``{"role": ..., "text": ...}``) or as text whose lines start with ``Customer:`` / ``Agent:``
(a ``Note:`` line starts an internal note). Without a status value a row counts as resolved,
so question/answer sheets work as they are.

Row numbers: CSV rows are counted from the first data row after the header (row 1); JSON
Lines rows are line numbers. In JSON Lines, dotted names (``fields.summary``) reach into
nested objects.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.errors import SourceError
from assistant.schemas import Role, Ticket, TicketPart, Visibility

from .config import ColumnMapping, SourceConfig
from .exports import (
    Page,
    RawRecord,
    RecordError,
    as_tags,
    get_path,
    make_part,
    matches_status,
    new_ticket,
    parse_time,
    read_records,
    require_mapping,
)
from .text import DecodeError, decode_bytes, normalize_space

RESOLVED = ("solved", "closed", "resolved", "done", "complete", "completed")
CSV_ROW_HINT = "CSV rows count from the first row after the header"
_FIELD_LIMIT = 64 * 1024 * 1024  # long conversations overflow csv's default 128 KiB field limit

_ROLE_WORDS: dict[str, tuple[Role, Visibility]] = {
    **{w: ("customer", "public") for w in ("customer", "user", "client", "requester", "end-user",
                                           "end user", "contact", "question")},
    **{w: ("agent", "public") for w in ("agent", "support", "staff", "admin", "rep", "operator",
                                        "answer", "bot")},
    **{w: ("agent", "internal") for w in ("note", "internal note", "internal", "private note")},
    "system": ("system", "public"),
}
_SPEAKER_LINE = re.compile(r"^\s*(" + "|".join(sorted((re.escape(w) for w in _ROLE_WORDS), key=len,
                                                       reverse=True)) + r")\s*:\s?(.*)$", re.IGNORECASE)


def iter_generic_records(cfg: SourceConfig) -> Iterator[RawRecord | SourceError]:
    if cfg.type == "csv":
        yield from _read_csv(cfg)
    else:
        yield from read_records(cfg.path, list_keys=("tickets", "records", "rows"), encoding=cfg.encoding)


def build_ticket(raw: Any, page: Page, cfg: SourceConfig) -> Ticket:
    record = require_mapping(raw, "row")
    cols = cfg.columns or ColumnMapping()

    def value(column: str | None) -> Any:
        if column is None:
            return None
        if column in record:
            return record[column]
        return get_path(record, column) if "." in column else None

    def text(column: str | None) -> str:
        found = value(column)
        if found is None:
            return ""
        return normalize_space(found if isinstance(found, str) else json.dumps(found, ensure_ascii=False))

    ticket_id = value(cols.id)
    if ticket_id is None or isinstance(ticket_id, bool | dict | list) or not str(ticket_id).strip():
        raise RecordError(f"missing ticket id (column '{cols.id}')")
    created = parse_time(value(cols.created), cols.created or "created")
    parts: list[TicketPart | None] = [make_part("customer", text(cols.question), time=created)]
    conversation = value(cols.conversation)
    if conversation is not None and conversation != "":
        parts.extend(_conversation_parts(conversation))
    parts.append(make_part("agent", text(cols.answer)))
    if all(p is None for p in parts):
        wanted = " or ".join(f"'{c}'" for c in (cols.question, cols.conversation, cols.answer) if c)
        raise RecordError(f"no message text (columns {wanted} are empty)")

    status = text(cols.status).lower()
    return new_ticket(
        cfg,
        id=str(ticket_id).strip(),
        subject=text(cols.subject) or None,
        parts=parts,
        status=status,
        resolved=True if not status else matches_status(cfg, [status], RESOLVED),
        tags=as_tags(value(cols.tags)),
        created=created,
        updated=parse_time(value(cols.updated), cols.updated or "updated"),
        url=_url(value(cols.url)),
        requester_name=text(cols.requester) or None,
    )


def _url(found: Any) -> str | None:
    return found.strip() if isinstance(found, str) and found.strip().startswith(("http://", "https://")) else None


def _conversation_parts(conversation: Any) -> list[TicketPart | None]:
    if isinstance(conversation, str) and conversation.lstrip().startswith("["):
        with contextlib.suppress(json.JSONDecodeError):
            conversation = json.loads(conversation)
    if isinstance(conversation, list):
        return _parts_from_list(conversation)
    if not isinstance(conversation, str):
        raise RecordError("the conversation column must be text or a list of messages")
    return _parts_from_text(conversation)


def _parts_from_list(items: list[Any]) -> list[TicketPart | None]:
    parts: list[TicketPart | None] = []
    for n, item in enumerate(items):
        if isinstance(item, str):  # bare strings alternate, customer first
            parts.append(make_part("customer" if n % 2 == 0 else "agent", normalize_space(item)))
            continue
        message = require_mapping(item, f"conversation message {n + 1}")
        who = str(message.get("role") or message.get("author") or message.get("from") or "").strip().lower()
        role, visibility = _ROLE_WORDS.get(who, ("customer" if n == 0 else "agent", "public"))
        if message.get("internal") is True or message.get("private") is True or message.get("public") is False:
            visibility = "internal"
        body = message.get("text") or message.get("body") or message.get("message") or ""
        parts.append(make_part(role, normalize_space(str(body)), visibility=visibility,
                               time=parse_time(message.get("time") or message.get("created"),
                                               f"conversation message {n + 1} time")))
    return parts


def _parts_from_text(conversation: str) -> list[TicketPart | None]:
    parts: list[TicketPart | None] = []
    role: Role = "customer"
    visibility: Visibility = "public"
    lines: list[str] = []
    for line in conversation.splitlines():
        match = _SPEAKER_LINE.match(line)
        if match:
            parts.append(make_part(role, normalize_space("\n".join(lines)), visibility=visibility))
            role, visibility = _ROLE_WORDS[match.group(1).lower()]
            lines = [match.group(2)]
        else:
            lines.append(line)
    parts.append(make_part(role, normalize_space("\n".join(lines)), visibility=visibility))
    return parts


# --------------------------------------------------------------------------- CSV


def _read_csv(cfg: SourceConfig) -> Iterator[RawRecord | SourceError]:
    shown = str(cfg.path)
    cols = cfg.columns or ColumnMapping()
    csv.field_size_limit(max(csv.field_size_limit(), min(_FIELD_LIMIT, sys.maxsize)))
    bad_lines: dict[int, str] = {}
    try:
        with Path(cfg.path).open("rb") as fh:
            reader = csv.reader(_decoded_lines(fh, cfg.encoding, bad_lines), delimiter=cfg.delimiter or ",")
            try:
                header = next(reader)
            except StopIteration:
                yield SourceError("the CSV file is empty", path=shown)
                return
            except csv.Error as exc:
                yield SourceError(f"the CSV header cannot be read ({exc})", path=shown)
                return
            if 1 in bad_lines:
                yield SourceError(f"the CSV header {bad_lines[1]}", path=shown)
                return
            header = [h.strip() for h in header]
            missing = _missing_columns(cols, header)
            if missing:
                yield SourceError(f"the CSV header has no column {missing} (columns found: {', '.join(header)})",
                                  path=shown, hint="fix 'columns:' for this source in sources.yaml")
                return
            yield from _csv_rows(reader, header, bad_lines, shown)
    except OSError as exc:
        yield SourceError(f"cannot read the CSV file ({exc.strerror or exc.__class__.__name__})", path=shown)


def _csv_rows(reader: Any, header: list[str], bad_lines: dict[int, str],
              shown: str) -> Iterator[RawRecord | SourceError]:
    row = 0
    last_line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row += 1
            last_line = reader.line_num
            yield SourceError(f"row {row}: malformed CSV ({exc})", path=shown, row=row, hint=CSV_ROW_HINT)
            continue
        row += 1
        first_line, last_line = last_line + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue
        problem = next((bad_lines[n] for n in range(first_line, last_line + 1) if n in bad_lines), None)
        if problem:
            yield SourceError(f"row {row}: {problem}", path=shown, row=row, hint=CSV_ROW_HINT)
            continue
        if len(values) > len(header):
            yield SourceError(f"row {row}: {len(values)} fields but the header has {len(header)} "
                              "(an unquoted delimiter in a value?)", path=shown, row=row, hint=CSV_ROW_HINT)
            continue
        yield RawRecord(row=row, where=f"row {row}", data=dict(zip(header, values, strict=False)), page=Page())


def _missing_columns(cols: ColumnMapping, header: list[str]) -> str | None:
    if cols.id not in header:
        return f"'{cols.id}' for the ticket id"
    if not any(c in header for c in (cols.question, cols.conversation, cols.answer) if c):
        names = " or ".join(f"'{c}'" for c in (cols.question, cols.conversation, cols.answer) if c)
        return f"{names} for the message text"
    return None


def _decoded_lines(fh: Any, encoding: str | None, bad_lines: dict[int, str]) -> Iterator[str]:
    """Decode line by line, so one undecodable row is reported and the rest still load."""
    for n, raw in enumerate(fh, start=1):
        try:
            yield decode_bytes(raw, encoding)
        except DecodeError as exc:
            bad_lines[n] = str(exc)
            yield raw.decode("utf-8", errors="replace")
