"""Readiness as /readyz sees it: the published index must load and the backend must answer."""

from __future__ import annotations

import pytest

from assistant.config import Settings
from assistant.factory import build_pipeline

pytestmark = pytest.mark.integration


def test_ready_with_a_published_index_and_the_extractive_backend(example_index: Settings) -> None:
    assert build_pipeline(example_index, backend="extractive").ready() == {"index": True, "llm": True}


def test_not_ready_without_a_published_index(tmp_path, embedder) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)
    assert build_pipeline(settings, backend="extractive").ready()["index"] is False


def test_not_ready_when_the_tgi_server_is_unreachable(example_index: Settings) -> None:
    settings = example_index.model_copy(deep=True)
    settings.tgi.url = "http://127.0.0.1:9"  # discard port: nothing listens
    checks = build_pipeline(settings, backend="tgi").ready()
    assert checks == {"index": True, "llm": False}


def test_local_backend_is_ready_when_its_model_file_is_there(example_index: Settings) -> None:
    assert build_pipeline(example_index, backend="local").ready()["llm"] is True
