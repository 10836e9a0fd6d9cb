"""Stop an answer that starts repeating itself.

Small models (the embedded SmolLM2-135M above all) fall into loops: "6. Click Refund again…",
"7. Click Refund again…". A line or sentence that repeats an earlier one is held back while it
still could be new, and when it turns out to be a repeat the answer ends there instead of
showing the loop. Novel text streams through as soon as it differs from everything seen, so
the user sees no delay on a normal answer. Short units ("Thanks!") may repeat freely, and so may
two units that open alike; a third that opens like them ends the answer.
"""

from __future__ import annotations

import re

MIN_REPEAT_CHARS = 40  # a unit this long that repeats an earlier one ends the answer
PREFIX_CHARS = 24  # units are remembered from this length; a third unit opening with the same
PREFIX_REPEATS = 2  # PREFIX_CHARS as two earlier ones ("Click Refund Payment again …") ends it too
_LEADING_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])?\s*")
_PARTIAL_MARKER = re.compile(r"\s*(?:[-*•]|\d+[.)]?)?\s*")  # "", "1", "12.", "- ": nothing to judge yet
_SPACES = re.compile(r"\s+")
_UNIT_END = frozenset("\n")
_SENTENCE_END = frozenset(".!?")


def _key(unit: str) -> str:
    """A unit without list markers, case and spacing: "7. Click  Refund" == "8. click refund"."""
    return _SPACES.sub(" ", _LEADING_MARKER.sub("", unit)).strip().lower()


class RepetitionGuard:
    def __init__(self, min_chars: int = MIN_REPEAT_CHARS) -> None:
        self.min_chars = min_chars
        self.stopped = False
        self._seen: list[str] = []
        self._unit = ""  # the current line or sentence so far
        self._held = ""  # its part not shown yet
        self._novel = False  # the current unit already differs from every earlier one

    def feed(self, text: str) -> str:
        """Text that may be shown now; sets :attr:`stopped` when a repeat begins."""
        out: list[str] = []
        for ch in text:
            if self.stopped:
                break
            self._unit += ch
            self._held += ch
            ends_unit = ch in _UNIT_END or (  # "1. " opens a list item, it does not end a sentence
                ch == " " and len(self._unit) > 1 and self._unit[-2] in _SENTENCE_END and len(_key(self._unit)) > 3)
            if ends_unit:
                self._close_unit(out)
                continue
            if self._novel:
                out.append(self._held)
                self._held = ""
                continue
            if _PARTIAL_MARKER.fullmatch(self._unit):
                continue
            key = _key(self._unit)
            matches = [s for s in self._seen if s.startswith(key)] if key else self._seen
            if not matches:
                self._novel = True
                out.append(self._held)
                self._held = ""
            elif len(key) >= self.min_chars or (
                    len(key) >= PREFIX_CHARS
                    and sum(s.startswith(key[:PREFIX_CHARS]) for s in self._seen) >= PREFIX_REPEATS):
                self.stopped = True
                self._held = ""
        return "".join(out)

    def finish(self) -> str:
        """At the end of the stream: what is still held back is shown (it never proved a repeat)."""
        held, self._held = ("" if self.stopped else self._held), ""
        return held

    def _close_unit(self, out: list[str]) -> None:
        key = _key(self._unit)
        if len(key) >= self.min_chars and key in self._seen and not self._novel:
            self.stopped = True  # a whole unit that repeats an earlier one: drop it and stop
            self._held = ""
            return
        if len(key) >= PREFIX_CHARS:
            self._seen.append(key)
        out.append(self._held)
        self._held = ""
        self._unit = ""
        self._novel = False
