"""Email replies stored with the thread they quote: only what this message's author wrote is kept."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.sources.exports import body_text
from ingest.sources.quoted import without_quoted_html, without_quoted_text
from tests.unit.test_sources_tickets import load

AGENT_ANSWER = "Open Payments, find the second payment and click Refund."


def test_a_gmail_style_reply_loses_the_header_and_the_quoted_lines() -> None:
    text = ("That worked, thanks!\n\nOn Mon, 6 Jan 2025 at 10:02, Ledgerly Support <support@ledgerly.example> wrote:\n"
            f"> Hi Diego,\n>\n> {AGENT_ANSWER}\n>\n> Best,\n> Ravi")
    assert without_quoted_text(text) == "That worked, thanks!"


def test_a_reply_header_wrapped_over_two_lines_is_still_found() -> None:
    text = ("Still failing for me.\n\nOn Mon, Jan 6, 2025 at 10:02 AM Ledgerly Support <\nsupport@ledgerly.example> "
            f"wrote:\n\n{AGENT_ANSWER}")
    assert without_quoted_text(text) == "Still failing for me."


def test_outlook_headers_and_original_message_markers_start_the_quote() -> None:
    outlook = ("It says Bounced.\n\n________________________________\n"
               "From: Ledgerly Support <support@ledgerly.example>\n"
               f"Sent: Monday, January 6, 2025 10:02\nTo: Diego\nSubject: Re: Invoice not received\n\n{AGENT_ANSWER}")
    assert without_quoted_text(outlook) == "It says Bounced."
    original = f"Thanks.\n\n-----Original Message-----\n{AGENT_ANSWER}"
    assert without_quoted_text(original) == "Thanks."
    zendesk = f"Sure, it's INV-1558.\n\n##- Please type your reply above this line -##\n\n{AGENT_ANSWER}"
    assert without_quoted_text(zendesk) == "Sure, it's INV-1558."


def test_a_message_that_is_only_a_quote_or_mentions_from_in_prose_is_kept() -> None:
    only_quote = f"> {AGENT_ANSWER}"
    assert without_quoted_text(only_quote) == only_quote
    prose = "From: the invoice page, click Send again.\nIt goes to every contact."
    assert without_quoted_text(prose) == prose


def test_a_forwarded_message_is_what_the_sender_wants_read() -> None:
    text = ("See below, this is what our client got.\n\n---------- Forwarded message ---------\n"
            "From: Ledgerly <billing@ledgerly.example>\nDate: Mon, 6 Jan 2025\nSubject: Invoice INV-1558\n"
            "To: ap@client.example\n\nYour invoice INV-1558 is due.")
    assert without_quoted_text(text) == text


def test_html_quote_containers_are_dropped_before_the_text_is_read() -> None:
    html = (f'<div dir="ltr">It still says processing.</div><div class="gmail_quote"><div>On Mon, 6 Jan 2025 Ledgerly '
            f'wrote:</div><blockquote class="gmail_quote">{AGENT_ANSWER}</blockquote></div>')
    assert "gmail_quote" not in without_quoted_html(html)
    assert body_text(html=html) == "It still says processing."
    assert body_text(html=f"<blockquote>{AGENT_ANSWER}</blockquote>") == AGENT_ANSWER  # a quote the agent chose


def test_a_freshdesk_reply_by_email_keeps_only_the_customers_new_words(tmp_path: Path) -> None:
    record = {
        "id": 77, "subject": "Refund one payment", "description_text": "Client paid twice. How do I refund one?",
        "status": 4, "requester_id": 1, "created_at": "2025-01-06T09:00:00Z", "updated_at": "2025-01-07T09:00:00Z",
        "conversations": [
            {"id": 1, "body_text": f"Hi Diego,\n\n{AGENT_ANSWER}\n\nBest,\nRavi", "incoming": False, "private": False,
             "user_id": 2, "created_at": "2025-01-06T10:02:00Z"},
            {"id": 2, "body_text": "That worked, thank you!\n\nOn Mon, 6 Jan 2025 at 10:02, Ledgerly Support "
                                   f"<support@ledgerly.example> wrote:\n> Hi Diego,\n>\n> {AGENT_ANSWER}",
             "incoming": True, "private": False, "user_id": 1, "created_at": "2025-01-06T11:00:00Z"}]}
    path = tmp_path / "freshdesk.json"
    path.write_text(json.dumps([record]))
    tickets, errors = load("freshdesk", path)
    assert not errors
    assert [p.text for p in tickets["77"].parts][-1] == "That worked, thank you!"
    assert sum(AGENT_ANSWER in p.text for p in tickets["77"].parts) == 1


def test_a_csv_export_row_keeps_only_the_new_words_of_each_message(tmp_path: Path) -> None:
    """The cut is in the one place every loader makes a message, not only in the vendors' body fields."""
    from tests.unit.test_sources_generic import CSV_COLUMNS
    from tests.unit.test_sources_generic import load as load_generic

    path = tmp_path / "faq.csv"
    path.write_text("Ticket ID,Title,Customer message,Agent reply,State,Labels,Opened,Customer name\n"
                    'T-9,Refund,"Still waiting.\n\nOn Mon, 6 Jan 2025, Support <s@x.example> wrote:\n> '
                    f'{AGENT_ANSWER}","{AGENT_ANSWER}",closed,,2025-01-06,Grace\n')
    tickets, errors = load_generic("csv", path, CSV_COLUMNS)
    assert not errors
    assert [p.text for p in tickets["T-9"].parts] == ["Still waiting.", AGENT_ANSWER]
