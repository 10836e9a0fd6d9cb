"""Markdown (CommonMark + tables) through markdown-it-py's token stream.

Title: the first H1, else front-matter ``title``, else none (the caller uses the file name).
Paragraphs are text blocks with inline markup removed; fenced and indented code are code
blocks; lists and tables are kept as text (``- item``, ``1. step``, ``a | b``).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from assistant.schemas import TextBlock

from ..text import html_to_text, normalize_space, one_line, table_header_rule
from . import Parsed, SectionPath

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def parse_markdown(text: str) -> Parsed:
    body, front = _split_front_matter(text)
    tokens = _parser().parse(body)
    title = _first_h1(tokens)
    metadata: dict[str, Any] = {}
    if front:
        metadata["front_matter"] = {k: v for k, v in front.items() if isinstance(v, str | int | float | bool)}
    if title is None and isinstance(front.get("title"), str) and front["title"].strip():
        title = one_line(front["title"])
        title_from_h1 = False
    else:
        title_from_h1 = title is not None
    return Parsed(title=title, blocks=_blocks(tokens, omit_first_h1=title_from_h1), metadata=metadata)


def _split_front_matter(text: str) -> tuple[str, dict[str, Any]]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, {}
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return text, {}  # not front matter after all (a thematic break), keep the text
    return text[match.end():], data if isinstance(data, dict) else {}


def _first_h1(tokens: list[Token]) -> str | None:
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag == "h1" and i + 1 < len(tokens):
            heading = one_line(_inline_text(tokens[i + 1]))
            if heading:
                return heading
    return None


def _blocks(tokens: list[Token], *, omit_first_h1: bool) -> list[TextBlock]:
    blocks: list[TextBlock] = []
    sections = SectionPath()
    title_pending = omit_first_h1
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            heading = one_line(_inline_text(tokens[i + 1]))
            level = int(tok.tag[1])
            if title_pending and level == 1 and heading:
                title_pending = False
                sections.reset()
            elif heading:
                sections.enter(level, heading)
            i = _skip_to_close(tokens, i)
        elif tok.type in ("bullet_list_open", "ordered_list_open"):
            end = _skip_to_close(tokens, i)
            _add(blocks, sections.path, "\n".join(_list_lines(tokens[i:end + 1])), "list")
            i = end
        elif tok.type == "table_open":
            end = _skip_to_close(tokens, i)
            _add(blocks, sections.path, "\n".join(_table_lines(tokens[i:end + 1])), "table")
            i = end
        elif tok.type in ("fence", "code_block"):
            _add(blocks, sections.path, tok.content.rstrip("\n"), "code")
        elif tok.type == "inline":  # paragraphs, also inside blockquotes
            _add(blocks, sections.path, normalize_space(_inline_text(tok)), "text")
        elif tok.type == "html_block":
            _add(blocks, sections.path, html_to_text(tok.content), "text")
        i += 1
    return blocks


def _add(blocks: list[TextBlock], section: tuple[str, ...], text: str, kind: Any) -> None:
    if text.strip():
        blocks.append(TextBlock(section=section, text=text, kind=kind))


def _skip_to_close(tokens: list[Token], start: int) -> int:
    """Index of the token closing the one at ``start`` (same nesting level)."""
    open_type = tokens[start].type
    close_type = open_type.replace("_open", "_close")
    depth = 0
    for j in range(start, len(tokens)):
        if tokens[j].type == open_type:
            depth += 1
        elif tokens[j].type == close_type:
            depth -= 1
            if depth == 0:
                return j
    return len(tokens) - 1


def _inline_text(tok: Token) -> str:
    out: list[str] = []
    for child in tok.children or []:
        if child.type in ("text", "html_inline_text"):
            out.append(child.content)
        elif child.type == "code_inline":
            out.append(f"`{child.content}`")
        elif child.type == "softbreak":
            out.append(" ")
        elif child.type == "hardbreak":
            out.append("\n")
        elif child.type == "image":
            out.append(child.content)
    return "".join(out)


def _list_lines(tokens: list[Token]) -> list[str]:
    lines: list[str] = []
    stack: list[list[Any]] = []  # [ordered?, next number]
    marker: str | None = None
    for tok in tokens:
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            start = tok.attrGet("start")
            stack.append([tok.type == "ordered_list_open", int(start) if start else 1])
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            stack.pop()
        elif tok.type == "list_item_open" and stack:
            ordered, number = stack[-1]
            marker = f"{number}." if ordered else "-"
            stack[-1][1] = number + 1
        elif tok.type in ("inline", "fence", "code_block"):
            indent = "  " * (len(stack) - 1)
            content = _inline_text(tok) if tok.type == "inline" else tok.content.rstrip("\n")
            if marker is not None:
                first, *rest = content.split("\n") or [""]
                lines.append(f"{indent}{marker} {first}".rstrip())
                lines.extend(f"{indent}  {line}".rstrip() for line in rest)
                marker = None
            else:
                lines.extend(f"{indent}  {line}".rstrip() for line in content.split("\n"))
    return lines


def _table_lines(tokens: list[Token]) -> list[str]:
    """One line per row, cells joined by " | ", the header row marked ``--- | ---`` as in the source."""
    lines: list[str] = []
    row: list[str] = []
    header = False
    for tok in tokens:
        if tok.type == "tr_open":
            row, header = [], False
        elif tok.type == "th_open":
            header = True
        elif tok.type == "inline":
            row.append(one_line(_inline_text(tok)))
        elif tok.type == "tr_close":
            lines.append(" | ".join(row))
            if header and len(lines) == 1:
                lines.append(table_header_rule(len(row)))
    return lines
