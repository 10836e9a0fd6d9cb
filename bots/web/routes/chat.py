"""``POST /v1/chat``: a question in, the answer streamed as server-sent events (or one JSON object).

The audience is fixed to ``public`` here and nowhere else can set it: the request body has
no such field (docs/architecture.md §2).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from assistant.schemas import AnswerRequest
from bots.web.deps import (
    WEB_CHANNEL,
    ClientIPDep,
    ContextDep,
    SessionDep,
    enforce,
    new_conversation,
    owned_conversation,
)
from bots.web.errors import ApiError
from bots.web.models import ChatAnswer, ChatRequest
from bots.web.streaming import json_answer, open_answer, refuse_if_busy, sse_stream

router = APIRouter(prefix="/v1", tags=["chat"])

WIDGET_AUDIENCE = "public"

_SSE_DOC = (
    "Server-sent events. `event: sources` (data `{\"sources\": [...]}`) comes first, then "
    "`event: token` (data `{\"text\": ...}`) for each piece of the answer, then `event: done` "
    "(data: the ChatAnswer object) last. A failure ends the stream with `event: error` "
    "(data `{\"code\", \"message\", \"retryable\"}`). Lines starting with `:` are keep-alives."
)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/event-stream" not in accept


@router.post(
    "/chat",
    summary="Ask a question",
    response_model=None,
    responses={
        200: {"description": _SSE_DOC, "content": {
            "text/event-stream": {"schema": {"type": "string"}},
            "application/json": {"schema": ChatAnswer.model_json_schema()}}},
        401: {"description": "Missing, expired or forged session token"},
        404: {"description": "conversation_id is not one of this session's conversations"},
        413: {"description": "Message longer than the configured limit"},
        422: {"description": "Invalid body, or the conversation is too long to continue"},
        429: {"description": "Rate limit or daily quota hit; see Retry-After"},
        503: {"description": "`busy`: every answer worker is taken; retry after `Retry-After` seconds. "
                             "`not_ready`: no index can be served yet"},
    },
)
async def chat(body: ChatRequest, request: Request, session: SessionDep, ctx: ContextDep,
               ip: ClientIPDep) -> Response:
    """Send `Accept: text/event-stream` to stream, `Accept: application/json` for one object.
    Leave out `conversation_id` to start a conversation; the answer names it."""
    web = ctx.settings.web
    if len(body.message) > web.max_question_chars:
        raise ApiError(413, "message_too_long",
                       f"Please keep your question under {web.max_question_chars} characters.")
    question = body.message.strip()
    if not question:
        raise ApiError(422, "invalid_request", "The message is empty.")
    refuse_if_busy(ctx)  # before the limits: a refusal for load should not cost the caller quota
    enforce(ctx, ctx.limits.chat_session, session.sid, "session")
    enforce(ctx, ctx.limits.chat_ip, ip, "ip")
    enforce(ctx, ctx.limits.chat_daily_ip, ip, "daily")

    if body.conversation_id:
        conversation = await owned_conversation(ctx, session, body.conversation_id)
        turns = await run_in_threadpool(ctx.store.history, conversation.id, web.max_conversation_turns)
        if len(turns) >= web.max_conversation_turns:
            raise ApiError(422, "conversation_full",
                           "This conversation is too long to continue. Please start a new one.")
        history = turns[-web.max_history_turns:] if web.max_history_turns else []
    else:
        conversation = await new_conversation(ctx, session)
        history = []

    answer_request = AnswerRequest(question=question, audience=WIDGET_AUDIENCE, history=history,
                                   conversation_id=conversation.id, channel=WEB_CHANNEL,
                                   user_id=session.user_id)
    stream = open_answer(ctx, answer_request)  # a full worker pool refuses here: 503 busy
    if _wants_json(request):
        answer = await json_answer(ctx, stream)
        return JSONResponse(answer.model_dump())
    return EventSourceResponse(sse_stream(ctx, stream),
                               headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
