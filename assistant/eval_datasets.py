"""Corpora for evaluation that do not come from ``sources.yaml``: the public Zaragoza FAQ benchmark.

A benchmark corpus is written as an ordinary generation (same ``chunks.sqlite`` + FAISS files
the ingestion job writes), so the benchmark measures the retriever that serves users, not a
copy of it. :func:`write_generation` is that writer, for records that are already chunks.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from assistant import generations, vectors
from assistant.chunkdb import FORMAT_VERSION, ChunkDBWriter
from assistant.errors import ConfigError
from assistant.schemas import Audience, Chunk, ChunkKind

ZARAGOZA_PACKAGE = "zaragoza_construction_faq"
ZARAGOZA_FILE = "data/faq-en.jsonl"


def write_generation(data_dir: Path, chunks: Sequence[Chunk], matrix: np.ndarray, *, model_id: str,
                     flat_max: int = 50_000, ann: str = "hnsw", publish: bool = True,
                     extra_manifest: dict[str, Any] | None = None) -> str:
    """Write ``chunks`` (with their normalised vectors, row for row) as a complete generation.

    Returns the generation id; with ``publish`` it becomes ``CURRENT``. One ``documents`` row is
    written per ``doc_key``, taken from its first chunk.
    """
    if len(chunks) != int(matrix.shape[0]):
        raise ValueError(f"{len(chunks)} chunks but {matrix.shape[0]} vectors")
    dimension = int(matrix.shape[1])
    staging = generations.Staging(Path(data_dir))
    try:
        writer = ChunkDBWriter(staging.path / "chunks.sqlite")
        firsts: dict[str, Chunk] = {}
        for chunk in chunks:
            firsts.setdefault(chunk.doc_key, chunk)
        for doc_key, chunk in firsts.items():
            writer.add_document(doc_key=doc_key, source=chunk.source, kind=chunk.kind, audience=chunk.audience,
                                path=chunk.path, title=chunk.title, url=chunk.url,
                                fingerprint=chunk.content_hash, metadata=chunk.metadata)
        for start in range(0, len(chunks), 5000):
            writer.add_chunks(chunks[start:start + 5000], matrix[start:start + 5000])
        by_audience = writer.finalize()
        writer.close()
        built = vectors.write_partitions(by_audience, staging.path, dimension=dimension, flat_max=flat_max, ann=ann)
        staging.commit({
            "generation": staging.id,
            "format_version": FORMAT_VERSION,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedding": {"model": model_id, "dimension": dimension, "normalized": True},
            "counts": {"chunks": {a: n for a, (n, _) in built.items()}},
            "index": {a: kind for a, (_, kind) in built.items()},
            **(extra_manifest or {}),
        })
    except BaseException:
        staging.discard()
        raise
    if publish:
        generations.publish(Path(data_dir), staging.id)
    return staging.id


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def document_chunk(*, source: str, key: str, title: str, text: str, model_id: str,
                   audience: Audience = "public", kind: ChunkKind = "document", ordinal: int = 0,
                   url: str | None = None, section: str = "",
                   embed_text: str | None = None, metadata: dict[str, Any] | None = None,
                   untrusted: bool = False) -> Chunk:
    """One chunk of a one-chunk document; ``embed_text`` defaults to title, section and text."""
    embed = embed_text if embed_text is not None else "\n".join(p for p in (title, section, text) if p)
    content_hash = _digest(model_id, embed)
    doc_key = f"{source}:{key}"
    return Chunk(
        chunk_id=_digest(doc_key, str(ordinal), content_hash)[:16], doc_key=doc_key, source=source,
        kind=kind, audience=audience,
        title=title, section=section, url=url, path=key, ordinal=ordinal, text=text, embed_text=embed,
        content_hash=content_hash, untrusted=untrusted, metadata=metadata or {},
    )


# --------------------------------------------------------------------------- Zaragoza FAQ


def load_zaragoza() -> list[dict[str, str]]:
    """The 503 English question/answer pairs of ``zaragoza-construction-faq`` (CC-BY-4.0)."""
    try:
        data = resources.files(ZARAGOZA_PACKAGE).joinpath(ZARAGOZA_FILE).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ConfigError("The Zaragoza benchmark data is not installed",
                          hint="pip install zaragoza-construction-faq (in the dev extra)") from exc
    items = [json.loads(line) for line in data.splitlines() if line.strip()]
    return [{"id": i["id"], "category": i["category"], "q": i["q"], "a": i["a"]} for i in items]


def zaragoza_chunks(items: Sequence[dict[str, str]], *, model_id: str) -> list[Chunk]:
    """One public document per answer. The vector sees the answer only, never its question;
    the category is the title (as a help-centre section would be), searchable by keyword."""
    return [
        document_chunk(source="zaragoza", key=item["id"], title=item["category"], text=item["a"],
                       embed_text=item["a"], model_id=model_id)
        for item in items
    ]


def zaragoza_dataset(items: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """The evaluation lines: each question expects the document of its own answer."""
    return [{"question": item["q"], "expected_sources": [item["id"]], "answerable": True, "audience": "public"}
            for item in items]
