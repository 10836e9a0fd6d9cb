"""``/healthz``, ``/readyz`` and ``/metrics``: for load balancers and Prometheus, not for browsers."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from bots.web.deps import ContextDep, ReadinessProbe, bearer_token
from bots.web.errors import ApiError

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

READY_TIMEOUT_S = 5.0


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: a generation can be served and the LLM is reachable",
            responses={503: {"description": "Not ready: `reason` says why in a few words, `checks` which part"}})
async def readyz(ctx: ContextDep) -> JSONResponse:
    """200 ``{"status": "ready", "checks"}`` or 503 ``{"status": "not_ready", "reason", "checks"}``.

    The reason is a short fixed phrase ("no index published yet"); paths, settings and model
    names stay in the server log. A server that still serves its last good generation after a
    bad publish answers 200 ``{"status": "degraded", "reason", ...}``: it can answer, and every
    replica reads the same bad publish, so a 503 would take the whole service out of a load
    balancer instead of leaving it on the last good index.
    """
    checks: dict[str, Any]
    reason: str | None = None
    pipeline = ctx.pipeline
    if pipeline is None:
        checks, reason = {"pipeline": False}, "starting up"
    elif isinstance(pipeline, ReadinessProbe):
        try:
            probe = getattr(pipeline, "readiness", None)
            if callable(probe):
                result, reason = await asyncio.wait_for(asyncio.to_thread(probe), READY_TIMEOUT_S)
            else:
                result = await asyncio.wait_for(asyncio.to_thread(pipeline.ready), READY_TIMEOUT_S)
            checks = {str(k): bool(v) for k, v in dict(result).items()}
        except Exception:  # a failing probe means not ready; the reason is for the log
            log.warning("readiness probe failed", exc_info=True)
            checks, reason = {"pipeline": False}, "readiness check failed"
    else:
        checks = {"pipeline": True}
    ready = bool(checks) and all(checks.values())
    if ready and reason:  # serving, but something needs an operator (a failed publish): still 200
        return JSONResponse({"status": "degraded", "reason": reason, "checks": checks})
    if ready:
        return JSONResponse({"status": "ready", "checks": checks})
    failed = [name for name, ok in checks.items() if not ok]
    reason = reason or (f"{failed[0]} check failed" if failed else "not ready")
    return JSONResponse({"status": "not_ready", "reason": reason, "checks": checks}, status_code=503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, ctx: ContextDep) -> Response:
    expected = ctx.settings.web.metrics_token
    if expected is not None:
        given = bearer_token(request) or ""
        if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
            raise ApiError(401, "unauthorized", "A metrics token is required.",
                           headers={"WWW-Authenticate": "Bearer"})
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
