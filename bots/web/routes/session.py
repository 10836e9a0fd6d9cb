"""``POST /v1/session``: short-lived tokens for the widget, optionally for a verified user."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from bots.web.deps import ClientIPDep, ContextDep, OriginDep, SessionDep, bearer_token, enforce
from bots.web.errors import ApiError
from bots.web.models import SessionRequest, SessionResponse
from bots.web.tokens import Session, TokenError, identity_matches

router = APIRouter(prefix="/v1", tags=["session"])


def _verified_user(ctx: ContextDep, body: SessionRequest | None) -> str | None:
    if body is None or (body.user_id is None and body.user_hash is None):
        return None
    if body.user_id is None or body.user_hash is None:
        raise ApiError(422, "invalid_request", "Send both user_id and user_hash, or neither.")
    secret = ctx.settings.web.identity_secret
    if secret is None:
        raise ApiError(400, "identity_not_configured",
                       "Identity verification is not enabled on this server; leave out user_id and user_hash.")
    if not identity_matches(secret.get_secret_value().encode(), body.user_id, body.user_hash):
        raise ApiError(401, "invalid_identity", "The user identity could not be verified.")
    return body.user_id


@router.post("/session", response_model=SessionResponse, summary="Start or renew a widget session",
             responses={401: {"description": "user_hash does not match user_id"},
                        403: {"description": "Origin not allowed"}, 429: {"description": "Too many sessions"}})
async def create_session(request: Request, ctx: ContextDep, ip: ClientIPDep, origin: OriginDep,
                         body: SessionRequest | None = None) -> SessionResponse:
    """Issue a token for this page origin. Send the current token as ``Authorization: Bearer``
    to renew it: the session (and access to its conversations) carries over until
    ``session_max_age_s``. An invalid or expired token is ignored and a new session starts."""
    enforce(ctx, ctx.limits.session_ip, ip, "ip")
    user_id = _verified_user(ctx, body)
    renew: Session | None = None
    current = bearer_token(request)
    if current:
        try:
            renew = ctx.tokens.verify(current, origin=origin)
        except TokenError:
            renew = None
        if renew is not None and ctx.revocations.is_revoked(renew.sid):
            renew = None  # an ended session is not brought back by renewing its token
        if renew is not None and user_id is not None and renew.user_id not in (None, user_id):
            renew = None  # a different user logged in on this page: do not carry the session over
    token, session = ctx.tokens.issue(origin=origin, user_id=user_id, renew=renew)
    expires_in = max(0, session.expires - int(ctx.tokens.now()))
    return SessionResponse(token=token, expires_in=expires_in, identified=session.user_id is not None)


@router.delete("/session", status_code=204, summary="End a widget session",
               responses={401: {"description": "Missing, invalid or already ended session token"}})
async def end_session(ctx: ContextDep, session: SessionDep, ip: ClientIPDep) -> Response:
    """End this session ("log out", or a shared computer): its tokens, including renewals, are
    refused from now on, on every replica. Its conversations are kept for the audit trail."""
    enforce(ctx, ctx.limits.other_ip, ip, "ip")
    ctx.revocations.revoke(session.sid, session.started + ctx.tokens.max_age_s)
    return Response(status_code=204)
