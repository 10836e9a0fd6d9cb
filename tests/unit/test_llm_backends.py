"""The shared backend policy (retries before the first token, errors, usage) and backend building."""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings
from assistant.errors import BackendError, ConfigError
from assistant.factory import build_llm
from assistant.llm.base import Piece, StreamingChatModel, to_backend_error
from assistant.llm.local import LocalChatModel, resolve_model_path
from assistant.llm.openai_compat import OpenAICompatibleChatModel
from assistant.llm.tgi import TGIChatModel, render_chat

Attempt = Callable[[], Generator[Piece, None, None]]


class ScriptedBackend(StreamingChatModel):
    """A backend whose transport is a list of scripted attempts."""

    attempts: list[Attempt]
    opened: int = 0

    def _pieces(self, messages, *, stop, max_tokens) -> Generator[Piece, None, None]:
        attempt = self.attempts[self.opened]
        self.opened += 1
        yield from attempt()


def ok(*texts: str, finish: str | None = "stop") -> Attempt:
    def run() -> Generator[Piece, None, None]:
        for text in texts:
            yield Piece(text=text)
        yield Piece(finish_reason=finish, model="served-model", prompt_tokens=12, completion_tokens=len(texts))
    return run


def fail(error: Exception, after: tuple[str, ...] = ()) -> Attempt:
    def run() -> Generator[Piece, None, None]:
        for text in after:
            yield Piece(text=text)
        raise error
    return run


def status_error(code: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    return httpx.HTTPStatusError(f"{code}", request=request, response=httpx.Response(code, request=request))


def backend(*attempts: Attempt, retries: int = 2) -> ScriptedBackend:
    return ScriptedBackend(attempts=list(attempts), max_retries=retries, backoff_s=0.0)


def test_connection_failures_before_the_first_token_are_retried() -> None:
    llm = backend(fail(httpx.ConnectError("refused")), fail(status_error(503)), ok("Hello", " there"))
    assert llm.invoke("hi").content == "Hello there"
    assert llm.opened == 3


def test_retries_are_bounded() -> None:
    llm = backend(*[fail(httpx.ConnectError("refused"))] * 5, retries=2)
    with pytest.raises(BackendError) as info:
        llm.invoke("hi")
    assert info.value.code == "backend_unavailable" and llm.opened == 3


@pytest.mark.parametrize("code", [400, 401, 422])
def test_rejected_requests_are_not_retried(code: int) -> None:
    llm = backend(fail(status_error(code)), ok("unused"))
    with pytest.raises(BackendError) as info:
        llm.invoke("hi")
    assert info.value.code == "backend_rejected" and llm.opened == 1


def test_timeouts_are_not_retried() -> None:
    llm = backend(fail(httpx.ReadTimeout("slow")), ok("unused"))
    with pytest.raises(BackendError) as info:
        llm.invoke("hi")
    assert info.value.code == "backend_timeout" and llm.opened == 1


def test_nothing_is_retried_once_text_was_streamed() -> None:
    llm = backend(fail(httpx.RemoteProtocolError("peer closed"), after=("Partial",)), ok("unused"))
    chunks = []
    with pytest.raises(BackendError) as info:
        for chunk in llm.stream("hi"):
            chunks.append(chunk.content)
    assert chunks == ["Partial"] and llm.opened == 1
    assert info.value.code == "backend_stream_dropped"


def test_a_stream_that_ends_without_finishing_is_a_dropped_stream() -> None:
    llm = backend(ok("Half an", finish=None), retries=0)
    with pytest.raises(BackendError) as info:
        list(llm.stream("hi"))
    assert info.value.code == "backend_stream_dropped"


def test_the_last_chunk_carries_model_and_usage() -> None:
    message = backend(ok("a", "b")).invoke("hi")
    assert message.response_metadata["model_name"] == "served-model"
    assert message.usage_metadata == {"input_tokens": 12, "output_tokens": 2, "total_tokens": 14}


def test_max_tokens_can_be_bound_per_call() -> None:
    seen: list[int] = []

    class Recording(StreamingChatModel):
        def _pieces(self, messages, *, stop, max_tokens) -> Generator[Piece, None, None]:
            seen.append(max_tokens)
            yield Piece(text="x", finish_reason="stop")

    Recording(max_new_tokens=300).bind(max_tokens=40).invoke("hi")
    Recording(max_new_tokens=300).invoke("hi")
    assert seen == [40, 300]


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        (httpx.ConnectError("refused"), "backend_unavailable", True),
        (httpx.ConnectTimeout("slow connect"), "backend_unavailable", True),
        (httpx.ReadTimeout("slow"), "backend_timeout", False),
        (TimeoutError("slow"), "backend_timeout", False),
        (httpx.RemoteProtocolError("incomplete chunked read"), "backend_stream_dropped", True),
        (status_error(429), "backend_error", True),
        (status_error(500), "backend_error", True),
        (status_error(424), "backend_rejected", False),
        (ValueError("Requested tokens exceed context window"), "backend_bad_response", False),
        (RuntimeError("?"), "backend_error", False),
    ],
)
def test_transport_failures_are_classified(error: Exception, code: str, retryable: bool) -> None:
    classified = to_backend_error(error)
    assert (classified.code, classified.retryable) == (code, retryable)
    assert classified.detail and type(error).__name__ in classified.detail
    assert "http" not in classified.message.lower()  # the message is for users, the detail for logs


def test_chatml_rendering_ends_at_the_assistant_turn() -> None:
    rendered = render_chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert rendered == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                        "<|im_start|>assistant\n")
    assert render_chat([{"role": "user", "content": "Hi"}], "plain") == "User: Hi\n\nAssistant:"


def test_build_llm_follows_the_settings_and_the_override() -> None:
    settings = Settings(_env_file=None, llm={"backend": "tgi", "timeout_s": 7, "max_retries": 1},
                        tgi={"url": "http://127.0.0.1:9", "api": "generate"})
    tgi = build_llm(settings)
    assert isinstance(tgi, TGIChatModel)
    assert (tgi.url, tgi.api, tgi.timeout_s, tgi.max_retries) == ("http://127.0.0.1:9", "generate", 7, 1)
    openai = build_llm(settings, "openai")
    assert isinstance(openai, OpenAICompatibleChatModel) and openai.base_url == settings.openai.base_url
    assert isinstance(build_llm(settings, "local"), LocalChatModel)
    assert build_llm(settings, "extractive") is None
    with pytest.raises(ConfigError) as info:
        build_llm(settings, "gpt")
    assert "tgi, openai, local, extractive" in (info.value.hint or "")


def test_backend_names_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM_BACKEND", "openai")
    monkeypatch.setenv("ASSISTANT_OPENAI_BASE_URL", "http://127.0.0.1:5000/v1")
    llm = build_llm(Settings(_env_file=None))
    assert isinstance(llm, OpenAICompatibleChatModel) and llm.base_url == "http://127.0.0.1:5000/v1"


def test_a_missing_local_model_file_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(BackendError) as info:
        resolve_model_path(str(tmp_path / "nope.gguf"))
    assert "ASSISTANT_LOCAL_MODEL_PATH" in (info.value.hint or "") and not info.value.retryable
