"""Follow-up questions read with the conversation's topic when no model condenses them."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from assistant.follow_up import reads_as_follow_up, standalone_question, topic_of, with_referent
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

    def lookup(words: Sequence[str]) -> dict[str, float]:  # the corpus's word shares
        return {w: shares[w] for w in words if w in shares}

    def capitalised(words: Sequence[str]) -> dict[str, float]:  # how it writes each word
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


def test_a_short_question_about_the_something_is_asked_of_the_topic_the_documents_discuss_it_with() -> None:
    """"What are the fees?" after a PayPal question asks about PayPal's fees; the documents say whether
    the two go together, and an action ("How do I delete the account?") or a topic that names nothing
    ("How do I create an index?") keeps the question its own."""
    shares = {"paypal": 0.02, "quickbooks": 0.02, "accept": 0.1, "payments": 0.3}
    capitals = {"paypal": 1.0, "quickbooks": 1.0, "accept": 0.0, "payments": 0.0, "index": 0.0}
    passages = [{"paypal", "fees", "fee"}, {"paypal", "supported", "currencies"}, {"pg_dump", "output", "formats"},
                {"index", "default", "port"}, {"recurring", "delete", "account"}]
    asked: list[list[str]] = []

    def lookup(words: Sequence[str]) -> dict[str, float]:  # the corpus's word shares
        return {w: shares[w] for w in words if w in shares}

    def capitalised(words: Sequence[str]) -> dict[str, float]:  # how it writes each word
        return {w: capitals[w] for w in words if w in capitals}

    def together(words: Sequence[str]) -> bool:  # whether one passage holds every word
        asked.append(list(words))
        return any({w.lower() for w in words} <= p for p in passages)

    def read(question: str, topic: str) -> str:
        return standalone_question(question, _history(topic), shares=lookup, capitalised=capitalised,
                                   together=together)

    assert read("What are the fees?", "How do I accept PayPal payments?") == (
        "How do I accept PayPal payments? What are the fees?")
    assert read("whats the fee", "how do i accept paypal payments") == "how do i accept paypal payments whats the fee"
    assert read("What are the supported currencies?", "How do I accept PayPal payments?").endswith("currencies?")
    # an identifier is the topic's subject: the output formats of pg_dump
    assert read("What are the output formats?", "How do I back up a database with pg_dump?").startswith("How do I")
    # the documents never discuss the late fee with QuickBooks: a question of its own
    assert read("What is the late fee?", "How do I connect Ledgerly to QuickBooks?") == "What is the late fee?"
    # a topic without a name: in a large manual every common word meets every other somewhere
    assert read("What is the default port?", "How do I create an index?") == "What is the default port?"
    asked.clear()
    # an action, a question that names its own subject, a longer question: no passage is even looked up
    assert read("How do I delete the account?", "How do I set up recurring invoices?") == (
        "How do I delete the account?")
    assert read("What are the PayPal fees?", "How do I connect Ledgerly to QuickBooks?") == "What are the PayPal fees?"
    assert read("What is the limit on the size of an upload?", "How do I accept PayPal payments?").startswith("What")
    assert read("What are fees?", "How do I accept PayPal payments?") == "What are fees?"  # no "the"
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


@pytest.mark.parametrize(("question", "topic", "read"), [
    ("And how do I turn it on?", "How much does 2FA cost?", "And how do I turn it on? 2fa"),
    ("How do I delete it?", "How do I connect Ledgerly to QuickBooks?", "How do I delete it? quickbooks ledgerly"),
    ("And how do I restore it?", "How do I back up one database with pg_dump?", "And how do I restore it? pg_dump"),
    # its own words name what it asks about; a topic naming nothing; nothing pointing back; no topic
    ("Can I dump just one table?", "How do I back up one database with pg_dump?", "Can I dump just one table?"),
    ("Can I pause one?", "How do I set up recurring invoices?", "Can I pause one?"),
    ("What about PayPal?", "How do I connect Stripe?", "What about PayPal?"),
    ("And how do I turn it on?", "", "And how do I turn it on?"),
])
def test_a_follow_up_pointing_back_with_a_bare_action_is_read_with_the_topics_names(question: str, topic: str,
                                                                                    read: str) -> None:
    assert with_referent(question, topic) == read
