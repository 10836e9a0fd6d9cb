"""Follow-up questions read with the conversation's topic when no model condenses them."""

from __future__ import annotations

import pytest

from assistant.follow_up import reads_as_follow_up, standalone_question, topic_of
from assistant.schemas import HistoryTurn


def _history(*user_messages: str) -> list[HistoryTurn]:
    turns: list[HistoryTurn] = []
    for text in user_messages:
        turns += [HistoryTurn(role="user", text=text), HistoryTurn(role="assistant", text="Here is what I found [1].")]
    return turns


@pytest.mark.parametrize("message", [
    "How long does it take?", "Can I pause one?", "And Xero?", "What about skipping just one month?",
    "What if I lose my phone?", "Can I make it mandatory for everyone on my team?", "Does it lock the table?",
    "and how do I disconnect it later?", "Same for PayPal?",
])
def test_a_message_that_points_back_or_opens_like_a_follow_up_is_one(message: str) -> None:
    assert reads_as_follow_up(message)


@pytest.mark.parametrize("message", [
    "How do I refund?", "How do I add a sales tax rate to my invoices?",
    "Is it possible to export all my data before closing my account?",  # an "it" that points nowhere
    "One of my clients paid twice, how do I refund one payment?",  # "one of" names its own subject
    "So I want to set up recurring invoices for my retainer clients",
])
def test_a_question_that_names_its_own_subject_is_not_a_follow_up(message: str) -> None:
    assert not reads_as_follow_up(message)


def test_a_follow_up_is_searched_with_the_topic_of_the_conversation() -> None:
    history = _history("How do I refund a card payment?")
    assert standalone_question("How long does it take?", history) == (
        "How do I refund a card payment? How long does it take?")


def test_a_chain_of_follow_ups_keeps_its_topic_and_the_follow_up_before() -> None:
    history = _history("How do I refund a card payment?", "How long does it take?")
    assert standalone_question("And for ACH?", history) == (
        "How do I refund a card payment? How long does it take? And for ACH?")


def test_a_question_that_changes_the_subject_is_searched_on_its_own_and_becomes_the_topic() -> None:
    history = _history("How do I refund a card payment?", "How do I set up recurring invoices?")
    assert standalone_question("How do I add a sales tax rate?", history) == "How do I add a sales tax rate?"
    assert standalone_question("Can I pause one?", history) == "How do I set up recurring invoices? Can I pause one?"


def test_without_history_or_after_small_talk_only_the_question_is_searched() -> None:
    assert standalone_question("How long does it take?", []) == "How long does it take?"
    assert standalone_question("How long does it take?", _history("hi", "thanks!")) == "How long does it take?"


def test_small_talk_between_the_topic_and_the_follow_up_is_skipped() -> None:
    history = _history("How do I refund a card payment?", "ok, thanks")
    assert standalone_question("Do I get the fee back on it?", history) == (
        "How do I refund a card payment? Do I get the fee back on it?")


def test_a_long_first_message_is_cut_to_its_opening() -> None:
    story = "Our shop runs on the Pro plan and " + "we have many clients in Europe and the US " * 30
    text = standalone_question("How do I fix it?", _history(story))
    assert text.endswith(" How do I fix it?") and len(text) < 450


def test_a_follow_up_that_swaps_one_name_for_another_leaves_the_old_name_out() -> None:
    """"And Xero?" after QuickBooks asks how to connect Xero: searched beside "QuickBooks", the old name won."""
    shares = {"ledgerly": 0.4, "quickbooks": 0.02, "xero": 0.02}
    lookup = lambda words: {w: shares[w] for w in words if w in shares}  # noqa: E731 - the corpus's word shares
    history = _history("How do I connect Ledgerly to QuickBooks?")
    assert standalone_question("And Xero?", history, shares=lookup) == "How do I connect Ledgerly to ? And Xero?"
    # without the corpus's frequencies, or when the new name is not in the documents, nothing is swapped
    assert "QuickBooks" in standalone_question("And Xero?", history)
    assert "QuickBooks" in standalone_question("And Sage?", history, shares=lookup)


def test_a_name_typed_in_lower_case_is_swapped_when_the_documents_write_it_as_a_name() -> None:
    """Chat is typed in lower case: "and xero?" after "how do i connect ledgerly to quickbooks" is the
    same swap as "And Xero?"; the documents' capitals tell a name from a word."""
    shares = {"ledgerly": 0.4, "quickbooks": 0.02, "xero": 0.02, "connect": 0.05, "refund": 0.05, "ach": 0.03}
    capitals = {"ledgerly": 0.85, "quickbooks": 1.0, "xero": 1.0, "connect": 0.33, "refund": 0.0, "ach": 1.0}
    asked: list[str] = []

    def lookup(words):  # noqa: ANN001, ANN202 - the corpus's word shares
        return {w: shares[w] for w in words if w in shares}

    def capitalised(words):  # noqa: ANN001, ANN202 - how the corpus writes each word
        asked.extend(words)
        return {w: capitals[w] for w in words if w in capitals}

    history = _history("how do i connect ledgerly to quickbooks")
    assert standalone_question("and xero?", history, shares=lookup, capitalised=capitalised) == (
        "how do i connect ledgerly to and xero?")
    # without the documents' capitals only capitals typed by the customer count, and there are none
    assert "quickbooks" in standalone_question("and xero?", history, shares=lookup)
    # a word the documents write in lower case is not a name: "and for ach?" refines a refund question
    assert standalone_question("and for ach?", _history("how do i refund a card payment"), shares=lookup,
                               capitalised=capitalised) == "how do i refund a card payment and for ach?"
    asked.clear()  # a follow-up that asks something new of the same subject reads no capitals at all
    standalone_question("and how do i disconnect it?", history, shares=lookup, capitalised=capitalised)
    assert asked == []


def test_a_follow_up_that_refines_keeps_the_whole_topic() -> None:
    """"And for ACH?" after a card refund asks about ACH refunds: "refund" is not a name, so it stays;
    "and how do I disconnect it?" asks something new of the same subject."""
    shares = {"refund": 0.05, "card": 0.1, "payment": 0.3, "ach": 0.03, "stripe": 0.02}
    lookup = lambda words: {w: shares[w] for w in words if w in shares}  # noqa: E731
    assert standalone_question("And for ACH?", _history("How do I refund a card payment?"), shares=lookup) == (
        "How do I refund a card payment? And for ACH?")
    assert standalone_question("and how do I disconnect it?", _history("How do I connect Stripe?"),
                               shares=lookup) == "How do I connect Stripe? and how do I disconnect it?"


def test_the_topic_part_of_a_follow_up_is_what_the_conversation_added() -> None:
    history = _history("How do I refund a card payment?")
    standalone = standalone_question(" How long does it take? ", history)
    assert topic_of(" How long does it take? ", standalone) == "How do I refund a card payment?"
    assert topic_of("How do I refund?", "How do I refund?") == ""
