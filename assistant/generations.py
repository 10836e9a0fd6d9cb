"""Index generations on disk (docs/architecture.md §3): layout, manifest, publishing, lock, rollback.

::

    <data_dir>/
      CURRENT                      id of the published generation (replaced atomically)
      ingest.lock                  held (flock) by the running ingestion job
      generations/
        <id>/manifest.json         written last: a generation without it is incomplete
        <id>/chunks.sqlite
        <id>/public.faiss
        <id>/internal.faiss
        .staging-<id>/             a run in progress; left over only by a crash, removed by the next run

A new generation is built in ``.staging-<id>``, fsynced, renamed to ``<id>`` and only then
published by writing ``CURRENT.tmp`` and ``os.replace``-ing it over ``CURRENT``. Readers that
follow ``CURRENT`` therefore always see a complete generation, and a crash at any point leaves
the previous one serving.
"""

from __future__ import annotations

import calendar
import contextlib
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import IndexError_, LockedError, NoIndexError

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
STAGING_PREFIX = ".staging-"


def generations_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "generations"


_ID = re.compile(r"(\d{8}T\d{6})(\d{6})Z")


def _format_id(seconds: float, micros: int) -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f"{micros:06d}Z"


def new_generation_id(data_dir: Path | None = None, *, clock: Callable[[], float] = time.time) -> str:
    """Sortable by creation: UTC time to the microsecond, always after every existing generation.

    ``prune``, ``rollback`` and ``index list`` order generations by id, so an id must sort
    after the latest one even when the clock went back (an NTP step, a restored VM) or two
    runs start in one microsecond: then it is the latest id plus one microsecond, which also
    never repeats. Ids not in this format (hand-made ones) get ``.1`` appended, which sorts
    after them too.
    """
    whole, micros = divmod(int(clock() * 1_000_000), 1_000_000)
    gen = _format_id(whole, micros)
    if data_dir is None:
        return gen
    root = generations_dir(data_dir)
    existing = [p.name.removeprefix(STAGING_PREFIX) for p in root.iterdir()] if root.is_dir() else []
    current = current_id(data_dir)
    if current:
        existing.append(current)
    latest = max(existing, default="")
    if gen > latest:
        return gen
    match = _ID.fullmatch(latest)
    if match is None:
        return latest + ".1"
    stamp = calendar.timegm(time.strptime(match.group(1), "%Y%m%dT%H%M%S"))
    micros = int(match.group(2)) + 1
    return _format_id(stamp + micros // 1_000_000, micros % 1_000_000)


def current_id(data_dir: Path) -> str | None:
    try:
        text = (Path(data_dir) / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    return text or None


def generation_path(data_dir: Path, generation: str) -> Path:
    return generations_dir(data_dir) / generation


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((path / MANIFEST).read_text()))
    except FileNotFoundError as exc:
        raise IndexError_(f"Generation {path.name} is incomplete (no manifest)",
                          hint="run `assistant index list` and roll back to a complete one") from exc
    except json.JSONDecodeError as exc:
        raise IndexError_(f"Generation {path.name} has a corrupt manifest", detail=str(exc)) from exc


def resolve(data_dir: Path, generation: str | None = None) -> tuple[str, Path]:
    """The path of ``generation`` (default: the published one), with a helpful error if absent."""
    gen = generation or current_id(data_dir)
    if gen is None:
        raise NoIndexError(
            f"No published index in {data_dir}",
            hint="run `assistant ingest --config sources.yaml` first (or check ASSISTANT_DATA_DIR)",
        )
    path = generation_path(data_dir, gen)
    if not (path / MANIFEST).is_file():
        raise NoIndexError(f"Generation {gen} not found or incomplete in {generations_dir(data_dir)}",
                           hint="run `assistant index list` to see the available generations")
    return gen, path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def publish(data_dir: Path, generation: str) -> None:
    """Point ``CURRENT`` at ``generation`` atomically."""
    data_dir = Path(data_dir)
    tmp = data_dir / (CURRENT + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(generation + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, data_dir / CURRENT)
    _fsync_dir(data_dir)


@dataclass(frozen=True)
class GenerationInfo:
    id: str
    path: Path
    current: bool
    complete: bool
    manifest: dict[str, Any]


def list_generations(data_dir: Path) -> list[GenerationInfo]:
    """All generations, newest first."""
    root = generations_dir(data_dir)
    cur = current_id(data_dir)
    out = []
    if root.is_dir():
        for path in root.iterdir():
            if not path.is_dir() or path.name.startswith("."):
                continue
            try:
                manifest, complete = read_manifest(path), True
            except IndexError_:
                manifest, complete = {}, False
            out.append(GenerationInfo(path.name, path, path.name == cur, complete, manifest))
    return sorted(out, key=lambda g: g.id, reverse=True)


def rollback(data_dir: Path, generation: str | None = None) -> str:
    """Publish ``generation``, or the newest complete one older than the current one."""
    gens = [g for g in list_generations(data_dir) if g.complete]
    if generation is None:
        cur = current_id(data_dir)
        older = [g for g in gens if cur is None or g.id < cur]
        if not older:
            raise IndexError_("No older generation to roll back to",
                              hint="`assistant index list` shows what is kept (ASSISTANT_INDEX_KEEP_GENERATIONS)")
        target = older[0].id
    else:
        if generation not in {g.id for g in gens}:
            raise IndexError_(f"Generation {generation} not found or incomplete",
                              hint="`assistant index list` shows the available generations")
        target = generation
    publish(data_dir, target)
    return target


def prune(data_dir: Path, keep: int) -> list[str]:
    """Delete complete generations beyond the newest ``keep``; never the published one."""
    cur = current_id(data_dir)
    removed = []
    for info in list_generations(data_dir)[keep:]:
        if info.id != cur:
            shutil.rmtree(info.path, ignore_errors=True)
            removed.append(info.id)
    return removed


def clean_staging(data_dir: Path) -> list[str]:
    """Remove what crashed runs left behind; call with the lock held."""
    root = generations_dir(data_dir)
    removed = []
    if root.is_dir():
        for path in root.iterdir():
            if path.name.startswith(STAGING_PREFIX) or (path.is_dir() and not (path / MANIFEST).exists()
                                                        and path.name != current_id(data_dir)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    return removed


class Staging:
    """A generation being built; :meth:`commit` makes it complete (but does not publish it)."""

    def __init__(self, data_dir: Path, generation: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.id = generation or new_generation_id(self.data_dir)
        self.path = generations_dir(self.data_dir) / f"{STAGING_PREFIX}{self.id}"
        self.path.mkdir(parents=True, exist_ok=False)

    def commit(self, manifest: dict[str, Any]) -> Path:
        for item in self.path.iterdir():
            with open(item, "rb") as fh:
                os.fsync(fh.fileno())
        write_json_atomic(self.path / MANIFEST, manifest)
        final = generation_path(self.data_dir, self.id)
        os.replace(self.path, final)
        _fsync_dir(final.parent)
        return final

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@contextlib.contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """An exclusive, non-blocking lock: the OS releases it if the holder dies, so no stale locks."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "ingest.lock"
    fh = open(path, "a+")  # noqa: SIM115 - held for the duration of the context
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise LockedError(f"Another ingestion run is in progress ({holder})",
                              hint=f"wait for it to finish; the lock is {path}") from exc
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        fh.flush()
        yield
    finally:
        fh.close()
