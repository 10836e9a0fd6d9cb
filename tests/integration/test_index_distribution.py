"""Index distribution for replicas: generations are read without writing next to them, and can be
pushed to and synced from object storage (an fsspec URL; a local directory here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from assistant import generations, index_sync
from assistant.config import Settings

pytestmark = pytest.mark.integration


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_serving_reads_a_generation_without_creating_or_touching_any_file(example_index: Settings,
                                                                          embedder: Any, tmp_path: Path) -> None:
    from assistant.factory import build_index_handle, build_retriever

    shared = tmp_path / "shared"  # what replicas mount read-only
    shutil.copytree(example_index.data_dir, shared, ignore=shutil.ignore_patterns("store.sqlite*", "reports"))
    before = snapshot(shared)
    settings = Settings(data_dir=shared, _env_file=None)
    handle = build_index_handle(settings, embedder)
    retriever = build_retriever(settings, embedder=embedder, index=handle)
    questions = ["How do I set up recurring invoices?", "refund a card payment", "export to CSV", "VAT rates"] * 4
    with ThreadPoolExecutor(4) as pool:  # several threads, each with its own read-only connection
        results = list(pool.map(lambda q: retriever.search(q, audience="public"), questions))
    assert all(r.passages for r in results)
    handle.close()
    assert snapshot(shared) == before  # no -journal/-wal/-shm, no lock or cache files, nothing rewritten


def test_push_then_sync_publishes_the_same_generation_on_a_replica(example_index: Settings, embedder: Any,
                                                                   tmp_path: Path) -> None:
    from ingest.jobs import run_ingest
    from tests.conftest import EXAMPLE_SOURCES

    ingest_dir = tmp_path / "ingest"
    shutil.copytree(example_index.data_dir, ingest_dir, ignore=shutil.ignore_patterns("store.sqlite*"))
    remote = (tmp_path / "bucket").as_uri()  # file:///...: the same code path as s3:// or gs://
    replica = tmp_path / "replica"

    assert index_sync.sync(remote, replica) is None  # nothing published yet: nothing to serve, no error
    first = index_sync.push(ingest_dir, remote)
    assert index_sync.remote_current(remote) == first
    assert index_sync.sync(remote, replica) == first
    assert generations.current_id(replica) == first
    local = generations.generation_path(replica, first)
    assert snapshot(local).keys() == snapshot(generations.generation_path(ingest_dir, first)).keys()
    assert (local / "chunks.sqlite").read_bytes() == (generations.generation_path(ingest_dir, first)
                                                      / "chunks.sqlite").read_bytes()
    unchanged = snapshot(replica / "generations")
    assert index_sync.sync(remote, replica) == first
    assert snapshot(replica / "generations") == unchanged  # already there: nothing downloaded again

    # The nightly run publishes a new generation (all reused: fast) and pushes it.
    settings = Settings(data_dir=ingest_dir, _env_file=None)
    second = run_ingest(settings, EXAMPLE_SOURCES, embedder=embedder).generation
    assert second is not None and second != first
    index_sync.push(ingest_dir, remote)
    assert index_sync.sync(remote, replica, keep=1) == second
    assert [g.id for g in generations.list_generations(replica)] == [second]  # pruned to one


def test_sync_refuses_an_incomplete_remote_generation_and_keeps_serving(example_index: Settings,
                                                                        tmp_path: Path) -> None:
    from assistant.errors import IndexError_

    remote_dir = tmp_path / "bucket"
    gen = index_sync.push(example_index.data_dir, remote_dir.as_uri())
    replica = tmp_path / "replica"
    index_sync.sync(remote_dir.as_uri(), replica)
    # A half-uploaded newer generation that CURRENT already names (an upload cut short by hand).
    broken = remote_dir / "generations" / "29990101T000000000000Z"
    shutil.copytree(remote_dir / "generations" / gen, broken)
    (broken / "public.faiss").unlink()
    (remote_dir / "CURRENT").write_text(broken.name + "\n")
    with pytest.raises(IndexError_, match=r"lacks public\.faiss"):
        index_sync.sync(remote_dir.as_uri(), replica)
    assert generations.current_id(replica) == gen  # still serving the last complete one
    assert not any(p.name.startswith(generations.STAGING_PREFIX) for p in (replica / "generations").iterdir())


def test_index_sync_command_once(example_index: Settings, tmp_path: Path) -> None:
    remote = (tmp_path / "bucket").as_uri()
    gen = index_sync.push(example_index.data_dir, remote)
    result = subprocess.run(
        [sys.executable, "-c", "from assistant.cli import main; main()", "index", "sync", remote],
        env={"ASSISTANT_DATA_DIR": str(tmp_path / "replica"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"serving {gen}" in result.stdout
