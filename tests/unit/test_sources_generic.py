"""Generic CSV / JSON Lines exports with a column mapping: one row, one ticket; row numbers in errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.errors import SourceError
from assistant.schemas import Ticket
from ingest.sources.config import ColumnMapping, SourceConfig
from ingest.sources.tickets import iter_tickets

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
CSV_COLUMNS = ColumnMapping(id="Ticket ID", subject="Title", question="Customer message", answer="Agent reply",
                            status="State", tags="Labels", created="Opened", requester="Customer name")
JSONL_COLUMNS = ColumnMapping(id="ticket.number", subject="ticket.title", question=None, answer=None,
                              conversation="messages", status="state", tags="labels", created="opened")


def load(kind: str, path: Path, columns: ColumnMapping | None = None,
         **options: Any) -> tuple[dict[str, Ticket], list[SourceError]]:
    cfg = SourceConfig(name="faq", type=kind, path=path, audience="internal", columns=columns, **options)
    tickets: dict[str, Ticket] = {}
    errors: list[SourceError] = []
    for item in iter_tickets(cfg):
        if isinstance(item, SourceError):
            errors.append(item)
        else:
            tickets[item.id] = item
    return tickets, errors


def test_csv_rows_become_tickets_with_question_and_answer_parts() -> None:
    tickets, _ = load("csv", EXPORTS / "generic.csv", CSV_COLUMNS)
    assert sorted(tickets) == ["T-1", "T-2", "T-4"]
    t = tickets["T-1"]
    assert t.subject == "Payment reminder schedule"
    assert [(p.role, p.text) for p in t.parts] == [
        ("customer", "How do I send a reminder 3 days before the due date?"),
        ("agent", 'Settings > Reminders > Add rule, choose "3 days before".'),
    ]
    assert (t.status, t.resolved, t.tags, t.requester_name, t.row) == (
        "closed", True, ["reminders", "invoicing"], "Grace Obi", 1)
    assert tickets["T-2"].parts[0].text == "Line one of the question.\nLine two, still the same row."
    assert (tickets["T-4"].status, tickets["T-4"].resolved) == ("open", False)


def test_csv_errors_carry_data_row_numbers_even_after_multiline_rows() -> None:
    _, errors = load("csv", EXPORTS / "generic.csv", CSV_COLUMNS)
    assert [(e.row, e.message) for e in errors] == [
        (3, "row 3: missing ticket id (column 'Ticket ID')"),
        (5, "row 5: unreadable date in 'Opened': 'not a date' (expected ISO 8601 or Unix seconds)"),
        (6, "row 6: no message text (columns 'Customer message' or 'Agent reply' are empty)"),
    ]
    assert all(e.hint == "CSV rows count from the first row after the header" for e in errors)


def test_csv_header_without_the_mapped_columns_is_one_clear_error() -> None:
    tickets, errors = load("csv", EXPORTS / "generic.csv")  # default mapping expects an "id" column
    assert tickets == {}
    assert len(errors) == 1 and errors[0].row is None
    assert errors[0].message.startswith("the CSV header has no column 'id' for the ticket id (columns found: "
                                        "Ticket ID, Title")


def test_csv_undecodable_row_is_reported_and_the_rest_still_load(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_bytes(b"id,question,answer\n1,How do I pay?,By card.\n2,Caf\xe9 invoice?,Yes.\n3,Refunds?,5 days.\n")
    tickets, errors = load("csv", path)
    assert sorted(tickets) == ["1", "3"]
    assert [(e.row, e.message.split(";")[0]) for e in errors] == [
        (2, "row 2: not valid UTF-8 (byte 0xe9 at offset 5)")]
    tickets, errors = load("csv", path, encoding="cp1252")
    assert (sorted(tickets), errors) == (["1", "2", "3"], [])
    assert tickets["2"].parts[0].text == "Café invoice?"


def test_csv_semicolon_delimiter_and_rows_without_status_count_as_resolved(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("id;question;answer\nq1;Can I add a logo?;Yes, under Branding.\n")
    tickets, errors = load("csv", path, delimiter=";")
    assert errors == []
    assert (tickets["q1"].status, tickets["q1"].resolved) == ("", True)
    assert tickets["q1"].subject == "Can I add a logo?"  # no subject column: the question's first sentence


def test_csv_conversation_column_with_speaker_lines(tmp_path: Path) -> None:
    path = tmp_path / "chats.csv"
    path.write_text('id,conversation,status\n7,"Customer: My payout is late.\nAgent: Payouts take 2 days.\n'
                    'Note: checked the bank file\nCustomer: Thanks!",solved\n')
    tickets, errors = load("csv", path, ColumnMapping(conversation="conversation"))
    assert errors == []
    assert [(p.role, p.visibility, p.text) for p in tickets["7"].parts] == [
        ("customer", "public", "My payout is late."),
        ("agent", "public", "Payouts take 2 days."),
        ("agent", "internal", "checked the bank file"),
        ("customer", "public", "Thanks!"),
    ]


def test_jsonl_dotted_columns_and_conversation_lists() -> None:
    tickets, errors = load("jsonl", EXPORTS / "generic.jsonl", JSONL_COLUMNS)
    t = tickets["9001"]
    assert t.subject == "Stripe disconnects"
    assert [(p.role, p.visibility) for p in t.parts] == [("customer", "public"), ("agent", "public"),
                                                         ("agent", "internal")]
    assert (t.status, t.resolved, t.tags) == ("done", True, ["stripe"])
    assert t.created is not None and t.created.year == 2024
    assert tickets["9002"].tags == ["export", "reports"]
    assert [(p.role, p.visibility) for p in tickets["9002"].parts] == [
        ("customer", "public"), ("agent", "public"), ("customer", "public"), ("agent", "internal")]
    assert [(e.row, e.message) for e in errors] == [(3, "line 3: missing ticket id (column 'ticket.number')")]
