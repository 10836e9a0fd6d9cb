"""How a ticket chunk's text reads: whose words each line is, and which lines are courtesy.

Ingest writes a ticket as turns, one per message, each starting with its role
(``Customer: ...``, ``Agent: ...``, ``Agent (internal note): ...``; see
``ingest/chunking.py``), redacted (``[NAME]``, ``[EMAIL]``). Two readers need the same
reading: the extractive answer, which quotes what staff answered and never what a customer
wrote (the customer's words state the problem, are untrusted, and were what made the ticket
match the question), and the article drafts, which mine resolved tickets for replies worth
publishing. Greetings, sign-offs and signature blocks are part of every message and answer
nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TURN = re.compile(r"^(Customer|Agent|System)( \(internal note\))?: ?", re.MULTILINE)
GREETING = re.compile(r"^(hi|hello|hey|dear|good (morning|afternoon|evening))\b[^.!?\n]{0,40}[,!.]?\s*$",
                      re.IGNORECASE)
SIGNOFF = re.compile(r"^(thanks|thank you|cheers|best|regards|kind regards|best regards|many thanks|"
                     r"let me know|hope (this|that) helps|happy to help|have a (great|good|nice)|"
                     r"sorry (you|to hear|for the|about)|great question|good question)\b",
                     re.IGNORECASE)
NAME_ONLY = re.compile(r"^(\[NAME\]|[A-Z][a-z]+( [A-Z][a-z]+)?)[.!]?$")
PLACEHOLDERS_ONLY = re.compile(r"^(\[[A-Z]+\][\s,.]*)+$")
_PLACEHOLDER = re.compile(r"\[[A-Z]+\]")  # what redaction leaves: [NAME], [EMAIL], [PHONE]
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
# "Thanks for reaching out." / "Thanks, " before what the sentence says: courtesy, not content.
_COURTESY_LEAD = re.compile(r"^(?:thanks|thank you)(?: (?:so much|for (?:reaching out|getting in touch|the "
                            r"(?:details|screenshot|info(?:rmation)?|update)|your patience|waiting)))?[,!.:;]\s+",
                            re.IGNORECASE)
_GREETING_LEAD = re.compile(r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b[^,.!?\n]{0,40}[,!]\s+(?=\S)",
                            re.IGNORECASE)
SIGNATURE_LINES = 4  # at most this many short lines after a sign-off are its signature
_SIGNATURE_WORDS = 6  # ... each of at most this many words


def turn_label(role: str, internal: bool) -> str:
    """How a turn starts in a ticket chunk (``ingest/chunking.py`` writes it, :data:`TURN` reads
    it): "Customer:", "Agent:", "Agent (internal note):"."""
    return f"{role} (internal note):" if internal else f"{role}:"


@dataclass(frozen=True)
class Turn:
    role: str  # "Customer", "Agent" or "System"
    internal: bool  # an internal note: staff-only
    text: str

    @property
    def label(self) -> str:
        return turn_label(self.role, self.internal)


def turns(text: str) -> list[Turn]:
    """The turns of a ticket chunk, in order. Text before the first role mark (a chunk that
    starts inside a long message) belongs to nobody it can name, and is left out."""
    marks = list(TURN.finditer(text))
    return [Turn(mark.group(1), bool(mark.group(2)),
                 text[mark.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)].strip())
            for i, mark in enumerate(marks)]


def is_courtesy_line(line: str) -> bool:
    """A greeting, a name or placeholder alone, or a short sign-off ("Best,", "Thanks again!")."""
    line = line.strip()
    return bool(GREETING.match(line) or NAME_ONLY.match(line) or PLACEHOLDERS_ONLY.match(line)
                or (SIGNOFF.match(line) and len(line.split()) <= 4))


def without_signature(text: str) -> str:
    """A message without its signature block: everything after a ``--`` line, and a closing
    sign-off line with the few short lines under it ("Best,\\nMateus\\nLedgerly Support")."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() in ("--", "-- "):
            lines = lines[:i]
            break
    content = [i for i, line in enumerate(lines) if line.strip()]
    for i in reversed(content):
        if not (SIGNOFF.match(lines[i].strip()) and len(lines[i].split()) <= 8):
            continue
        after = [lines[j] for j in content if j > i]
        if len(after) <= SIGNATURE_LINES and all(len(a.split()) <= _SIGNATURE_WORDS for a in after):
            lines = lines[:i]
        break
    # A closing paragraph of a few short lines with a name or a redacted contact in it
    # ("[NAME]\nCedar Builders Co.\n[PHONE]") is a signature without a sign-off.
    paragraphs = re.split(r"\n\s*\n", "\n".join(lines).strip())
    last = [line for line in paragraphs[-1].splitlines() if line.strip()]
    if (len(paragraphs) > 1 and len(last) <= SIGNATURE_LINES
            and all(len(line.split()) <= _SIGNATURE_WORDS for line in last)
            and any(NAME_ONLY.match(line.strip()) or _PLACEHOLDER.search(line) for line in last)):
        paragraphs.pop()
    return "\n\n".join(paragraphs).strip()


def staff_reply(text: str) -> str:
    """What staff answered in a message: its paragraphs without greetings, sign-offs, the
    signature, a leading "Thanks, ", questions back to the customer ("Could you send me a
    screenshot?"), which answer nothing, and sentences about the customer's own redacted details
    ("the reset email goes to [EMAIL]"). Paragraphs stay apart; numbered steps keep their lines."""
    kept: list[str] = []
    for paragraph in re.split(r"\n\s*\n", without_signature(text)):
        lines = []
        for line in map(_content_line, paragraph.splitlines()):
            if not line:
                continue
            sentences = [_without_courtesy(s) for s in SENTENCE.split(line)]
            sentences = [s for s in sentences
                         if s and not s.endswith("?") and not GREETING.match(s) and not _PLACEHOLDER.search(s)
                         and not (SIGNOFF.match(s) and len(s.split()) <= 8)]
            if sentences:
                lines.append(" ".join(sentences))
        if lines:
            kept.append("\n".join(lines))
    return "\n\n".join(kept)


def _without_courtesy(sentence: str) -> str:
    """"Thanks, this is a known issue …" → "This is a known issue …"."""
    rest = _COURTESY_LEAD.sub("", sentence.strip())
    return rest[:1].upper() + rest[1:] if rest != sentence.strip() else rest


def staff_text(text: str) -> str:
    """What staff wrote in a ticket chunk: agents' replies and internal notes (notes only ever
    reach internal chunks, and an agent asking about a ticket may want exactly what a colleague
    noted), cleaned by :func:`staff_reply`; customers' and system lines left out."""
    return "\n\n".join(reply for reply in (staff_reply(t.text) for t in turns(text) if t.role == "Agent")
                       if reply)


def customer_problem(text: str) -> str:
    """The first customer message of a ticket chunk without greeting, sign-off and signature
    lines: what the staff's replies answer ("" when the chunk holds none)."""
    first = next((t.text for t in turns(text) if t.role == "Customer"), "")
    return " ".join(_message_lines(first))


def _message_lines(text: str) -> list[str]:
    """A message's lines without its signature block and its courtesy lines."""
    return [line for line in map(_content_line, without_signature(text).splitlines()) if line]


def _content_line(line: str) -> str:
    """A line without the greeting it opens with; "" for a courtesy line. "Hey Mateo, By default
    …" reads as a greeting line as a whole, so what follows the greeting is what is judged."""
    greeted = line.strip()
    line = _GREETING_LEAD.sub("", greeted)
    if line != greeted:
        line = line[:1].upper() + line[1:]
    return "" if not line or is_courtesy_line(line) else line


def readable_ticket(text: str) -> str:
    """A ticket chunk for a reader that needs the whole exchange (an LLM's prompt): every turn
    under its role, without greetings, sign-offs and signature blocks; a turn left empty is
    dropped. The text before the first role mark, if any, stays as it is."""
    first = TURN.search(text)
    head = (text[:first.start()] if first else text).strip()
    out = [head] if head else []
    for turn in turns(text):
        body = "\n".join(_message_lines(turn.text))
        if body:
            out.append(f"{turn.label} {body}")
    return "\n".join(out)
