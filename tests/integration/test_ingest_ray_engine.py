"""``--engine ray`` on a real local Ray (2 CPUs) writes the generation the local engine writes.

Ray is slow to start on a small machine, so one Ray runtime serves the whole module and the
cases are few: a full run compared row by row with the local engine's example index, then a run
with one edited document (everything else reused, only the edited part re-embedded).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.config import Settings
from tests.conftest import EXAMPLE_SOURCES

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

pytestmark = pytest.mark.integration


def generation_rows(data_dir: Path) -> tuple[list[tuple[Any, ...]], np.ndarray, list[tuple[Any, ...]]]:
    """(chunk rows without vectors, vectors, document rows) of the published generation, by chunk id."""
    current = (data_dir / "CURRENT").read_text().strip()
    con = sqlite3.connect(f"file:{data_dir / 'generations' / current / 'chunks.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT chunk_id, doc_key, audience, faiss_id, title, section, url, text, embed_text,"
                           " content_hash, untrusted, metadata, vector FROM chunks ORDER BY chunk_id").fetchall()
        docs = con.execute("SELECT * FROM documents ORDER BY 1").fetchall()
    finally:
        con.close()
    vectors = np.stack([np.frombuffer(r[-1], dtype=np.float32) for r in rows])
    return [r[:-1] for r in rows], vectors, docs


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def ray_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example corpus (one test edits a document)."""
    root = tmp_path_factory.mktemp("ray-corpus")
    shutil.copytree(EXAMPLE_SOURCES.parent, root / "examples",
                    ignore=shutil.ignore_patterns("generated", "eval", "tools"))
    return root / "examples" / "sources.yaml"


@pytest.fixture(scope="module")
def ray_index(local_ray: None, ray_corpus: Path, embedder: Any,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Any]:
    from ingest.jobs import run_ingest

    settings = Settings(data_dir=tmp_path_factory.mktemp("ray-index"), _env_file=None)
    report = run_ingest(settings, ray_corpus, embedder=embedder, engine="ray")
    return settings, report


def test_ray_engine_writes_the_same_generation_as_the_local_engine(
        ray_index: tuple[Settings, Any], example_index: Settings) -> None:
    settings, report = ray_index
    assert report.published and report.engine == "ray"
    local = json.loads(next((example_index.data_dir / "reports").glob("*.json")).read_text())
    assert local["engine"] == "local"
    for key in ("documents", "tickets", "chunks", "audiences", "redactions", "failures", "index_kind"):
        assert report.model_dump(mode="json")[key] == local[key], key

    rows, vectors, docs = generation_rows(settings.data_dir)
    ref_rows, ref_vectors, ref_docs = generation_rows(example_index.data_dir)
    assert rows == ref_rows  # same chunk ids, text, hashes, audiences and FAISS positions
    assert docs == ref_docs
    assert np.abs(vectors - ref_vectors).max() <= 1e-5

    import faiss

    current = (settings.data_dir / "CURRENT").read_text().strip()
    for audience, count in report.audiences.items():
        index = faiss.read_index(str(settings.data_dir / "generations" / current / f"{audience}.faiss"))
        assert index.ntotal == count


def test_ray_engine_reuses_unchanged_items_and_embeds_only_an_edited_document(
        ray_index: tuple[Settings, Any], ray_corpus: Path, embedder: Any) -> None:
    from ingest.jobs import run_ingest

    settings, first = ray_index
    edited = next((ray_corpus.parent / "docs" / "public").rglob("*.md"))
    edited.write_text(edited.read_text() + "\n\nRefunds to gift cards arrive within 2 business days.\n")
    again = run_ingest(settings, ray_corpus, embedder=embedder, engine="ray")
    assert again.published and again.previous_generation == first.generation and again.engine == "ray"
    assert again.documents.updated == 1 and again.documents.unchanged == first.documents.added - 1
    assert again.tickets.unchanged == first.tickets.added and again.tickets.updated == 0
    assert 0 < again.chunks.embedded < 5 and again.chunks.total >= first.chunks.total

    rows, vectors, _ = generation_rows(settings.data_dir)
    new = [i for i, r in enumerate(rows) if "gift cards arrive" in r[7]]
    assert len(new) == 1
    expected = embedder.encode([rows[new[0]][8]])[0]  # embed_text, embedded by the local path
    assert np.abs(vectors[new[0]] - expected).max() <= 1e-5


def test_ingest_cli_accepts_engine_ray_and_reports_it(tmp_path: Path) -> None:
    """The operator's command line: an unknown engine is refused before any work is done."""
    result = subprocess.run(
        [sys.executable, "-c", "from assistant.cli import main; main()", "ingest", "--config", str(EXAMPLE_SOURCES),
         "--json", "--engine", "spark"],
        env={"ASSISTANT_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "Unknown ingest engine 'spark'" in result.stderr and "--engine local or --engine ray" in result.stderr
    assert "Traceback" not in result.stderr
