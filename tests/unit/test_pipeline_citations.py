"""Citation rewriting: one numbering (the prompt's), invented numbers dropped, only citation-shaped
brackets outside code touched, and streaming equal to batch."""

from __future__ import annotations

import pytest

from assistant.citations import CitationRewriter, resolve_citations


@pytest.mark.parametrize(
    ("text", "offered", "expected", "order"),
    [
        ("A [3]. B [1]. C [3].", 3, "A [3]. B [1]. C [3].", [3, 1]),
        ("A [2, 3] and [3,2].", 3, "A [2, 3] and [3, 2].", [2, 3]),
        ("A [1][2].", 2, "A [1][2].", [1, 2]),
        ("Costs $5 [9].", 2, "Costs $5.", []),
        ("Costs $5 [9] per month [1].", 2, "Costs $5 per month [1].", [1]),
        ("Mixed [1, 7] ok.", 2, "Mixed [1] ok.", [1]),
        ("Zero [0] is never offered.", 3, "Zero is never offered.", []),
        ("Same group [2, 2].", 2, "Same group [2].", [2]),
        ("A range [1-3] and [2–3].", 3, "A range [1, 2, 3] and [2, 3].", [1, 2, 3]),
        ("A range past the end [2-5].", 3, "A range past the end [2, 3].", [2, 3]),
        # Not citations: indexes, years, labels, long ranges, code.
        ("Read items[0].id, then items[1].id.", 3, "Read items[0].id, then items[1].id.", []),
        ("m[1][2] is a matrix cell", 3, "m[1][2] is a matrix cell", []),
        ("Use items[0] or rows[0], [1].", 3, "Use items[0] or rows[0], [1].", [1]),
        ("Since [2023] it is free [1].", 3, "Since [2023] it is free [1].", [1]),
        ("See [Source 2] and [1-40].", 3, "See [Source 2] and [1-40].", []),
        ("Run `a[1]` then [2].", 3, "Run `a[1]` then [2].", [2]),
        ("```\nx = a[1]\n```\nDone [1].", 2, "```\nx = a[1]\n```\nDone [1].", [1]),
        # Attached to a word but followed by punctuation or space: a citation.
        ("Refunds take 5 days[1]. Taxes[2], too[9].", 2, "Refunds take 5 days[1]. Taxes[2], too.", [1, 2]),
        ("- [ ] a checkbox, [see below] and [x]", 1, "- [ ] a checkbox, [see below] and [x]", []),
        ("Line one.\n[5] Line two.", 2, "Line one.\nLine two.", []),
        ("[4] Starts with a bad one [1].", 2, "Starts with a bad one [1].", [1]),
        ("  leading and trailing space  \n", 1, "leading and trailing space", []),
        ("An unclosed [1", 1, "An unclosed [1", []),
        ("[1](https://example.com) link", 1, "[1](https://example.com) link", [1]),
    ],
)
def test_resolve_citations(text: str, offered: int, expected: str, order: list[int]) -> None:
    assert resolve_citations(text, offered) == (expected, order)


def test_streaming_in_any_split_gives_the_same_text_as_rewriting_the_whole_answer() -> None:
    text = ("Refunds take 5 days [3]. Taxes [1, 9] are set in Settings [12].\n[7] Export [2] works [3]. "
            "Use items[1].id or `a[2]`; since [2023] days[2]. ok [1-2].")
    whole, order = resolve_citations(text, 3)
    for size in range(1, 8):
        rewriter = CitationRewriter(3)
        pieces = [text[i:i + size] for i in range(0, len(text), size)]
        streamed = "".join(rewriter.feed(p) for p in pieces) + rewriter.finish()
        assert (streamed, rewriter.order) == (whole, order), size


def test_dropped_numbers_are_remembered_for_the_logs() -> None:
    rewriter = CitationRewriter(2)
    rewriter.feed("A [5]. B [1, 6].")
    rewriter.finish()
    assert rewriter.dropped == [5, 6]
