"""DOCX through python-docx, walking paragraphs and tables in document order.

``Title`` style gives the title, ``Heading N`` styles the section path, list styles become
list blocks, tables become ``cell | cell`` rows. Title falls back to the core properties'
title, then the first Heading 1. A Heading 1 that repeats the title leaves the section path.
"""

from __future__ import annotations

import io
import re
from typing import Any

from assistant.schemas import TextBlock

from ..text import normalize_space, one_line
from . import Parsed, ParseError, SectionPath, same_text

_HEADING = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def parse_docx(data: bytes) -> Parsed:
    import docx  # heavy import, only when a DOCX is actually read
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        items = list(document.iter_inner_content())
        core_title = one_line(document.core_properties.title or "")
        styled = [(item, _style_name(item)) for item in items if isinstance(item, Paragraph | Table)]
    except Exception as exc:  # python-docx/zipfile/lxml raise many types on damaged input
        raise ParseError(f"not a readable DOCX file ({exc.__class__.__name__}: {str(exc)[:120]})") from None

    title = next((one_line(p.text) for p, style in styled
                  if isinstance(p, Paragraph) and style == "title" and p.text.strip()), None)
    title = title or core_title or None
    first_h1: Any = next((p for p, style in styled if isinstance(p, Paragraph) and _level(style) == 1
                          and p.text.strip()), None)
    if title is None and first_h1 is not None:
        title = one_line(first_h1.text)
    if first_h1 is not None and not same_text(first_h1.text, title):
        first_h1 = None  # a real section, not the title repeated as a heading

    blocks: list[TextBlock] = []
    sections = SectionPath()
    list_items: list[str] = []

    def add(text: str, kind: Any = "text") -> None:
        if text.strip():
            blocks.append(TextBlock(section=sections.path, text=text, kind=kind))

    def flush_list() -> None:
        if list_items:
            add("\n".join(list_items), "list")
            list_items.clear()

    for item, style in styled:
        if isinstance(item, Table):
            flush_list()
            add("\n".join(_table_lines(item)), "table")
            continue
        text = item.text
        level = _level(style)
        if style == "title":
            continue
        if level is not None:
            flush_list()
            if item is first_h1:
                sections.reset()
            elif one_line(text):
                sections.enter(level, one_line(text))
            continue
        if style.startswith("list") or _is_numbered(item):
            if text.strip():
                list_items.append(("1. " if "number" in style else "- ") + one_line(text))
            continue
        flush_list()
        if "code" in style or "preformatted" in style:
            add(text.rstrip(), "code")
        else:
            add(normalize_space(text))
    flush_list()
    return Parsed(title=title, blocks=blocks)


def _style_name(item: Any) -> str:
    try:
        style = item.style
        return str(style.name).strip().lower() if style is not None and style.name else ""
    except (KeyError, AttributeError, ValueError):
        return ""


def _level(style: str) -> int | None:
    match = _HEADING.match(style)
    return int(match.group(1)) if match else None


def _is_numbered(paragraph: Any) -> bool:
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.numPr is not None


def _table_lines(table: Any) -> list[str]:
    lines = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # merged cells repeat the same cell object
                continue
            previous = cell._tc
            cells.append(one_line(cell.text))
        if any(cells):
            lines.append(" | ".join(cells))
    return lines
