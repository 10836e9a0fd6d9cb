"""What every LLM backend shares: streaming, bounded retries, and one error type.

A backend only implements :meth:`StreamingChatModel._pieces`, a generator of text pieces from
its transport. This base turns that into a LangChain chat model and adds the policy the
pipeline relies on:

- retries with exponential backoff, but only **before the first token** (once text has been
  shown to a user a retry would repeat it) and only for failures that a retry can fix
  (connection refused, HTTP 429/5xx, a stream that closes before saying anything). A timeout is
  not retried: its time budget is already spent, and the extractive fallback is the faster help;
- a stream that ends without the backend reporting that it finished is an error, not an
  answer: a proxy that drops the connection between two chunks otherwise looks like a short,
  complete reply;
- every failure leaves as :class:`~assistant.errors.BackendError` with a stable ``code``
  (``backend_unavailable``, ``backend_timeout``, ``backend_rejected``, ``backend_error``,
  ``backend_stream_dropped``, ``backend_bad_response``), a user-safe message and the transport
  detail in ``detail`` for the logs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import httpx
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from assistant.errors import BackendError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_ROLES = {"system": "system", "human": "user", "ai": "assistant", "chat": "user"}


@dataclass
class Piece:
    """One step of a backend's stream: text, and on the last step how it finished."""

    text: str = ""
    finish_reason: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class StreamingChatModel(BaseChatModel):
    """A chat model built from a text stream, with the retry and error policy above."""

    model_name: str = ""
    max_new_tokens: int = 384
    temperature: float = 0.2
    max_retries: int = 2
    backoff_s: float = 0.5

    # ------------------------------------------------------------------ for subclasses

    def _pieces(self, messages: list[dict[str, str]], *, stop: list[str] | None,
                max_tokens: int) -> Generator[Piece, None, None]:
        """Open the transport and yield pieces; raise on failure (any exception type)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ LangChain interface

    @property
    def _llm_type(self) -> str:
        return type(self).__name__

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "max_new_tokens": self.max_new_tokens,
                "temperature": self.temperature}

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop=stop, run_manager=run_manager, **kwargs))

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        max_tokens = int(kwargs.get("max_tokens") or self.max_new_tokens)
        payload = messages_to_dicts(messages)
        attempt = 0
        while True:
            sent_text = False
            final = Piece()
            try:
                with closing(self._pieces(payload, stop=stop, max_tokens=max_tokens)) as pieces:
                    for piece in pieces:
                        _merge(final, piece)
                        if piece.text:
                            sent_text = True  # (BaseChatModel reports each chunk to the callbacks)
                            yield ChatGenerationChunk(message=AIMessageChunk(content=piece.text))
                if final.finish_reason is None:
                    raise BackendError(
                        "The answer service stopped mid-answer.", code="backend_stream_dropped",
                        detail="stream ended without a finish reason", retryable=True,
                    )
            except Exception as exc:
                error = to_backend_error(exc)
                if sent_text or not error.retryable or attempt >= self.max_retries:
                    if sent_text and error.code != "backend_stream_dropped":
                        error = BackendError("The answer service stopped mid-answer.",
                                             code="backend_stream_dropped", detail=error.detail, retryable=False)
                    raise error from exc
                delay = self.backoff_s * (2**attempt)
                attempt += 1
                log.warning("%s failed before the first token (%s: %s); retry %d/%d in %.2fs", self._llm_type,
                            error.code, error.detail, attempt, self.max_retries, delay)
                time.sleep(delay)
                continue
            yield ChatGenerationChunk(message=_final_chunk(final, self.model_name))
            return


def messages_to_dicts(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as OpenAI-style ``{"role", "content"}`` dicts (text content only)."""
    out = []
    for message in messages:
        role = _ROLES.get(message.type)
        if role is None:
            raise ValueError(f"unsupported message type {message.type!r}")
        out.append({"role": role, "content": message.text})
    return out


def to_backend_error(exc: BaseException) -> BackendError:
    """Classify a transport failure: what the code is and whether a retry can help."""
    if isinstance(exc, BackendError):
        return exc
    detail = f"{type(exc).__name__}: {exc}"
    status = _status_code(exc)
    if status is not None:
        if status in RETRYABLE_STATUS:
            return BackendError("The answer service is busy or failing.", code="backend_error",
                                detail=detail, retryable=True)
        return BackendError("The answer service rejected the request.", code="backend_rejected",
                            detail=detail, retryable=False)
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | ConnectionRefusedError):
        return BackendError("The answer service is unreachable.", code="backend_unavailable",
                            detail=detail, retryable=True)
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return BackendError("The answer service timed out.", code="backend_timeout", detail=detail,
                            retryable=False)
    if isinstance(exc, httpx.TransportError | ConnectionError):
        return BackendError("The answer service stopped mid-answer.", code="backend_stream_dropped",
                            detail=detail, retryable=True)
    if _is_overloaded(exc):
        return BackendError("The answer service is busy.", code="backend_error", detail=detail, retryable=True)
    if isinstance(exc, json.JSONDecodeError | KeyError | ValueError):
        return BackendError("The answer service sent an answer we could not read.", code="backend_bad_response",
                            detail=detail, retryable=False)
    return BackendError("The answer service failed.", code="backend_error", detail=detail, retryable=False)


def _status_code(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _is_overloaded(exc: BaseException) -> bool:
    # huggingface_hub raises OverloadedError for TGI's in-stream {"error_type": "overloaded"}.
    return type(exc).__name__ == "OverloadedError"


def _merge(into: Piece, piece: Piece) -> None:
    for name in ("finish_reason", "model", "prompt_tokens", "completion_tokens"):
        value = getattr(piece, name)
        if value is not None:
            setattr(into, name, value)


def _final_chunk(final: Piece, default_model: str) -> AIMessageChunk:
    metadata: dict[str, Any] = {"model_name": final.model or default_model, "finish_reason": final.finish_reason}
    if final.prompt_tokens is None and final.completion_tokens is None:
        return AIMessageChunk(content="", response_metadata=metadata)
    prompt, completion = final.prompt_tokens or 0, final.completion_tokens or 0
    usage = UsageMetadata(input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion)
    return AIMessageChunk(content="", response_metadata=metadata, usage_metadata=usage)
