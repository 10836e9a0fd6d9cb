"""The ``tgi`` backend: Text Generation Inference through ``huggingface_hub.InferenceClient``.

Two wire formats, chosen by ``ASSISTANT_TGI_API``:

- ``messages`` (default): TGI's Messages API, ``POST /v1/chat/completions`` with
  ``stream: true``; the server applies the model's own chat template.
- ``generate``: the native ``POST /generate_stream``. The chat is rendered to one prompt with
  :func:`render_chat` (ChatML by default, the format of SmolLM2, Qwen and many others; ``plain``
  for base models), and generation stops at the template's end-of-turn marker.

The contract is TGI's OpenAPI document in ``shared/contracts/tgi-openapi.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any, Literal

import httpx
from huggingface_hub import ChatCompletionInputStreamOptions
from pydantic import ConfigDict, PrivateAttr

from assistant.llm.base import Piece, StreamingChatModel
from assistant.llm.endpoint import EndpointClient, chat_pieces, generate_pieces, new_http_client

log = logging.getLogger(__name__)

ChatTemplate = Literal["chatml", "plain"]
_STOPS: dict[str, list[str]] = {"chatml": ["<|im_end|>", "<|im_start|>"], "plain": ["\nUser:", "\nSystem:"]}


class TGIChatModel(StreamingChatModel):
    """Chat model for a TGI server at ``url``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    url: str
    api: Literal["messages", "generate"] = "messages"
    token: str | None = None
    timeout_s: float = 60.0
    chat_template: ChatTemplate = "chatml"
    _http: httpx.Client = PrivateAttr()
    _served_model: str | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        self._http = new_http_client(self.timeout_s)  # pooled, shared by the threads that answer

    @property
    def _llm_type(self) -> str:
        return "tgi"

    def served_model(self) -> str:
        """The model id TGI reports on ``/info``, read once; empty if it cannot be read."""
        if self._served_model is None:
            try:
                response = self._http.get(f"{self.url.rstrip('/')}/info", headers=self._auth())
                response.raise_for_status()
                self._served_model = str(response.json().get("model_id") or "")
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("could not read %s/info: %s", self.url, exc)
                return ""
        return self._served_model

    def health(self) -> bool:
        """Whether TGI's ``/health`` says it can serve (for readiness probes)."""
        try:
            return self._http.get(f"{self.url.rstrip('/')}/health", headers=self._auth()).status_code == 200
        except httpx.HTTPError:
            return False

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _client(self) -> EndpointClient:
        return EndpointClient(self.url.rstrip("/"), http=self._http, api_key=self.token, timeout=self.timeout_s)

    def _pieces(self, messages: list[dict[str, str]], *, stop: list[str] | None,
                max_tokens: int) -> Generator[Piece, None, None]:
        with self._client() as client:
            if self.api == "messages":
                stream = client.chat_completion(
                    messages, stream=True, max_tokens=max_tokens, temperature=self.temperature,
                    stop=stop or None, stream_options=ChatCompletionInputStreamOptions(include_usage=True),
                )
                yield from chat_pieces(stream)
            else:
                yield Piece(model=self.model_name or self.served_model())  # the stream does not name it
                sampling = {"do_sample": True, "temperature": self.temperature} if self.temperature > 0 else {}
                stops = (_STOPS[self.chat_template] + list(stop or []))[:4]  # TGI allows 4 stop sequences
                events = client.text_generation(
                    render_chat(messages, self.chat_template), stream=True, details=True,
                    model=f"{self.url.rstrip('/')}/generate_stream", max_new_tokens=max_tokens,
                    stop=stops, return_full_text=False, **sampling,
                )
                yield from generate_pieces(events)


def render_chat(messages: list[dict[str, str]], template: ChatTemplate = "chatml") -> str:
    """One prompt string from chat messages, ending where the assistant's turn begins."""
    if template == "chatml":
        turns = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
        return "".join(turns) + "<|im_start|>assistant\n"
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    turns = [f"{names.get(m['role'], 'User')}: {m['content']}\n\n" for m in messages]
    return "".join(turns) + "Assistant:"
