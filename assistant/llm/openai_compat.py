"""The ``openai`` backend: any server that speaks OpenAI's chat completions API.

vLLM, SGLang, llama.cpp's server, LM Studio and TGI's Messages API all do, which keeps users
free to move off TGI (in maintenance mode upstream). ``InferenceClient(base_url=...)`` speaks
this API too, so the transport, retries and error handling are the same as the ``tgi``
backend's; ``ASSISTANT_OPENAI_BASE_URL`` is the URL *including* ``/v1``, as OpenAI clients expect.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx
from huggingface_hub import ChatCompletionInputStreamOptions
from pydantic import ConfigDict, PrivateAttr

from assistant.llm.base import Piece, StreamingChatModel
from assistant.llm.endpoint import EndpointClient, chat_pieces, new_http_client


class OpenAICompatibleChatModel(StreamingChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    base_url: str
    api_key: str | None = None
    timeout_s: float = 60.0
    _http: httpx.Client = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._http = new_http_client(self.timeout_s)  # pooled, shared by the threads that answer

    @property
    def _llm_type(self) -> str:
        return "openai"

    def health(self) -> bool:
        """Whether the server answers ``GET /models`` (every OpenAI-compatible server has it)."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            return self._http.get(f"{self.base_url.rstrip('/')}/models", headers=headers).status_code == 200
        except httpx.HTTPError:
            return False

    def _pieces(self, messages: list[dict[str, str]], *, stop: list[str] | None,
                max_tokens: int) -> Generator[Piece, None, None]:
        client = EndpointClient(self.base_url.rstrip("/"), http=self._http, api_key=self.api_key,
                                timeout=self.timeout_s)
        with client:
            stream = client.chat_completion(
                messages, model=self.model_name or None, stream=True, max_tokens=max_tokens,
                temperature=self.temperature, stop=stop or None,
                stream_options=ChatCompletionInputStreamOptions(include_usage=True),
            )
            yield from chat_pieces(stream)
