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


class _FewWords:
    """The real embedder with a three-word vocabulary, so ingest's term table is quick to build."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def known_words(self) -> frozenset[str]:
        return frozenset({"tipping", "square", "invoice"})


class _Recording:
    """The remote file system, noting which files went up and which came down (``log``)."""

    def __init__(self, fs: Any, log: dict[str, list[list[str]]]) -> None:
        self.fs, self.log = fs, log

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fs, name)

    def put_file(self, local: str, remote: str, **kw: Any) -> Any:
        self.log["up"].append(remote.rsplit("/", 2)[-2:])
        return self.fs.put_file(local, remote, **kw)

    def get_file(self, remote: str, local: str, **kw: Any) -> Any:
        self.log["down"].append(remote.rsplit("/", 2)[-2:])
        return self.fs.get_file(remote, local, **kw)


def test_an_unchanged_term_table_is_copied_in_place_on_push_and_linked_on_sync(
        embedder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant import term_table
    from assistant.errors import IndexError_
    from ingest.jobs import run_ingest
    from tests.conftest import EXAMPLE_SOURCES

    real = index_sync._filesystem
    moved: dict[str, list[list[str]]] = {"up": [], "down": []}

    def recording(url: str) -> tuple[Any, str]:
        fs, root = real(url)
        return _Recording(fs, moved), root

    monkeypatch.setattr(index_sync, "_filesystem", recording)
    settings = Settings(data_dir=tmp_path / "ingest", _env_file=None, retrieval={"term_table_min_chunks": 0})
    remote, replica = (tmp_path / "bucket").as_uri(), tmp_path / "replica"
    table = term_table.VECTORS_FILE

    first = run_ingest(settings, EXAMPLE_SOURCES, embedder=_FewWords(embedder)).generation
    assert first is not None
    index_sync.push(settings.data_dir, remote)
    assert [first, table] in moved["up"]  # the first night: everything goes up
    index_sync.sync(remote, replica)

    second = run_ingest(settings, EXAMPLE_SOURCES, embedder=_FewWords(embedder)).generation
    assert second is not None and second != first
    index_sync.push(settings.data_dir, remote)
    uploaded = moved["up"]
    assert [second, "chunks.sqlite"] in uploaded and [second, table] not in uploaded
    assert [second, term_table.WORDS_FILE] not in uploaded
    bucket = tmp_path / "bucket" / "generations"
    assert (bucket / second / table).read_bytes() == (bucket / first / table).read_bytes()

    assert index_sync.sync(remote, replica) == second
    downloaded = moved["down"]
    assert [second, "chunks.sqlite"] in downloaded and [second, table] not in downloaded
    here = generations.generation_path(replica, second) / table
    assert here.stat().st_ino == (generations.generation_path(replica, first) / table).stat().st_ino
    assert term_table.TermTable.load(here.parent) is not None

    # A table that does not match its manifest (a transfer cut short) is refused, not published.
    fresh = tmp_path / "fresh"
    (bucket / second / table).write_bytes((bucket / second / table).read_bytes()[:-16])
    with pytest.raises(IndexError_, match=r"term_vectors\.npy does not match its manifest"):
        index_sync.sync(remote, fresh)
    assert generations.current_id(fresh) is None
    assert not any(p.name.startswith(generations.STAGING_PREFIX) for p in (fresh / "generations").iterdir())
