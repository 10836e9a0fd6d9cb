"""``POST /v1/feedback``: thumbs up or down (and a comment) on one of this session's answers."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from bots.web.deps import WEB_CHANNEL, ClientIPDep, ContextDep, SessionDep, enforce, owned_conversation
from bots.web.errors import ApiError
from bots.web.models import FeedbackRequest, FeedbackResponse

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post("/feedback", response_model=FeedbackResponse, status_code=201, summary="Rate an answer",
             responses={404: {"description": "answer_id is not one of this session's answers"}})
async def feedback(body: FeedbackRequest, session: SessionDep, ctx: ContextDep, ip: ClientIPDep) -> FeedbackResponse:
    enforce(ctx, ctx.limits.other_ip, ip, "ip")
    turn = await run_in_threadpool(ctx.store.get_turn, body.answer_id)
    if turn is None or turn["role"] != "assistant":
        raise ApiError(404, "answer_not_found", "This answer does not exist or is not yours to rate.")
    try:
        await owned_conversation(ctx, session, turn["conversation_id"])
    except ApiError as exc:
        raise ApiError(404, "answer_not_found", "This answer does not exist or is not yours to rate.") from exc
    rating = 1 if body.rating == "up" else -1
    comment = body.comment.strip() if body.comment else None
    await run_in_threadpool(lambda: ctx.store.record_feedback(
        turn_id=body.answer_id, rating=rating, channel=WEB_CHANNEL, comment=comment or None,
        user_id=session.owner))
    ctx.metrics.feedback.labels(rating=body.rating).inc()
    return FeedbackResponse()
