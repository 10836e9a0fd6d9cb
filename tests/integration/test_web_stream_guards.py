"""What the web layer itself guarantees, whatever the pipeline does (scripted pipeline, real server).

The scripted pipeline (tests/fakes.py) follows the real event contract; here it also misbehaves
on purpose — an internal source, an exception with internal text, a slow first event — to show
the web layer contains it.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from assistant.config import Settings
from assistant.errors import USER_MESSAGES
from assistant.schemas import AnswerEvent, AnswerRequest, ErrorEvent
from assistant.store import Store
from assistant.workers import WorkerPool
from bots.web import streaming
from bots.web.app import create_app
from tests.fakes import FakePipeline, ScriptedAnswer, audience_scoped, source
from tests.integration.web_harness import ORIGIN, auth, chat, open_session, running, web_settings

pytestmark = pytest.mark.integration

CANARY = "CANARY-INTERNAL-RUNBOOK-4F7A"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[httpx.Client, FakePipeline, Store]]]:
    with ExitStack() as stack:
        def start(answer: Any = "All good [1].", *, settings: Settings | None = None, mounts: Any = (),
                  **web: Any) -> tuple[httpx.Client, FakePipeline, Store]:
            settings = settings or web_settings(tmp_path, **web)
            store = Store(tmp_path / "store.sqlite")
            pipeline = FakePipeline(answer, store=store)
            base = stack.enter_context(running(create_app(settings, pipeline=pipeline, store=store, mounts=mounts)))
            return stack.enter_context(httpx.Client(base_url=base, timeout=30)), pipeline, store

        yield start


def test_widget_requests_are_always_public_and_on_the_web_channel(serve) -> None:
    runbook = source(1, "Outage runbook", audience="internal", snippet=f"Page on-call, code {CANARY}")
    help_page = source(2, "Service status", url="https://help.ledgerly.example/status",
                       snippet="During an outage card payments are queued")
    client, pipeline, _ = serve(audience_scoped([runbook, help_page]))
    token = open_session(client)
    for question in ("outage runbook on-call code", "outage card payments"):
        response, events = chat(client, token, question)
        assert CANARY not in response.text
        assert events[-1][0] == "done"
    assert {(r.audience, r.channel) for r in pipeline.requests} == {("public", "web")}
    refused = client.post("/v1/chat", json={"message": "outage runbook", "audience": "internal"}, headers=auth(token))
    assert refused.status_code == 422 and len(pipeline.requests) == 2


def test_an_internal_source_from_the_pipeline_is_withheld(serve) -> None:
    leaked = source(1, f"Runbook {CANARY}", audience="internal", snippet=CANARY)
    client, _, _ = serve(ScriptedAnswer(f"The code is {CANARY} [1]", [leaked]))
    token = open_session(client)
    response, events = chat(client, token, "anything")
    assert [name for name, _ in events] == ["error"]
    assert events[0][1]["code"] == "internal_error"
    assert CANARY not in response.text
    as_json = client.post("/v1/chat", json={"message": "anything"}, headers=auth(token, accept="application/json"))
    assert as_json.status_code == 500 and CANARY not in as_json.text


def test_pipeline_error_event_ends_the_stream_and_maps_to_503_in_json(serve) -> None:
    failed = ErrorEvent(code="backend_error", message="TGI at http://10.0.0.7:8080 timed out", retryable=True)
    client, _, _ = serve(ScriptedAnswer("", error=failed))
    token = open_session(client)
    response, events = chat(client, token, "hello")
    assert [name for name, _ in events] == ["sources", "error"]
    # The user reads the catalogue's words for the code, never the text the event carried.
    assert events[-1][1] == {"code": "backend_error", "message": USER_MESSAGES["backend_error"], "retryable": True}
    assert "10.0.0.7" not in response.text
    as_json = client.post("/v1/chat", json={"message": "hello"}, headers=auth(token, accept="application/json"))
    assert as_json.status_code == 503
    assert as_json.json() == {"error": {"code": "backend_error", "message": USER_MESSAGES["backend_error"]}}


def test_a_full_worker_pool_answers_503_busy_with_retry_after_and_recovers(tmp_path: Path) -> None:
    gate, started = threading.Event(), threading.Event()

    def respond(_request: AnswerRequest) -> ScriptedAnswer:
        started.set()
        gate.wait(20)
        return ScriptedAnswer("Done [1].", [source(1, "Doc")])

    store = Store(tmp_path / "store.sqlite")
    pipeline = FakePipeline(respond, store=store, pool=WorkerPool(1, queue=0, retry_after_s=2))
    app = create_app(web_settings(tmp_path), pipeline=pipeline, store=store)
    with running(app) as base, httpx.Client(base_url=base, timeout=30) as client, \
            httpx.Client(base_url=base, timeout=30) as other, ThreadPoolExecutor(1) as background:
        token = open_session(client)
        first = background.submit(chat, other, token, "first")
        assert started.wait(20)
        refused = [client.post("/v1/chat", json={"message": "second"}, headers=auth(token, accept=accept))
                   for accept in ("text/event-stream", "application/json")]
        gate.set()
        _, first_events = first.result(20)
        _, later_events = chat(client, token, "third")
        metrics = client.get("/metrics").text
    for response in refused:
        assert response.status_code == 503 and response.headers["retry-after"] == "2"
        assert response.json() == {"error": {"code": "busy", "message": USER_MESSAGES["busy"]}}
    assert first_events[-1][0] == "done" and later_events[-1][0] == "done"
    assert [r.question for r in pipeline.requests] == ["first", "third"]
    assert "assistant_busy_total 2.0" in metrics


class ExplodingPipeline:
    """Breaks the pipeline's never-raise promise, with internal detail in the exception."""

    async def astream(self, request: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        raise RuntimeError("db password=hunter2 at /srv/internal/secret.py line 3")
        yield  # an async generator, like the real one


def test_unexpected_pipeline_exception_shows_no_internal_text(tmp_path: Path) -> None:
    app = create_app(web_settings(tmp_path), pipeline=ExplodingPipeline(), store=Store(tmp_path / "s.sqlite"))
    with running(app) as base, httpx.Client(base_url=base) as client:
        token = open_session(client)
        response, events = chat(client, token, "hello")
        as_json = client.post("/v1/chat", json={"message": "hello"}, headers=auth(token, accept="application/json"))
    assert [name for name, _ in events] == ["error"] and events[0][1]["code"] == "internal_error"
    assert "hunter2" not in response.text and "secret.py" not in response.text
    assert as_json.status_code == 500
    assert "hunter2" not in as_json.text and as_json.json()["error"]["code"] == "internal_error"


def test_quiet_stream_gets_keepalive_comments(serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "KEEPALIVE_S", 0.05)
    client, pipeline, _ = serve("slow but sure")
    pipeline.token_delay_s = 0.3
    token = open_session(client)
    response, events = chat(client, token, "hello")
    assert ": ping" in response.text
    assert events[-1][0] == "done" and events[-1][1]["answer"] == "slow but sure"


def test_readyz_is_503_when_a_check_fails(serve) -> None:
    client, pipeline, _ = serve()
    assert client.get("/readyz").json() == {"status": "ready", "checks": {"index": True, "llm": True}}
    pipeline.readiness["llm"] = False
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "reason": "llm check failed",
                               "checks": {"index": True, "llm": False}}


def test_metrics_token_protects_metrics_when_set(serve) -> None:
    client, _, _ = serve(metrics_token="scrape-me-please")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
    assert ok.status_code == 200 and "assistant_web_requests_total" in ok.text


def test_mounted_routes_skip_the_origin_gate_and_see_the_shared_pipeline(serve) -> None:
    seen: dict[str, Any] = {}

    def slack_like(app: FastAPI, settings: Settings, store: Store) -> None:
        router = APIRouter()

        @router.post("/slack/events")
        async def events() -> dict[str, bool]:
            seen["pipeline"] = app.state.pipeline
            return {"ok": True}

        app.include_router(router)

    client, pipeline, _ = serve(mounts=[slack_like])
    response = client.post("/slack/events", json={})  # no Origin, no token: Slack signs its own requests
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert seen["pipeline"] is pipeline
    assert client.post("/v1/chat", json={"message": "x"}).status_code == 403  # /v1 still gated


def test_same_origin_page_works_in_development_only(tmp_path: Path, serve) -> None:
    dev = Settings(data_dir=tmp_path, _env_file=None)
    client, _, _ = serve(settings=dev)
    own = str(client.base_url).rstrip("/")
    assert client.post("/v1/session", headers={"Origin": own}).status_code == 200
    prod = Settings(data_dir=tmp_path, env="production", _env_file=None,
                    web={"session_secret": "x" * 40})
    prod_client, _, _ = serve(settings=prod)
    own = str(prod_client.base_url).rstrip("/")
    assert prod_client.post("/v1/session", headers={"Origin": own}).status_code == 403
    assert prod_client.get("/healthz").headers["Strict-Transport-Security"].startswith("max-age=")


def test_unknown_routes_and_methods_answer_json_errors(serve) -> None:
    client, _, _ = serve()
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong_method = client.get("/v1/chat", headers={"Origin": ORIGIN})
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
