"""``/admin``: the internal page for support leads — insights, coverage gaps, the draft queue,
recent conversations. Off unless ``ASSISTANT_ADMIN_TOKEN`` is set (every ``/admin`` path is then
a plain 404, like a route that does not exist).

Who gets in
    ``Authorization: Bearer <token>`` (scripts, ``curl``), or a browser that signed in with the
    token on the login form and holds the ``assistant_admin`` cookie: ``HttpOnly``,
    ``SameSite=Strict``, ``Path=/admin``, ``Secure`` in production, an expiry and an HMAC over
    it keyed by the token (changing the token signs everyone out).

Never reachable from the widget's origins
    ``/admin`` is outside ``/v1``, so the API's CORS never applies: no ``Access-Control-*``
    header is ever sent, and a request that carries an ``Origin`` other than this server's own
    (a page on a customer site, the widget's allowlisted origins included) or that the browser
    marks ``Sec-Fetch-Site: cross-site``/``same-site`` is refused with 403. Form posts must come
    from this server's own pages (CSRF), and the pages cannot be framed. The pages run no
    script at all; their policy allows styles and images from this server only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from assistant.config import Settings
from assistant.drafts import DraftError, DraftStore
from assistant.errors import AssistantError, ConfigError, NoIndexError
from assistant.index import IndexHandle, LoadedGeneration
from assistant.insights import (
    CHANNELS,
    Period,
    conversation_detail,
    insights_from_settings,
    recent_conversations,
)
from assistant.insights_html import REPORT_CSS, render_report, report_sections
from assistant.pipeline import DECLINE_REASONS
from assistant.schemas import Audience

log = logging.getLogger(__name__)

router = APIRouter(prefix="/admin", include_in_schema=False)

COOKIE = "assistant_admin"
SESSION_S = 8 * 3600
MIN_TOKEN_CHARS = 24
PERIODS = ("1d", "7d", "30d", "90d")
ADMIN_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
             "frame-ancestors 'none'; base-uri 'none'")
ADMIN_CSS = """
header.admin{background:#1f2a37;color:#fff;padding:10px 24px;display:flex;gap:18px;align-items:center}
header.admin a{color:#fff}header.admin form{margin-left:auto}
nav.filters a{margin-right:10px}nav.filters a[aria-current=page]{font-weight:700;text-decoration:none}
.flash{background:#e8f4ec;border:1px solid #b7dcc4;padding:8px 12px;border-radius:6px}
.flash.error{background:#fbeaea;border-color:#e6b8b8}
form.inline{display:inline-flex;gap:6px;align-items:center;margin:4px 12px 4px 0}
input,select,button{font:inherit}button{cursor:pointer}pre.article{white-space:pre-wrap;background:#f6f7f9;
padding:10px;border-radius:6px}.login{max-width:420px;margin:80px auto}
"""
_UNAUTHORISED_HEADERS = {"WWW-Authenticate": 'Bearer realm="admin"', "Cache-Control": "no-store"}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _token(request: Request) -> bytes:
    token = _settings(request).admin_token
    value = token.get_secret_value() if token is not None else ""
    if not value:
        raise HTTPException(404)
    return value.encode()


def _own_origin(request: Request) -> str:
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}".lower()


def _same_origin_only(request: Request) -> None:
    """Refuse anything a browser says comes from another site (the widget's origins included)."""
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/").lower() != _own_origin(request):
        raise HTTPException(403)
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        raise HTTPException(403)


def _cookie_value(token: bytes, expires: int) -> str:
    mac = hmac.new(token, f"admin-session:{expires}".encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def _cookie_ok(token: bytes, value: str | None) -> bool:
    if not value or "." not in value:
        return False
    expires, _, _mac = value.partition(".")
    if not expires.isdigit() or int(expires) < time.time():
        return False
    return hmac.compare_digest(value, _cookie_value(token, int(expires)))


def _bearer_ok(token: bytes, request: Request) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token)


class _LoginNeeded(Exception):
    pass


def admin_enabled(request: Request) -> bytes:
    """404 when the admin page is off; 403 for cross-site callers. Returns the token."""
    token = _token(request)
    _same_origin_only(request)
    return token


def signed_in(request: Request, token: Annotated[bytes, Depends(admin_enabled)]) -> str:
    """How the caller proved who they are: ``bearer`` or ``cookie``; otherwise the login page."""
    if _bearer_ok(token, request):
        return "bearer"
    if _cookie_ok(token, request.cookies.get(COOKIE)):
        if request.method == "POST" and request.headers.get("origin") is None \
                and not request.headers.get("referer", "").lower().startswith(_own_origin(request) + "/"):
            raise HTTPException(403)  # a cookie-borne form post must show where it came from
        return "cookie"
    raise _LoginNeeded


Auth = Annotated[str, Depends(signed_in)]


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = request.app.state.templates.get_template(template).render(
        brand=_settings(request).brand, **context)
    response = HTMLResponse(html, status_code=status)
    _secure(response)
    return response


def _secure(response: Response) -> Response:
    response.headers["content-security-policy"] = ADMIN_CSP
    response.headers["x-frame-options"] = "DENY"
    response.headers["cache-control"] = "no-store"
    response.headers["referrer-policy"] = "same-origin"
    return response


def login_page(request: Request, error: str | None = None, status: int = 401) -> HTMLResponse:
    response = _page(request, "admin_login.html", status=status, error=error)
    for key, value in _UNAUTHORISED_HEADERS.items():
        response.headers[key] = value
    return response


def install(app: Any) -> None:
    """Add the router and the handler that answers unauthenticated requests with the login page.

    A configured token shorter than :data:`MIN_TOKEN_CHARS` stops the server: it is the only thing
    between the internet and every conversation in the store.
    """
    token = app.state.settings.admin_token
    if token is not None and 0 < len(token.get_secret_value()) < MIN_TOKEN_CHARS:
        raise ConfigError(f"ASSISTANT_ADMIN_TOKEN is too short (at least {MIN_TOKEN_CHARS} characters)",
                          hint="python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    app.include_router(router)
    app.state.templates.filters.setdefault("timestamp", _timestamp)

    async def _login_needed(request: Request, exc: Exception) -> Response:
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            return login_page(request)
        return JSONResponse({"error": {"code": "unauthorized", "message": "Sign in to the admin page."}},
                            status_code=401, headers=_UNAUTHORISED_HEADERS)

    app.add_exception_handler(_LoginNeeded, _login_needed)


def _timestamp(value: float) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- parts

_embedder_lock = threading.Lock()


def _embedder(request: Request) -> Any:
    """The embedding model for gap grouping: set by the app's owner or tests, else built once."""
    state = request.app.state
    embedder = getattr(state, "admin_embedder", None)
    if embedder is None:
        with _embedder_lock:
            embedder = getattr(state, "admin_embedder", None)
            if embedder is None:
                from assistant.factory import build_embedder

                embedder = state.admin_embedder = build_embedder(_settings(request))
    return embedder


def _generation(request: Request) -> LoadedGeneration | None:
    """The published generation through one handle kept on the app: loaded once, swapped on publish."""
    state = request.app.state
    handle = getattr(state, "admin_index", None)
    if handle is None:
        with _embedder_lock:
            handle = getattr(state, "admin_index", None)
            if handle is None:
                handle = state.admin_index = IndexHandle(_settings(request).data_dir, device="cpu")
    try:
        return handle.current()
    except NoIndexError:
        return None


def _insights(request: Request, since: str, channel: str | None) -> dict[str, Any]:
    settings = _settings(request)
    report = insights_from_settings(settings, request.app.state.store, Period.parse(since), channel=channel,
                                    embedder=_embedder(request), generation=_generation(request))
    return report.to_dict()


def _choice(value: str | None, allowed: tuple[str, ...], default: str | None) -> str | None:
    return value if value in allowed else default


# --------------------------------------------------------------------------- routes


async def _form(request: Request) -> dict[str, str]:
    """A small ``application/x-www-form-urlencoded`` body (the admin forms), first value per field."""
    body = await request.body()
    if len(body) > 16_384:
        raise HTTPException(413)
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


@router.post("/login")
async def login(request: Request, token: Annotated[bytes, Depends(admin_enabled)]) -> Response:
    given = (await _form(request)).get("token", "")
    if not hmac.compare_digest(given.strip().encode(), token):
        log.warning("admin sign-in refused from %s", request.client.host if request.client else "?")
        return login_page(request, error="That token is not right.")
    expires = int(time.time()) + SESSION_S
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(COOKIE, _cookie_value(token, expires), max_age=SESSION_S, path="/admin", httponly=True,
                        samesite="strict", secure=_settings(request).env == "production")
    return _secure(response)


@router.post("/logout")
async def logout(request: Request, _auth: Auth) -> Response:
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="strict")
    return _secure(response)


@router.get("/assets/admin.css")
async def stylesheet(_enabled: Annotated[bytes, Depends(admin_enabled)]) -> Response:
    return Response(REPORT_CSS + ADMIN_CSS, media_type="text/css",
                    headers={"cache-control": "private, max-age=300", "x-content-type-options": "nosniff"})


@router.get("", response_class=HTMLResponse)
async def dashboard(request: Request, _auth: Auth, since: str = "7d", channel: str | None = None,
                    flash: str | None = None, error: str | None = None) -> Response:
    since = _choice(since, PERIODS, "7d") or "7d"
    channel = _choice(channel, CHANNELS, None)
    data = await run_in_threadpool(_insights, request, since, channel)
    store = request.app.state.store
    drafts = await run_in_threadpool(lambda: DraftStore(store).drafts("pending"))
    decided = await run_in_threadpool(lambda: [d for d in DraftStore(store).drafts() if d.status != "pending"][:10])
    conversations = await run_in_threadpool(recent_conversations, store, limit=25, channel=channel)
    return _page(request, "admin.html", data=data, report=report_sections(data, max_gaps=10), drafts=drafts,
                 decided=decided, conversations=conversations, since=since, channel=channel, periods=PERIODS,
                 channels=CHANNELS, flash=flash, error=error)


@router.get("/insights.json")
async def insights_json(request: Request, _auth: Auth, since: str = "7d", channel: str | None = None) -> Response:
    try:
        Period.parse(since)
    except AssistantError as exc:
        raise HTTPException(422, exc.message) from None
    data = await run_in_threadpool(_insights, request, since, _choice(channel, CHANNELS, None))
    return _secure(JSONResponse(data))


@router.get("/report.html")
async def report_file(request: Request, _auth: Auth, since: str = "7d", channel: str | None = None) -> Response:
    """The same self-contained report ``assistant insights --html`` writes, to save or forward."""
    since = _choice(since, PERIODS, "7d") or "7d"
    data = await run_in_threadpool(_insights, request, since, _choice(channel, CHANNELS, None))
    html = render_report(data, product=_settings(request).brand.product_name)
    response = HTMLResponse(html, headers={"content-disposition": f'attachment; filename="insights-{since}.html"'})
    response.headers["content-security-policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation(request: Request, conversation_id: str, _auth: Auth) -> Response:
    def load() -> dict[str, Any] | None:
        return conversation_detail(request.app.state.store, conversation_id, generation=_generation(request))

    detail = await run_in_threadpool(load)
    if detail is None:
        raise HTTPException(404)
    return _page(request, "admin_conversation.html", conv=detail, declined_because=DECLINE_REASONS,
                 unsure_below=_settings(request).retrieval.abstain_unsure_confidence)


@router.get("/drafts/{draft_id}", response_class=HTMLResponse)
async def draft_page(request: Request, draft_id: str, _auth: Auth) -> Response:
    try:
        draft = await run_in_threadpool(DraftStore(request.app.state.store).get, draft_id)
    except DraftError:
        raise HTTPException(404) from None
    return _page(request, "admin_draft.html", draft=draft, article=draft.markdown(draft.audience or "internal"))


def _back(flash: str | None = None, error: str | None = None) -> Response:
    query = f"?flash={quote(flash)}" if flash else f"?error={quote(error or '')}"
    return _secure(RedirectResponse(f"/admin{query}#drafts", status_code=303))


@router.post("/drafts/{draft_id}/approve")
async def approve(request: Request, draft_id: str, _auth: Auth) -> Response:
    form = await _form(request)
    audience, reviewer = form.get("audience", ""), form.get("reviewer", "")
    if audience != "public" and audience != "internal":
        return _back(error="Choose public or internal before approving.")
    if not reviewer.strip():
        return _back(error="Type your name before approving: decisions record who made them.")
    settings = _settings(request)
    chosen: Audience = "public" if audience == "public" else "internal"
    try:
        draft = await run_in_threadpool(lambda: DraftStore(request.app.state.store).approve(
            draft_id, audience=chosen, actor=reviewer, curated_dir=settings.drafts.curated_dir))
    except AssistantError as exc:
        log.info("draft %s not approved: %s", draft_id, exc)
        return _back(error=exc.message + (f" ({exc.hint})" if exc.hint else ""))
    return _back(flash=f"Approved “{draft.title}” for {audience}; the next ingest publishes it.")


@router.post("/drafts/{draft_id}/reject")
async def reject(request: Request, draft_id: str, _auth: Auth) -> Response:
    form = await _form(request)
    reviewer, reason = form.get("reviewer", ""), form.get("reason", "")
    if not reviewer.strip():
        return _back(error="Type your name before rejecting: decisions record who made them.")
    try:
        draft = await run_in_threadpool(lambda: DraftStore(request.app.state.store).reject(
            draft_id, actor=reviewer, reason=reason))
    except AssistantError as exc:
        return _back(error=exc.message)
    return _back(flash=f"Rejected “{draft.title}”.")
