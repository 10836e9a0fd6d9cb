"""Distribute published generations through object storage (any fsspec URL) instead of a shared volume.

Layout 2 of README "Scaling out": the ingest job publishes into its own data dir as always, then
``assistant index push s3://bucket/assistant`` uploads the new generation; each serving replica
runs ``assistant index sync s3://bucket/assistant --every 60`` beside it (a sidecar, sharing a
local directory that is the replica's ``ASSISTANT_DATA_DIR``). Tests use a local directory URL.

Remote layout, the same as a data dir: ``<url>/generations/<id>/...`` and ``<url>/CURRENT``.
The order of writes makes every step safe to interrupt and every reader see complete data:

- push uploads a generation's files, its ``manifest.json`` last, then replaces ``CURRENT``
  (one small object: a single PUT is atomic on object stores);
- sync downloads into a staging directory, checks every file the manifest lists, renames it
  into ``generations/`` and only then publishes it locally with the usual atomic pointer swap,
  so the server's hot reload never sees a half-copied generation. Generations already present
  are not downloaded again; old ones are pruned like after an ingest.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from assistant import generations
from assistant.errors import ConfigError, IndexError_

log = logging.getLogger(__name__)


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec comes with huggingface_hub
        raise ConfigError("Index sync needs fsspec", hint="pip install fsspec (and s3fs/gcsfs/adlfs)") from exc
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"Cannot open {url}", hint="install the fsspec driver for it (s3fs, gcsfs, adlfs)",
                          detail=str(exc)) from exc
    return fs, str(root).rstrip("/")


def remote_current(url: str) -> str | None:
    fs, root = _filesystem(url)
    try:
        text = fs.cat_file(f"{root}/{generations.CURRENT}").decode().strip()
    except FileNotFoundError:
        return None
    return text or None


def push(data_dir: Path, url: str, generation: str | None = None) -> str:
    """Upload the published generation (or ``generation``) to ``url`` and point its CURRENT at it."""
    gen, path = generations.resolve(data_dir, generation)
    fs, root = _filesystem(url)
    target = f"{root}/generations/{gen}"
    if not fs.exists(f"{target}/{generations.MANIFEST}"):
        fs.makedirs(target, exist_ok=True)
        files = sorted(p for p in path.iterdir() if p.is_file() and p.name != generations.MANIFEST)
        for item in files:
            fs.put_file(str(item), f"{target}/{item.name}")
        fs.put_file(str(path / generations.MANIFEST), f"{target}/{generations.MANIFEST}")  # marks it complete
        log.info("uploaded generation %s (%d files) to %s", gen, len(files) + 1, url)
    fs.pipe_file(f"{root}/{generations.CURRENT}", (gen + "\n").encode())
    return gen


def sync(url: str, data_dir: Path, *, keep: int = 2) -> str | None:
    """Make ``data_dir`` serve what ``url`` publishes; returns the generation now published locally.

    Returns ``None`` when nothing is published remotely yet (the replica keeps what it has).
    """
    data_dir = Path(data_dir)
    gen = remote_current(url)
    if gen is None:
        log.warning("nothing published at %s yet", url)
        return generations.current_id(data_dir)
    local = generations.generation_path(data_dir, gen)
    if not (local / generations.MANIFEST).is_file():
        _download(url, gen, data_dir)
    if generations.current_id(data_dir) != gen:
        generations.publish(data_dir, gen)
        log.info("published generation %s from %s", gen, url)
    for old in generations.prune(data_dir, keep):
        log.info("pruned generation %s", old)
    return gen


def _download(url: str, gen: str, data_dir: Path) -> None:
    import json

    fs, root = _filesystem(url)
    source = f"{root}/generations/{gen}"
    try:
        manifest = json.loads(fs.cat_file(f"{source}/{generations.MANIFEST}"))
    except FileNotFoundError as exc:
        raise IndexError_(f"Generation {gen} at {url} is incomplete (no manifest)",
                          hint="run `assistant index push` again from the ingest side") from exc
    staging = generations.generations_dir(data_dir) / f"{generations.STAGING_PREFIX}sync-{gen}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        names = [Path(p).name for p in fs.ls(source, detail=False)]
        for name in names:
            fs.get_file(f"{source}/{name}", str(staging / name))
        expected = {"chunks.sqlite", generations.MANIFEST} | {f"{a}.faiss" for a in manifest.get("index", {})}
        if manifest.get("term_vectors", {}).get("words"):
            from assistant.term_table import VECTORS_FILE, WORDS_FILE

            expected |= {VECTORS_FILE, WORDS_FILE}
        missing = sorted(expected - set(names))
        if missing:
            raise IndexError_(f"Generation {gen} at {url} lacks {', '.join(missing)}",
                              hint="run `assistant index push` again from the ingest side")
        staging.rename(generations.generation_path(data_dir, gen))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
