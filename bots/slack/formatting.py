"""Text between Markdown (what the pipeline writes) and Slack (mrkdwn, message size limits).

Slack does not render Markdown in ``text`` or ``section`` blocks: it has its own dialect,
mrkdwn (``*bold*``, ``_italic_``, ``<url|label>``, no headings), and it needs ``&``, ``<``
and ``>`` escaped. The Markdown is parsed with markdown-it (CommonMark) and re-rendered, so
code spans, nested lists and links inside emphasis come out right where regexes would not.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt

SECTION_LIMIT = 3000  # characters in one section block's text (Slack's limit)
_SAFE_LINK = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("strikethrough").enable("table")


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, label: str) -> str:
    """A Slack link, or the bare label when the URL is missing or not http(s)/mailto."""
    return _link_escaped(url, escape(label))


def to_mrkdwn(markdown: str) -> str:
    """Convert CommonMark (plus strikethrough and tables) to Slack mrkdwn."""
    renderer = _Renderer()
    renderer.render(_parser().parse(markdown))
    return "\n".join(renderer.lines).strip("\n")


class _Renderer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lists: list[list[Any]] = []  # [kind, next number] per open list
        self.quote = 0
        self.item_prefix: str | None = None
        self.blank_before = False
        self.table: list[list[str]] | None = None

    def render(self, tokens: list[Any]) -> None:
        for token in tokens:
            handler = getattr(self, "_" + token.type, None)
            if handler is not None:
                handler(token)

    # -------------------------------------------------------------- blocks

    def _emit(self, text: str) -> None:
        if self.blank_before and self.lines and not self.lists:
            self.lines.append("> " if self.quote else "")
        self.blank_before = False
        indent = "    " * max(0, len(self.lists) - 1)
        for i, line in enumerate(text.split("\n")):
            if i == 0 and self.item_prefix is not None:
                line = indent + self.item_prefix + line
                self.item_prefix = None
            elif self.lists:
                line = indent + "   " + line
            self.lines.append(("> " if self.quote else "") + line)

    def _end_block(self) -> None:
        if not self.lists:
            self.blank_before = True

    def _inline(self, token: Any) -> None:
        if self.table is not None:
            self.table[-1].append(_inline(token.children or []))
            return
        self._emit(_inline(token.children or []))

    def _paragraph_close(self, token: Any) -> None:
        self._end_block()

    def _heading_close(self, token: Any) -> None:
        if self.lines:
            text = self.lines[-1].removeprefix("> ")
            self.lines[-1] = ("> " if self.quote else "") + (f"*{text}*" if text else text)
        self._end_block()

    def _bullet_list_open(self, token: Any) -> None:
        if not self.lists and self.lines:
            self.blank_before = True
            self._emit_blank_if_needed()
        self.lists.append(["ul", 0])

    def _ordered_list_open(self, token: Any) -> None:
        if not self.lists and self.lines:
            self.blank_before = True
            self._emit_blank_if_needed()
        start = token.attrGet("start")
        self.lists.append(["ol", int(start) if start is not None else 1])

    def _emit_blank_if_needed(self) -> None:
        if self.blank_before and self.lines:
            self.lines.append("> " if self.quote else "")
        self.blank_before = False

    def _bullet_list_close(self, token: Any) -> None:
        self.lists.pop()
        self._end_block()

    _ordered_list_close = _bullet_list_close

    def _list_item_open(self, token: Any) -> None:
        kind = self.lists[-1]
        if kind[0] == "ul":
            self.item_prefix = "• " if len(self.lists) == 1 else "◦ "
        else:
            self.item_prefix = f"{kind[1]}. "
            kind[1] += 1

    def _fence(self, token: Any) -> None:
        self._emit("```\n" + escape(token.content.rstrip("\n")) + "\n```")
        self._end_block()

    _code_block = _fence

    def _blockquote_open(self, token: Any) -> None:
        self._emit_blank_if_needed()
        self.quote += 1

    def _blockquote_close(self, token: Any) -> None:
        self.quote -= 1
        self._end_block()

    def _hr(self, token: Any) -> None:
        self._emit("───")
        self._end_block()

    def _html_block(self, token: Any) -> None:
        self._emit(escape(token.content.rstrip("\n")))
        self._end_block()

    def _table_open(self, token: Any) -> None:
        self.table = []

    def _tr_open(self, token: Any) -> None:
        if self.table is not None:
            self.table.append([])

    def _table_close(self, token: Any) -> None:
        rows, self.table = self.table or [], None
        widths = [max(len(r[i]) if i < len(r) else 0 for r in rows) for i in range(max(map(len, rows), default=0))]
        text = "\n".join(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows)
        self._emit("```\n" + text + "\n```")
        self._end_block()


def _inline(children: list[Any]) -> str:
    parts: list[str] = []
    links: list[tuple[str | None, int]] = []
    for token in children:
        kind = token.type
        in_link = bool(links)
        if kind == "text":
            parts.append(escape(token.content))
        elif kind in ("strong_open", "strong_close") and not in_link:
            parts.append("*")
        elif kind in ("em_open", "em_close") and not in_link:
            parts.append("_")
        elif kind in ("s_open", "s_close") and not in_link:
            parts.append("~")
        elif kind == "code_inline":
            parts.append(escape(token.content) if in_link else f"`{escape(token.content)}`")
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" " if in_link else "\n")
        elif kind == "link_open":
            links.append((token.attrGet("href"), len(parts)))
        elif kind == "link_close" and links:
            href, start = links.pop()
            label = "".join(parts[start:])
            del parts[start:]
            parts.append(_link_escaped(str(href) if href else None, label))
        elif kind == "image":
            alt = "".join(escape(c.content) for c in (token.children or []) if c.type == "text") or "image"
            src = token.attrGet("src")
            parts.append(_link_escaped(str(src) if src else None, alt))
        elif kind == "html_inline":
            parts.append(escape(token.content))
    return "".join(parts)


def _link_escaped(url: str | None, escaped_label: str) -> str:
    label = escaped_label.replace("|", "¦")
    if url and _SAFE_LINK.match(url):
        return f"<{url.replace('>', '%3E').replace('|', '%7C')}|{label}>"
    return label


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split mrkdwn into pieces of at most ``limit`` characters on line boundaries, closing
    and reopening a code fence that a cut lands in."""
    if len(text) <= limit:
        return [text] if text.strip() else []
    budget = limit - 4  # room for the closing fence
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    in_fence = False

    def flush() -> None:
        nonlocal current, size
        body = "\n".join(current).strip("\n")
        if in_fence:
            body += "\n```"
        if body.replace("```", "").strip():
            pieces.append(body)
        current, size = (["```"], 4) if in_fence else ([], 0)

    for line in _short_lines(text.split("\n"), budget - 8):
        if current and size + len(line) + 1 > budget:
            flush()
        current.append(line)
        size += len(line) + 1
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
    in_fence = False
    flush()
    return pieces


def _short_lines(lines: list[str], width: int) -> list[str]:
    out: list[str] = []
    for line in lines:
        while len(line) > width:
            cut = line.rfind(" ", width // 2, width)
            cut = cut if cut > 0 else width
            out.append(line[:cut])
            line = line[cut:].lstrip()
        out.append(line)
    return out


_SLACK_TOKEN = re.compile(r"<([^<>]+)>")


def plain_question(text: str, bot_user_id: str | None = None) -> str:
    """Slack's message markup back to plain text: the bot's own mention removed, links and
    mentions readable, entities unescaped."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "" if bot_user_id and target[1:] == bot_user_id else "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return f"{label} ({target})" if label and label != target else target

    plain = _SLACK_TOKEN.sub(replace, text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]+", " ", plain).strip()
