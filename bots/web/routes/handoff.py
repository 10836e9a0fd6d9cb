"""``POST /v1/handoff``: "talk to a human" sends the transcript and its sources to the support team."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from bots.web.deps import WEB_CHANNEL, ClientIPDep, ContextDep, SessionDep, WebContext, enforce, owned_conversation
from bots.web.errors import ApiError
from bots.web.handoff import HandoffFailed
from bots.web.models import HandoffRequest, HandoffResponse

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["handoff"])


def _transcript(ctx: WebContext, turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for turn in turns:
        item: dict[str, Any] = {"role": turn["role"], "text": turn["text"],
                                "at": datetime.fromtimestamp(turn["created_at"], UTC).isoformat()}
        if turn["role"] == "assistant":
            shown = ctx.sources.get(turn["id"])
            if shown is not None:
                item["sources"] = shown
            else:  # answered before a restart: the audit trail still names the chunks
                item["sources"] = []
                item["chunk_ids"] = json.loads(turn["chunk_ids"]) if turn.get("chunk_ids") else []
            item["answer_id"] = turn["id"]
            item["abstained"] = bool(turn.get("abstained"))
        out.append(item)
    return out


def _page_url(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("https://", "http://")) else None


@router.post("/handoff", response_model=HandoffResponse, status_code=202, summary="Ask for a human",
             responses={404: {"description": "Unknown conversation, or another session's"},
                        502: {"description": "The support team's destination could not be reached"}})
async def handoff(body: HandoffRequest, session: SessionDep, ctx: ContextDep, ip: ClientIPDep) -> HandoffResponse:
    enforce(ctx, ctx.limits.other_ip, ip, "ip")
    conversation = await owned_conversation(ctx, session, body.conversation_id)
    enforce(ctx, ctx.limits.handoff_session, session.sid, "handoff")
    turns = await run_in_threadpool(ctx.store.turns, conversation.id)
    handoff_id = uuid.uuid4().hex
    payload: dict[str, Any] = {
        "handoff_id": handoff_id,
        "conversation_id": conversation.id,
        "channel": WEB_CHANNEL,
        "created_at": datetime.now(UTC).isoformat(),
        "user_id": session.user_id,  # only ever a verified id
        "email": body.email,
        "note": body.note.strip() if body.note else None,
        "page_url": _page_url(body.page_url),
        "origin": session.origin,
        "transcript": _transcript(ctx, turns),
    }
    destination = ctx.handoff
    status = "sent"
    try:
        await destination.send(handoff_id, payload)
    except HandoffFailed as exc:
        log.error("hand-off %s to %s failed: %s", handoff_id, destination.name, exc)
        status = "failed"
    last_answer = next((t["id"] for t in reversed(turns) if t["role"] == "assistant"), None)
    await _record(ctx, conversation.id, last_answer, destination.name, status, payload)
    ctx.metrics.handoffs.labels(destination=destination.name, status=status).inc()
    contact = ctx.settings.brand.escalation_contact
    if status == "failed":
        raise ApiError(502, "handoff_failed",
                       f"We couldn't pass your conversation on right now. Please contact {contact}.")
    return HandoffResponse(handoff_id=handoff_id,
                           message="Thanks! A member of our team will get back to you"
                           + (f" at {body.email}." if body.email else "."))


async def _record(ctx: WebContext, conversation_id: str, turn_id: str | None,
                  destination: str, status: str, payload: dict[str, Any]) -> None:
    await run_in_threadpool(lambda: ctx.store.record_handoff(
        channel=WEB_CHANNEL, destination=destination, status=status, payload=payload,
        conversation_id=conversation_id, turn_id=turn_id))
