"""What route handlers receive: the app's parts, the caller's session and IP, limit checks.

Handlers get everything through these ``Annotated`` dependencies, so tests build an app from
a fake pipeline and a temporary store instead of patching globals.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, runtime_checkable

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from assistant.config import Settings
from assistant.schemas import AnswerEvent, AnswerRequest
from assistant.shared_state import MemoryRevocations, Revocations
from assistant.store import Conversation, Store
from bots.web.errors import ApiError
from bots.web.handoff import HandoffDestination
from bots.web.metrics import WebMetrics
from bots.web.middleware import normalise_origin
from bots.web.models import PublicSource
from bots.web.ratelimit import Limit, WebLimits, retry_after_header
from bots.web.tokens import Session, SessionTokens, TokenError

WEB_CHANNEL = "web"


class Answerer(Protocol):
    """The part of ``assistant.pipeline.AnswerPipeline`` the web layer uses.

    ``astream`` yields one ``SourcesEvent``, then ``TokenEvent``s, then one ``DoneEvent`` (or an
    ``ErrorEvent`` that ends the stream) without blocking the event loop.
    """

    def astream(self, request: AnswerRequest) -> AsyncIterator[AnswerEvent]: ...


@runtime_checkable
class ReadinessProbe(Protocol):
    """Optional: ``ready()`` returns named checks, e.g. ``{"index": True, "llm": True}``.

    It may do I/O (pinging the LLM server), so ``/readyz`` calls it in a worker thread with a
    timeout; every value must be true for the server to report ready.
    """

    def ready(self) -> Mapping[str, bool]: ...


class SourceMemory:
    """The sources shown with recent answers, so a hand-off can list them with titles and links.

    The store's audit row keeps chunk ids only; this bounded map keeps what the customer saw,
    as compact ``(n, title, url)`` tuples (a few hundred bytes an answer). After a restart, or
    for answers older than the last ``capacity``, a hand-off falls back to the chunk ids.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, tuple[tuple[int, str, str | None], ...]] = OrderedDict()

    def remember(self, answer_id: str, sources: list[PublicSource]) -> None:
        self._items[answer_id] = tuple((s.n, s.title, s.url) for s in sources)
        self._items.move_to_end(answer_id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def get(self, answer_id: str) -> list[dict[str, Any]] | None:
        shown = self._items.get(answer_id)
        return None if shown is None else [{"n": n, "title": title, "url": url} for n, title, url in shown]


@dataclass
class WebContext:
    """Everything one web app holds; lives on ``app.state.web``."""

    settings: Settings
    store: Store
    tokens: SessionTokens
    limits: WebLimits
    metrics: WebMetrics
    handoff: HandoffDestination
    pipeline: Answerer | None = None
    sources: SourceMemory = field(default_factory=SourceMemory)
    # Ended sessions (DELETE /v1/session); in Redis with ASSISTANT_REDIS_URL so every replica refuses them.
    revocations: Revocations = field(default_factory=MemoryRevocations)

    def answerer(self) -> Answerer:
        if self.pipeline is None:
            raise ApiError(503, "not_ready", "The assistant is starting up. Please try again in a moment.")
        return self.pipeline


async def get_context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


async def client_ip(request: Request) -> str:
    """The caller's address; behind a proxy uvicorn rewrites it from trusted X-Forwarded-For."""
    return request.client.host if request.client else "unknown"


async def page_origin(request: Request) -> str:
    """The calling page's origin; the origin gate has already refused missing or unlisted ones."""
    return normalise_origin(request.headers.get("origin", ""))


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


_TOKEN_MESSAGES = {
    "missing_token": "A session token is required. Start a session with POST /v1/session.",
    "invalid_token": "The session token is not valid. Start a new session.",
    "expired_token": "The session has expired. Start a new session.",
    "revoked_token": "This session has ended. Start a new session.",
}


async def current_session(request: Request, ctx: Annotated[WebContext, Depends(get_context)]) -> Session:
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "missing_token", _TOKEN_MESSAGES["missing_token"],
                       headers={"WWW-Authenticate": "Bearer"})
    try:
        session = ctx.tokens.verify(token, origin=normalise_origin(request.headers.get("origin", "")))
    except TokenError as exc:
        raise ApiError(401, exc.code, _TOKEN_MESSAGES[exc.code],
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc
    if ctx.revocations.is_revoked(session.sid):
        raise ApiError(401, "revoked_token", _TOKEN_MESSAGES["revoked_token"],
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return session


ContextDep = Annotated[WebContext, Depends(get_context)]
SessionDep = Annotated[Session, Depends(current_session)]
ClientIPDep = Annotated[str, Depends(client_ip)]
OriginDep = Annotated[str, Depends(page_origin)]

_LIMIT_MESSAGES = {
    "session": "You're sending messages too quickly. Please wait a moment.",
    "ip": "Too many requests from your network. Please wait a moment.",
    "daily": "The daily limit of questions from your network has been reached. Please try again tomorrow.",
    "handoff": "You've already asked for a human several times. Our team will get back to you.",
}


def enforce(ctx: WebContext, limit: Limit, key: str, scope: str) -> None:
    """Count a hit against ``limit``; over it, a 429 with ``Retry-After``."""
    wait = limit.hit(key)
    if wait is not None:
        ctx.metrics.rate_limited.labels(scope=scope).inc()
        code = "daily_quota_exceeded" if scope == "daily" else "rate_limited"
        raise ApiError(429, code, _LIMIT_MESSAGES[scope], headers=retry_after_header(wait))


def _owned(conv: Conversation | None, session: Session) -> Conversation | None:
    if conv is None or conv.channel != WEB_CHANNEL or conv.audience != "public" or conv.user_id != session.owner:
        return None
    return conv


async def owned_conversation(ctx: WebContext, session: Session, conversation_id: str) -> Conversation:
    """The conversation if this session (or its verified user) owns it; anyone else gets 404."""
    conv = _owned(await run_in_threadpool(ctx.store.get_conversation, conversation_id), session)
    if conv is None:
        raise ApiError(404, "conversation_not_found", "This conversation does not exist or has expired.")
    return conv


async def new_conversation(ctx: WebContext, session: Session) -> Conversation:
    """A new conversation row: inline when the store can take it without waiting (a thread hop
    cost more than the insert, in front of every new chat's first event), else on a thread."""
    metadata: dict[str, Any] = {"session": session.sid, "origin": session.origin}
    now = getattr(ctx.store, "try_create_conversation", None)
    conv: Conversation | None = (
        now(channel=WEB_CHANNEL, audience="public", user_id=session.owner, metadata=metadata) if now else None)
    if conv is not None:
        return conv
    return await run_in_threadpool(lambda: ctx.store.create_conversation(
        channel=WEB_CHANNEL, audience="public", user_id=session.owner, metadata=metadata))
