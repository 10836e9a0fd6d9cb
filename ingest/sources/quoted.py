"""Earlier messages quoted under an email reply, which a helpdesk stores with every comment.

A customer who answers by email sends the whole thread back: "On Mon, 6 Jan 2025, Ledgerly
Support <support@…> wrote:" and every earlier message, prefixed with ``>``, or under Outlook's
"From: … Sent: … Subject: …" block. Zendesk's ``plain_body`` usually has it cut already;
Freshdesk's ``body_text`` and most HTML bodies do not. Kept, each earlier message is indexed
again inside every reply: the agent's answer turns up as the customer's words, tickets match
questions by text repeated many times, and answers quote it. Only what the author of this
message wrote is kept; a message that is nothing but a quote (or a forward, which is what the
sender wants us to read) is left as it is.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

_REPLY_VERBS = r"(?:wrote|writes|a écrit|schrieb|escribió|schreef|ha scritto|skrev|napisał)"
# "On Mon, 6 Jan 2025 at 10:02, Ledgerly Support <support@ledgerly.example> wrote:" (mail clients
# wrap it over two or three lines).
_REPLY_HEADER = re.compile(rf"^\s*(?:On|Le|Am|El|Op|Il|Den|W dniu)\b.{{4,300}}?\b{_REPLY_VERBS}\s*:\s*$",
                           re.IGNORECASE | re.DOTALL)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|"
                       r"Mensaje original)\s*-{2,}\s*$", re.IGNORECASE)
_REPLY_ABOVE = re.compile(r"^\s*##-.{0,80}-##\s*$")  # Zendesk's "##- Please type your reply above this line -##"
_FROM = re.compile(r"^\s*\**(?:From|Von|De)\s*:\**\s+\S", re.IGNORECASE)
_HEADER_FIELD = re.compile(r"^\s*\**(?:Sent|Date|To|Subject|Gesendet|An|Betreff|Envoyé|Objet)\s*:", re.IGNORECASE)
_QUOTED = re.compile(r"^\s*>")
_FORWARD = re.compile(r"^\s*-*\s*(?:-+ ?Forwarded message|Begin forwarded message|Weitergeleitete Nachricht|"
                      r"Message transféré|Mensaje reenviado)", re.IGNORECASE)
_RULE = re.compile(r"\s*[_-]{5,}\s*")
_HEADER_LINES = 3  # a reply header wraps over at most this many lines
_FIELDS_WITHIN = 5  # an Outlook "From:" line has its Sent/To/Subject lines within this many lines

# HTML containers mail clients put the quoted thread in.
_QUOTE_CONTAINERS = ("div.gmail_quote", "blockquote[type=cite]", "div.yahoo_quoted", "div#divRplyFwdMsg",
                     "div#appendonsend", "div.moz-cite-prefix")


def _quote_starts(lines: list[str]) -> int | None:
    """Index of the line where the quoted thread begins, if one does. A forwarded message is what
    its sender wants read: nothing from its marker on is taken for a quote."""
    forward = next((i for i, line in enumerate(lines) if _FORWARD.match(line)), len(lines))
    for i, line in enumerate(lines[:forward]):
        if _REPLY_ABOVE.match(line) or _ORIGINAL.match(line):
            return i
        if line.strip() and any(_REPLY_HEADER.match(" ".join(lines[i:i + n])) for n in range(1, _HEADER_LINES + 1)):
            return i
        if _FROM.match(line) and sum(bool(_HEADER_FIELD.match(f)) for f in lines[i + 1:i + 1 + _FIELDS_WITHIN]) >= 2:
            return i
    return None


def without_quoted_text(text: str) -> str:
    """``text`` without the earlier messages it quotes; itself when nothing else would be left."""
    lines = text.splitlines()
    start = _quote_starts(lines)
    if start is not None:
        lines = lines[:start]
    own = [line for line in lines if not _QUOTED.match(line)]
    while own and (not own[-1].strip() or _RULE.fullmatch(own[-1])):  # the rule Outlook draws above "From:"
        own.pop()
    return "\n".join(own).strip() or text


def without_quoted_html(html: str) -> str:
    """An HTML body without the elements mail clients wrap a quoted thread in (when any is there
    and something else is left)."""
    if not any(marker in html for marker in ("gmail_quote", "cite", "yahoo_quoted", "divRplyFwdMsg",
                                              "appendonsend", "moz-cite-prefix")):
        return html
    soup = BeautifulSoup(html, "html.parser")
    for selector in _QUOTE_CONTAINERS:
        for element in soup.select(selector):
            element.decompose()
    return str(soup) if soup.get_text().strip() else html
