"""Resources stay bounded under sustained answering: 300 answers through the real app and pipeline.

A server used to open a SQLite connection per answer (one thread per answer, each with its
own connections to ``chunks.sqlite`` and the store) and never close them: it ran out of file
descriptors after about a thousand answers. Here the open descriptors and threads of the
process are counted after a warm-up and after 300 more answers from 8 concurrent clients.
"""

from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings
from assistant.factory import build_pipeline, build_retriever
from assistant.store import Store
from bots.web.app import create_app
from tests.integration.web_harness import chat, open_session, running, web_settings

pytestmark = pytest.mark.integration

CLIENTS = 8
ANSWERS = 300
# Most questions are off-topic and abstain after retrieval (cheap); one in ten gets a full extractive
# answer. Both paths open the generation's connections and write the store; the full answer costs
# about a CPU-second (sentence embeddings), which would make 300 of them take minutes.
QUESTIONS = (
    "How do I set up recurring invoices?",
    "What is the weather like on Mars today?",
    "Who won the football world cup in 1998?",
    "Give me a recipe for lasagna",
    "How tall is Mount Everest?",
    "What is the capital of Mongolia?",
    "Which planet has the most moons?",
    "How do I train for a marathon?",
    "What year did the Berlin wall fall?",
    "Recommend a good science fiction novel",
)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_300_answers_leave_descriptors_and_threads_bounded(example_index: Settings, embedder,
                                                          tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(example_index.data_dir, data_dir, ignore=shutil.ignore_patterns("store.sqlite*"))
    settings = web_settings(data_dir, workers=4, queue=64)
    settings.retrieval.abstention = "cosine"  # off-topic questions abstain on the best cosine alone
    store = Store(settings.store_path)
    retriever = build_retriever(settings, embedder=embedder)
    pipeline = build_pipeline(settings, store=store, backend="extractive", retriever=retriever)
    app = create_app(settings, pipeline=pipeline, store=store)

    with running(app) as base, ThreadPoolExecutor(CLIENTS) as clients:
        local = threading.local()

        def answer(n: int) -> str:
            client = getattr(local, "client", None)
            if client is None:
                local.client = client = httpx.Client(base_url=base, timeout=60)
                local.token = open_session(client)
            _, events = chat(client, local.token, QUESTIONS[n % len(QUESTIONS)])
            name, data = events[-1]
            return "abstained" if name == "done" and data["abstained"] else name

        warm_up = list(clients.map(answer, range(2 * len(QUESTIONS))))  # pools and caches fill
        assert set(warm_up) == {"done", "abstained"}
        fds, threads = _fds(), threading.active_count()

        outcomes = list(clients.map(answer, range(ANSWERS)))
        fds_after, threads_after = _fds(), threading.active_count()

    assert outcomes.count("done") == ANSWERS // len(QUESTIONS)
    assert outcomes.count("abstained") == ANSWERS - ANSWERS // len(QUESTIONS)
    assert fds_after - fds <= 8, f"descriptors grew from {fds} to {fds_after} over {ANSWERS} answers"
    assert threads_after - threads <= 2, f"threads grew from {threads} to {threads_after}"
    assert pipeline.pool.admitted == 0
    pipeline.close()
    store.close()
