"""One error type with a stable code, so every layer can turn it into a response the same way.

Hierarchy::

    AssistantError            code, message (user-safe), hint (what to do next), retryable
    ├── ConfigError           bad settings, sources.yaml, channel file: names the file/line/key
    ├── SourceError           one input file or row that cannot be read (ingestion skips it)
    ├── IndexError_           no published index, model mismatch, corrupt generation
    │   └── ModelMismatchError
    ├── LockedError           another ingestion run holds the lock
    └── BackendError          the LLM backend failed (timeouts, HTTP errors, dropped streams)
    (assistant.workers.Busy   every worker taken and the waiting line full; retry_after_s)

``message`` and ``hint`` are for whoever runs the tool (CLI output, logs) and may name paths,
settings and models. What an end user reads (widget, JSON API, Slack) never comes from them:
:func:`public_error` maps any exception to a code and a message from :data:`USER_MESSAGES`, a
small fixed catalogue in the brand's voice, so operator text cannot reach a customer by
accident. Add a code here before a channel shows it.
"""

from __future__ import annotations

from typing import NamedTuple


class AssistantError(Exception):
    code = "internal_error"
    retryable = False

    def __init__(self, message: str, *, hint: str | None = None, detail: str | None = None,
                 code: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(AssistantError):
    code = "config_error"


class SourceError(AssistantError):
    """A single file or record could not be read; carries where, so reports can name it."""

    code = "source_error"

    def __init__(self, message: str, *, path: str | None = None, row: int | None = None,
                 hint: str | None = None, detail: str | None = None) -> None:
        super().__init__(message, hint=hint, detail=detail)
        self.path = path
        self.row = row


class IndexError_(AssistantError):
    code = "index_error"


class NoIndexError(IndexError_):
    code = "no_index"


class ModelMismatchError(IndexError_):
    code = "model_mismatch"


class LockedError(AssistantError):
    code = "locked"
    retryable = True


class BackendError(AssistantError):
    code = "backend_error"
    retryable = True


# --------------------------------------------------------------------------- what users read

USER_MESSAGES: dict[str, str] = {
    "busy": "We're answering a lot of questions right now. Please try again in a few seconds.",
    "not_ready": "The assistant isn't available just yet. Please try again in a few minutes.",
    "empty_question": "Please type a question.",
    "invalid_backend": "That answer engine isn't available here. Please ask without choosing one.",
    "conversation_not_found": "This conversation has expired. Please start a new one.",
    "backend_error": "Sorry, the assistant couldn't finish this answer. Please try again in a moment.",
    "internal_error": "Sorry, something went wrong while answering. Please try again in a moment.",
}

# Internal codes and the user-facing code they are shown as: users learn "not ready", not why.
_SHOWN_AS = {
    "no_index": "not_ready",
    "index_error": "not_ready",
    "model_mismatch": "not_ready",
    "config_error": "not_ready",
    "invalid_prompt": "not_ready",
    "prompt_audience": "not_ready",
    "backend_bad_response": "backend_error",
    "backend_rejected": "backend_error",
    "backend_stream_dropped": "backend_error",
    "backend_timeout": "backend_error",
    "backend_unavailable": "backend_error",
    "locked": "internal_error",
    "source_error": "internal_error",
}
_RETRYABLE = frozenset({"busy", "not_ready", "backend_error", "internal_error"})


class PublicError(NamedTuple):
    """An error as a user may see it: a catalogue code, its message, whether retrying can help."""

    code: str
    message: str
    retryable: bool


def user_message(code: str) -> str:
    """The catalogue message for ``code`` (the generic one for codes not in the catalogue)."""
    return USER_MESSAGES.get(_SHOWN_AS.get(code, code), USER_MESSAGES["internal_error"])


def public_error(exc: BaseException | str) -> PublicError:
    """What a user is shown for ``exc`` (or an error code): never the exception's own text."""
    code = exc if isinstance(exc, str) else getattr(exc, "code", "internal_error")
    if not isinstance(exc, str) and not isinstance(exc, AssistantError):
        code = "internal_error"
    shown = _SHOWN_AS.get(code, code)
    if shown not in USER_MESSAGES:
        shown = "internal_error"
    return PublicError(shown, USER_MESSAGES[shown], shown in _RETRYABLE)
