"""The extractive answer: short, clean excerpts with citations, one per document."""

from __future__ import annotations

from assistant.llm.extractive import best_excerpt, extractive_answer
from tests.fakes import make_passage


def test_the_sentence_that_matches_the_question_leads_the_excerpt() -> None:
    text = ("Ledgerly supports many currencies. Refunds for card payments take 5 business days. "
            "ACH refunds take up to 7 days. Contact support for anything else.")
    excerpt = best_excerpt("How long do ACH refunds take?", text, max_chars=80)
    assert excerpt.startswith("ACH refunds take up to 7 days.")
    assert len(excerpt) <= 80


def test_markdown_and_brackets_do_not_leak_into_excerpts() -> None:
    text = "## Tax rates\n\n- Open **Settings** > `Taxes` [see docs](https://x.example).\n- Click [Add]."
    excerpt = best_excerpt("tax rates", text)
    assert "#" not in excerpt and "**" not in excerpt and "`" not in excerpt and "https" not in excerpt
    assert "[" not in excerpt  # a stray [n] would read as a citation
    assert "Settings > Taxes see docs" in excerpt


def test_long_sentences_are_cut_at_a_word_boundary() -> None:
    excerpt = best_excerpt("invoice", "invoice " * 100, max_chars=50)
    assert len(excerpt) <= 50 and excerpt.endswith("invoice…")


def test_one_excerpt_per_document_at_most_three_cited_by_position() -> None:
    passages = [
        make_passage("Refunds take 5 days.", title="Refunds", doc_key="docs:refunds"),
        make_passage("Refunds go to the original card.", title="Refunds", doc_key="docs:refunds"),
        make_passage("Taxes are set per invoice.", title="Taxes"),
        make_passage("Exports are CSV.", title="Export"),
        make_passage("Webhooks retry 3 times.", title="Webhooks"),
    ]
    answer = extractive_answer("refunds", passages, intro="From the docs:")
    assert answer.splitlines() == [
        "From the docs:",
        "",
        "- Refunds: Refunds take 5 days. [1]",
        "- Taxes: Taxes are set per invoice. [3]",
        "- Export: Exports are CSV. [4]",
    ]
