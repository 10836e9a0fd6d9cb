"""Helpdesk exports: every vendor, every file shape, roles, internal notes, bad records reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import SourceError
from assistant.schemas import Ticket
from ingest.sources.config import SourceConfig
from ingest.sources.tickets import iter_tickets

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"


def source(kind: str, path: Path, **options: Any) -> SourceConfig:
    return SourceConfig.model_validate({"name": f"{kind}-export", "type": kind, "path": path,
                                        "audience": "internal", **options})


def load(kind: str, name: str | Path, **options: Any) -> tuple[dict[str, Ticket], list[SourceError]]:
    path = name if isinstance(name, Path) else EXPORTS / name
    tickets: dict[str, Ticket] = {}
    errors: list[SourceError] = []
    for item in iter_tickets(source(kind, path, **options)):
        if isinstance(item, SourceError):
            errors.append(item)
        else:
            tickets[item.id] = item
    return tickets, errors


def roles(ticket: Ticket) -> list[tuple[str, str]]:
    return [(p.role, p.visibility) for p in ticket.parts]


# --------------------------------------------------------------------------- Zendesk


def test_zendesk_page_uses_side_loaded_users_for_roles_and_requester_name() -> None:
    tickets, _errors = load("zendesk", "zendesk_page.json")
    assert sorted(tickets) == ["1001", "1002", "1004"]
    t = tickets["1001"]
    assert t.subject == "Refund for duplicate card charge"
    assert roles(t) == [("customer", "public"), ("agent", "internal"), ("agent", "public"), ("system", "public")]
    assert t.requester_name == "Dana Whitfield"
    assert t.url == "https://ledgerly.zendesk.com/agent/tickets/1001"  # API url turned into the UI link
    assert (t.status, t.resolved, t.tags, t.row) == ("solved", True, ["refund", "card_payments"], 1)
    assert t.created is not None and t.created.isoformat() == "2024-03-04T09:12:00+00:00"
    assert t.audience == "internal" and t.source == "zendesk-export"
    reply = t.parts[2].text  # html_body only: turned into text, list kept
    assert reply.startswith("Hi Dana,\n\nI've refunded the duplicate charge. It takes 5–10 business days")
    assert "- Refund ID: re_3Nx\n- Amount: $1,250.00" in reply
    assert "<" not in reply
    assert tickets["1004"].parts[1].role == "agent"  # admin role counts as agent


def test_zendesk_unresolved_tickets_are_yielded_with_resolved_false() -> None:
    tickets, _ = load("zendesk", "zendesk_page.json")
    assert (tickets["1002"].status, tickets["1002"].resolved) == ("open", False)


def test_zendesk_record_without_id_is_reported_with_its_record_number() -> None:
    _, errors = load("zendesk", "zendesk_page.json")
    assert [(e.row, e.message) for e in errors] == [(3, "record 3: missing ticket id ('id')")]
    assert errors[0].path == str(EXPORTS / "zendesk_page.json")


def test_zendesk_without_users_customer_is_the_requester_and_description_stands_alone() -> None:
    tickets, errors = load("zendesk", "zendesk_array.json")
    assert errors == []
    assert roles(tickets["2001"]) == [("customer", "public"), ("agent", "public"), ("customer", "public")]
    only_description = tickets["2002"]
    assert only_description.subject == "Tax rate for Ontario"  # raw_subject when subject is absent
    assert [(p.role, p.text) for p in only_description.parts] == [
        ("customer", "Which tax rate should I use for clients in Ontario? HST 13%?")]


def test_zendesk_jsonl_streams_lines_and_reports_bad_lines_by_line_number() -> None:
    tickets, errors = load("zendesk", "zendesk.jsonl")
    assert sorted(tickets) == ["3001", "3004"]
    assert tickets["3004"].row == 5  # a blank line does not shift the numbering
    assert [(e.row, e.message.split(":")[0]) for e in errors] == [(2, "line 2"), (3, "line 3"), (6, "line 6")]
    assert "invalid JSON" in errors[0].message
    assert "missing 'status'" in errors[1].message
    assert "duplicate ticket id '3001' (first at line 1)" in errors[2].message


# --------------------------------------------------------------------------- Freshdesk


def test_freshdesk_description_is_the_first_customer_part_and_private_notes_are_internal() -> None:
    tickets, errors = load("freshdesk", "freshdesk.json")
    t = tickets["41"]
    assert roles(t) == [("customer", "public"), ("agent", "public"), ("agent", "internal"), ("customer", "public")]
    assert t.parts[0].text == ("My client paid by ACH on Monday and it still says processing.\n"
                               "Contact: 020 7946 0958")
    assert t.parts[2].text == "Bank confirms the debit is pending."  # HTML body when body_text is null
    assert (t.status, t.resolved, t.requester_name) == ("resolved", True, "Priya Raman")
    assert (tickets["42"].status, tickets["42"].resolved) == ("open", False)
    assert (tickets["44"].status, tickets["44"].resolved) == ("closed", True)
    assert [(e.row, e.message) for e in errors] == [
        (3, "record 3: unreadable date in 'created_at': 'last tuesday' (expected ISO 8601 or Unix seconds)")]


def test_resolved_statuses_override_the_vendor_default() -> None:
    tickets, _ = load("freshdesk", "freshdesk.json", resolved_statuses=["open"])
    assert [t.id for t in tickets.values() if t.resolved] == ["42"]


# --------------------------------------------------------------------------- Jira


def test_jira_adf_is_flattened_keeping_paragraphs_lists_and_code() -> None:
    tickets, _ = load("jira", "jira.json")
    t = tickets["SUP-101"]
    assert t.parts[0].text == ("Every sync creates a new contact in Xero.\n\nSteps:\n\n1. Connect Xero\n"
                               "2. Run a manual sync\n\n{\"error\": \"DUPLICATE_CONTACT\"}\n{\"retry\": true}")
    assert t.parts[1].text == ("Thanks @Tomasz Nowak. Please try:\n\n- Disconnect Xero\n"
                               "- Reconnect and choose Match by email")
    assert t.parts[3].text == "Works now.\nTomasz"


def test_jira_roles_visibility_status_and_links() -> None:
    tickets, errors = load("jira", "jira.json")
    t = tickets["SUP-101"]
    assert roles(t) == [("customer", "public"), ("agent", "public"), ("agent", "internal"),
                        ("customer", "public"), ("system", "public")]
    assert (t.status, t.resolved, t.tags) == ("resolved", True, ["xero", "sync"])
    assert t.url == "https://ledgerly.atlassian.net/browse/SUP-101"
    assert t.requester_name == "Tomasz Nowak"
    assert (tickets["SUP-102"].status, tickets["SUP-102"].resolved) == ("waiting for support", False)
    assert [(e.row, e.message) for e in errors] == [
        (3, "record 3: missing 'fields' (the issue's summary, status and comments live there)")]


def test_jira_rest_v2_plain_string_bodies() -> None:
    tickets, errors = load("jira", "jira_v2.jsonl")
    assert errors == []
    t = tickets["SUP-110"]
    assert t.parts[0].text == "Where do I upload a new logo?\n\nThe old one is blurry."
    assert roles(t) == [("customer", "public"), ("agent", "public")]


# --------------------------------------------------------------------------- Intercom


def test_intercom_parts_roles_notes_and_bodiless_events() -> None:
    tickets, errors = load("intercom", "intercom.json")
    t = tickets["18001"]
    assert roles(t) == [("customer", "public"), ("agent", "public"), ("agent", "internal"), ("customer", "public")]
    assert t.parts[1].text == "Yes: open Settings > Estimates and enable Convert on acceptance."
    assert t.subject.startswith("Hi! Can an estimate be converted")  # no title: first message
    assert (t.status, t.resolved, t.tags, t.requester_name) == ("closed", True, ["estimates"], "Noor Khalil")
    assert t.created is not None and t.created.isoformat() == "2024-06-01T09:00:00+00:00"
    assert (tickets["18002"].subject, tickets["18002"].resolved) == ("Late fee settings", False)
    assert [(e.row, e.message) for e in errors] == [(3, "record 3: missing 'state'")]


# --------------------------------------------------------------------------- file shapes


SHAPE_CASES = [
    ("zendesk", "zendesk_array.json", "tickets"),
    ("freshdesk", "freshdesk.json", "tickets"),
    ("jira", "jira.json", "issues"),
    ("intercom", "intercom.json", "conversations"),
]


def records_of(name: str, key: str) -> list[dict[str, Any]]:
    data = json.loads((EXPORTS / name).read_text())
    return data if isinstance(data, list) else data[key]


def summary(tickets: dict[str, Ticket]) -> list[tuple[Any, ...]]:
    return [(t.id, t.subject, t.status, t.resolved, [(p.role, p.visibility, p.text) for p in t.parts], t.fingerprint)
            for t in tickets.values()]


@pytest.mark.parametrize(("kind", "name", "key"), SHAPE_CASES)
def test_every_file_shape_gives_the_same_tickets(tmp_path: Path, kind: str, name: str, key: str) -> None:
    records = records_of(name, key)
    shapes = {
        "array.json": json.dumps(records, indent=2),
        "page.json": json.dumps({key: records, "next_page": None, "count": len(records), "users": []}, indent=2),
        "lines.jsonl": "\n".join(json.dumps(r) for r in records) + "\n",
        "lines.json": "\n".join(json.dumps(r) for r in records) + "\n",  # JSON Lines without the suffix
        "one-page-per-line.jsonl": json.dumps({key: records[:1]}) + "\n" + json.dumps({key: records[1:]}) + "\n",
    }
    results = {}
    for file_name, text in shapes.items():
        (tmp_path / file_name).write_text(text)
        tickets, errors = load(kind, tmp_path / file_name)
        results[file_name] = (summary(tickets), len(errors))
    reference = results["array.json"]
    assert reference[0], "the fixture must produce tickets"
    assert all(result == reference for result in results.values()), results


def test_record_without_conversation_yields_subject_and_description(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"tickets": [{"id": 5, "subject": "Logo upload", "description": "Where?",
                                             "status": "solved", "extra": {"anything": [1, 2]}}]}))
    tickets, errors = load("zendesk", path)
    assert errors == []
    ticket = tickets["5"]
    assert (ticket.subject, [(p.role, p.text) for p in ticket.parts]) == ("Logo upload", [("customer", "Where?")])


def test_unreadable_files_are_one_error_with_the_path(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "broken.json").write_text('[{"id": 1,\n "subject": }]')
    (tmp_path / "scalar.json").write_text("42")
    (tmp_path / "latin1.json").write_bytes('[{"id": 1, "subject": "Café"}]'.encode("cp1252"))
    messages = {}
    for name in ("empty.json", "broken.json", "scalar.json", "latin1.json"):
        _, errors = load("zendesk", tmp_path / name)
        assert len(errors) == 1 and errors[0].path == str(tmp_path / name)
        messages[name] = errors[0].message
    assert messages["empty.json"] == "the export file is empty"
    assert messages["broken.json"].startswith("invalid JSON at line 2 column")
    assert "expected a JSON array of records" in messages["scalar.json"]
    assert "not valid UTF-8" in messages["latin1.json"]


def test_fingerprint_is_stable_across_runs_and_positions_and_follows_content(tmp_path: Path) -> None:
    records = records_of("zendesk_array.json", "tickets")
    (tmp_path / "a.json").write_text(json.dumps(records))
    (tmp_path / "b.json").write_text(json.dumps(list(reversed(records))))
    first, _ = load("zendesk", tmp_path / "a.json")
    again, _ = load("zendesk", tmp_path / "a.json")
    moved, _ = load("zendesk", tmp_path / "b.json")
    assert {k: t.fingerprint for k, t in first.items()} == {k: t.fingerprint for k, t in again.items()}
    assert {k: t.fingerprint for k, t in first.items()} == {k: t.fingerprint for k, t in moved.items()}
    records[0]["comments"][1]["body"] = "Portal links expire after 14 days."
    (tmp_path / "a.json").write_text(json.dumps(records))
    edited, _ = load("zendesk", tmp_path / "a.json")
    assert edited["2001"].fingerprint != first["2001"].fingerprint
    assert edited["2002"].fingerprint == first["2002"].fingerprint


def test_url_template_links_tickets_whose_export_has_no_link() -> None:
    tickets, _ = load("freshdesk", "freshdesk.json", url_template="https://ledgerly.freshdesk.com/a/tickets/{id}")
    assert tickets["41"].url == "https://ledgerly.freshdesk.com/a/tickets/41"
