"""Errors as the web API shows them: ``{"error": {"code", "message"}}`` and nothing else.

Every refusal in the web layer raises :class:`ApiError` (a stable ``code``, a user-safe
``message``, optional headers such as ``Retry-After``). One set of handlers turns it, request
validation failures, unknown routes and unexpected exceptions into that shape, so no stack
trace, exception text or internal path ever reaches a browser.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

GENERIC_MESSAGE = "Something went wrong on our side. Please try again in a moment."

_STATUS_CODES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "A valid session token is required."),
    403: ("forbidden", "This request is not allowed."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", "The request is too large."),
    429: ("rate_limited", "Too many requests. Please slow down."),
}


class ApiError(Exception):
    """A refusal with a stable code and a message that is safe to show a customer."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {err.get('msg', 'invalid value')}")
    message = "Invalid request: " + "; ".join(problems) if problems else "Invalid request."
    return error_response(422, "invalid_request", message[:500])


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _STATUS_CODES.get(exc.status_code, ("error", "The request failed."))
    return error_response(exc.status_code, code, message, dict(exc.headers or {}))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
