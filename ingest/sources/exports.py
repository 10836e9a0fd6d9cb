"""Reading helpdesk export files, whatever their shape, and the field helpers the vendors share.

Every vendor's export arrives in one of four shapes (contracts/helpdesk-exports.md): a JSON
array of records; one API page (an object holding the list under the vendor's key, with
paging and side-loaded ``users`` beside it); JSON Lines (streamed line by line, never
loaded whole; a line may itself be a page); or a single record. :func:`read_records`
hides the shape and numbers every record so errors can point at it:

* JSON array or page: ``row`` is the 1-based record number ("record 17");
* JSON Lines: ``row`` is the 1-based line number ("line 17"), so ``sed -n 17p`` finds it.

JSON arrays and page objects are parsed whole (one API page, or a small export); exports too
big for memory should be JSON Lines, which are read one line at a time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.errors import SourceError
from assistant.schemas import Role, Ticket, TicketPart, Visibility

from .config import SourceConfig
from .quoted import without_quoted_html, without_quoted_text
from .text import DecodeError, decode_bytes, html_to_text, normalize_space, one_line

JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".jsonlines"})
_SUBJECT_CHARS = 100
_SENTENCE = re.compile(r"[.!?](?=\s|$)")


class RecordError(ValueError):
    """A record that lacks what a ticket needs; the reason is shown in the run report."""


@dataclass(frozen=True)
class Page:
    """What sits beside the records in one API page: side-loaded users, keyed by id as text."""

    users: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any]) -> Page:
        raw = extras.get("users")
        users: dict[str, Mapping[str, Any]] = {}
        if isinstance(raw, list):
            for user in raw:
                if isinstance(user, Mapping) and user.get("id") is not None:
                    users[str(user["id"])] = user
        return cls(users=users)


EMPTY_PAGE = Page()


@dataclass(frozen=True)
class RawRecord:
    row: int
    where: str  # "record 17" or "line 17": how error messages name it
    data: Any
    page: Page


# --------------------------------------------------------------------------- file shapes


def read_records(path: Path, *, list_keys: tuple[str, ...], single_keys: tuple[str, ...] = (),
                 encoding: str | None = None) -> Iterator[RawRecord | SourceError]:
    """Yield every record of an export file, or a SourceError for what cannot be read."""
    shown = str(path)
    try:
        if path.suffix.lower() in JSONL_SUFFIXES:
            yield from _read_jsonl(path, list_keys, single_keys, encoding)
            return
        with path.open("rb") as fh:
            first_line = fh.readline()
            while first_line and not first_line.strip():
                first_line = fh.readline()
        if not first_line.strip():
            yield SourceError("the export file is empty", path=shown)
            return
        if first_line.lstrip().startswith(b"{") and _is_complete_json(first_line, encoding):
            yield from _read_jsonl(path, list_keys, single_keys, encoding)
            return
        data = decode_bytes(path.read_bytes(), encoding)
    except DecodeError as exc:
        yield SourceError(f"cannot decode the export file: {exc}", path=shown)
        return
    except OSError as exc:
        yield SourceError(f"cannot read the export file ({exc.strerror or exc.__class__.__name__})", path=shown)
        return
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        yield SourceError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path=shown,
                          hint="the file must be a JSON array, one API page, or JSON Lines")
        return
    counter = [0]
    yield from _records_of(value, shown, list_keys, single_keys, counter, line=None)


def _is_complete_json(line: bytes, encoding: str | None) -> bool:
    try:
        json.loads(decode_bytes(line, encoding))
    except (DecodeError, json.JSONDecodeError):
        return False
    return True


def _read_jsonl(path: Path, list_keys: tuple[str, ...], single_keys: tuple[str, ...],
                encoding: str | None) -> Iterator[RawRecord | SourceError]:
    shown = str(path)
    counter = [0]
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(decode_bytes(raw, encoding))
            except DecodeError as exc:
                yield SourceError(f"line {line_no}: {exc}", path=shown, row=line_no)
                continue
            except json.JSONDecodeError as exc:
                yield SourceError(f"line {line_no}: invalid JSON ({exc.msg} at column {exc.colno})",
                                  path=shown, row=line_no)
                continue
            yield from _records_of(value, shown, list_keys, single_keys, counter, line=line_no)


def _records_of(value: Any, shown: str, list_keys: tuple[str, ...], single_keys: tuple[str, ...],
                counter: list[int], *, line: int | None) -> Iterator[RawRecord | SourceError]:
    """Records inside one parsed JSON value: an array, a page object, or one record."""
    page = EMPTY_PAGE
    records: Iterable[Any]
    if isinstance(value, list):
        records = value
    elif isinstance(value, dict):
        key = next((k for k in list_keys if isinstance(value.get(k), list)), None)
        single = next((k for k in single_keys if isinstance(value.get(k), dict)), None)
        if key is not None:
            records = value[key]
            page = Page.from_extras(value)
        elif single is not None:
            records = [value[single]]
            page = Page.from_extras(value)
        else:
            records = [value]
    else:
        where = f"line {line}" if line else "the file"
        keys = ", ".join(f"'{k}'" for k in list_keys)
        yield SourceError(f"{where}: expected a JSON array of records, an object with a {keys} list, "
                          f"or JSON Lines; got {type(value).__name__}", path=shown, row=line)
        return
    one_per_line = line is not None and records == [value]
    for record in records:
        counter[0] += 1
        # Classic JSON Lines (one record a line): the line number is the row. A line or file that
        # holds a whole page or array: the record number is, so "row 8" means the 8th ticket.
        row = line if one_per_line and line is not None else counter[0]
        where = f"line {line}" if one_per_line else (
            f"record {counter[0]}" if line is None else f"line {line}, record {counter[0]}")
        yield RawRecord(row=row, where=where, data=record, page=page)


# --------------------------------------------------------------------------- field helpers


def require_mapping(value: Any, what: str = "record") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RecordError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def mapping_or_empty(value: Any) -> Mapping[str, Any]:
    """Optional nested objects (author, reporter, source) read as empty when absent or malformed."""
    return value if isinstance(value, Mapping) else {}


def get_path(record: Mapping[str, Any], dotted: str) -> Any:
    """``fields.status.name`` -> record["fields"]["status"]["name"], None when any step is missing."""
    value: Any = record
    for step in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def require_id(record: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | str) and str(value).strip():
            return str(value).strip()
    raise RecordError(f"missing ticket id ('{keys[0]}')")


def as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"'{what}' must be a list, got {type(value).__name__}")
    return value


def as_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [t for t in (s.strip() for s in value.replace(";", ",").split(",")) if t]
    if isinstance(value, list):
        return [str(t).strip() for t in value if t is not None and str(t).strip()]
    raise RecordError(f"tags must be a list, got {type(value).__name__}")


def parse_time(value: Any, what: str) -> datetime | None:
    """ISO 8601 text or Unix seconds (or milliseconds) to an aware UTC datetime."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
            seconds = float(value)
            if seconds > 1e11:  # milliseconds
                seconds /= 1000.0
            return datetime.fromtimestamp(seconds, tz=UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise RecordError(f"unreadable date in '{what}': {str(value)[:40]!r} (expected ISO 8601 or Unix seconds)")


def body_text(*, plain: Any = None, html: Any = None) -> str:
    """Prefer the plain-text rendering an export gives; otherwise turn its HTML into text, without
    the containers a mail client puts an earlier message in (:mod:`.quoted`)."""
    if isinstance(plain, str) and plain.strip():
        return normalize_space(plain)
    if isinstance(html, str) and html.strip():
        return html_to_text(without_quoted_html(html))
    return ""


def make_part(role: Role, text: str, *, visibility: Visibility = "public",
              time: datetime | None = None) -> TicketPart | None:
    """One message of a ticket, every loader's: only what its author wrote (:mod:`.quoted`), or
    None when it has no text."""
    text = without_quoted_text(text)
    return TicketPart(role=role, visibility=visibility, text=text, time=time) if text.strip() else None


def matches_status(cfg: SourceConfig, values: Iterable[Any], default: Iterable[str]) -> bool:
    """True when any of the ticket's status values is in the configured (or vendor default) set."""
    wanted = {s.strip().lower() for s in (cfg.resolved_statuses if cfg.resolved_statuses is not None
                                          else default)}
    return any(v is not None and str(v).strip().lower() in wanted for v in values)


def derived_subject(text: str) -> str:
    """A subject for records without one: the first sentence of the first message, kept short."""
    first = one_line(text.strip().split("\n", 1)[0])
    match = _SENTENCE.search(first)
    if match and match.end() >= 10:
        first = first[: match.end()].strip()
    if len(first) > _SUBJECT_CHARS:
        first = first[: _SUBJECT_CHARS - 1].rstrip() + "…"
    return first


def new_ticket(cfg: SourceConfig, *, id: str, subject: str | None, parts: list[TicketPart | None],
               status: str, resolved: bool, tags: list[str], created: datetime | None = None,
               updated: datetime | None = None, url: str | None = None,
               requester_name: str | None = None) -> Ticket:
    """The normalised ticket; refuses records without any message text."""
    kept = [p for p in parts if p is not None]
    if not kept:
        raise RecordError("no message text (no description and no conversation with a body)")
    title = one_line(subject or "") or derived_subject(kept[0].text)
    if url is None and cfg.url_template:
        url = cfg.url_template.replace("{id}", id)
    name = one_line(requester_name) if isinstance(requester_name, str) else None
    return Ticket(source=cfg.name, id=id, subject=title, parts=kept, status=status, resolved=resolved,
                  tags=tags, created=created, updated=updated, url=url, requester_name=name or None,
                  audience=cfg.audience)
