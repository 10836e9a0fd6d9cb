"""PII redaction: each kind is replaced by a readable placeholder; look-alikes are left alone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from assistant.errors import SourceError
from assistant.schemas import Document, TextBlock, Ticket, TicketPart
from ingest.redact import Redactor, redact_document, redact_ticket
from ingest.sources.config import SourceConfig
from ingest.sources.tickets import iter_tickets

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"


def redact(text: str, names: tuple[str, ...] = ()) -> tuple[str, dict[str, int]]:
    out, counts = Redactor().redact(text, names=names)
    return out, dict(counts)


@pytest.mark.parametrize(("text", "expected", "kind"), [
    ("write to jane.doe+billing@example.co.uk today", "write to [EMAIL] today", "email"),
    ("escribe a tomás@ironworks.com.au.", "escribe a [EMAIL].", "email"),
    ("Card 4111 1111 1111 1111 was declined", "Card [CARD] was declined", "card"),
    ("card 5555-5555-5555-4444.", "card [CARD].", "card"),
    ("amex 378282246310005 ok", "amex [CARD] ok", "card"),
    ("call +44 20 7946 0958 now", "call [PHONE] now", "phone"),
    ("call +1 (415) 555-0133 now", "call [PHONE] now", "phone"),
    ("call (415) 555-0133 now", "call [PHONE] now", "phone"),
    ("call 415-555-0133 now", "call [PHONE] now", "phone"),
    ("call 415.555.0133 now", "call [PHONE] now", "phone"),
    ("call 020 7946 0958 now", "call [PHONE] now", "phone"),
    ("mobile 06 12 34 56 78", "mobile [PHONE]", "phone"),
    ("from 203.0.113.45.", "from [IP].", "ip"),
    ("from 2001:db8::8a2e:370:7334 today", "from [IP] today", "ip"),
    ("link-local fe80::1ff:fe23:4567:890a", "link-local [IP]", "ip"),
])
def test_each_kind_is_replaced_by_its_placeholder(text: str, expected: str, kind: str) -> None:
    assert redact(text) == (expected, {kind: 1})


@pytest.mark.parametrize("text", [
    "Order 1234 5678 9012 3456 failed",  # card-length but fails Luhn
    "invoice INV-2024-000123 and ticket #48213",
    "On 2024-01-15 at 10:30:45 we shipped v2.10.3 (build 1.2.3.4.5)",
    "Total 1,250.00 USD, or 1.250,00 EUR, or $1,234,567.89",
    "Dates 15.01.2024, 01.02.2024 05/06/2024 and 2024.01.15",
    "ref 12345678 and 100000000 and zip 94107",
    "version v1.2.3.4 and 999.1.1.1 and 256.10.10.10",
    "C++ std::vector, a::b, 12:30:45 and 2024-01-15T10:30:00Z",
    "Support: support@ledgerly",  # no domain suffix: not an address
    "+5 users, +10% fee, 3 days",
])
def test_look_alikes_are_not_redacted(text: str) -> None:
    assert redact(text) == (text, {})


def test_requester_name_and_its_parts_are_redacted_case_insensitively() -> None:
    text = "Thanks Dana! DANA WHITFIELD confirmed. Regards, dana whitfield (Whitfield Design)"
    out, counts = redact(text, names=("Dana Whitfield",))
    assert out == "Thanks [NAME]! [NAME] confirmed. Regards, [NAME] ([NAME] Design)"
    assert counts == {"name": 4}


def test_short_name_parts_and_substrings_are_left_alone() -> None:
    out, _ = redact("Li Wei asked about Liability and Weights", names=("Li Wei",))
    assert out == "[NAME] asked about Liability and Weights"  # "Li" is too short alone


def test_name_parts_that_are_everyday_words_only_match_capitalised() -> None:
    out, counts = redact("Hi Bill, we will bill you monthly. BILL JONES, billing", names=("Bill Jones",))
    assert out == "Hi [NAME], we will bill you monthly. [NAME], billing"
    assert counts == {"name": 2}


def test_names_given_to_the_redactor_apply_to_every_text() -> None:
    redactor = Redactor(names=["Grace Obi"])
    assert redactor.redact("Grace wrote in")[0] == "[NAME] wrote in"
    assert redactor.redact("Obi again", names=["Tom Hart"])[0] == "[NAME] again"


def test_counts_add_up_over_mixed_text() -> None:
    text = ("Dana (dana@x.example, +1 415 555 0133) paid with 4242 4242 4242 4242 "
            "from 198.51.100.7; Dana's backup email is d.w@y.example")
    out, counts = redact(text, names=("Dana Whitfield",))
    assert counts == {"name": 2, "email": 2, "phone": 1, "card": 1, "ip": 1}
    assert "[NAME] ([EMAIL], [PHONE]) paid with [CARD] from [IP]; [NAME]'s" in out


def test_redact_ticket_covers_subject_and_parts_and_clears_the_requester_name() -> None:
    tickets = [t for t in iter_tickets(SourceConfig(name="zd", type="zendesk", path=EXPORTS / "zendesk_page.json",
                                                    audience="internal")) if not isinstance(t, SourceError)]
    ticket = next(t for t in tickets if t.id == "1001")
    ticket.subject = "Refund for Dana Whitfield"
    redacted, counts = redact_ticket(ticket, Redactor())
    assert redacted.requester_name is None
    assert redacted.subject == "Refund for [NAME]"
    assert redacted.parts[0].text == ("Hi, I was charged twice for invoice INV-2041. Card [CARD]. "
                                      "Please call me on [PHONE]. Thanks, [NAME]")
    assert "client IP [IP]" in redacted.parts[1].text
    assert redacted.parts[2].text.startswith("Hi [NAME],")
    assert counts == {"name": 3, "card": 1, "phone": 1, "ip": 1}
    assert [p.role for p in redacted.parts] == [p.role for p in ticket.parts]
    assert ticket.requester_name == "Dana Whitfield"  # the input record is not modified


def test_redact_document_covers_title_sections_and_blocks() -> None:
    doc = Document(source="kb", key="a.md", path="a.md", title="Escalations", audience="internal",
                   blocks=[TextBlock(section=("Call +1 415 555 0133",), text="Mail ops@ledgerly.example")],
                   fingerprint="x")
    redacted, counts = redact_document(doc, Redactor())
    assert (redacted.blocks[0].section, redacted.blocks[0].text) == (("Call [PHONE]",), "Mail [EMAIL]")
    assert counts == {"phone": 1, "email": 1}


def test_three_hundred_tickets_redact_well_under_a_second() -> None:
    text = ("Hi, I'm Dana Whitfield (dana@whitfield.example). I was charged twice on INV-2041 for $1,250.00 on "
            "2024-03-04 with card 4111 1111 1111 1111 from 203.0.113.45. Call +1 (415) 555-0133. Running v2.10.3.")
    tickets = [Ticket(source="zd", id=str(n), subject=f"Refund {n}", status="solved", resolved=True,
                      requester_name=f"Dana Whitfield{n % 40}",
                      parts=[TicketPart(role="customer", text=text), TicketPart(role="agent", text=text),
                             TicketPart(role="customer", text=text)])
               for n in range(300)]
    redactor = Redactor()
    start = time.perf_counter()
    results = [redact_ticket(t, redactor) for t in tickets]
    elapsed = time.perf_counter() - start
    assert all(c["card"] == 3 and c["email"] == 3 for _, c in results)
    assert elapsed < 1.0, f"300 tickets took {elapsed:.2f}s"
