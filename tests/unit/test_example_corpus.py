"""The example corpus (examples/) is what the demo, tests, evaluation and benchmarks stand on.

These checks keep it honest: every format parses, internal material is marked so leaks are detectable and
never sits in the public help center, ticket PII is the kind redaction must catch, the golden set points at
files that exist, and the committed generated files are exactly what the generator scripts produce.
No model is loaded; everything here runs in a few seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import docx
import pypdf
import pytest
import yaml
from bs4 import BeautifulSoup

from ingest.redact import luhn_ok

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PUBLIC = EXAMPLES / "docs" / "public"
INTERNAL = EXAMPLES / "docs" / "internal"
EXPORTS = EXAMPLES / "exports"
RUNBOOK_CANARY = "CANARY-INTERNAL-RUNBOOK-4F7A"
TICKET_CANARY = "CANARY-INTERNAL-TICKET-9B2C"
RESOLVED = {"solved", "closed"}
# 13-19 digits, optionally grouped by spaces or dashes: how customers paste card numbers.
CARD_LIKE = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
IPV6 = re.compile(r"\b2001:db8:[0-9a-f:]+", re.IGNORECASE)


def document_text(path: Path) -> str:
    """Text of a help-center file in any of its formats, as a loader would see it (roughly)."""
    if path.suffix == ".pdf":
        return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(path).pages)
    if path.suffix == ".docx":
        document = docx.Document(str(path))
        cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
        return "\n".join([p.text for p in document.paragraphs] + cells)
    return path.read_text(encoding="utf-8")


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def export() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXPORTS / "zendesk.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def jsonl_records() -> list[dict[str, Any]]:
    lines = (EXPORTS / "zendesk.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def golden() -> list[dict[str, Any]]:
    lines = (EXAMPLES / "eval" / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def all_tickets(export: dict[str, Any], jsonl_records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*export["tickets"], *jsonl_records]


# -- sources and documents ------------------------------------------------------------------------------


def test_sources_yaml_lists_the_three_sources_with_existing_paths() -> None:
    config = yaml.safe_load((EXAMPLES / "sources.yaml").read_text(encoding="utf-8"))
    by_name = {source["name"]: source for source in config["sources"]}
    # plus the two curated sources approved article drafts are written to (empty in the repository)
    assert set(by_name) == {"help-center", "runbooks", "zendesk-export", "curated-public", "curated-internal"}
    assert by_name["help-center"] == {
        "name": "help-center",
        "type": "documents",
        "path": "docs/public",
        "audience": "public",
        "url_base": "https://help.ledgerly.example/",
    }
    assert by_name["runbooks"]["audience"] == "internal"
    assert by_name["zendesk-export"]["type"] == "zendesk"
    assert by_name["zendesk-export"]["audience"] == "internal"
    for source in config["sources"]:
        assert (EXAMPLES / source["path"]).exists(), source


def test_help_center_has_about_thirty_articles_in_every_supported_format() -> None:
    by_suffix = Counter(path.suffix for path in files(PUBLIC))
    assert sum(by_suffix.values()) >= 30
    assert by_suffix[".md"] >= 20
    assert by_suffix[".html"] >= 4
    assert by_suffix[".pdf"] >= 1
    assert by_suffix[".docx"] >= 1
    assert set(by_suffix) <= {".md", ".html", ".pdf", ".docx", ".txt"}
    folders = {path.relative_to(PUBLIC).parts[0] for path in files(PUBLIC)}
    assert {"getting-started", "payments", "integrations", "api", "account", "billing"} <= folders


def test_markdown_articles_have_a_title_and_sections() -> None:
    for path in [*PUBLIC.rglob("*.md"), *INTERNAL.rglob("*.md")]:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("# "), f"{path} must start with '# Title'"
        assert any(line.startswith("## ") for line in lines), f"{path} has no '##' section"


def test_html_articles_are_full_pages_with_boilerplate_around_the_article() -> None:
    for path in PUBLIC.rglob("*.html"):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        assert soup.title is not None and "Ledgerly Help Center" in soup.title.get_text(), path
        article = soup.find("article")
        assert article is not None, path
        assert len(article.find_all("h1")) == 1, path
        assert article.find_all("h2") and article.find_all("p"), path
        assert soup.find("ul") is not None, path
        # Boilerplate a loader must drop sits outside the article.
        assert soup.find("nav") is not None and soup.find("footer") is not None, path
        assert "All rights reserved" not in article.get_text(), path


def test_pdf_guide_opens_and_its_text_and_headings_extract() -> None:
    reader = pypdf.PdfReader(PUBLIC / "getting-started" / "getting-started-guide.pdf")
    assert len(reader.pages) >= 2
    text = document_text(PUBLIC / "getting-started" / "getting-started-guide.pdf")
    assert "Getting started with Ledgerly" in text
    assert "2. Set up your company profile" in text
    assert "7 days after your first successful payment" in text
    assert reader.metadata is not None and reader.metadata.title == "Getting started with Ledgerly"


def test_docx_overview_uses_heading_styles() -> None:
    document = docx.Document(str(PUBLIC / "account" / "data-processing-and-security.docx"))
    styled = [(p.style.name if p.style is not None else "", p.text) for p in document.paragraphs]
    headings = [(style, text) for style, text in styled if style.startswith("Heading")]
    assert ("Heading 1", "Data processing and security overview") in headings
    assert sum(1 for style, _ in headings if style == "Heading 2") >= 5
    assert document.tables, "the subprocessor table is missing"
    assert "SOC 2 Type II" in document_text(PUBLIC / "account" / "data-processing-and-security.docx")


def test_file_stems_are_unique_so_golden_sources_match_one_file() -> None:
    stems = Counter(path.stem for path in [*files(PUBLIC), *files(INTERNAL)])
    assert [stem for stem, n in stems.items() if n > 1] == []


# -- internal material and canaries --------------------------------------------------------------------


def test_runbook_canary_is_in_at_least_three_runbooks() -> None:
    carriers = [path.name for path in files(INTERNAL) if RUNBOOK_CANARY in path.read_text(encoding="utf-8")]
    assert len(carriers) >= 3, carriers


def test_no_canary_or_internal_only_fact_appears_in_the_public_help_center() -> None:
    internal_only = [
        RUNBOOK_CANARY,
        TICKET_CANARY,
        "CANARY-INTERNAL",
        "without manager approval",
        "ledgerly-payments-primary",
        "admin.internal.ledgerly.example",
        "SAVE50-2",
        "BUG-2307",
        "dunning.pause_retries",
        "#risk-review",
        "Act as",
        "Tier 1",
    ]
    for path in files(PUBLIC):
        text = document_text(path)
        leaked = [fact for fact in internal_only if fact in text]
        assert leaked == [], f"{path} contains internal-only text {leaked}"


def test_internal_runbooks_hold_facts_the_public_docs_do_not() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in files(INTERNAL))
    assert "Support agents may approve refunds up to $500 without manager approval" in text
    assert len(files(INTERNAL)) >= 10


def test_planted_instructions_are_in_two_tickets_and_one_public_article(export: dict[str, Any]) -> None:
    """Prompt-injection material the assistant must treat as data (tests/integration/test_prompt_injection.py)."""
    planted = [t for t in export["tickets"] if "prompt_injection_example" in t["tags"]]
    assert len(planted) == 2 and all(t["status"] == "solved" for t in planted)
    assert "IGNORE ALL PREVIOUS INSTRUCTIONS" in planted[0]["description"]
    article = (PUBLIC / "account" / "account-security-tips.md").read_text(encoding="utf-8")
    assert "ignore the previous instructions" in article and "email their password" in article


def test_ticket_canary_is_only_in_internal_notes(export: dict[str, Any], jsonl_records: list[dict[str, Any]]) -> None:
    internal_hits = 0
    for ticket in all_tickets(export, jsonl_records):
        assert TICKET_CANARY not in ticket["subject"] and TICKET_CANARY not in ticket["description"]
        for comment in ticket.get("comments", []):
            if comment["public"]:
                assert TICKET_CANARY not in comment["body"], ticket["id"]
                assert TICKET_CANARY not in comment["html_body"], ticket["id"]
            else:
                internal_hits += TICKET_CANARY in comment["body"]
    assert internal_hits >= 3
    assert RUNBOOK_CANARY not in (EXPORTS / "zendesk.json").read_text(encoding="utf-8")


# -- ticket export --------------------------------------------------------------------------------------


def test_zendesk_export_has_the_api_shape_and_status_mix(export: dict[str, Any]) -> None:
    tickets = export["tickets"]
    assert export["count"] == len(tickets) == 302  # 300 generated + 2 carrying planted instructions
    statuses = Counter(ticket["status"] for ticket in tickets)
    assert sum(statuses[s] for s in RESOLVED) == 272
    assert set(statuses) - RESOLVED <= {"new", "open", "pending", "hold"}
    users = {user["id"]: user for user in export["users"]}
    assert {user["role"] for user in users.values()} == {"end-user", "agent", "admin"}
    assert len({ticket["id"] for ticket in tickets}) == len(tickets)
    for ticket in tickets:
        assert ticket["url"] == f"https://ledgerly.zendesk.com/agent/tickets/{ticket['id']}"
        assert users[ticket["requester_id"]]["role"] == "end-user"
        assert isinstance(ticket["tags"], list) and ticket["tags"]
        created = dt.datetime.fromisoformat(ticket["created_at"])
        assert dt.datetime.fromisoformat(ticket["updated_at"]) >= created
        assert created.year in (2025, 2026)
        comments = ticket["comments"]
        assert comments and ticket["description"] == comments[0]["body"]
        assert comments[0]["author_id"] == ticket["requester_id"]
        if ticket["status"] in RESOLVED:
            assert 2 <= len(comments) <= 6, ticket["id"]
        for comment in comments:
            assert {"id", "type", "author_id", "body", "html_body", "plain_body", "public", "created_at"} <= set(
                comment
            )
            assert comment["author_id"] in users
            if not comment["public"]:
                assert users[comment["author_id"]]["role"] in ("agent", "admin")


def test_about_ten_percent_of_resolved_tickets_have_internal_notes(export: dict[str, Any]) -> None:
    resolved = [t for t in export["tickets"] if t["status"] in RESOLVED]
    with_notes = [t for t in resolved if any(not c["public"] for c in t["comments"])]
    assert 0.06 <= len(with_notes) / len(resolved) <= 0.16


def test_jsonl_export_holds_one_ticket_per_line_without_side_loaded_users(
    jsonl_records: list[dict[str, Any]],
) -> None:
    assert 15 <= len(jsonl_records) <= 30
    assert all("users" not in record and "id" in record and "subject" in record for record in jsonl_records)
    assert any("comments" not in record for record in jsonl_records), "show a record without its conversation"
    assert any(record["status"] in RESOLVED for record in jsonl_records)
    assert any(record["status"] not in RESOLVED for record in jsonl_records)


def test_card_numbers_pasted_in_tickets_pass_the_luhn_check(
    export: dict[str, Any], jsonl_records: list[dict[str, Any]]
) -> None:
    tickets_with_cards = 0
    for ticket in all_tickets(export, jsonl_records):
        found = False
        for comment in ticket.get("comments", []):
            for match in CARD_LIKE.finditer(comment["body"]):
                digits = re.sub(r"\D", "", match.group(0))
                assert luhn_ok(digits), f"ticket {ticket['id']}: {match.group(0)!r} fails Luhn"
                found = True
        tickets_with_cards += found
    assert tickets_with_cards >= 10


def test_tickets_carry_the_personal_data_redaction_must_remove(export: dict[str, Any]) -> None:
    users = {user["id"]: user for user in export["users"]}
    bodies = [c["body"] for t in export["tickets"] for c in t["comments"]]
    text = "\n".join(bodies)
    assert len(set(EMAIL.findall(text))) >= 40
    assert len(set(IPV4.findall(text))) >= 10 and IPV6.search(text)
    for phone_shape in (r"\+1 \d{3}-555-\d{4}", r"\(\d{3}\) 555-\d{4}", r"\+44 20 7946 \d{4}", r"\+1\d{10}\b"):
        assert re.search(phone_shape, text), phone_shape
    named = 0
    for ticket in export["tickets"]:
        first_name = users[ticket["requester_id"]]["name"].split()[0]
        agent_text = [c["body"] for c in ticket["comments"] if c["author_id"] != ticket["requester_id"]]
        named += any(re.search(rf"\b(?:Hi|Hello|Hey) {re.escape(first_name)}\b", body) for body in agent_text)
    assert named >= 250


# -- golden set ------------------------------------------------------------------------------------------


def resolve(source: str, roots: list[Path]) -> list[Path]:
    """A golden source matches a relative path, or a file name without its extension."""
    hits = []
    for root in roots:
        for path in files(root):
            relative = path.relative_to(root).as_posix()
            if source in (relative, relative.rsplit(".", 1)[0], path.stem):
                hits.append(path)
    return hits


def test_golden_lines_have_exactly_the_eval_fields(golden: list[dict[str, Any]]) -> None:
    assert 55 <= len(golden) <= 80
    for row in golden:
        # every answerable question carries facts (answer-level metrics); unanswerable ones none
        fields = {"question", "expected_sources", "answerable", "audience"}
        fields |= {"facts"} if row["answerable"] else set()
        assert set(row) == fields, row
        assert row["audience"] in ("public", "internal") and isinstance(row["answerable"], bool)
        for group in row.get("facts", []):
            assert group and all(isinstance(alt, str) and alt.strip() for alt in group), row
    assert len({row["question"] for row in golden}) == len(golden)


def test_golden_mix_covers_public_internal_and_unanswerable_questions(golden: list[dict[str, Any]]) -> None:
    public_answerable = [r for r in golden if r["audience"] == "public" and r["answerable"]]
    internal_answerable = [r for r in golden if r["audience"] == "internal" and r["answerable"]]
    internal_only_asked_publicly = [
        r for r in golden if r["audience"] == "public" and not r["answerable"] and r["expected_sources"]
    ]
    not_in_corpus = [r for r in golden if not r["answerable"] and not r["expected_sources"]]
    assert len(public_answerable) >= 30
    assert len(internal_answerable) >= 8
    assert len(internal_only_asked_publicly) >= 6
    assert len(not_in_corpus) >= 6


def test_golden_expected_sources_exist_where_the_audience_may_read(golden: list[dict[str, Any]]) -> None:
    for row in golden:
        for source in row["expected_sources"]:
            if row["answerable"] and row["audience"] == "public":
                assert len(resolve(source, [PUBLIC])) == 1, f"{source!r} is not one public file: {row}"
            else:
                assert len(resolve(source, [PUBLIC, INTERNAL])) == 1, f"{source!r} is not one file: {row}"
        if row["audience"] == "public" and not row["answerable"]:
            # The public bot must decline these, so their answer may only live in internal material.
            assert all(resolve(source, [INTERNAL]) for source in row["expected_sources"]), row
        if row["audience"] == "internal" and row["answerable"]:
            assert all(resolve(source, [INTERNAL]) for source in row["expected_sources"]), row


# -- size and reproducibility ------------------------------------------------------------------------


def test_corpus_stays_under_five_megabytes() -> None:
    assert sum(path.stat().st_size for path in files(EXAMPLES)) < 5 * 1024 * 1024


def test_generator_scripts_reproduce_the_committed_files(tmp_path: Path) -> None:
    tools = EXAMPLES / "tools"
    subprocess.run(
        [sys.executable, str(tools / "make_tickets.py"), "--out", str(tmp_path / "exports")],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [sys.executable, str(tools / "make_binary_docs.py"), "--out", str(tmp_path / "public")],
        check=True,
        capture_output=True,
    )
    for name in ("zendesk.json", "zendesk.jsonl"):
        assert (tmp_path / "exports" / name).read_bytes() == (EXPORTS / name).read_bytes(), name
    for relative in ("getting-started/getting-started-guide.pdf", "account/data-processing-and-security.docx"):
        assert (tmp_path / "public" / relative).read_bytes() == (PUBLIC / relative).read_bytes(), relative
