"""Block Kit payloads for answers: text sections, the sources block, notices and buttons.

Action ids are the contract between the messages built here and the listeners in
``listeners/actions.py``; the ``value`` of every button is the stored answer's turn id.
"""

from __future__ import annotations

from typing import Any

from assistant.schemas import SourceRef
from bots.slack.formatting import SECTION_LIMIT, escape, link, split_text, to_mrkdwn

FEEDBACK_UP = "feedback_up"
FEEDBACK_DOWN = "feedback_down"
POST_ANSWER = "post_answer"
REASON_VIEW = "feedback_reason"
REASON_BLOCK, REASON_INPUT = "reason", "reason_input"
ESCALATE_BLOCK, ESCALATE_INPUT = "escalate", "escalate_input"

SECTIONS_PER_MESSAGE = 4  # 12,000 characters: well inside Slack's 50-block and 40,000-character limits
FALLBACK_NOTICE = (":warning: The language model is unavailable right now, so this answer is made of the most "
                   "relevant passages from the knowledge base, without a written summary.")
ABSTAIN_NOTICE = ":grey_question: I could not find a confident answer in the knowledge base."
INTERNAL_NOTICE = ":lock: Contains internal sources: do not paste it to customers as is."
Block = dict[str, Any]


def section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}
    if block_id:
        block["block_id"] = block_id
    return block


def context(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:2000]}]}
    if block_id:
        block["block_id"] = block_id
    return block


def answer_messages(markdown: str) -> list[list[Block]]:
    """The answer as messages of up to four section blocks each, cut within Slack's limits."""
    pieces = split_text(to_mrkdwn(markdown)) or ["…"]
    return [[section(p) for p in pieces[i:i + SECTIONS_PER_MESSAGE]]
            for i in range(0, len(pieces), SECTIONS_PER_MESSAGE)]


def sources_block(sources: list[SourceRef]) -> Block | None:
    if not sources:
        return None
    lines = [f"{s.n}. {link(s.url, s.title)}" + (f" — {escape(s.section)}" if s.section else "")
             for s in sources]
    text = "*Sources*\n" + "\n".join(lines)
    return section(text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…", "sources")


def notices(*, fallback: bool, abstained: bool, sources: list[SourceRef]) -> list[Block]:
    found = []
    if fallback:
        found.append(context(FALLBACK_NOTICE, "fallback"))
    if abstained:
        found.append(context(ABSTAIN_NOTICE, "abstained"))
    if any(s.audience == "internal" for s in sources):
        found.append(context(INTERNAL_NOTICE, "internal"))
    return found


def feedback_block(answer_id: str, *, with_post_button: bool = False) -> Block:
    elements: list[Block] = [
        {"type": "button", "action_id": FEEDBACK_UP, "value": answer_id,
         "text": {"type": "plain_text", "text": "👍", "emoji": True}},
        {"type": "button", "action_id": FEEDBACK_DOWN, "value": answer_id,
         "text": {"type": "plain_text", "text": "👎", "emoji": True}},
    ]
    if with_post_button:
        elements.insert(0, {"type": "button", "action_id": POST_ANSWER, "value": answer_id, "style": "primary",
                            "text": {"type": "plain_text", "text": "Post to channel"}})
    return {"type": "actions", "block_id": "feedback", "elements": elements}


def answer_footer(*, sources: list[SourceRef], fallback: bool, abstained: bool, answer_id: str | None,
                  with_post_button: bool = False) -> list[Block]:
    """Everything under the answer text: sources, notices, buttons."""
    blocks: list[Block] = []
    src = sources_block(sources)
    if src:
        blocks.append(src)
    blocks.extend(notices(fallback=fallback, abstained=abstained, sources=sources))
    if answer_id:
        blocks.append(feedback_block(answer_id, with_post_button=with_post_button))
    return blocks


def fallback_text(blocks: list[Block], limit: int = 3000) -> str:
    """The ``text`` Slack shows in notifications and to screen readers."""
    parts = [b["text"]["text"] for b in blocks if b.get("type") == "section"]
    text = "\n".join(parts) or "Answer"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reason_modal(private_metadata: str, *, can_escalate: bool) -> dict[str, Any]:
    blocks: list[Block] = [
        {"type": "input", "block_id": REASON_BLOCK, "optional": True,
         "label": {"type": "plain_text", "text": "What was wrong? (optional)"},
         "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "multiline": True,
                     "max_length": 500}},
    ]
    if can_escalate:
        blocks.append(
            {"type": "input", "block_id": ESCALATE_BLOCK, "optional": True,
             "label": {"type": "plain_text", "text": "Escalation"},
             "element": {"type": "checkboxes", "action_id": ESCALATE_INPUT, "options": [
                 {"value": "escalate",
                  "text": {"type": "plain_text", "text": "Send the question to the support team"}}]}})
    return {
        "type": "modal", "callback_id": REASON_VIEW, "private_metadata": private_metadata, "notify_on_close": True,
        "title": {"type": "plain_text", "text": "Not helpful"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": blocks,
    }


def escalation_blocks(*, question: str, answer: str, sources: list[SourceRef], asked_by: str | None,
                      reason: str | None, permalink: str | None, mention: str | None) -> list[Block]:
    head = ":rotating_light: *Escalated answer*"
    if mention:
        head += " " + (f"<!subteam^{mention}>" if mention.startswith("S") else f"<@{mention}>")
    if asked_by:
        head += f" — flagged by <@{asked_by}>"
    blocks: list[Block] = [section(head), section("*Question*\n" + escape(question))]
    answer_text = to_mrkdwn(answer)
    blocks.append(section("*Answer*\n" + (answer_text if len(answer_text) <= SECTION_LIMIT - 20
                                         else answer_text[: SECTION_LIMIT - 21] + "…")))
    src = sources_block(sources)
    if src:
        blocks.append(src)
    if reason:
        blocks.append(section("*Reason*\n" + escape(reason)))
    if permalink:
        blocks.append(context(link(permalink, "Open the conversation")))
    return blocks
