"""Citation markers: keep the model's ``[n]`` when ``n`` was offered, drop the invented ones.

The prompt numbers the passages it offers ``1..n`` and the ``sources`` event lists them with
those same numbers. The streamed text keeps that numbering — there is one numbering at every
moment of the stream, so a ``[3]`` link shown while the answer is still arriving already
points to the passage the model meant. :class:`CitationRewriter` only

- removes a marker that names a number that was never offered, together with the space
  before it (``costs $5 [9].`` → ``costs $5.``), and
- normalises the members of a group (``[2,2]`` → ``[2]``, ``[1-3]`` with two offered → ``[1, 2]``),

and records the offered numbers in citation order (the ``done`` event lists them in number order).

Only citation-shaped brackets are touched: ``[1]``, ``[1][2]``, ``[1, 2]``, ``[1-3]``, at most
two digits per number (a detached ``[0]`` is dropped as never offered). Right after a word, a
marker is an index when it holds a zero or when a word, ``[``, ``(`` or ``.name`` follows
(``items[0]``, ``items[1].id``, ``m[1][2]``), and a citation otherwise (``costs $5[1].``).
The web widget applies the same rule when it turns markers into links.
Everything else is left as written: ``[2023]``, ``[Source 2]``, ``[ ]``, ``[see below]``,
and anything inside a code span or a fenced code block.
"""

from __future__ import annotations

import re

_MAX_MARKER = 24  # longest "[1, 2, 3]"-style marker considered a citation
_MARKER_CHARS = frozenset("0123456789 ,;-–")
_MEMBER = re.compile(r"^\s*(\d{1,2})\s*(?:[-–]\s*(\d{1,2})\s*)?$")
_MAX_RANGE = 10  # "[1-40]" is not a citation range


class CitationRewriter:
    """Incremental rewriter: feed text pieces, get back text safe to show now."""

    def __init__(self, offered: int) -> None:
        self.offered = offered
        self.order: list[int] = []  # offered numbers in the order they were first cited
        self.dropped: list[int] = []  # numbers the model cited that were never offered
        self._pending_ws = ""  # whitespace held back: it goes if the next marker is dropped
        self._bracket: str | None = None  # an open "[..." that may still become a citation
        self._started = False  # leading whitespace of the answer is dropped
        self._after_drop = False  # a marker was dropped at a line start: skip the spaces after it
        self._prev = ""  # the last character shown (an index follows a word: items[0])
        self._ticks = 0  # backticks seen: odd while inside a code span or fence
        self._attached: str | None = None  # "[1]" right after a word: a citation or an index?
        self._bracket_attached = False
        self._pending_char = ""
        self._index_chain = False

    def feed(self, text: str) -> str:
        out: list[str] = []
        for ch in text:
            if self._attached is None:
                out.append(self._feed_char(ch))
                continue
            out.append(self._resolve_attached(ch))
            if self._pending_char:  # the character that decided it is processed normally
                pending, self._pending_char = self._pending_char, ""
                out.append(self._feed_char(pending))
        return "".join(out)

    def _feed_char(self, ch: str) -> str:
        if self._bracket is not None:
            self._bracket += ch
            if ch == "]":
                numbers = _citation_numbers(self._bracket[1:-1])
                if self._bracket_attached and numbers is not None:
                    if 0 in numbers:  # items[0]: only an index starts at zero
                        text, self._bracket = self._bracket, None
                        return self._emit(text)
                    self._attached, self._bracket = self._bracket, None  # decided by what follows
                    return ""
                return self._close_bracket()
            if ch not in _MARKER_CHARS or len(self._bracket) > _MAX_MARKER:
                text, self._bracket = self._bracket, None
                return self._emit(text)
            return ""
        if ch == "[" and self._index_chain and self._prev == "]" and not self._pending_ws:
            return self._emit(ch)
        if ch == "[" and not self._ticks % 2:
            self._bracket = "["
            self._bracket_attached = _is_word(self._prev) and not self._pending_ws
            return ""
        if ch.isspace():
            if self._after_drop and ch in " \t":
                return ""
            self._pending_ws += ch
            return ""
        if ch == "`":
            self._ticks += 1
        return self._emit(ch)

    def _resolve_attached(self, ch: str) -> str:
        """``word[1]`` then ``ch``: an index when a word, a bracket, a call or ``.name`` follows."""
        marker = self._attached or ""
        if marker.endswith("]."):
            self._attached = None
            if _is_word(ch):  # items[1].id
                self._pending_char = ch
                return self._emit(marker)
            self._bracket, self._attached = marker[:-1], None
            self._pending_char = ch
            return self._close_bracket() + self._emit(".")
        if ch == ".":
            self._attached = marker + "."
            return ""
        self._attached = None
        self._pending_char = ch
        if _is_word(ch) or ch in "[(":
            shown = self._emit(marker)
            self._index_chain = True  # m[1][2]: the next bracket indexes too
            return shown
        self._bracket = marker
        return self._close_bracket()

    def finish(self) -> str:
        """Flush what is held back; trailing whitespace is dropped."""
        tail = ""
        if self._attached is not None:
            marker, self._attached = self._attached, None
            if marker.endswith("]."):
                self._bracket = marker[:-1]
                tail = self._close_bracket() + self._emit(".")
            else:
                self._bracket = marker
                tail = self._close_bracket()
        if self._bracket is not None:
            tail = self._emit(self._bracket)
            self._bracket = None
        self._pending_ws = ""
        return tail

    def new_paragraph(self) -> None:
        """The next text starts a paragraph: whitespace held back becomes exactly one blank line."""
        if self._started:
            self._pending_ws = "\n\n"

    def _emit(self, text: str) -> str:
        ws = self._pending_ws if self._started else ""
        self._pending_ws = ""
        self._started = True
        self._after_drop = False
        self._index_chain = False
        if text:
            self._prev = text[-1]
        return ws + text

    def _close_bracket(self) -> str:
        marker, self._bracket = self._bracket or "", None
        numbers = _citation_numbers(marker[1:-1])
        if numbers is None:
            return self._emit(marker)  # "[ ]", "[2023]", "[1-40]": not a citation
        shown: list[int] = []
        for n in numbers:
            if 1 <= n <= self.offered:
                if n not in self.order:
                    self.order.append(n)
                if n not in shown:
                    shown.append(n)
            elif n not in self.dropped:
                self.dropped.append(n)
        if shown:
            return self._emit("[" + ", ".join(str(n) for n in shown) + "]")
        # Dropped: the space before it goes too; a line break stays, and the spaces after a
        # dropped marker at the start of a line go instead.
        newlines = "".join(c for c in self._pending_ws if c in "\r\n") if self._started else ""
        self._pending_ws = ""
        if newlines or not self._started:
            self._after_drop = True
        return newlines


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _citation_numbers(inner: str) -> list[int] | None:
    """The numbers of a citation-shaped marker body ("1", "1, 2", "1-3"), else None."""
    if not inner.strip():
        return None
    numbers: list[int] = []
    for member in re.split(r"[,;]", inner):
        match = _MEMBER.match(member)
        if not match:
            return None
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if first == 0 and match.group(2):  # "[0-9]" is a character class, not a citation range
            return None
        if last < first or last - first > _MAX_RANGE:
            return None
        numbers.extend(range(first, last + 1))
    return numbers


def resolve_citations(text: str, offered: int) -> tuple[str, list[int]]:
    """Rewrite a whole answer at once; returns the text and the offered numbers in citation order."""
    rewriter = CitationRewriter(offered)
    out = rewriter.feed(text) + rewriter.finish()
    return out, list(rewriter.order)
