"""Citation markers: map the model's ``[n]`` to sources, renumber them, drop the invented ones.

The prompt numbers the passages it offers ``1..n``. Answers cite a subset, in any order, and
small models cite numbers they were never given. :class:`CitationRewriter` rewrites the text
as it streams, so the tokens a user sees are exactly the final answer: the first source cited
becomes ``[1]``, the next new one ``[2]``, and so on; a marker naming a number that was not
offered is removed together with the space before it (``costs $5 [9].`` → ``costs $5.``).
Groups such as ``[2, 4]`` are rewritten member by member. Brackets that are not citations
(``[ ]``, ``[see below]``) pass through untouched.
"""

from __future__ import annotations

import re

_MAX_MARKER = 24  # longest "[1, 2, 3]"-style marker considered a citation
_MARKER_CHARS = frozenset("0123456789 ,;")


class CitationRewriter:
    """Incremental rewriter: feed text pieces, get back text safe to show now."""

    def __init__(self, offered: int) -> None:
        self.offered = offered
        self.order: list[int] = []  # offered numbers in citation order: order[i] is shown as [i + 1]
        self.dropped: list[int] = []  # numbers the model cited that were never offered
        self._pending_ws = ""  # whitespace held back: it goes if the next marker is dropped
        self._bracket: str | None = None  # an open "[..." that may still become a citation
        self._started = False  # leading whitespace of the answer is dropped
        self._after_drop = False  # a marker was dropped at a line start: skip the spaces after it

    def feed(self, text: str) -> str:
        out: list[str] = []
        for ch in text:
            if self._bracket is not None:
                self._bracket += ch
                if ch == "]":
                    out.append(self._close_bracket())
                elif ch not in _MARKER_CHARS or len(self._bracket) > _MAX_MARKER:
                    out.append(self._emit(self._bracket))
                    self._bracket = None
            elif ch == "[":
                self._bracket = "["
            elif ch.isspace():
                if self._after_drop and ch in " \t":
                    continue
                self._pending_ws += ch
            else:
                out.append(self._emit(ch))
        return "".join(out)

    def finish(self) -> str:
        """Flush what is held back; trailing whitespace is dropped."""
        tail = ""
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
        return ws + text

    def _close_bracket(self) -> str:
        marker, self._bracket = self._bracket or "", None
        numbers = [int(n) for n in re.findall(r"\d+", marker)]
        if not numbers:
            return self._emit(marker)  # "[ ]", "[,]": not a citation
        shown: list[int] = []
        for n in numbers:
            if 1 <= n <= self.offered:
                if n not in self.order:
                    self.order.append(n)
                new = self.order.index(n) + 1
                if new not in shown:
                    shown.append(new)
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


def resolve_citations(text: str, offered: int) -> tuple[str, list[int]]:
    """Rewrite a whole answer at once; returns the text and the offered numbers in citation order."""
    rewriter = CitationRewriter(offered)
    out = rewriter.feed(text) + rewriter.finish()
    return out, list(rewriter.order)
