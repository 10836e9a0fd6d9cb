"""Chunking: sized in the embedding model's tokens, heading-aware, tickets split at turn boundaries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assistant.embeddings import Embedder
from assistant.schemas import Document, TextBlock, Ticket, TicketPart
from ingest.chunking import ChunkParams, chunk_document, chunk_ticket, pack_units, split_sentences

PARAMS = ChunkParams(max_tokens=256, overlap_tokens=32, model_id="test-model")


@pytest.fixture(scope="module")
def count(embedder: Embedder):
    return embedder.count_tokens


def _doc(blocks: list[TextBlock], title: str = "Refunds") -> Document:
    return Document(source="help", key="billing/refunds.md", path="billing/refunds.md", title=title,
                    audience="public", url="https://help.example/billing/refunds.md", blocks=blocks,
                    fingerprint="x")


def test_every_chunk_fits_the_model_window_including_context(count, embedder):
    long_text = " ".join(f"Sentence number {i} explains one more detail about partial refunds." for i in range(200))
    chunks = chunk_document(_doc([TextBlock(section=("Refunds", "Partial refunds"), text=long_text)]), PARAMS, count)
    assert len(chunks) > 5
    sizes = count([c.embed_text for c in chunks])
    assert max(sizes) + 2 <= embedder.max_tokens
    assert all(c.embed_text.startswith("Refunds\nRefunds > Partial refunds\n") for c in chunks)


def test_chunks_never_mix_sections_and_keep_the_section_path(count):
    doc = _doc([
        TextBlock(section=("Refunds", "Full refunds"), text="A full refund returns the whole amount."),
        TextBlock(section=("Refunds", "Partial refunds"), text="A partial refund returns part of it."),
    ])
    chunks = chunk_document(doc, PARAMS, count)
    assert [c.section for c in chunks] == ["Refunds > Full refunds", "Refunds > Partial refunds"]
    assert [c.ordinal for c in chunks] == [0, 1]
    assert chunks[0].url == "https://help.example/billing/refunds.md"


def test_a_short_subsection_joins_its_parent_under_its_own_heading(count):
    """A reference page's "ProxyPass Directive > Example" is one line of configuration: alone, its
    chunk's vector was mostly title and heading. It joins the directive's text; a long subsection
    and a sibling section stay chunks of their own."""
    long_text = " ".join(f"Detail {i} of how a partial refund is shown on the statement." for i in range(40))
    doc = _doc([
        TextBlock(section=("ProxyPass Directive",), text="Maps remote servers into the local URL space."),
        TextBlock(section=("ProxyPass Directive", "Example"), text='ProxyPass "/app" "http://127.0.0.1:3000/"',
                  kind="code"),
        TextBlock(section=("ProxyPass Directive", "Why a trailing slash?"), text="Both sides must match."),
        TextBlock(section=("ProxyPass Directive", "Details"), text=long_text),
        TextBlock(section=("ProxyPassMatch Directive",), text="The same with a regular expression."),
    ])
    chunks = chunk_document(doc, PARAMS, count)
    assert chunks[0].section == "ProxyPass Directive"
    assert chunks[0].text == ('Maps remote servers into the local URL space.\n\nExample:\n\n'
                              '```\nProxyPass "/app" "http://127.0.0.1:3000/"\n```\n\n'
                              'Why a trailing slash?\n\nBoth sides must match.')
    assert [c.section for c in chunks[1:]] == ["ProxyPass Directive > Details"] * (len(chunks) - 2) + [
        "ProxyPassMatch Directive"]


def test_long_sections_split_at_sentence_ends_not_mid_sentence(count):
    sentences = [f"Step {i} of the payout schedule happens on business day {i}." for i in range(120)]
    chunks = chunk_document(_doc([TextBlock(section=("Payouts",), text=" ".join(sentences))]), PARAMS, count)
    for chunk in chunks:
        assert chunk.text.rstrip().endswith("."), chunk.text[-40:]
        assert chunk.text.lstrip().startswith("Step")


def test_overlap_repeats_the_tail_of_the_previous_chunk(count):
    sentences = [f"Fact {i} is about invoice numbering rule {i}." for i in range(100)]
    chunks = chunk_document(_doc([TextBlock(section=("Numbers",), text=" ".join(sentences))]), PARAMS, count)
    first_tail = split_sentences(chunks[0].text)[-1]
    assert first_tail in chunks[1].text


def test_identical_text_gives_identical_hashes_and_ids(count):
    doc = _doc([TextBlock(section=("A",), text="Same text.")])
    a, b = chunk_document(doc, PARAMS, count), chunk_document(doc, PARAMS, count)
    assert [c.content_hash for c in a] == [c.content_hash for c in b]
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    other_model = chunk_document(doc, ChunkParams(256, 32, "another-model"), count)
    assert other_model[0].content_hash != a[0].content_hash


def _ticket(parts: list[TicketPart], audience: str = "internal") -> Ticket:
    return Ticket(source="zendesk", id="1042", subject="Refund for duplicate charge", parts=parts, status="solved",
                  resolved=True, tags=["billing"], created=datetime(2026, 1, 5, tzinfo=UTC), audience=audience,
                  url="https://ledgerly.zendesk.com/agent/tickets/1042")


def test_tickets_split_at_turn_boundaries_and_label_roles(count):
    turns = [TicketPart(role="customer" if i % 2 == 0 else "agent",
                        text=" ".join(f"Turn {i} sentence {j} about the duplicate charge." for j in range(12)))
             for i in range(8)]
    chunks = chunk_ticket(_ticket(turns), PARAMS, count)
    assert len(chunks) > 1
    for chunk in chunks:
        for line in chunk.text.splitlines():
            assert line.startswith(("Customer: ", "Agent: ")), line[:30]
    assert all(c.untrusted for c in chunks)
    assert chunks[0].metadata["status"] == "solved" and chunks[0].metadata["tags"] == ["billing"]
    assert chunks[0].title == "Ticket 1042: Refund for duplicate charge"


def test_internal_notes_never_enter_public_ticket_chunks(count):
    parts = [
        TicketPart(role="customer", text="I was charged twice."),
        TicketPart(role="agent", visibility="internal", text="Approved under code SECRET-NOTE."),
        TicketPart(role="agent", text="We refunded the duplicate charge."),
    ]
    chunks = chunk_ticket(_ticket(parts, audience="public"), PARAMS, count)
    public = [c for c in chunks if c.audience == "public"]
    internal = [c for c in chunks if c.audience == "internal"]
    assert public and internal
    assert all("SECRET-NOTE" not in c.text for c in public)
    assert any("Agent (internal note): Approved" in c.text for c in internal)


def test_pack_units_splits_a_unit_larger_than_the_budget(count):
    giant = "word " * 600
    pieces = pack_units([giant.strip()], 100, count)
    assert len(pieces) >= 6
    assert max(count(pieces)) <= 100


def test_a_list_items_number_is_not_a_sentence_of_its_own():
    """A step longer than the window is cut at sentence ends: "1." was cut from its text as if it
    were a sentence, and the chunk showed a bare "1." above the step."""
    assert split_sentences("1. Optionally move the old cluster. The installers need not.\n12. Stop both. Then go.") == [
        "1. Optionally move the old cluster.", "The installers need not.", "12. Stop both.", "Then go."]


def test_code_blocks_stay_fenced_and_a_long_one_is_cut_between_lines(count, embedder):
    """A reader of a chunk (the extractive answer, a model) must tell a config example from prose,
    and no chunk may hold half a fence."""
    short = TextBlock(section=("Auth",), text="<Directory \"/private\">\nRequire valid-user\n</Directory>", kind="code")
    long = TextBlock(section=("Auth",), text="\n".join(f"Require ip 10.0.{i}.0/24  # office network number {i}"
                                                       for i in range(120)), kind="code")
    chunks = chunk_document(_doc([TextBlock(section=("Auth",), text="For example:"), short, long]), PARAMS, count)
    assert "For example:\n\n```\n<Directory \"/private\">\nRequire valid-user\n</Directory>\n```" in chunks[0].text
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.text.count("```") % 2 == 0, chunk.text
        assert count([chunk.embed_text])[0] + 2 <= embedder.max_tokens
    lines = [line for c in chunks for line in c.text.splitlines() if line.startswith("Require ip")]
    assert len(set(lines)) == 120  # every line kept whole (overlap may repeat some)


def test_a_long_table_is_cut_between_rows_and_every_piece_keeps_its_header(count, embedder):
    """A table over the window was cut into rows spread one per paragraph, and every chunk after the
    first lost its header ("TLS v1.3 | Internet Standard | Major revision …": which column is
    which?). Pieces are whole rows, under the header row, as a table again."""
    rows = [f"TLS v1.{i} | Proposed Internet Standard {i} | Revision number {i} of the protocol, adding one more "
            "protection against downgrade attacks on the handshake." for i in range(40)]
    table = TextBlock(section=("Versions",), text="\n".join(["Version | Source | Description", "--- | --- | ---",
                                                            *rows]), kind="table")
    chunks = chunk_document(_doc([TextBlock(section=("Versions",), text="The versions are:"), table]), PARAMS, count)
    assert len(chunks) > 2
    pieces = [c.text[c.text.index("Version | Source"):] for c in chunks if "TLS v1." in c.text]
    assert len(pieces) == len([c for c in chunks if "TLS v1." in c.text])  # every piece has its header
    for piece in pieces:
        lines = piece.splitlines()
        assert lines[:2] == ["Version | Source | Description", "--- | --- | ---"]
        assert all(line in rows for line in lines[2:])  # whole rows, one per line, no blank line between
    assert {line for p in pieces for line in p.splitlines()[2:]} == set(rows)
    for chunk in chunks:
        assert "---" not in chunk.embed_text  # the vector reads cells, not the header mark
        assert count([chunk.embed_text])[0] + 2 <= embedder.max_tokens


def test_a_table_without_a_header_row_is_cut_between_rows_too(count):
    rows = [f"Setting {i}: | value {i} chosen for the nightly payout schedule of region {i}." for i in range(60)]
    chunks = chunk_document(_doc([TextBlock(section=("Settings",), text="\n".join(rows), kind="table")]), PARAMS,
                            count)
    assert len(chunks) > 1
    for chunk in chunks:
        assert all(line in rows for line in chunk.text.splitlines())  # rows on consecutive lines


def test_the_rows_of_a_one_column_table_are_paragraphs(count):
    """A DocBook function table has one column (signature — description — example): its rows carry
    no cell marks, so on consecutive lines a reader could not tell where one ends."""
    rows = ["age ( timestamp ) → interval — Subtract argument from current_date — age(timestamp '1957-06-13')",
            "clock_timestamp ( ) → timestamp with time zone — Current date and time — clock_timestamp()"]
    chunks = chunk_document(_doc([TextBlock(section=("Functions",), text="\n".join(rows), kind="table")]), PARAMS,
                            count)
    assert [c.text for c in chunks] == ["\n\n".join(rows)]
