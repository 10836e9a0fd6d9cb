"""Hot reload that holds up: a bad publish keeps the last good generation serving, failed loads
are retried with backoff (not per query), and a retired generation's files are closed once no
query holds it. Real FAISS files and SQLite databases, copied from the example index."""

from __future__ import annotations

import gc
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from assistant import generations, index
from assistant.config import Settings
from assistant.errors import NoIndexError
from assistant.index import IndexHandle, LoadedGeneration

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def data_dir(example_index: Settings, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(example_index.data_dir, target, ignore=shutil.ignore_patterns("store.sqlite*"))
    return target


def _publish_copy(data_dir: Path, damage: str | None = None) -> str:
    """Publish a copy of the current generation under a new id, optionally damaged."""
    source = generations.generation_path(data_dir, generations.current_id(data_dir) or "")
    new_id = generations.new_generation_id(data_dir)
    target = generations.generation_path(data_dir, new_id)
    shutil.copytree(source, target)
    if damage == "corrupt-faiss":
        (target / "public.faiss").write_bytes(b"not a faiss index")
    elif damage == "mismatched-faiss":  # another generation's (empty) vectors beside these rows
        import faiss

        faiss.write_index(faiss.IndexFlatIP(384), str(target / "public.faiss"))
    elif damage == "corrupt-sqlite":
        (target / "chunks.sqlite").write_bytes(b"\0" * 4096)
    generations.publish(data_dir, new_id)
    return new_id


def _open_files(path: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(path)):
                count += 1
        except OSError:
            continue
    return count


@pytest.mark.parametrize("damage", ["corrupt-faiss", "mismatched-faiss", "corrupt-sqlite"])
def test_a_bad_publish_keeps_the_last_good_generation_and_retries_with_backoff(
        data_dir: Path, damage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    handle = IndexHandle(data_dir, clock=clock)
    good = handle.current().id
    attempts: list[str | None] = []

    class Counting(LoadedGeneration):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            attempts.append(generations.current_id(data_dir))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(index, "LoadedGeneration", Counting)
    bad = _publish_copy(data_dir, damage)

    for _ in range(50):  # a query burst: one load attempt, every query answered from the good one
        assert handle.current().id == good
    assert attempts == [bad]
    status = handle.status()
    assert (status.serving, status.failed) == (good, bad)
    assert status.reason == ("newest index failed to load (published index cannot be loaded); "
                             "serving the previous one")
    assert str(data_dir) not in status.reason

    clock.now += 1.01  # first retry after 1 s, then 2 s, 4 s ...
    handle.current()
    assert len(attempts) == 2
    clock.now += 1.5
    handle.current()
    assert len(attempts) == 2
    clock.now += 0.6
    handle.current()
    assert len(attempts) == 3

    generations.rollback(data_dir, good)  # the operator rolls back: the good one again, no reload
    assert handle.current().id == good and handle.status().failed is None
    recovered = _publish_copy(data_dir)  # a good publish after the bad one loads at once
    assert handle.current().id == recovered and handle.status() == index.IndexStatus(recovered, None, None)


def test_nothing_published_is_reported_without_paths_and_loads_when_published(
        data_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    clock = Clock()
    handle = IndexHandle(empty, clock=clock)
    with pytest.raises(NoIndexError):
        handle.current()
    status = handle.status()
    assert status == index.IndexStatus(None, None, "no index published yet")
    shutil.copytree(data_dir, empty, dirs_exist_ok=True)  # the first ingest publishes
    assert handle.current().id == generations.current_id(empty)
    assert handle.status().reason is None


def test_a_retired_generation_is_released_once_no_query_holds_it(data_dir: Path, embedder) -> None:
    """By reference counting alone: the web server freezes the cyclic collector's view of its
    startup heap (bots/web/app.py), so a generation that needed a collection to go would stay."""
    gc.collect()
    gc.disable()
    try:
        _retire_and_release(data_dir, embedder)
    finally:
        gc.enable()


def _retire_and_release(data_dir: Path, embedder) -> None:
    handle = IndexHandle(data_dir)
    old = handle.current()
    old_path = old.path
    query = np.asarray(embedder.encode_query("How do I set up recurring invoices?"), dtype=np.float32)

    def search(_: int) -> int:
        generation = handle.current()
        return len(generation.dense_search("public", query, 5)) + len(
            generation.keyword_search("public", "recurring invoices", 5))

    with ThreadPoolExecutor(4) as workers:
        assert all(list(workers.map(search, range(16))))
        assert _open_files(old_path) >= 1

        new_id = _publish_copy(data_dir)
        assert handle.current().id == new_id
        assert len(old.dense_search("public", query, 3)) == 3  # a query in flight finishes on its generation
        assert all(list(workers.map(search, range(16))))  # new queries use the new one
        del old
        assert _open_files(old_path) == 0  # retired and unreferenced: its connections are closed
        assert _open_files(generations.generation_path(data_dir, new_id)) >= 1
    handle.close()
    assert _open_files(generations.generation_path(data_dir, new_id)) == 0
