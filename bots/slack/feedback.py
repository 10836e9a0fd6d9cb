"""Feedback and escalation: 👍/👎 stored against the answer's turn, a 👎 optionally sent on.

An escalation posts the question, the answer and its sources to the escalation channel
(pinging a user group when one is configured) and is recorded as a hand-off in the store,
with ``status`` ``failed`` when Slack refused the post, so nothing is lost silently. An internal
answer is never posted to an escalation channel shared with another organisation.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from assistant.schemas import SourceRef
from bots.slack.answering import CHANNEL
from bots.slack.blocks import escalation_blocks, fallback_text
from bots.slack.deps import AnswerRecord, SlackDeps

log = logging.getLogger(__name__)

_SOURCE_LINE = re.compile(r"^(\d+)\. (?:<([^|>]+)\|([^>]*)>|([^—]+?))(?: — (.*))?$")


async def record_feedback(deps: SlackDeps, *, answer_id: str, rating: int, user: str | None,
                          comment: str | None = None) -> bool:
    """Store a rating; False when ``answer_id`` is not an answer this store knows."""
    if await asyncio.to_thread(deps.store.get_turn, answer_id) is None:
        return False
    await asyncio.to_thread(deps.store.record_feedback, turn_id=answer_id, rating=rating, channel=CHANNEL,
                            comment=comment or None, user_id=user)
    return True


async def find_answer(deps: SlackDeps, answer_id: str, message: dict[str, Any] | None = None) -> AnswerRecord | None:
    """The answer behind a button: from memory, else rebuilt from the store (question, text,
    audience) with the sources read back from the message's own sources block."""
    found = deps.answers.get(answer_id)
    if found is not None:
        return found
    audit = await asyncio.to_thread(deps.store.audit, answer_id)
    turn = await asyncio.to_thread(deps.store.get_turn, answer_id)
    if audit is None or turn is None:
        return None
    record = AnswerRecord(
        answer_id=answer_id, question=audit["question"], answer=turn["text"],
        sources=sources_from_blocks((message or {}).get("blocks") or [], audit["audience"]),
        audience=audit["audience"], channel=(message or {}).get("channel", ""), user=None,
        fallback=audit["fallback"], abstained=audit["abstained"], conversation_id=audit["conversation_id"],
        message_ts=(message or {}).get("ts"))
    deps.answers.put(record)
    return record


def sources_from_blocks(blocks: list[dict[str, Any]], audience: str) -> list[SourceRef]:
    for block in blocks:
        if block.get("block_id") != "sources":
            continue
        found = []
        for line in block.get("text", {}).get("text", "").split("\n")[1:]:
            match = _SOURCE_LINE.match(line.strip())
            if match:
                n, url, label, bare, section = match.groups()
                found.append(SourceRef(n=int(n), title=(label or bare or "").strip(), url=url, source="slack",
                                       audience="internal" if audience == "internal" else "public",
                                       chunk_id="", section=section or ""))
        return found
    return []


async def escalate(deps: SlackDeps, client: AsyncWebClient, record: AnswerRecord, *, flagged_by: str | None,
                   reason: str | None) -> bool:
    """Post the answer to the escalation channel and record the hand-off; True when posted."""
    destination = deps.settings.slack.escalation_channel
    if not destination:
        return False
    permalink = None
    if record.message_ts and record.channel:
        try:
            permalink = (await client.chat_getPermalink(channel=record.channel,
                                                        message_ts=record.message_ts)).get("permalink")
        except SlackApiError as exc:
            log.info("no permalink for the escalated answer: %s", exc.response.get("error"))
    blocks = escalation_blocks(question=record.question, answer=record.answer, sources=record.sources,
                               asked_by=flagged_by, reason=reason, permalink=permalink,
                               mention=deps.settings.slack.escalation_mention)
    payload = {
        "question": record.question, "answer": record.answer, "reason": reason, "flagged_by": flagged_by,
        "audience": record.audience, "slack_channel": record.channel, "permalink": permalink,
        "sources": [{"n": s.n, "title": s.title, "url": s.url} for s in record.sources],
    }
    status = "sent"
    if record.audience == "internal" and await deps.shared.is_shared(client, destination):
        status, payload["error"] = "failed", "escalation_channel_is_shared"
        log.warning("escalation channel %s is shared with another organisation: an internal answer is not "
                    "posted there; set ASSISTANT_SLACK_ESCALATION_CHANNEL to an internal channel", destination)
    else:
        try:
            await client.chat_postMessage(channel=destination, text=fallback_text(blocks), blocks=blocks,
                                          unfurl_links=False, unfurl_media=False)
        except SlackApiError as exc:
            status = "failed"
            payload["error"] = exc.response.get("error")
            log.warning("escalation to %s failed: %s", destination, payload["error"])
    await asyncio.to_thread(deps.store.record_handoff, channel=CHANNEL, destination=f"slack:{destination}",
                            status=status, payload=payload, conversation_id=record.conversation_id,
                            turn_id=record.answer_id)
    return status == "sent"
