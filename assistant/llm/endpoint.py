"""``huggingface_hub.InferenceClient`` for self-hosted endpoints (TGI, vLLM, SGLang, llama.cpp).

InferenceClient sends every request through the Hub's shared HTTP session, and that session
refuses all traffic when ``HF_HUB_OFFLINE=1`` — which this project sets so that models load
from local files only. Offline mode is about the Hub; a self-hosted inference server is not
the Hub. :class:`EndpointClient` therefore keeps InferenceClient's payload building, URL
handling, SSE parsing and error types, and swaps only the transport for its own
``httpx.Client``. The override touches a private method (``_inner_post``), so
``huggingface_hub>=1.0`` is required and the integration tests exercise it against a server
that checks the TGI OpenAPI contract.

The stream helpers turn the two TGI wire formats into :class:`~assistant.llm.base.Piece`:
OpenAI-style chat completion chunks (TGI's Messages API and every OpenAI-compatible server)
and TGI's native ``/generate_stream`` tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import httpx
from huggingface_hub import InferenceClient
from huggingface_hub.errors import InferenceTimeoutError
from huggingface_hub.utils import hf_raise_for_status

from assistant.llm.base import Piece


class EndpointClient(InferenceClient):
    """InferenceClient whose requests go through ``http`` instead of the Hub session."""

    def __init__(self, base_url: str, *, http: httpx.Client, api_key: str | None = None,
                 timeout: float | None = None) -> None:
        super().__init__(base_url=base_url, api_key=api_key, timeout=timeout)
        self._http = http
        self._send_auth = bool(api_key)

    def _inner_post(self, request_parameters: Any, *, stream: bool = False) -> Any:
        if not self._send_auth:
            # With no key configured, InferenceClient falls back to the user's saved Hub token;
            # a self-hosted server must never receive it.
            request_parameters.headers = {
                k: v for k, v in request_parameters.headers.items() if k.lower() != "authorization"
            }
        try:
            response = self.exit_stack.enter_context(
                self._http.stream(
                    "POST",
                    request_parameters.url,
                    json=request_parameters.json,
                    content=request_parameters.data,
                    headers=request_parameters.headers,
                    timeout=self.timeout,
                )
            )
            hf_raise_for_status(response)
            return response.iter_lines() if stream else response.read()
        except TimeoutError as error:
            raise InferenceTimeoutError(f"Inference call timed out: {request_parameters.url}") from error


def new_http_client(timeout_s: float) -> httpx.Client:
    """One pooled HTTP client per backend: connect fast, wait ``timeout_s`` between bytes."""
    return httpx.Client(timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)), follow_redirects=False)


def chat_pieces(chunks: Iterable[Any]) -> Iterator[Piece]:
    """Pieces from ``InferenceClient.chat_completion(stream=True)`` output."""
    for chunk in chunks:
        piece = Piece(model=chunk.model or None)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            piece.prompt_tokens = usage.prompt_tokens
            piece.completion_tokens = usage.completion_tokens
        for choice in chunk.choices or []:
            if choice.index != 0:
                continue
            delta = choice.delta
            piece.text = (delta.content or "") if delta is not None else ""
            piece.finish_reason = choice.finish_reason or None
        yield piece


def generate_pieces(events: Iterable[Any]) -> Iterator[Piece]:
    """Pieces from ``InferenceClient.text_generation(stream=True, details=True)`` output."""
    for event in events:
        token = event.token
        piece = Piece(text="" if token.special else token.text)
        details = event.details
        if details is not None:
            piece.finish_reason = details.finish_reason
            piece.completion_tokens = details.generated_tokens
            piece.prompt_tokens = getattr(details, "input_length", None)
        yield piece
