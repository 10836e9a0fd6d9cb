"""Draft text: what is kept from agents' replies, and the LLM rewrite behind the grounding guard."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.drafts import Draft, MinedTicket, _answer_sentences, clean_question, rewrite_with_llm, slug

TICKETS = [
    MinedTicket(id="1", subject="Export timesheets", url=None, question="How do I export timesheets?",
                replies=["Hi there,\n\nGo to Reports > Time > Timesheet export, pick the date range and the team "
                         "members, then click Export CSV. Each row is one time entry with person, date and hours."
                         "\n\nBest,\nRobin"]),
    MinedTicket(id="2", subject="Timesheet CSV", url=None, question="Where is the timesheet CSV?",
                replies=["Open Reports > Time > Timesheet export and click Export CSV. Only admins and owners see "
                         "this report."]),
]
EXTRACTIVE = "- Go to Reports > Time > Timesheet export, pick the date range, then click Export CSV."


def test_agent_replies_lose_greetings_signoffs_names_questions_and_ticket_identifiers() -> None:
    reply = ("Hi Diego,\n\nThanks for reaching out!\n\nCould you tell me which browser you use?\n\n"
             "Open INV-1251 and click More > Void invoice.\nVoided invoices stay in your records with their number."
             "\n\nLet me know if anything else comes up!\nJordan\nLedgerly Customer Support")
    assert _answer_sentences(reply) == ["Voided invoices stay in your records with their number."]


def test_questions_lose_signatures_and_placeholders() -> None:
    text = "Hi,\n\nI deleted my account by accident yesterday. Can it be restored?\n\nThanks,\n[NAME]\n[EMAIL] [PHONE]"
    assert clean_question(text) == "I deleted my account by accident yesterday. Can it be restored?"
    assert slug("Can't export: timesheets (CSV)?") == "can-t-export-timesheets-csv"


def test_llm_rewrite_keeps_supported_sentences_and_drops_invented_ones() -> None:
    llm = FakeListChatModel(responses=[
        "You can export timesheets from the Reports page.\n"
        "1. Go to Reports > Time > Timesheet export.\n"
        "2. Pick the date range and the team members, then click Export CSV.\n"
        "Exports are kept for 90 days and you can also email them to payroll@example.com."])
    text, record = rewrite_with_llm(llm, question="How do I export timesheets?", answer=EXTRACTIVE, tickets=TICKETS)
    assert record["used"] is True
    assert "Reports > Time > Timesheet export" in text and "Export CSV" in text
    assert "90 days" not in text and "payroll@example.com" not in text
    assert any(d["reason"] in ("invented", "unsupported") for d in record["dropped"])


def test_a_rewrite_with_nothing_supported_or_a_failing_backend_keeps_the_extractive_draft() -> None:
    invented = FakeListChatModel(responses=["Call 1-800-555-0199 and ask for the Enterprise Timesheet Vault."])
    text, record = rewrite_with_llm(invented, question="How do I export timesheets?", answer=EXTRACTIVE,
                                    tickets=TICKETS)
    assert text == EXTRACTIVE and record["used"] is False and record["dropped"]

    class Down(FakeListChatModel):
        def _call(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise ConnectionError("backend down")

    text, record = rewrite_with_llm(Down(responses=["x"]), question="q", answer=EXTRACTIVE, tickets=TICKETS)
    assert text == EXTRACTIVE and record == {"used": False, "dropped": [], "error": "ConnectionError"}


def test_public_markdown_never_links_tickets_internal_does() -> None:
    draft = Draft(id="abc12345", status="pending", title="Export timesheets", question="How?", answer=EXTRACTIVE,
                  tickets=[{"id": "1", "subject": "s", "url": "https://x.zendesk.com/agent/tickets/1"}],
                  topic_size=3, coverage=0.4, nearest_doc=None, created_at=0.0)
    assert "zendesk" not in draft.markdown("public") and "## Answer" in draft.markdown("public")
    assert "[1](https://x.zendesk.com/agent/tickets/1)" in draft.markdown("internal")
