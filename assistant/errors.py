"""One error type with a stable code, so every layer can turn it into a response the same way.

Hierarchy::

    AssistantError            code, message (user-safe), hint (what to do next), retryable
    ├── ConfigError           bad settings, sources.yaml, channel file: names the file/line/key
    ├── SourceError           one input file or row that cannot be read (ingestion skips it)
    ├── IndexError_           no published index, model mismatch, corrupt generation
    │   └── ModelMismatchError
    ├── LockedError           another ingestion run holds the lock
    └── BackendError          the LLM backend failed (timeouts, HTTP errors, dropped streams)

``message`` is safe to show an end user; internal detail goes to ``detail`` and to logs only.
"""

from __future__ import annotations


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
