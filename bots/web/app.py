"""The web server: ``create_app(settings)`` builds the FastAPI app behind ``assistant serve``.

What it serves
    ``/v1/*``     the JSON + server-sent-events API the widget and other integrations call
    ``/static/*`` the widget (``widget.js``, ``widget.css``) that host pages embed
    ``/demo``     a sample help-center page with the widget on it
    ``/healthz``, ``/readyz``, ``/metrics``, ``/docs`` (OpenAPI)

Security model (deny by default)
    Every ``/v1`` call needs an ``Origin`` from ``ASSISTANT_ALLOWED_ORIGINS`` (plus the server's
    own origin in development) and, except ``POST /v1/session``, a signed short-lived session
    token. Chat is limited per session, per IP and per IP per day. The audience is ``public``,
    fixed in :mod:`bots.web.routes.chat`.

Mounting other channels (the Slack HTTP endpoint)
    This package never imports ``bots.slack`` (docs/architecture.md §1). Other packages add routes
    through the ``assistant.web_mounts`` entry-point group: each entry point names a callable
    ``mount(app: FastAPI, settings: Settings, store: Store) -> None`` that adds its routes (for
    example ``POST /slack/events``). ``assistant serve`` loads them all; tests pass ``mounts=``.
    Mounted paths are outside ``/v1``, so the origin gate, CORS and session tokens do not apply
    to them — they authenticate their own callers (Slack signs its requests). A mount reads the
    shared answer pipeline from ``app.state.pipeline`` at request time (it is set before the
    server takes requests) and can add startup/shutdown work by appending a callable
    ``(app) -> AbstractAsyncContextManager`` to ``app.state.lifespan_hooks``.
"""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from assistant.config import Settings, load_settings
from assistant.errors import ConfigError
from assistant.shared_state import MemoryRevocations, shared_state_from_url
from assistant.store import Store
from bots.web.deps import Answerer, WebContext
from bots.web.errors import install_error_handlers
from bots.web.handoff import destination_from_settings
from bots.web.metrics import WebMetrics
from bots.web.middleware import ApiGate, OriginPolicy, RequestMetrics, SafetyNet, SecurityHeaders
from bots.web.ratelimit import WebLimits
from bots.web.routes import admin, chat, conversations, feedback, handoff, ops, pages, session
from bots.web.tokens import SessionTokens

log = logging.getLogger(__name__)

WebMount = Callable[[FastAPI, Settings, Store], None]
LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[Any]]
MOUNTS_GROUP = "assistant.web_mounts"
HERE = Path(__file__).parent
_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "development", "test"}


def session_secret(settings: Settings) -> bytes:
    """The key that signs widget tokens; production refuses to start without a real one."""
    configured = settings.web.session_secret
    if configured is not None:
        value = configured.get_secret_value()
        if settings.env == "production" and (len(value) < 32 or value.lower() in _PLACEHOLDERS):
            raise ConfigError("ASSISTANT_WEB_SESSION_SECRET is too weak for production",
                              hint="use 32+ random characters: python -c 'import secrets; "
                                   "print(secrets.token_urlsafe(48))'")
        if len(value) < 16:
            raise ConfigError("ASSISTANT_WEB_SESSION_SECRET is too short", hint="use at least 16 characters")
        return value.encode()
    if settings.env == "production":
        raise ConfigError("ASSISTANT_WEB_SESSION_SECRET is required in production",
                          hint="set it to 32+ random characters: python -c 'import secrets; "
                               "print(secrets.token_urlsafe(48))'")
    log.warning("ASSISTANT_WEB_SESSION_SECRET is not set: using a random per-process secret "
                "(development only; widget sessions end when the server restarts)")
    return secrets.token_bytes(32)


def discover_mounts() -> list[WebMount]:
    """Web mounts other installed packages offer through the ``assistant.web_mounts`` group."""
    found: list[WebMount] = []
    for entry in metadata.entry_points(group=MOUNTS_GROUP):
        try:
            found.append(entry.load())
        except ImportError as exc:  # an optional part is not installed: serve without it
            log.warning("web mount %s unavailable: %s", entry.name, exc)
    return found


def create_app(settings: Settings, *, pipeline: Answerer | None = None, store: Store | None = None,
               mounts: Sequence[WebMount] = (), extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The whole web server. Without ``pipeline`` the real one is built at startup
    (``assistant.factory.build_pipeline``); tests pass a fake or a small real one."""
    store_given = store
    if store is None:
        from assistant.factory import build_store  # SQLite in the data dir, or ASSISTANT_STORE_URL

        store = build_store(settings)
    web = settings.web
    tokens = SessionTokens(session_secret(settings), ttl_s=web.session_ttl_s, max_age_s=web.session_max_age_s)
    shared = shared_state_from_url(settings.redis_url)  # None: limits and revocations in this process
    ctx = WebContext(
        settings=settings, store=store, tokens=tokens, metrics=WebMetrics(),
        limits=WebLimits(per_minute_session=web.rate_per_minute_session, per_minute_ip=web.rate_per_minute_ip,
                         daily_quota_ip=web.daily_quota_ip, handoff_per_hour_session=web.handoff_per_hour_session,
                         shared=shared),
        handoff=destination_from_settings(settings), pipeline=pipeline,
        revocations=shared.revocations() if shared else MemoryRevocations(),
    )
    same_origin = web.allow_same_origin if web.allow_same_origin is not None else settings.env == "development"
    if settings.env == "production" and not settings.allowed_origins:
        log.warning("ASSISTANT_ALLOWED_ORIGINS is empty: no website can use the widget")

    owns_store = store_given is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owns_pipeline = ctx.pipeline is None
        if owns_pipeline:
            from assistant.factory import build_pipeline  # heavy: models and the index load here

            ctx.pipeline = await run_in_threadpool(build_pipeline, settings, store=store)
            app.state.pipeline = ctx.pipeline
        prestart = getattr(getattr(ctx.pipeline, "pool", None), "prestart", None)
        if callable(prestart):  # threads started now, not inside a burst of first requests
            await run_in_threadpool(prestart)
        warm = getattr(ctx.pipeline, "warm", None)
        if callable(warm):  # the model and index load now, not in the first customer's answer
            await run_in_threadpool(warm)
        # A server that has answered once holds ~550,000 GC-tracked objects, nearly all from
        # torch, transformers and the embedding model, alive as long as the process. A full
        # collection walks all of them with the GIL held: 263 ms on a 2-core machine, a stall of
        # every open stream whenever one runs under load. Frozen, the collector skips them
        # (0.0 ms); what is created later (requests, a hot-reloaded generation) is collected as
        # before, and frozen objects still free by reference count (a retired generation holds
        # no cycles: tests/integration/test_index_reload.py). Figures: README, "Web API".
        gc.freeze()
        try:
            async with AsyncExitStack() as stack:
                for hook in app.state.lifespan_hooks:
                    await stack.enter_async_context(hook(app))
                yield
        finally:  # what this app built, it closes: worker pool, index files, store connections
            gc.unfreeze()
            close = getattr(ctx.pipeline, "close", None)
            if owns_pipeline and callable(close):
                close(wait=False)
            if owns_store:
                store.close()

    app = FastAPI(
        title=f"{settings.brand.product_name} support assistant API",
        version="1",
        summary="Ask questions answered from public help material, with sources; rate answers; reach a human.",
        lifespan=lifespan,
    )
    app.state.web = ctx
    app.state.settings = settings
    app.state.store = store
    app.state.pipeline = pipeline
    app.state.lifespan_hooks = []
    app.state.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                             autoescape=True)
    install_error_handlers(app)
    for module in (session, chat, feedback, handoff, conversations, ops, pages):
        app.include_router(module.router)
    admin.install(app)  # /admin: 404 unless ASSISTANT_ADMIN_TOKEN is set
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in extra_routers:
        app.include_router(router)
    for mount in mounts:
        mount(app, settings, store)

    # Added innermost first: SecurityHeaders ends up outermost, SafetyNet just outside the routes.
    app.add_middleware(SafetyNet)
    app.add_middleware(ApiGate, policy=OriginPolicy(settings.allowed_origins, same_origin=same_origin),
                       max_body_bytes=web.max_request_bytes)
    app.add_middleware(RequestMetrics, metrics=ctx.metrics)
    app.add_middleware(SecurityHeaders, page_paths=[pages.DEMO_PATH], static_prefix="/static/",
                       hsts=settings.env == "production")
    proxies = [p.strip() for p in web.trusted_proxies.split(",") if p.strip()]
    if proxies:
        # Outermost, so rate limits and logs see the visitor's address, however the app is run
        # (`assistant serve` or `uvicorn --factory bots.web.app:app_from_env`). Only these proxies'
        # X-Forwarded-For / X-Forwarded-Proto are believed.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    return app


def app_from_env() -> FastAPI:
    """ASGI factory for running under another server: ``uvicorn --factory bots.web.app:app_from_env``.

    ``ASSISTANT_WEB_TRUSTED_PROXIES`` applies here as in ``assistant serve`` (the app installs
    the proxy-headers middleware itself); run uvicorn with ``--no-proxy-headers`` so its own
    default (trust 127.0.0.1) does not rewrite addresses first.
    """
    return create_app(load_settings(), mounts=discover_mounts())
