"""Markdown to Slack mrkdwn, message splitting, and Slack markup back to plain questions."""

from __future__ import annotations

from bots.slack.blocks import answer_messages, sources_block
from bots.slack.formatting import plain_question, split_text, to_mrkdwn
from tests.fakes import source


def test_emphasis_links_and_strikethrough_become_mrkdwn() -> None:
    out = to_mrkdwn("Use **bold**, *italic*, __also bold__, ~~gone~~ and [the guide](https://x.example/a_b_c).")
    assert out == "Use *bold*, _italic_, *also bold*, ~gone~ and <https://x.example/a_b_c|the guide>."


def test_headings_become_bold_lines_separated_from_text() -> None:
    assert to_mrkdwn("# Refunds\nText\n\n## Steps\nMore") == "*Refunds*\n\nText\n\n*Steps*\n\nMore"


def test_lists_keep_numbers_and_nesting() -> None:
    out = to_mrkdwn("Intro:\n\n1. Open\n2. Click **Refund**\n   - partial\n   - full\n\n- a\n- b")
    assert out == "Intro:\n\n1. Open\n2. Click *Refund*\n    ◦ partial\n    ◦ full\n\n• a\n• b"


def test_code_is_kept_verbatim_but_escaped() -> None:
    out = to_mrkdwn("Run `a<b && c` then:\n\n```bash\ncurl 'https://api?a=1&b=2' **not bold**\n```")
    assert out == ("Run `a&lt;b &amp;&amp; c` then:\n\n```\ncurl 'https://api?a=1&amp;b=2' **not bold**\n```")


def test_control_characters_and_html_are_escaped() -> None:
    assert to_mrkdwn("1 < 2 & 3 > 2 <script>x</script>") == "1 &lt; 2 &amp; 3 &gt; 2 &lt;script&gt;x&lt;/script&gt;"


def test_unsafe_or_relative_links_are_never_made_clickable() -> None:
    assert to_mrkdwn("[docs](/docs) ![logo](https://x.example/l.png)") == "docs <https://x.example/l.png|logo>"
    assert "<javascript" not in to_mrkdwn("[x](javascript:alert(1))")


def test_quotes_and_tables() -> None:
    assert to_mrkdwn("> Note: **5 days**") == "> Note: *5 days*"
    assert to_mrkdwn("| Plan | Price |\n|---|---|\n| Pro | $10 |") == "```\nPlan | Price\nPro  | $10\n```"


def test_citation_markers_survive() -> None:
    assert to_mrkdwn("Refunds take 5 days [1][2].") == "Refunds take 5 days [1][2]."


def test_split_keeps_pieces_under_the_limit_and_loses_nothing() -> None:
    text = "\n\n".join(f"para {i} " + "word " * 150 for i in range(20))
    pieces = split_text(text, 3000)
    assert len(pieces) > 1 and all(len(p) <= 3000 for p in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())


def test_split_closes_and_reopens_a_code_fence_it_cuts() -> None:
    text = "intro\n```\n" + "\n".join(f"line {i}" for i in range(400)) + "\n```\nend"
    pieces = split_text(text, 1000)
    assert len(pieces) > 2
    for piece in pieces:
        assert piece.count("```") % 2 == 0, piece
        assert len(piece) <= 1000


def test_split_cuts_a_single_huge_line_at_spaces() -> None:
    pieces = split_text("word " * 2000, 500)
    assert all(len(p) <= 500 for p in pieces) and all(not p.startswith(" ") for p in pieces)


def test_answer_messages_respect_block_limits() -> None:
    messages = answer_messages("x " * 20_000)
    assert len(messages) >= 4
    for blocks in messages:
        assert 1 <= len(blocks) <= 4
        assert all(len(b["text"]["text"]) <= 3000 for b in blocks)


def test_sources_block_links_titles_and_escapes_them() -> None:
    block = sources_block([source(1, "Refunds <and> credits", url="https://help.example/r"),
                           source(2, "Internal runbook | v2", audience="internal")])
    assert block is not None and block["block_id"] == "sources"
    assert block["text"]["text"] == ("*Sources*\n1. <https://help.example/r|Refunds &lt;and&gt; credits>\n"
                                     "2. Internal runbook ¦ v2")
    assert sources_block([]) is None


def test_plain_question_strips_the_bot_mention_and_decodes_markup() -> None:
    text = "<@U0BOT> how do I <https://help.example/r|refund> in <#C1|billing> for <@U2|bob>? a &lt; b &amp; c"
    assert plain_question(text, "U0BOT") == "how do I refund (https://help.example/r) in #billing for @bob? a < b & c"
    assert plain_question("<@U0BOT>", "U0BOT") == ""
    assert plain_question("<!here> ping <https://x.example>", None) == "@here ping https://x.example"
