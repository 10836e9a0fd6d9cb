"""ASGI middleware: the origin gate on ``/v1``, security headers, metrics, and a safety net.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so server-sent event streams pass through
unbuffered. Only ``/v1`` is gated by origin: ``/healthz``, ``/metrics``, the widget files and
anything mounted by a plugin (Slack's ``/slack/events``, which Slack signs itself) are not.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bots.web.errors import GENERIC_MESSAGE, error_body
from bots.web.metrics import WebMetrics

log = logging.getLogger(__name__)

API_PREFIX = "/v1/"
_PREFLIGHT_HEADERS = "Authorization, Content-Type, Accept"
_EXPOSED_HEADERS = "Retry-After"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def normalise_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any],
                     headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload})


class OriginPolicy:
    """Which page origins may call ``/v1``: the allowlist, plus the server's own origin if enabled.

    Only browsers are held back by this (any script can forge an ``Origin`` header); it keeps
    other websites from embedding the widget or spending the quota from their visitors' browsers.
    Tokens and rate limits are what hold scripts back.
    """

    def __init__(self, allowed: Iterable[str], *, same_origin: bool) -> None:
        self.allowed = frozenset(normalise_origin(o) for o in allowed if o.strip())
        self.same_origin = same_origin

    def allows(self, origin: str | None, scope: Scope) -> bool:
        if not origin or origin == "null":
            return False
        origin = normalise_origin(origin)
        if origin in self.allowed:
            return True
        if self.same_origin:
            host = _header(scope, b"host")
            return bool(host) and origin == f"{scope.get('scheme', 'http')}://{host}".lower()
        return False


class ApiGate:
    """On ``/v1``: refuse unlisted origins (403), answer CORS preflights, cap body size (413)."""

    def __init__(self, app: ASGIApp, *, policy: OriginPolicy, max_body_bytes: int) -> None:
        self.app = app
        self.policy = policy
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if not self.policy.allows(origin, scope):
            await _send_json(send, 403, error_body(
                "origin_not_allowed", "This website is not allowed to use the assistant."))
            return
        assert origin is not None
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"),
                (b"access-control-expose-headers", _EXPOSED_HEADERS.encode())]
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            await send({"type": "http.response.start", "status": 204, "headers": [
                *cors,
                (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                (b"access-control-allow-headers", _PREFLIGHT_HEADERS.encode()),
                (b"access-control-max-age", b"600")]})
            await send({"type": "http.response.body", "body": b""})
            return

        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await _send_json(send, 413, error_body("payload_too_large", "The request is too large."), cors)
            return
        body = bytearray()
        more = scope["method"] in ("POST", "PUT", "PATCH")
        while more:  # read the (small) body up front, so the cap holds for chunked uploads too
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await _send_json(send, 413, error_body("payload_too_large", "The request is too large."), cors)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *cors]
            await send(message)

        await self.app(scope, replay, send_with_cors)


_API_CSP = "default-src 'none'; frame-ancestors 'none'"
_PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# FastAPI's Swagger UI and ReDoc pages load their assets from jsDelivr and use inline scripts.
_DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
             "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
             "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
             "https://cdn.redoc.ly; worker-src blob:; frame-ancestors 'none'")


class SecurityHeaders:
    """Headers every response gets, unless a mounted app already set its own."""

    def __init__(self, app: ASGIApp, *, page_paths: Iterable[str], static_prefix: str, hsts: bool) -> None:
        self.app = app
        self.page_paths = frozenset(page_paths)
        self.static_prefix = static_prefix
        self.hsts = hsts

    def _headers_for(self, path: str) -> list[tuple[bytes, bytes]]:
        headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
        if path.startswith(self.static_prefix):
            # The widget files are embedded by other sites: let them load cross-origin.
            headers += [(b"cross-origin-resource-policy", b"cross-origin"),
                        (b"content-security-policy", _API_CSP.encode())]
        elif path in self.page_paths:
            headers += [(b"content-security-policy", _PAGE_CSP.encode()), (b"x-frame-options", b"DENY")]
        elif path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            headers += [(b"content-security-policy", _DOCS_CSP.encode()), (b"x-frame-options", b"DENY")]
        else:
            headers += [(b"content-security-policy", _API_CSP.encode()), (b"x-frame-options", b"DENY")]
            if path.startswith(API_PREFIX):
                headers.append((b"cache-control", b"no-store"))
        if self.hsts:
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *((k, v) for k, v in extra if k not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestMetrics:
    """Counts requests by route template and status, and times them to the end of the body."""

    def __init__(self, app: ASGIApp, *, metrics: WebMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            route, method = _route_label(scope), scope["method"]
            method = method if method in _METHODS else "OTHER"
            self.metrics.requests.labels(route=route, method=method, status=str(status)).inc()
            self.metrics.request_seconds.labels(route=route).observe(time.perf_counter() - start)


def _route_label(scope: Scope) -> str:
    """The route template (``/v1/conversations/{conversation_id}``), never the raw path: bounded labels."""
    route = getattr(scope.get("route"), "path", None)
    if route:
        return str(route)
    path = scope["path"]
    if path.startswith("/static/"):
        return "/static"
    return "/v1/*" if path.startswith(API_PREFIX) else "unmatched"


class SafetyNet:
    """Turns an unexpected exception into the generic JSON error instead of a bare 500 page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not started:
                await _send_json(send_and_watch, 500, error_body("internal_error", GENERIC_MESSAGE))
