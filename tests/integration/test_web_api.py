"""The web API against a real uvicorn server on 127.0.0.1 with the real answer pipeline.

The pipeline is the real one (hybrid retrieval over the example index: real embedding model,
FAISS files, SQLite) with the ``extractive`` backend, recording into a real SQLite store.
Each test starts its own server so rate limits and settings do not leak between tests.
"""

from __future__ import annotations

import gc
import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.config import Settings
from assistant.schemas import AnswerRequest, DoneEvent
from assistant.store import Store
from bots.web.app import create_app
from bots.web.tokens import SessionTokens, identity_hash
from tests.integration.web_harness import (
    IDENTITY_SECRET,
    ORIGIN,
    SECRET,
    auth,
    chat,
    open_session,
    running,
    web_settings,
)

pytestmark = pytest.mark.integration

CANARIES = ("CANARY-INTERNAL-RUNBOOK-4F7A", "CANARY-INTERNAL-TICKET-9B2C")
QUESTION = "How do I set up recurring invoices?"


@pytest.fixture(scope="module")
def web_data_dir(example_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the example index: these tests write a store and hand-off files."""
    target = tmp_path_factory.mktemp("web-api") / "data"
    shutil.copytree(example_index.data_dir, target, ignore=shutil.ignore_patterns("store.sqlite*", "handoffs"))
    return target


@pytest.fixture(scope="module")
def retriever(web_data_dir: Path, embedder):
    from assistant.factory import build_retriever

    return build_retriever(Settings(data_dir=web_data_dir, _env_file=None), embedder=embedder)


@dataclass
class Served:
    client: httpx.Client
    store: Store
    settings: Settings
    pipeline: Any


@pytest.fixture
def serve(web_data_dir: Path, retriever, tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start a server with the real extractive pipeline; keyword arguments are web settings."""
    from assistant.factory import build_pipeline

    with ExitStack() as stack:
        def start(**web: Any) -> Served:
            settings = web_settings(web_data_dir, **web)
            store = Store(tmp_path / f"store-{time.monotonic_ns()}.sqlite")
            pipeline = build_pipeline(settings, store=store, backend="extractive", retriever=retriever)
            base = stack.enter_context(running(create_app(settings, pipeline=pipeline, store=store)))
            client = stack.enter_context(httpx.Client(base_url=base, timeout=60))
            return Served(client, store, settings, pipeline)

        yield start


def _names(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in events]


def _no_canary(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text


# ------------------------------------------------------------------ health and answers


def test_healthz_needs_no_origin_and_readyz_reports_checks(serve) -> None:
    s = serve()
    health = s.client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = s.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_the_server_loads_model_and_index_before_its_first_question(web_data_dir: Path, retriever,
                                                                    tmp_path: Path) -> None:
    """``assistant serve`` passes its pipeline in: the app warms it at startup all the same, then
    freezes that heap from the cyclic collector until it stops (bots/web/app.py)."""
    from assistant.factory import build_pipeline

    settings = web_settings(web_data_dir)
    store = Store(tmp_path / "store.sqlite")
    pipeline = build_pipeline(settings, store=store, backend="extractive", retriever=retriever)
    warmed: list[bool] = []
    warm = pipeline.warm

    def counted() -> None:
        warmed.append(True)
        warm()

    pipeline.warm = counted  # type: ignore[method-assign]
    with running(create_app(settings, pipeline=pipeline, store=store)):
        assert len(warmed) == 1  # before any request
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_chat_streams_sources_first_tokens_then_done(serve) -> None:
    s = serve()
    token = open_session(s.client)
    response, events = chat(s.client, token, QUESTION)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    names = _names(events)
    assert names[0] == "sources" and names[-1] == "done"
    assert set(names[1:-1]) == {"token"}
    done = events[-1][1]
    assert set(done) >= {"conversation_id", "answer", "abstained", "sources", "answer_id"}
    assert done["abstained"] is False
    assert done["sources"] and all(src["url"].startswith("https://help.ledgerly.example/") for src in done["sources"])
    assert "Recurring invoices" in [src["title"] for src in done["sources"]]
    streamed = "".join(data["text"] for name, data in events if name == "token")
    assert streamed.strip() and streamed.split()[:5] == done["answer"].split()[:5]
    assert not {"chunk_id", "path", "score", "audience"} & set(done["sources"][0])  # nothing internal


def test_json_variant_answers_one_object_with_the_same_keys(serve) -> None:
    s = serve()
    token = open_session(s.client)
    response = s.client.post("/v1/chat", json={"message": QUESTION},
                             headers=auth(token, accept="application/json"))
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) >= {"conversation_id", "answer", "abstained", "sources"}
    assert body["sources"] and body["answer"]


def test_question_without_evidence_abstains(serve) -> None:
    s = serve()
    token = open_session(s.client)
    _, events = chat(s.client, token, "What is the weather like on Mars today?")
    done = events[-1][1]
    assert events[-1][0] == "done" and done["abstained"] is True and done["sources"] == []


def test_a_follow_up_in_the_widget_is_answered_from_the_conversations_article(serve) -> None:
    """The default extractive backend has no model to condense "How long does it take?": searched
    alone it was answered with how long ACH payments take to confirm. The conversation read from the
    store gives it its topic (assistant/follow_up.py)."""
    s = serve()
    token = open_session(s.client)
    _, first = chat(s.client, token, "How do I refund a card payment?")
    _, second = chat(s.client, token, "How long does it take?", first[-1][1]["conversation_id"])
    done = second[-1][1]
    assert done["sources"][0]["title"] == "Refunds and partial refunds"
    assert "Cards: 5–10 business days" in done["answer"].split("\n\n")[1], done["answer"]


def test_follow_up_keeps_memory_and_only_the_owner_reads_the_conversation(serve) -> None:
    s = serve()
    token = open_session(s.client)
    _, first = chat(s.client, token, QUESTION)
    conversation_id = first[-1][1]["conversation_id"]
    _, second = chat(s.client, token, "Can I pause them?", conversation_id)
    assert second[-1][1]["conversation_id"] == conversation_id
    assert [t.role for t in s.store.history(conversation_id)] == ["user", "assistant", "user", "assistant"]

    mine = s.client.get(f"/v1/conversations/{conversation_id}", headers=auth(token))
    assert mine.status_code == 200
    assert mine.json()["turns"][0]["text"] == QUESTION

    stranger = open_session(s.client)
    for response in (
        s.client.get(f"/v1/conversations/{conversation_id}", headers=auth(stranger)),
        s.client.get("/v1/conversations/does-not-exist", headers=auth(token)),
        chat(s.client, stranger, "and then?", conversation_id)[0],
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "conversation_not_found"


def test_feedback_is_stored_for_the_answers_owner_only(serve) -> None:
    s = serve()
    token = open_session(s.client)
    _, events = chat(s.client, token, QUESTION)
    answer_id = events[-1][1]["answer_id"]
    response = s.client.post("/v1/feedback", json={"answer_id": answer_id, "rating": "down",
                                                   "comment": "Not what I asked"}, headers=auth(token))
    assert response.status_code == 201 and response.json() == {"status": "recorded"}
    [stored] = s.store.feedback(answer_id)
    assert (stored["rating"], stored["comment"], stored["channel"]) == (-1, "Not what I asked", "web")

    stranger = open_session(s.client)
    refused = s.client.post("/v1/feedback", json={"answer_id": answer_id, "rating": "up"}, headers=auth(stranger))
    assert refused.status_code == 404 and len(s.store.feedback(answer_id)) == 1


def test_handoff_drops_the_transcript_with_sources_and_records_it(serve) -> None:
    s = serve()
    token = open_session(s.client)
    _, events = chat(s.client, token, QUESTION)
    done = events[-1][1]
    response = s.client.post("/v1/handoff", headers=auth(token), json={
        "conversation_id": done["conversation_id"], "email": "ana@example.com", "note": "Please call me",
        "page_url": "https://help.ledgerly.example/invoicing"})
    assert response.status_code == 202, response.text
    handoff_id = response.json()["handoff_id"]

    dropped = json.loads((s.settings.data_dir / "handoffs" / f"{handoff_id}.json").read_text())
    assert dropped["email"] == "ana@example.com" and dropped["note"] == "Please call me"
    user, assistant = dropped["transcript"]
    assert user == {**user, "role": "user", "text": QUESTION}
    assert assistant["text"] == done["answer"]
    assert [(x["title"], x["url"]) for x in assistant["sources"]] == [
        (x["title"], x["url"]) for x in done["sources"]]

    [record] = s.store.handoffs(done["conversation_id"])
    assert (record["status"], record["destination"], record["turn_id"]) == ("sent", "file", done["answer_id"])


# ------------------------------------------------------------------ abuse limits


def test_session_rate_limit_answers_429_with_retry_after(serve) -> None:
    s = serve(rate_per_minute_session=2)
    token = open_session(s.client)
    for _ in range(2):
        assert chat(s.client, token, QUESTION)[0].status_code == 200
    refused, _ = chat(s.client, token, QUESTION)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN  # the widget can read it


def test_ip_rate_limit_holds_across_new_sessions(serve) -> None:
    s = serve(rate_per_minute_ip=3)
    for _ in range(3):
        assert chat(s.client, open_session(s.client), QUESTION)[0].status_code == 200
    refused, _ = chat(s.client, open_session(s.client), QUESTION)
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_daily_quota_answers_429_until_midnight(serve) -> None:
    s = serve(daily_quota_ip=2)
    token = open_session(s.client)
    for _ in range(2):
        assert chat(s.client, token, QUESTION)[0].status_code == 200
    refused, _ = chat(s.client, token, QUESTION)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "daily_quota_exceeded"
    assert 1 <= int(refused.headers["Retry-After"]) <= 86_400


def test_oversize_and_malformed_input_is_refused_with_clear_errors(serve) -> None:
    s = serve(max_question_chars=100, max_request_bytes=4096)
    token = open_session(s.client)
    too_long = chat(s.client, token, "x" * 101)[0]
    assert too_long.status_code == 413 and too_long.json()["error"]["code"] == "message_too_long"
    assert "100 characters" in too_long.json()["error"]["message"]
    huge = s.client.post("/v1/chat", content=json.dumps({"message": "y" * 5000}), headers={
        **auth(token), "Content-Type": "application/json"})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"
    for body in ({"message": ""}, {"message": "   "}, {"message": "hi", "audience": "internal"}, {}):
        bad = s.client.post("/v1/chat", json=body, headers=auth(token))
        assert bad.status_code == 422, body
        assert bad.json()["error"]["code"] == "invalid_request"
    garbage = s.client.post("/v1/chat", content=b"{not json",
                            headers={**auth(token), "Content-Type": "application/json"})
    assert garbage.status_code == 422 and "Traceback" not in garbage.text


def test_long_conversation_must_start_over(serve) -> None:
    s = serve(max_conversation_turns=2)
    token = open_session(s.client)
    _, events = chat(s.client, token, QUESTION)
    refused, _ = chat(s.client, token, "one more", events[-1][1]["conversation_id"])
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "conversation_full"


# ------------------------------------------------------------------ origin, tokens, identity


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null", "https://help.ledgerly.example.evil.example"])
def test_unlisted_or_missing_origin_is_refused_on_every_v1_call(serve, origin: str | None) -> None:
    s = serve()
    token = open_session(s.client)
    headers = {"Authorization": f"Bearer {token}"} | ({"Origin": origin} if origin else {})
    calls = [
        s.client.post("/v1/session", headers=headers),
        s.client.post("/v1/chat", json={"message": QUESTION}, headers=headers),
        s.client.post("/v1/feedback", json={"answer_id": "x", "rating": "up"}, headers=headers),
        s.client.post("/v1/handoff", json={"conversation_id": "x"}, headers=headers),
        s.client.get("/v1/conversations/x", headers=headers),
        s.client.options("/v1/chat", headers={**headers, "Access-Control-Request-Method": "POST"}),
    ]
    for response in calls:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in response.headers


def test_cors_preflight_from_an_allowed_origin(serve) -> None:
    s = serve()
    response = s.client.options("/v1/chat", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "access-control-allow-credentials" not in response.headers  # tokens, never cookies


def test_missing_expired_or_forged_token_is_refused(serve) -> None:
    s = serve()
    past = SessionTokens(SECRET.encode(), ttl_s=60, max_age_s=600, clock=lambda: time.time() - 3600)
    expired, _ = past.issue(origin=ORIGIN)
    forged, _ = SessionTokens(b"not-the-server-secret-at-all", ttl_s=600, max_age_s=600).issue(origin=ORIGIN)
    real = open_session(s.client)
    tampered = real[:-3] + ("xyz" if not real.endswith("xyz") else "abc")
    cases = {"missing_token": {"Origin": ORIGIN}, "expired_token": auth(expired),
             "invalid_token": auth(forged)}
    for code, headers in cases.items():
        response = s.client.post("/v1/chat", json={"message": QUESTION}, headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == code
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for bad in (f"Bearer {tampered}", "Bearer", "Bearer .", f"Basic {real}", real):
        response = s.client.get("/v1/conversations/x", headers={"Origin": ORIGIN, "Authorization": bad})
        assert response.status_code == 401


def test_token_issued_to_one_site_does_not_work_from_another(serve, web_data_dir: Path) -> None:
    s = serve()
    other = "https://partner.ledgerly.example"
    settings = Settings(data_dir=web_data_dir, allowed_origins=[ORIGIN, other], _env_file=None,
                        web={"session_secret": SECRET})
    store = Store(web_data_dir.parent / "cross-origin.sqlite")
    with running(create_app(settings, pipeline=s.pipeline, store=store)) as base, httpx.Client(base_url=base) as c:
        token = open_session(c, other)
        response = c.get("/v1/conversations/x", headers=auth(token, ORIGIN))
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"


def test_identity_verification_accepts_signed_ids_and_refuses_forged_ones(serve) -> None:
    s = serve()
    good = identity_hash(IDENTITY_SECRET.encode(), "customer-42")
    signed = s.client.post("/v1/session", json={"user_id": "customer-42", "user_hash": good},
                           headers={"Origin": ORIGIN})
    assert signed.status_code == 200 and signed.json()["identified"] is True
    for body in ({"user_id": "customer-43", "user_hash": good},
                 {"user_id": "customer-42", "user_hash": "0" * 64}):
        forged = s.client.post("/v1/session", json=body, headers={"Origin": ORIGIN})
        assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_identity"
    half = s.client.post("/v1/session", json={"user_id": "customer-42"}, headers={"Origin": ORIGIN})
    assert half.status_code == 422

    # A verified customer owns their conversations across sessions (a new tab, a new day).
    _, events = chat(s.client, signed.json()["token"], QUESTION)
    conversation_id = events[-1][1]["conversation_id"]
    again = s.client.post("/v1/session", json={"user_id": "customer-42", "user_hash": good},
                          headers={"Origin": ORIGIN}).json()["token"]
    assert s.client.get(f"/v1/conversations/{conversation_id}", headers=auth(again)).status_code == 200
    assert s.client.get(f"/v1/conversations/{conversation_id}",
                        headers=auth(open_session(s.client))).status_code == 404


def test_session_renewal_keeps_access_to_the_conversation(serve) -> None:
    s = serve()
    token = open_session(s.client)
    _, events = chat(s.client, token, QUESTION)
    renewed = s.client.post("/v1/session", headers={"Origin": ORIGIN, "Authorization": f"Bearer {token}"})
    new_token = renewed.json()["token"]
    conversation_id = events[-1][1]["conversation_id"]
    assert s.client.get(f"/v1/conversations/{conversation_id}", headers=auth(new_token)).status_code == 200


# ------------------------------------------------------------------ audience boundary


CANARY_QUESTIONS = (
    *CANARIES,
    "What is the approval reference code for refunds above the limit?",
    "Which escalation code goes in the PagerDuty incident note?",
    "payment processor outage runbook page on-call",
    "refund approval limits team lead finance",
    "fraud review procedure",
    "What internal ref should not be pasted into the reply?",
)


def test_internal_canaries_never_reach_any_response(serve) -> None:
    s = serve()
    # The canaries are in the index: the same questions as staff do find them.
    staff_answers = " ".join(
        e.answer for q in CANARY_QUESTIONS
        for e in s.pipeline.stream(AnswerRequest(question=q, audience="internal", channel="cli"))
        if isinstance(e, DoneEvent))
    assert any(canary in staff_answers for canary in CANARIES)

    token = open_session(s.client)
    seen: list[str] = []
    conversation_id = None
    for question in CANARY_QUESTIONS:
        # Questions that quote a canary get their own conversation: the visitor's own words come
        # back in their transcript, and that is not a leak. The rest share the one checked whole.
        quoting = any(canary in question for canary in CANARIES)
        response, events = chat(s.client, token, question, None if quoting else conversation_id)
        assert response.status_code == 200 and events[-1][0] == "done"
        if not quoting:
            conversation_id = events[-1][1]["conversation_id"]
        seen.append(response.text)
        as_json = s.client.post("/v1/chat", json={"message": question},
                                headers=auth(token, accept="application/json"))
        seen.append(as_json.text)
    seen.append(s.client.get(f"/v1/conversations/{conversation_id}", headers=auth(token)).text)
    handoff = s.client.post("/v1/handoff", json={"conversation_id": conversation_id}, headers=auth(token))
    seen.append(handoff.text)
    seen.append((s.settings.data_dir / "handoffs" / f"{handoff.json()['handoff_id']}.json").read_text())
    for text in seen:
        _no_canary(text)


# ------------------------------------------------------------------ operations


def test_metrics_count_requests_stages_answers_and_feedback(serve) -> None:
    s = serve()
    token = open_session(s.client)
    _, events = chat(s.client, token, QUESTION)
    chat(s.client, token, "What is the weather like on Mars today?")
    s.client.post("/v1/feedback", json={"answer_id": events[-1][1]["answer_id"], "rating": "up"}, headers=auth(token))
    text = s.client.get("/metrics").text
    assert 'assistant_web_requests_total{method="POST",route="/v1/chat",status="200"} 2.0' in text
    assert 'assistant_answers_total{mode="stream"} 2.0' in text
    assert "assistant_abstentions_total 1.0" in text
    assert 'assistant_feedback_total{rating="up"} 1.0' in text
    assert 'assistant_answer_stage_seconds_count{stage="retrieve"}' in text
    assert "assistant_web_first_event_seconds_count 2.0" in text


def test_security_headers_and_openapi(serve) -> None:
    s = serve()
    demo = s.client.get("/demo")
    assert demo.status_code == 200 and "widget.js" in demo.text
    csp = demo.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    api = s.client.get("/healthz")
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert api.headers["Referrer-Policy"] == "no-referrer"
    assert api.headers["Content-Security-Policy"].startswith("default-src 'none'")
    widget = s.client.get("/static/widget.js")
    assert widget.status_code == 200 and widget.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", widget.text)
    spec = s.client.get("/openapi.json").json()
    assert {"/v1/session", "/v1/chat", "/v1/feedback", "/v1/handoff", "/v1/conversations/{conversation_id}"} <= set(
        spec["paths"])
    assert "audience" not in json.dumps(spec["components"]["schemas"]["ChatRequest"])
