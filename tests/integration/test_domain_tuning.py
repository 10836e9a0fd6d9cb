"""Domain tuning end to end: `assistant ingest` trains the query adapter into the generation it
publishes (real embedding model, SQLite, FAISS), and queries use it only when it is there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant import generations
from assistant.config import Settings
from assistant.domain_tuning import ADAPTER_FILE, DomainAdapter
from assistant.factory import build_retriever
from ingest.jobs import run_ingest

pytestmark = pytest.mark.integration

EXAMPLE_SOURCES = Path(__file__).resolve().parents[2] / "examples" / "sources.yaml"
QUESTION = "my customer paid the same invoice twice by card, how do I give one of the payments back?"


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory, example_index: Settings, embedder) -> Settings:
    """The example index re-ingested (everything reused) with domain tuning on, small bounds."""
    data_dir = tmp_path_factory.mktemp("tuned") / "data"
    shutil.copytree(example_index.data_dir, data_dir, ignore=shutil.ignore_patterns("store.sqlite*"))
    settings = Settings(data_dir=data_dir, _env_file=None)
    settings.retrieval.domain_tuning = True
    settings.retrieval.domain_tuning_pairs = 120
    settings.retrieval.domain_tuning_steps = 30
    report = run_ingest(settings, EXAMPLE_SOURCES, embedder=embedder)
    assert report.published, report.message
    assert "domain_tuning" in report.timings
    return settings


def test_ingest_stores_an_adapter_per_audience_in_the_generation_it_publishes(tuned: Settings) -> None:
    _, path = generations.resolve(tuned.data_dir)
    assert (path / ADAPTER_FILE).exists()
    manifest = generations.read_manifest(path)
    meta = manifest["domain_tuning"]
    assert meta["params"]["steps"] == 30 and meta["params"]["max_pairs"] == 120
    assert set(meta["trained"]) == {"public", "internal"}
    assert all(t["pairs"] == 120 for t in meta["trained"].values())
    adapter = DomainAdapter.load(path)
    assert adapter is not None and set(adapter.matrices) == {"public", "internal"}
    # internal questions read both partitions, public ones only public: two different adapters
    assert meta["trained"]["internal"]["chunks"] > meta["trained"]["public"]["chunks"]


def test_queries_use_a_stored_adapter_and_an_index_without_one_ranks_as_before(
        tuned: Settings, example_index: Settings, embedder) -> None:
    plain = build_retriever(example_index, embedder=embedder)
    with_adapter = build_retriever(tuned, embedder=embedder)
    for audience in ("public", "internal"):
        before = plain.search(QUESTION, audience=audience)
        assert "domain" not in before.timings_ms  # an index built without tuning: unchanged path
        after = with_adapter.search(QUESTION, audience=audience)
        assert "domain" in after.timings_ms
        assert after.passages, "the adapter reorders, it never removes"
        assert {p.chunk.audience for p in after.passages} <= ({"public"} if audience == "public"
                                                              else {"public", "internal"})
    tuned.retrieval.domain_weight = 0.0
    try:
        ignored = build_retriever(tuned, embedder=embedder).search(QUESTION, audience="public")
    finally:
        tuned.retrieval.domain_weight = 1.0
    assert "domain" not in ignored.timings_ms
    assert [p.chunk.chunk_id for p in ignored.passages] == [
        p.chunk.chunk_id for p in plain.search(QUESTION, audience="public").passages]


def test_a_nightly_run_over_unchanged_chunks_copies_the_adapter_instead_of_training(tuned: Settings,
                                                                                    embedder) -> None:
    first_id, first = generations.resolve(tuned.data_dir)
    report = run_ingest(tuned, EXAMPLE_SOURCES, embedder=embedder)
    assert report.published, report.message
    new_id, path = generations.resolve(tuned.data_dir)
    assert new_id != first_id
    meta = generations.read_manifest(path)["domain_tuning"]
    assert meta["reused_from"] == first_id
    assert (path / ADAPTER_FILE).read_bytes() == (first / ADAPTER_FILE).read_bytes()
    tuned.retrieval.domain_tuning_steps = 31  # other bounds: trained again, not copied
    try:
        again = run_ingest(tuned, EXAMPLE_SOURCES, embedder=embedder)
    finally:
        tuned.retrieval.domain_tuning_steps = 30
    assert again.published, again.message
    _, latest = generations.resolve(tuned.data_dir)
    assert "reused_from" not in generations.read_manifest(latest)["domain_tuning"]
