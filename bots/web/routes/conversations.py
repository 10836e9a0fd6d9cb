"""``GET /v1/conversations/{id}``: a visitor reads back their own conversation, nobody else's."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from bots.web.deps import ClientIPDep, ContextDep, SessionDep, enforce, owned_conversation
from bots.web.models import ConversationOut, TurnOut

router = APIRouter(prefix="/v1", tags=["conversations"])


@router.get("/conversations/{conversation_id}", response_model=ConversationOut,
            summary="Read one of this session's conversations",
            responses={404: {"description": "Unknown, or owned by another session"}})
async def get_conversation(conversation_id: str, session: SessionDep, ctx: ContextDep,
                           ip: ClientIPDep) -> ConversationOut:
    enforce(ctx, ctx.limits.other_ip, ip, "ip")
    conversation = await owned_conversation(ctx, session, conversation_id)
    turns = await run_in_threadpool(ctx.store.turns, conversation.id)
    return ConversationOut(conversation_id=conversation.id, turns=[
        TurnOut(id=t["id"], role=t["role"], text=t["text"], created_at=t["created_at"]) for t in turns])
