"""The tgi and openai backends against a real HTTP server that checks TGI's OpenAPI contract.

Every request the backends send and every payload the server answers with is validated
against ``tgi-openapi.json`` with jsonschema. Failures (422, overload, timeout, a connection
dropped mid-stream, nothing listening) must end in the extractive fallback, never a crash.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import huggingface_hub.constants
import pytest

from assistant.config import Settings
from assistant.llm.openai_compat import OpenAICompatibleChatModel
from assistant.llm.tgi import TGIChatModel
from assistant.pipeline import AnswerPipeline
from assistant.prompts import load_prompts
from assistant.schemas import AnswerRequest, DoneEvent
from tests.fakes import FakeRetriever, make_passage
from tests.integration.tgi_server import CONTRACT, MODEL_ID, SHARED_CONTRACT, TGIServer, validate

pytestmark = pytest.mark.integration

REFUNDS = make_passage("Refunds are issued within 5 business days to the original payment method.",
                       title="Refund policy", url="https://help.example/refunds", dense=0.8)
TAXES = make_passage("Tax rates are set in Settings > Taxes.", title="Tax rates", dense=0.6)


@pytest.fixture
def tgi() -> Iterator[TGIServer]:
    with TGIServer() as server:
        yield server


def tgi_model(server: TGIServer, api: str = "messages", **kwargs) -> TGIChatModel:
    kwargs.setdefault("timeout_s", 2.0)
    kwargs.setdefault("backoff_s", 0.01)
    return TGIChatModel(url=server.url, api=api, max_new_tokens=64, **kwargs)  # type: ignore[arg-type]


def answer(llm, question: str = "How long do refunds take?") -> list:
    pipeline = AnswerPipeline(retriever=FakeRetriever([REFUNDS, TAXES]), prompts=load_prompts(),
                              llm_provider=lambda name: llm, settings=Settings(_env_file=None), backend="tgi")
    return list(pipeline.stream(AnswerRequest(question=question, audience="public")))


def check_contract(server: TGIServer, request_schema: str) -> None:
    """Every request body and every payload sent back matches TGI's OpenAPI document."""
    assert server.exchanges
    for exchange in server.exchanges:
        if exchange.body is not None:
            validate(request_schema, exchange.body)
        for schema, payload in exchange.sent:
            validate(schema, payload)


def test_the_vendored_contract_is_the_shared_one() -> None:
    if not SHARED_CONTRACT.exists():
        pytest.skip("shared/contracts is not checked out next to the repository")
    assert json.loads(CONTRACT.read_text()) == json.loads(SHARED_CONTRACT.read_text())


# --------------------------------------------------------------------------- happy paths


def test_messages_api_streams_tokens_usage_and_model(tgi: TGIServer) -> None:
    assert huggingface_hub.constants.HF_HUB_OFFLINE  # the Hub is off; a self-hosted TGI must still work
    chunks = list(tgi_model(tgi).stream("How long do refunds take?"))

    assert "".join(c.content for c in chunks) == "Refunds take five days [1]."
    assert len([c for c in chunks if c.content]) == 6  # streamed token by token
    merged = sum(chunks[1:], chunks[0])
    assert merged.response_metadata["model_name"] == MODEL_ID
    assert merged.usage_metadata == {"input_tokens": 42, "output_tokens": 6, "total_tokens": 48}
    (exchange,) = tgi.requests_to("/v1/chat/completions")
    assert exchange.body["stream"] is True and exchange.body["max_tokens"] == 64
    assert exchange.body["messages"] == [{"role": "user", "content": "How long do refunds take?"}]
    assert "authorization" not in exchange.headers  # no token configured: none sent, not even the Hub's
    check_contract(tgi, "ChatRequest")


def test_generate_stream_api_renders_the_chat_and_skips_special_tokens(tgi: TGIServer) -> None:
    llm = tgi_model(tgi, api="generate", token="secret-token")
    message = llm.invoke([("system", "Be brief."), ("human", "Refunds?")])

    assert message.content == "Refunds take five days [1]."
    assert message.response_metadata["model_name"] == MODEL_ID  # read from /info
    assert message.usage_metadata is not None and message.usage_metadata["input_tokens"] == 42
    (exchange,) = tgi.requests_to("/generate_stream")
    assert exchange.body["inputs"] == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nRefunds?"
                                       "<|im_end|>\n<|im_start|>assistant\n")
    assert exchange.body["parameters"]["max_new_tokens"] == 64
    assert "<|im_end|>" in exchange.body["parameters"]["stop"]
    assert exchange.headers["authorization"] == "Bearer secret-token"
    check_contract(tgi, "GenerateRequest")
    for exchange in tgi.requests_to("/info"):
        for schema, payload in exchange.sent:
            validate(schema, payload)


def test_health_reports_the_server_state(tgi: TGIServer) -> None:
    assert tgi_model(tgi).health()
    assert not TGIChatModel(url=f"http://127.0.0.1:{free_port()}", timeout_s=1).health()


@pytest.mark.parametrize("api", ["messages", "generate"])
def test_pipeline_over_tgi_streams_a_cited_answer(tgi: TGIServer, api: str) -> None:
    events = answer(tgi_model(tgi, api=api))
    done = events[-1]

    assert isinstance(done, DoneEvent) and not done.fallback
    assert done.answer == "Refunds take five days [1]."
    assert [s.title for s in done.sources] == ["Refund policy"]
    assert done.model == MODEL_ID and done.timings_ms["llm_first_token"] > 0
    assert "".join(e.text for e in events if e.type == "token") == done.answer
    body = tgi.exchanges[-1].body
    prompt = json.dumps(body)
    assert "<passage n=\\\"1\\\" title=\\\"Refund policy\\\"" in prompt
    check_contract(tgi, "ChatRequest" if api == "messages" else "GenerateRequest")


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("api", ["messages", "generate"])
def test_a_422_is_not_retried_and_falls_back_to_the_extractive_answer(tgi: TGIServer, api: str) -> None:
    tgi.script(mode="reject")
    done = answer(tgi_model(tgi, api=api, max_retries=3))[-1]

    assert isinstance(done, DoneEvent) and done.fallback and not done.abstained
    assert "Refunds are issued within 5 business days" in done.answer and done.sources
    path = "/v1/chat/completions" if api == "messages" else "/generate_stream"
    assert len(tgi.requests_to(path)) == 1
    assert tgi.requests_to(path)[0].sent[0][0] == "ErrorResponse"
    check_contract(tgi, "ChatRequest" if api == "messages" else "GenerateRequest")


def test_an_overloaded_server_is_retried_before_the_first_token(tgi: TGIServer) -> None:
    tgi.script(mode="overloaded", times=2)
    done = answer(tgi_model(tgi, max_retries=2))[-1]

    assert isinstance(done, DoneEvent) and not done.fallback
    assert done.answer == "Refunds take five days [1]."
    assert [e.mode for e in tgi.requests_to("/v1/chat/completions")] == ["overloaded", "overloaded", "ok"]
    check_contract(tgi, "ChatRequest")


def test_retries_stop_at_the_limit_and_then_fall_back(tgi: TGIServer) -> None:
    tgi.script(mode="overloaded")
    done = answer(tgi_model(tgi, max_retries=1))[-1]
    assert isinstance(done, DoneEvent) and done.fallback
    assert len(tgi.requests_to("/v1/chat/completions")) == 2


def test_a_slow_server_times_out_and_falls_back(tgi: TGIServer) -> None:
    tgi.script(mode="slow", delay_s=3.0)
    started = time.perf_counter()
    done = answer(tgi_model(tgi, timeout_s=0.5, max_retries=2))[-1]

    assert isinstance(done, DoneEvent) and done.fallback
    assert time.perf_counter() - started < 2.0  # a timeout is not retried
    assert len(tgi.requests_to("/v1/chat/completions")) == 1


@pytest.mark.parametrize(("api", "mode"), [("messages", "drop"), ("generate", "drop"), ("messages", "stall")])
def test_a_stream_cut_mid_answer_ends_coherently(tgi: TGIServer, api: str, mode: str) -> None:
    tgi.script(mode=mode, after_tokens=3, delay_s=2.0)
    events = answer(tgi_model(tgi, api=api, timeout_s=0.5))
    done = events[-1]

    assert isinstance(done, DoneEvent) and done.fallback
    assert [e.type for e in events].count("error") == 0
    # "Refunds take five" was never a whole, checked sentence, so the grounding guard never showed it:
    # the answer is the extractive one, with no half sentence and no "cut off" notice before it.
    assert done.answer.startswith("Here is what the Ledgerly help material says")
    assert "Refunds take five" not in done.answer
    assert "Refunds are issued within 5 business days" in done.answer
    assert "".join(e.text for e in events if e.type == "token") == done.answer
    path = "/v1/chat/completions" if api == "messages" else "/generate_stream"
    assert len(tgi.requests_to(path)) == 1  # text had streamed: no retry
    check_contract(tgi, "ChatRequest" if api == "messages" else "GenerateRequest")


def test_nothing_listening_falls_back() -> None:
    llm = TGIChatModel(url=f"http://127.0.0.1:{free_port()}", timeout_s=1.0, max_retries=1, backoff_s=0.01)
    done = answer(llm)[-1]
    assert isinstance(done, DoneEvent) and done.fallback and done.sources


# --------------------------------------------------------------------------- openai-compatible


def test_openai_backend_uses_the_chat_completions_route_with_its_model_name(tgi: TGIServer) -> None:
    llm = OpenAICompatibleChatModel(base_url=f"{tgi.url}/v1", model_name="my-model", api_key="sk-local",
                                    timeout_s=2.0, max_new_tokens=32)
    done = answer(llm)[-1]

    assert isinstance(done, DoneEvent) and not done.fallback and done.answer == "Refunds take five days [1]."
    (exchange,) = tgi.requests_to("/v1/chat/completions")
    assert exchange.body["model"] == "my-model" and exchange.body["max_tokens"] == 32
    assert exchange.headers["authorization"] == "Bearer sk-local"
    check_contract(tgi, "ChatRequest")


def test_openai_backend_falls_back_on_a_dropped_stream(tgi: TGIServer) -> None:
    tgi.script(mode="drop", after_tokens=0)
    llm = OpenAICompatibleChatModel(base_url=f"{tgi.url}/v1", timeout_s=2.0, max_retries=0)
    done = answer(llm)[-1]
    assert isinstance(done, DoneEvent) and done.fallback
    assert done.answer.startswith("Here is what the Ledgerly help material says")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
