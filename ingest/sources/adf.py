"""Atlassian Document Format (Jira REST v3 rich text) flattened to plain text.

Paragraphs become paragraphs, list items get ``-`` or ``1.`` markers, code blocks keep their
lines, tables become ``cell | cell`` rows. Unknown node types are walked for their text, so
a new ADF node never loses content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .text import normalize_space

_BLOCKS = frozenset({"paragraph", "heading", "blockquote", "panel", "expand", "nestedExpand",
                     "mediaSingle", "mediaGroup", "layoutSection", "layoutColumn", "decisionList",
                     "taskList", "rule", "extension", "bodiedExtension"})


def adf_to_text(node: Any) -> str:
    """Text of an ADF document (or of a plain string, for REST v2 exports)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return normalize_space(node)
    out: list[str] = []
    _walk(node, out, indent="")
    return normalize_space("".join(out))


def _children(node: Mapping[str, Any]) -> list[Any]:
    content = node.get("content")
    return content if isinstance(content, list) else []


def _walk(node: Any, out: list[str], indent: str) -> None:
    if isinstance(node, list):
        for child in node:
            _walk(child, out, indent)
        return
    if not isinstance(node, Mapping):
        return
    kind = node.get("type")
    raw_attrs = node.get("attrs")
    attrs: Mapping[str, Any] = raw_attrs if isinstance(raw_attrs, Mapping) else {}
    if kind == "text":
        out.append(str(node.get("text", "")))
    elif kind == "hardBreak":
        out.append("\n" + indent)
    elif kind in ("mention", "emoji", "status", "placeholder"):
        out.append(str(attrs.get("text") or attrs.get("shortName") or ""))
    elif kind in ("inlineCard", "blockCard", "embedCard"):
        out.append(str(attrs.get("url") or ""))
    elif kind == "date":
        out.append(str(attrs.get("timestamp") or ""))
    elif kind == "codeBlock":
        code = "".join(str(c.get("text", "")) for c in _children(node) if isinstance(c, Mapping))
        out.append("\n\n" + code + "\n\n")
    elif kind in ("bulletList", "orderedList"):
        start = attrs.get("order", 1)
        number = start if isinstance(start, int) else 1
        out.append("\n")
        for item in _children(node):
            marker = f"{number}. " if kind == "orderedList" else "- "
            out.append("\n" + indent + marker)
            _walk_item(item, out, indent + "  ")
            number += 1
        out.append("\n\n")
    elif kind in ("taskItem", "decisionItem"):
        out.append("\n" + indent + ("[x] " if attrs.get("state") == "DONE" else "- "))
        _walk(_children(node), out, indent)
    elif kind == "table":
        out.append("\n\n")
        for row in _children(node):
            cells = []
            for cell in _children(row) if isinstance(row, Mapping) else []:
                parts: list[str] = []
                _walk(cell, parts, "")
                cells.append(" ".join(normalize_space("".join(parts)).split()))
            out.append(" | ".join(cells) + "\n")
        out.append("\n")
    elif kind in _BLOCKS:
        out.append("\n\n" + indent)
        _walk(_children(node), out, indent)
        out.append("\n\n")
    else:  # doc, listItem reached directly, tableCell, and anything new
        _walk(_children(node), out, indent)


def _walk_item(item: Any, out: list[str], indent: str) -> None:
    """A list item's first paragraph shares the marker's line; later blocks are indented below it."""
    if not isinstance(item, Mapping):
        return
    for n, child in enumerate(_children(item)):
        if n == 0 and isinstance(child, Mapping) and child.get("type") == "paragraph":
            _walk(_children(child), out, indent)
        elif isinstance(child, Mapping) and child.get("type") == "paragraph":
            out.append("\n" + indent)
            _walk(_children(child), out, indent)
        else:
            _walk(child, out, indent)
