"""PII redaction before anything is embedded, stored or shown in a report.

Ingestion uses it through ``ingest.redact`` (a re-export); insights and drafts use it directly.

Kinds and placeholders: ``email`` -> ``[EMAIL]``, ``phone`` -> ``[PHONE]``, ``card`` -> ``[CARD]``,
``ip`` -> ``[IP]``, ``name`` -> ``[NAME]``. Patterns run in that order of specificity (emails,
cards, IPs, phones, then names), so a card number is never half-eaten as a phone.

What is deliberately *not* redacted, because support text is full of numbers that are not
personal: card-length digit runs that fail the Luhn check (order and invoice numbers);
dates, times, version numbers, amounts like ``1,250.00`` and short numbers (no phone rule
matches them: a phone needs a ``+`` prefix, a US ``(555) 123-4567``/``555-123-4567`` shape, or
a grouped national number starting with 0 and holding 9+ digits).

Names: the requester's full name and each part of it of 3+ letters, whole words, any case.
Parts that are also everyday words in a billing product ("Bill", "Price", "Page", "Cash")
are only matched capitalised, so "pay the bill" survives a customer called Bill Jones.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache

from assistant.schemas import Document, Ticket

PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]", "ip": "[IP]", "name": "[NAME]"}

_EMAIL = re.compile(r"(?<![\w.+-])\w[\w.%+-]*@(?:[\w-]+\.)+[^\W\d_]{2,}(?![\w-])")  # unicode: tomás@x.es
_CARD = re.compile(r"\d(?<![\d-]\d)(?:[ -]?\d){12,18}(?![\d-]|[ ]\d)")
# Candidates first, checked in Python: a leading lookbehind would defeat the regex engine's fast scan.
_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\.?\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?![\w:])")
_PHONE = re.compile(
    r"(?P<intl>(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,5}\)|\d{1,5})){2,6}(?!\w))"  # +44 20 7946 0958
    r"|(?P<us>(?<![\w.+-])(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\w|[.-]\d))"  # (555) 123-4567
    r"|(?P<national>(?<![\w.+-])0\d{1,4}(?:[ .-]\d{2,4}){2,4}(?!\w|[.-]\d))"  # 020 7946 0958
)
_MIN_PHONE_DIGITS = {"intl": 8, "us": 10, "national": 9}
_DATE_LIKE = re.compile(r"^\d{1,4}([.-])\d{1,2}\1\d{1,4}$")
_MAX_PHONE_DIGITS = 15
_MIN_NAME_PART = 3

# Everyday words that are also names: matched only when capitalised (or all caps).
_COMMON_WORDS = frozenset({
    "bill", "billing", "mark", "will", "may", "june", "april", "august", "grant", "chase", "faith", "hope",
    "joy", "rose", "dawn", "summer", "art", "rich", "frank", "gene", "pat", "sue", "don", "ray", "penny",
    "ruby", "amber", "hunter", "mason", "cook", "baker", "white", "black", "green", "brown", "young",
    "king", "long", "hall", "wood", "stone", "price", "bell", "lane", "ward", "page", "case", "cash",
    "card", "banks", "bank", "best", "little", "rice", "sterling", "cost", "money", "pay",
    "norman", "payne", "early", "day", "west", "north", "south", "major", "street", "field",
})


def luhn_ok(digits: str) -> bool:
    """The payment-card checksum: a digit run that fails it is an order number, not a card."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


class Redactor:
    """Built once per source; ``names`` are redacted in every text (e.g. staff-known customers)."""

    def __init__(self, *, names: Iterable[str] = ()) -> None:
        self._names = tuple(n for n in names if n and n.strip())

    def redact(self, text: str, *, names: Iterable[str] = ()) -> tuple[str, Counter[str]]:
        counts: Counter[str] = Counter()
        if not text:
            return text, counts
        if "@" in text:
            text = _EMAIL.sub(_counting("email", counts), text)
        if _has_digits(text):
            text = _CARD.sub(_card_sub(counts), text)
            text = _IPV4.sub(_ipv4_sub(counts), text)
            text = _PHONE.sub(_phone_sub(counts), text)
        if ":" in text:
            text = _IPV6.sub(_ipv6_sub(counts), text)
        all_names = (*self._names, *(n for n in names if n and n.strip()))
        if all_names:
            pattern = _name_pattern(frozenset(all_names))
            if pattern is not None:
                text = pattern.sub(_name_sub(counts), text)
        return text, counts


_DIGIT = re.compile(r"\d")


def _has_digits(text: str) -> bool:
    return _DIGIT.search(text) is not None


def _counting(kind: str, counts: Counter[str]) -> Callable[[re.Match[str]], str]:
    def sub(match: re.Match[str]) -> str:
        counts[kind] += 1
        return PLACEHOLDERS[kind]
    return sub


def _card_sub(counts: Counter[str]) -> Callable[[re.Match[str]], str]:
    def sub(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            counts["card"] += 1
            return PLACEHOLDERS["card"]
        return match.group(0)
    return sub


def _ipv4_sub(counts: Counter[str]) -> Callable[[re.Match[str]], str]:
    def sub(match: re.Match[str]) -> str:
        if all(int(octet) <= 255 for octet in match.group(0).split(".")):
            counts["ip"] += 1
            return PLACEHOLDERS["ip"]
        return match.group(0)
    return sub


def _phone_sub(counts: Counter[str]) -> Callable[[re.Match[str]], str]:
    def sub(match: re.Match[str]) -> str:
        found = match.group(0)
        kind = match.lastgroup or "intl"
        digits = sum(c.isdigit() for c in found)
        if not _MIN_PHONE_DIGITS[kind] <= digits <= _MAX_PHONE_DIGITS or _DATE_LIKE.match(found):
            return found
        if kind == "national" and len(set(re.findall(r"[ .-]", found))) > 1:
            return found  # "01.02.2024 05": a date followed by a number, not one phone number
        counts["phone"] += 1
        return PLACEHOLDERS["phone"]
    return sub


def _ipv6_sub(counts: Counter[str]) -> Callable[[re.Match[str]], str]:
    def sub(match: re.Match[str]) -> str:
        found = match.group(0)
        hex_digits = sum(c in "0123456789abcdefABCDEF" for c in found)
        if hex_digits < 4:  # "a::b", "12:30:45"-like shapes are not worth a guess
            return found
        try:
            ipaddress.IPv6Address(found)
        except ValueError:
            return found
        counts["ip"] += 1
        return PLACEHOLDERS["ip"]
    return sub


def _name_sub(counts: Counter[str]) -> Callable[[re.Match[str]], str]:
    def sub(match: re.Match[str]) -> str:
        counts["name"] += 1
        return PLACEHOLDERS["name"]
    return sub


@lru_cache(maxsize=1024)
def _name_pattern(names: frozenset[str]) -> re.Pattern[str] | None:
    """One alternation for the full names and their parts, longest first so full names win."""
    anywhere: set[str] = set()
    capitalised: set[str] = set()
    for name in names:
        full = " ".join(name.split())
        if len(full) >= _MIN_NAME_PART:
            anywhere.add(re.escape(full).replace(r"\ ", r"\s+"))
        for part in re.split(r"[\s,]+", full):
            part = part.strip(".'’-")
            if sum(c.isalpha() for c in part) < _MIN_NAME_PART:
                continue
            if part.lower() in _COMMON_WORDS:
                capitalised.add(re.escape(part[:1].upper() + part[1:].lower()))
                capitalised.add(re.escape(part.upper()))
            else:
                anywhere.add(re.escape(part))
    alternatives: list[str] = []
    if anywhere:
        alternatives.append("(?i:" + "|".join(sorted(anywhere, key=len, reverse=True)) + ")")
    if capitalised:
        alternatives.append("(?:" + "|".join(sorted(capitalised, key=len, reverse=True)) + ")")
    if not alternatives:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


def redact_ticket(ticket: Ticket, redactor: Redactor) -> tuple[Ticket, Counter[str]]:
    """Subject and every part; the requester's name is used, then dropped from the record."""
    names = (ticket.requester_name,) if ticket.requester_name else ()
    total: Counter[str] = Counter()
    subject, counts = redactor.redact(ticket.subject, names=names)
    total.update(counts)
    parts = []
    for part in ticket.parts:
        text, counts = redactor.redact(part.text, names=names)
        total.update(counts)
        parts.append(part.model_copy(update={"text": text}))
    return ticket.model_copy(update={"subject": subject, "parts": parts, "requester_name": None}), total


def redact_document(doc: Document, redactor: Redactor) -> tuple[Document, Counter[str]]:
    total: Counter[str] = Counter()
    title, counts = redactor.redact(doc.title)
    total.update(counts)
    blocks = []
    for block in doc.blocks:
        text, counts = redactor.redact(block.text)
        total.update(counts)
        section = []
        for heading in block.section:
            heading, counts = redactor.redact(heading)
            total.update(counts)
            section.append(heading)
        blocks.append(block.model_copy(update={"text": text, "section": tuple(section)}))
    return doc.model_copy(update={"title": title, "blocks": blocks}), total
