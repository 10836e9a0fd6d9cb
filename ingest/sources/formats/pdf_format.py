"""PDF through pypdf: text per page, headings guessed from font size.

Lines set noticeably larger than the body text (the most common size, by characters) and
short enough to be a heading become the section path, biggest size first. A PDF without
such lines gets ``("Page N",)`` sections. Title: the document metadata's title, else a
heading line at the top of page 1, else the first line of text. Running headers and footers
(the same line, page numbers aside, at the edge of most pages) are dropped. Encrypted PDFs that need a password and
files pypdf cannot parse are refused with the reason; so are scanned PDFs with no text layer.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from assistant.schemas import TextBlock

from ..text import normalize_space, one_line, table_header_rule, table_row
from . import Parsed, ParseError, SectionPath, same_text

_HEADING_RATIO = 1.15
_HEADING_MAX_CHARS = 120
_JUNK_TITLES = re.compile(r"^(untitled|microsoft word - .*|document\d*|\(?unspecified\)?|title)$", re.IGNORECASE)
_LIST_START = re.compile(r"^\s*(?:[-•*◦▪]|\d+[.)])\s+")
_SENTENCE_END = (".", "!", "?", ":", ";")
_DIGITS = re.compile(r"\d+")
_BULLET = re.compile(r"^[\x00-\x08\x0b-\x1f\x7f•◦▪●■]\s*")  # bullet glyphs often extract as control chars
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class _Line:
    text: str
    size: float
    page: int
    x: float = 0.0  # where its first run starts on the page (user space), for telling a table's cells
    y: float = 0.0


@dataclass
class _Table:
    """Rows of cells: runs on one baseline, left to right, over two or more consecutive baselines."""

    rows: list[list[str]]
    page: int


def parse_pdf(data: bytes) -> Parsed:
    from pypdf import PdfReader  # heavy import, only when a PDF is actually read

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed files are reported, not logged
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not _decrypt(reader):
            raise ParseError("the PDF is encrypted with a password; export an unprotected copy")
        pages = list(reader.pages)
        lines = [line for number, page in enumerate(pages, start=1) for line in _page_lines(page, number)]
        meta_title = _meta_title(reader)
    except ParseError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged input; all mean "unreadable"
        raise ParseError(f"not a readable PDF ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    if not lines:
        raise ParseError("the PDF has no extractable text (a scanned image? run OCR on it first)")

    lines = _drop_running_lines(lines)
    body_size = _body_size(lines)
    items = _with_tables(lines)
    heading_sizes = sorted({round(line.size, 1) for line in lines if _is_heading(line, body_size)},
                           reverse=True)
    level_of = {size: n for n, size in enumerate(heading_sizes, start=1)}
    title = meta_title
    if not title:  # a big line at the top of page 1 is the document's own title
        top = next((line for line in lines[:3] if line.page == 1 and _is_heading(line, body_size)), None)
        title = top.text if top else lines[0].text[:_HEADING_MAX_CHARS]
    title_line = next((line for line in lines if line.page == 1 and _is_heading(line, body_size)
                       and same_text(line.text, title)), None)

    blocks: list[TextBlock] = []
    sections = SectionPath()
    pending: list[str] = []
    pending_page = lines[0].page

    def flush() -> None:
        text = _join_lines(pending)
        if text:
            section = sections.path if heading_sizes else (f"Page {pending_page}",)
            blocks.append(TextBlock(section=section, text=text))
        pending.clear()

    for line in items:
        if isinstance(line, _Table):
            flush()
            section = sections.path if heading_sizes else (f"Page {line.page}",)
            blocks.append(TextBlock(section=section, text="\n".join(_table_text(line.rows)), kind="table"))
            continue
        if line is title_line:
            flush()
            sections.reset()
            continue
        if heading_sizes and _is_heading(line, body_size):
            flush()
            sections.enter(level_of[round(line.size, 1)], line.text)
            continue
        if not heading_sizes and line.page != pending_page:
            flush()
        if not pending:
            pending_page = line.page
        pending.append(line.text)
    flush()
    return Parsed(title=one_line(title), blocks=blocks, metadata={"pages": len(pages)})


def _decrypt(reader: Any) -> bool:
    try:
        return bool(reader.decrypt(""))  # many "protected" PDFs only restrict printing/copying
    except Exception:  # missing crypto backend or a bad key: treat as locked
        return False


def _meta_title(reader: Any) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # damaged info dictionary: fall back to the text
        return None
    if isinstance(title, str):
        title = one_line(title)
        if title and not _JUNK_TITLES.match(title):
            return title
    return None


def _page_lines(page: Any, number: int) -> list[_Line]:
    lines: list[_Line] = []
    current: list[str] = []
    sizes: list[float] = []

    where: list[tuple[float, float]] = []  # the first run of the current line: its place on the page

    def end_line() -> None:
        text = _CONTROL.sub("", _BULLET.sub("- ", one_line("".join(current))))
        if text:
            x, y = where[0] if where else (0.0, 0.0)
            lines.append(_Line(text=text, size=max(sizes, default=0.0), page=number, x=x, y=y))
        current.clear()
        sizes.clear()
        where.clear()

    def visit(text: str, cm: Any, tm: Any, font: Any, font_size: float) -> None:
        if not text:
            return
        size = abs(font_size) * math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3])
        pieces = text.split("\n")
        for n, piece in enumerate(pieces):
            if n > 0:
                end_line()
            if piece.strip():
                if not where:  # text space to user space: the run's origin through the current matrix
                    where.append((cm[0] * tm[4] + cm[2] * tm[5] + cm[4], cm[1] * tm[4] + cm[3] * tm[5] + cm[5]))
                current.append(piece)
                sizes.append(size)
            elif piece:
                current.append(piece)

    page.extract_text(visitor_text=visit)
    end_line()
    return lines


_SAME_BASELINE = 1.0  # points: runs this close vertically stand on one line of the page


def _with_tables(lines: list[_Line]) -> list[_Line | _Table]:
    """Lines, with each table found among them as one :class:`_Table`.

    pypdf gives each cell of a table as a line of its own, so the cells of a row were glued into
    the paragraph ("Step Where Time Confirm your email Link in the welcome email 1 min Company
    profile …"), which no reader could take apart again. A row is a run of lines on one baseline,
    each starting right of the one before; two or more rows of two or more cells in a row are a
    table. Text on its own baseline, a paragraph's lines, is left as it is."""
    rows: list[list[_Line]] = []
    for line in lines:
        last = rows[-1][-1] if rows else None
        if (last is not None and last.page == line.page and abs(last.y - line.y) <= _SAME_BASELINE
                and line.x > last.x):
            rows[-1].append(line)
        else:
            rows.append([line])
    out: list[_Line | _Table] = []
    run: list[list[_Line]] = []

    def close() -> None:
        if len(run) >= 2:
            out.append(_Table([[cell.text for cell in row] for row in run], page=run[0][0].page))
        else:
            out.extend(line for row in run for line in row)
        run.clear()

    for row in rows:
        if len(row) >= 2 and (not run or row[0].page == run[-1][0].page):
            run.append(row)
            continue
        close()
        out.extend(row)
    close()
    return out


def _table_text(rows: list[list[str]]) -> list[str]:
    """Rows as the other formats write a table, cells joined by " | "; a first row of labels (no
    digits: "Step | Where | Time") is marked as its header, as Markdown marks it."""
    lines = [table_row(row) for row in rows]
    if len(rows) >= 3 and not any(c.isdigit() for cell in rows[0] for c in cell):
        lines.insert(1, table_header_rule(len(rows[0])))
    return lines


def _drop_running_lines(lines: list[_Line]) -> list[_Line]:
    """Drop page headers and footers: the same line (page numbers aside) at the top or bottom of most pages."""
    pages: dict[int, list[_Line]] = defaultdict(list)
    for line in lines:
        pages[line.page].append(line)
    if len(pages) < 2:
        return lines
    seen: Counter[str] = Counter()
    for page_lines in pages.values():
        seen.update({_running_key(line.text) for line in (*page_lines[:2], *page_lines[-2:])})
    needed = max(2, (len(pages) + 1) // 2)
    running = {key for key, count in seen.items() if count >= needed}
    kept: list[_Line] = []
    for page_lines in pages.values():
        edges = {id(line) for line in (*page_lines[:2], *page_lines[-2:])}
        kept.extend(line for line in page_lines if id(line) not in edges or _running_key(line.text) not in running)
    return kept or lines


def _running_key(text: str) -> str:
    return _DIGITS.sub("#", text.casefold())


def _body_size(lines: list[_Line]) -> float:
    weights: Counter[float] = Counter()
    for line in lines:
        weights[round(line.size, 1)] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 0.0


def _is_heading(line: _Line, body_size: float) -> bool:
    return (body_size > 0 and line.size >= body_size * _HEADING_RATIO and len(line.text) <= _HEADING_MAX_CHARS
            and any(c.isalpha() for c in line.text) and not line.text.endswith((".", ",", ";")))


def _join_lines(lines: list[str]) -> str:
    """Re-join lines that the PDF wrapped mid-sentence; keep breaks before list items and after sentences."""
    out = ""
    for line in lines:
        if not out:
            out = line
        elif out.endswith("-") and line[:1].islower():
            out = out[:-1] + line
        elif out.endswith(_SENTENCE_END) or _LIST_START.match(line):
            out += "\n" + line
        else:
            out += " " + line
    return normalize_space(out)
