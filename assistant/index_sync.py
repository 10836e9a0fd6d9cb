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

import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assistant import generations
from assistant.errors import ConfigError, IndexError_
from assistant.term_table import FILES as TERM_FILES
from assistant.term_table import digests as term_digests
from assistant.term_table import link_or_copy

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
    return _current(*_filesystem(url))


def _current(fs: Any, root: str) -> str | None:
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
        before = _current(fs, root)
        earlier = f"{root}/generations/{before}"
        same = (_same_content(generations.read_manifest(path), _remote_manifest(fs, earlier))
                if before and before != gen else set())
        files = sorted(p for p in path.iterdir() if p.is_file() and p.name != generations.MANIFEST)
        copied = 0
        for item in files:
            if item.name in same and _copy_in_place(fs, f"{earlier}/{item.name}", f"{target}/{item.name}"):
                copied += 1
                continue
            fs.put_file(str(item), f"{target}/{item.name}")
        fs.put_file(str(path / generations.MANIFEST), f"{target}/{generations.MANIFEST}")  # marks it complete
        log.info("uploaded generation %s (%d files, %d more copied unchanged from %s) to %s",
                 gen, len(files) + 1 - copied, copied, before, url)
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
    fs, root = _filesystem(url)
    source = f"{root}/generations/{gen}"
    try:
        manifest = json.loads(fs.cat_file(f"{source}/{generations.MANIFEST}"))
    except FileNotFoundError as exc:
        raise IndexError_(f"Generation {gen} at {url} is incomplete (no manifest)",
                          hint="run `assistant index push` again from the ingest side") from exc
    held = _local_copies(data_dir, manifest)
    staging = generations.generations_dir(data_dir) / f"{generations.STAGING_PREFIX}sync-{gen}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        names = [Path(p).name for p in fs.ls(source, detail=False)]
        for name in names:
            if name in held:  # the same file a generation here already holds: linked, not downloaded
                link_or_copy(held[name], staging / name)
            else:
                fs.get_file(f"{source}/{name}", str(staging / name))
        _check_content(staging, manifest, gen, url)
        expected = {"chunks.sqlite", generations.MANIFEST} | {f"{a}.faiss" for a in manifest.get("index", {})}
        if manifest.get("term_vectors", {}).get("words"):
            expected |= set(TERM_FILES)
        missing = sorted(expected - set(names))
        if missing:
            raise IndexError_(f"Generation {gen} at {url} lacks {', '.join(missing)}",
                              hint="run `assistant index push` again from the ingest side")
        staging.rename(generations.generation_path(data_dir, gen))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# Files a generation shares with the one before it: the term table (assistant/term_table.py), the
# same 35 MB every night for a given embedding model. The manifest keeps its digests, so push copies
# it in place on the remote and sync links it from a generation the replica already holds.


def _digests(manifest: Mapping[str, Any] | None) -> dict[str, str]:
    digests = ((manifest or {}).get("term_vectors") or {}).get("sha256") or {}
    return {name: d for name, d in digests.items() if isinstance(d, str) and d}


def _same_content(manifest: Mapping[str, Any], other: Mapping[str, Any] | None) -> set[str]:
    """The files both generations hold with the same content, by the digests their manifests keep."""
    theirs = _digests(other)
    return {name for name, digest in _digests(manifest).items() if theirs.get(name) == digest}


def _remote_manifest(fs: Any, path: str) -> dict[str, Any] | None:
    try:
        manifest = json.loads(fs.cat_file(f"{path}/{generations.MANIFEST}"))
    except (FileNotFoundError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _copy_in_place(fs: Any, source: str, target: str) -> bool:
    """A copy made by the store itself (S3's CopyObject: nothing goes through this machine); False
    when the source is gone (pruned by hand), and the file is uploaded as usual."""
    try:
        fs.copy(source, target)
    except (FileNotFoundError, OSError):
        log.info("could not copy %s in place; uploading it", source, exc_info=True)
        return False
    return True


def _local_copies(data_dir: Path, manifest: Mapping[str, Any]) -> dict[str, Path]:
    """For each file of ``manifest`` with a digest, a file of a generation already here with the same."""
    found: dict[str, Path] = {}
    for info in generations.list_generations(data_dir):  # an incomplete one lists an empty manifest: no digests
        for name in _same_content(manifest, info.manifest) - found.keys():
            if (info.path / name).is_file():
                found[name] = info.path / name
    return found


def _check_content(staging: Path, manifest: Mapping[str, Any], gen: str, url: str) -> None:
    """Files with a digest in the manifest must have it: a transfer cut short, or a bad link, is
    refused before the generation can be published."""
    digests = _digests(manifest)
    if not digests:
        return
    present = {name for name in digests if (staging / name).is_file()}
    if present != digests.keys():
        return  # missing files are named by the manifest check that follows
    actual = term_digests(staging)
    wrong = sorted(name for name, digest in digests.items() if actual.get(name) != digest)
    if wrong:
        raise IndexError_(f"Generation {gen} at {url}: {', '.join(wrong)} does not match its manifest",
                          hint="run `assistant index push` again from the ingest side")
