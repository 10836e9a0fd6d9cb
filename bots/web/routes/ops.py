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


@router.get("/readyz", summary="Readiness: index loaded and LLM reachable",
            responses={503: {"description": "Not ready; `checks` says which part"}})
async def readyz(ctx: ContextDep) -> JSONResponse:
    checks: dict[str, Any]
    pipeline = ctx.pipeline
    if pipeline is None:
        checks = {"pipeline": False}
    elif isinstance(pipeline, ReadinessProbe):
        try:
            result = await asyncio.wait_for(asyncio.to_thread(pipeline.ready), READY_TIMEOUT_S)
            checks = {str(k): bool(v) for k, v in dict(result).items()}
        except Exception:  # a failing probe means not ready; the reason is for the log
            log.warning("readiness probe failed", exc_info=True)
            checks = {"pipeline": False}
    else:
        checks = {"pipeline": True}
    ready = bool(checks) and all(checks.values())
    return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, ctx: ContextDep) -> Response:
    expected = ctx.settings.web.metrics_token
    if expected is not None:
        given = bearer_token(request) or ""
        if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
            raise ApiError(401, "unauthorized", "A metrics token is required.",
                           headers={"WWW-Authenticate": "Bearer"})
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
