"""No response body of any route carries operator text: the data directory's path above all.

The real app and the real pipeline (extractive backend) in three broken states a fresh or
unlucky deployment meets: nothing published yet, a damaged published index, and a config
error raised during a query (an embedding model path that does not exist, under the data
directory). Every route the app has is called, with and without a session.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.errors import USER_MESSAGES
from assistant.factory import build_pipeline, build_retriever
from assistant.generations import current_id, generation_path
from assistant.store import Store
from bots.web.app import create_app
from tests.integration.web_harness import ORIGIN, auth, chat, open_session, running, web_settings

pytestmark = pytest.mark.integration


def _broken(state: str, example_index: Settings, tmp_path: Path, embedder: Embedder) -> tuple[Path, Embedder]:
    data_dir = tmp_path / "var-SECRET-DATA-DIR"
    if state == "no_index":
        data_dir.mkdir()
        return data_dir, embedder
    shutil.copytree(example_index.data_dir, data_dir, ignore=shutil.ignore_patterns("store.sqlite*"))
    if state == "bad_index":
        (generation_path(data_dir, current_id(data_dir) or "") / "public.faiss").write_bytes(b"garbage")
        return data_dir, embedder
    # config_error: the configured model is a path (under the data dir) that does not exist
    return data_dir, Embedder(str(data_dir / "models" / "missing-model"))


@pytest.mark.parametrize("state", ["no_index", "bad_index", "config_error"])
def test_no_route_shows_the_data_dir_or_operator_text(state: str, example_index: Settings, embedder: Embedder,
                                                      tmp_path: Path) -> None:
    data_dir, query_embedder = _broken(state, example_index, tmp_path, embedder)
    settings = web_settings(data_dir)
    store = Store(tmp_path / "store.sqlite")
    retriever = build_retriever(settings, embedder=query_embedder)
    pipeline = build_pipeline(settings, store=store, backend="extractive", retriever=retriever)
    app = create_app(settings, pipeline=pipeline, store=store)
    forbidden = [str(data_dir), "SECRET-DATA-DIR", "missing-model", "Traceback", "ASSISTANT_"]
    bodies: list[tuple[str, str]] = []

    with running(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
        assert ready.json()["reason"] in {"no index published yet", "published index cannot be loaded",
                                          "LLM backend not reachable"} or state == "config_error"
        bodies.append(("/readyz", ready.text))

        token = open_session(client)
        response, events = chat(client, token, "How do I set up recurring invoices?")
        bodies.append(("chat sse", response.text))
        assert events[-1][0] == "error"
        assert events[-1][1]["message"] in USER_MESSAGES.values()
        as_json = client.post("/v1/chat", json={"message": "How do I refund a payment?"},
                              headers=auth(token, accept="application/json"))
        assert as_json.status_code in (500, 503)
        assert as_json.json()["error"]["message"] in USER_MESSAGES.values()
        bodies.append(("chat json", as_json.text))

        paths = client.get("/openapi.json").json()["paths"]
        for template, operations in paths.items():  # everything else the app documents, with and without a session
            path = re.sub(r"\{[^}]+\}", "x", template)
            for method in sorted(m.upper() for m in operations if m in ("get", "post", "put", "patch", "delete")):
                for headers in ({"Origin": ORIGIN}, auth(token)):
                    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
                    got = client.request(method, path, headers=headers, **kwargs)
                    bodies.append((f"{method} {path}", got.text))
        for path in ("/static/widget.js", "/no/such/page", "/v1/no-such-route"):
            bodies.append((path, client.get(path, headers={"Origin": ORIGIN}).text))

    leaks = [(where, word) for where, text in bodies for word in forbidden if word in text]
    assert leaks == []
    assert len(bodies) > 20
