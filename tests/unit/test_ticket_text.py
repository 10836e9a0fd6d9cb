"""Reading a ticket chunk: the staff's answer, the customer's problem, and the courtesy around both."""

from __future__ import annotations

from assistant.ticket_text import customer_problem, staff_text, turns, without_signature

TICKET = """Customer: Big invoice INV-1839 with ~180 lines won't sync to Xero, it just times out.

Regards,
[NAME]
Summit Photography Ltd
Agent (internal note): Checked the account: Pro plan, no risk flags.
Agent: Hello [NAME],

Thanks, this is a known issue with very long invoices syncing to Xero. For now please split it into two \
invoices of at most 150 lines each; sorry for the hassle.

Best,
Mateus
Ledgerly Support
Customer: Understood, thanks Mateus."""


def test_the_staff_text_is_the_agents_note_and_reply_without_greeting_signoff_or_signature() -> None:
    assert staff_text(TICKET) == ("Checked the account: Pro plan, no risk flags.\n\n"
                                  "This is a known issue with very long invoices syncing to Xero. For now please split "
                                  "it into two invoices of at most 150 lines each; sorry for the hassle.")


def test_the_customers_words_are_never_staff_text() -> None:
    text = staff_text(TICKET)
    assert "180 lines" not in text and "Understood" not in text


def test_questions_back_to_the_customer_answer_nothing() -> None:
    chunk = ("Customer: My client never got INV-0201.\n"
             "Agent: Hi [NAME], thanks for reaching out.\n\nCould you check the invoice's Activity and tell me the "
             "status shown for the email?\n\nCheers,\nAiko | Ledgerly Support\n"
             "Customer: It says Bounced.\n"
             "Agent: Hello [NAME],\n\nThe address is suppressed after a bounce. Go to Clients > Contacts > "
             "Reactivate email and resend.\n\nLet me know if anything else comes up!\nAiko")
    assert staff_text(chunk) == ("The address is suppressed after a bounce. Go to Clients > Contacts > "
                                 "Reactivate email and resend.")


def test_a_courtesy_lead_is_dropped_only_where_there_was_one() -> None:
    chunk = "Agent: Thank you for the details. iOS app users see it under Settings.\n\nkeep the lower case here."
    assert staff_text(chunk) == "IOS app users see it under Settings.\n\nkeep the lower case here."


def test_numbered_steps_in_a_reply_keep_their_lines() -> None:
    chunk = "Agent: Hi [NAME],\n\nTo refund:\n1. Open Payments.\n2. Click Refund.\n\nBest,\nRavi"
    assert staff_text(chunk) == "To refund:\n1. Open Payments.\n2. Click Refund."


def test_a_chunk_that_starts_inside_a_message_names_no_one_for_its_first_lines() -> None:
    chunk = "the rest of a long customer message\nAgent: Open Settings > Invoices > Numbering."
    assert [t.role for t in turns(chunk)] == ["Agent"]
    assert staff_text(chunk) == "Open Settings > Invoices > Numbering."


def test_signature_blocks_are_cut_with_or_without_a_signoff() -> None:
    assert without_signature("Can I export?\n\n--\n[NAME] | Cedar Events GmbH\nTel: [PHONE]") == "Can I export?"
    assert without_signature("Can I export?\n\n[NAME]\nCedar Builders Co.\n[PHONE]") == "Can I export?"
    assert without_signature("Can I export?\n\nThanks,\n[NAME]") == "Can I export?"
    # A last paragraph that says something stays, however short.
    assert without_signature("Go to Reports.\n\nOwner or Admin only.") == "Go to Reports.\n\nOwner or Admin only."


def test_the_customers_problem_is_their_first_message_without_courtesy() -> None:
    assert customer_problem(TICKET) == "Big invoice INV-1839 with ~180 lines won't sync to Xero, it just times out."
    assert customer_problem("Agent: Open Payments.") == ""


def test_a_greeting_on_the_line_of_the_answer_is_dropped_and_the_answer_kept() -> None:
    assert staff_text("Agent: Hi [NAME], No, sync is one-way from Ledgerly to QuickBooks.") == (
        "No, sync is one-way from Ledgerly to QuickBooks.")
    assert staff_text("Agent: Hey Mateo, By default the profile is paused.") == "By default the profile is paused."


def test_sentences_about_the_customers_redacted_details_are_not_staff_answers() -> None:
    chunk = ("Agent: After 10 failed attempts the account locks for 30 minutes. I see failed attempts from [IP]; "
             "reset your password after the lock ends (the reset email goes to [EMAIL]).")
    assert staff_text(chunk) == "After 10 failed attempts the account locks for 30 minutes."


def test_a_ticket_chunks_vector_reads_the_exchange_without_courtesy_and_its_text_stays_whole() -> None:
    from assistant.schemas import Ticket, TicketPart
    from ingest.chunking import ChunkParams, chunk_ticket

    ticket = Ticket(source="zendesk", id="22045", subject="Large invoice not appearing in Xero", status="closed",
                    resolved=True, parts=[
                        TicketPart(role="customer", text="Big invoice won't sync to Xero.\n\nRegards,\n[NAME]\nSummit"),
                        TicketPart(role="agent", text="Hello [NAME],\n\nSplit it into two invoices.\n\nBest,\nMateus")])
    params = ChunkParams(max_tokens=256, overlap_tokens=0, model_id="m")
    [chunk] = chunk_ticket(ticket, params, lambda texts: [len(t.split()) for t in texts])
    assert "Regards" in chunk.text and "Mateus" in chunk.text  # stored as written (redacted)
    assert chunk.embed_text.endswith("Customer: Big invoice won't sync to Xero.\nAgent: Split it into two invoices.")
