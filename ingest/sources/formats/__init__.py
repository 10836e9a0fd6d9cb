"""One parser per document format. Each turns bytes or text into a :class:`Parsed` document.

Section paths leave out the heading that is the document's title (the first H1, or a heading
that repeats the title from metadata): a block under ``# Refunds`` / ``## Card payments`` has
title "Refunds" and section ``("Card payments",)``, so chunks do not repeat the title twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.schemas import TextBlock


class ParseError(ValueError):
    """The file is not a readable document of its format; the message is the reason shown."""


@dataclass
class Parsed:
    title: str | None
    blocks: list[TextBlock]
    metadata: dict[str, Any] = field(default_factory=dict)


def same_text(a: str | None, b: str | None) -> bool:
    """Headings compared the way a reader would: case and spacing do not matter."""
    return a is not None and b is not None and " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


class SectionPath:
    """The current heading path while a parser walks a document top to bottom."""

    def __init__(self) -> None:
        self._levels: list[tuple[int, str]] = []

    def enter(self, level: int, heading: str) -> None:
        self.leave(level)
        self._levels.append((level, heading))

    def reset(self) -> None:
        self._levels.clear()

    def leave(self, level: int) -> None:
        """Close the headings at ``level`` and below (a definition's term, at the end of its list)."""
        while self._levels and self._levels[-1][0] >= level:
            self._levels.pop()

    @property
    def depth(self) -> int:
        """The level of the innermost open heading (0 before any)."""
        return self._levels[-1][0] if self._levels else 0

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(heading for _, heading in self._levels)
