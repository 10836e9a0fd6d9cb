"""The ingestion job: sources → records → redaction → chunks → vectors → a published generation.

Incremental by construction (docs/architecture.md §3): a document or ticket whose fingerprint is
unchanged since the published generation is copied with its chunks and vectors, without
parsing; a changed one is re-chunked, and any chunk whose content hash is already known keeps
its vector. Only what is new is embedded. Everything is written into a staging directory and
published with one atomic rename + pointer swap, under an exclusive lock, so an interrupted
run changes nothing that is served.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, Field

from assistant import generations, vectors
from assistant.chunkdb import FORMAT_VERSION, ChunkDB, ChunkDBWriter, blob_to_vector
from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.errors import AssistantError, ConfigError, SourceError
from assistant.schemas import Chunk, Document, Ticket
from ingest.chunking import CHUNKING_VERSION, ChunkParams, chunk_document, chunk_ticket
from ingest.interrupts import Interrupts
from ingest.redact import Redactor, redact_document, redact_ticket
from ingest.sources.config import SourceConfig, load_sources
from ingest.sources.documents import file_fingerprint, list_document_files, load_document
from ingest.sources.tickets import TicketError, iter_tickets

log = logging.getLogger(__name__)

TICKET_TYPES = {"zendesk", "freshdesk", "jira", "intercom", "csv", "jsonl"}


class Progress(Protocol):
    """Where long steps report; the CLI draws progress bars, tests pass nothing."""

    def start(self, phase: str, total: int | None) -> None: ...
    def advance(self, done: int) -> None: ...


class Counts(BaseModel):
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0  # tickets not resolved (only resolved ones are indexed); pages that only list other pages
    kept_stale: int = 0  # failed (or unreadable source) this run: the previous generation's chunks are kept


class ChunkCounts(BaseModel):
    embedded: int = 0
    reused: int = 0
    total: int = 0  # searchable
    boilerplate: int = 0  # stored, not searchable: copies of a text found in many documents


class Failure(BaseModel):
    path: str
    row: int | None = None
    reason: str
    source: str = ""


class IngestReport(BaseModel):
    """The run report: printed, stored beside the generation, and the last line of ``--json``."""

    generation: str | None = None
    engine: str = "local"  # local | ray: where load/chunk/embed ran
    published: bool = False
    previous_generation: str | None = None
    documents: Counts = Field(default_factory=Counts)
    tickets: Counts = Field(default_factory=Counts)
    chunks: ChunkCounts = Field(default_factory=ChunkCounts)
    audiences: dict[str, int] = Field(default_factory=dict)
    redactions: dict[str, int] = Field(default_factory=dict)
    failures: list[Failure] = Field(default_factory=list)
    failure_ratio: float = 0.0
    message: str = ""
    embedding_model: str = ""
    index_kind: dict[str, str] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Pending:
    doc_key: str
    kind: str
    audience: str
    path: str
    title: str
    url: str | None
    fingerprint: str
    metadata: dict[str, Any]
    chunks: list[Chunk] = field(default_factory=list)


class IngestAborted(AssistantError):
    code = "ingest_aborted"


def _pipeline_fingerprint(settings: Settings, model_id: str) -> str:
    """What changes every chunk when it changes: chunk sizes, model, format version."""
    parts = [model_id, str(settings.embedding.chunk_tokens), str(settings.embedding.chunk_overlap_tokens),
             str(FORMAT_VERSION), f"chunking-{CHUNKING_VERSION}"]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _doc_fingerprint(base: str, pipeline: str, cfg: SourceConfig, redact: bool) -> str:
    options = json.dumps({"audience": cfg.audience, "url_base": cfg.url_base, "redact": redact}, sort_keys=True)
    return hashlib.sha256(f"{base}|{pipeline}|{options}".encode()).hexdigest()


class IngestJob:
    interrupts: Interrupts | None = None  # set by run_ingest: stop signals the run honours

    def __init__(self, settings: Settings, sources_file: Path, *, embedder: Embedder,
                 progress: Progress | None = None) -> None:
        self.settings = settings
        self.sources_file = Path(sources_file)
        self.embedder = embedder
        self.progress = progress
        self.data_dir = Path(settings.data_dir)
        self.report = IngestReport()
        self._redactions: Counter[str] = Counter()

    # ------------------------------------------------------------------ public

    def run(self) -> IngestReport:
        started = time.perf_counter()
        sources = load_sources(self.sources_file)  # config errors stop the run before the lock
        with generations.ingest_lock(self.data_dir):
            for name in generations.clean_staging(self.data_dir):
                log.warning("removed leftover %s from an interrupted run", name)
            staging = generations.Staging(self.data_dir)
            try:
                self._build(sources, staging)
            except BaseException:
                staging.discard()  # Ctrl-C, crash, abort: the published generation is untouched
                raise
        self.report.seconds = round(time.perf_counter() - started, 3)
        self._store_report()
        return self.report

    # ------------------------------------------------------------------ steps

    def _build(self, sources: list[SourceConfig], staging: generations.Staging) -> None:
        report = self.report
        model_id = self.embedder.model_id
        report.embedding_model = model_id
        params = ChunkParams(
            max_tokens=min(self.settings.embedding.chunk_tokens, self.embedder.max_tokens),
            overlap_tokens=self.settings.embedding.chunk_overlap_tokens,
            model_id=model_id,
        )
        pipeline_fp = _pipeline_fingerprint(self.settings, model_id)
        previous = self._previous(model_id)
        prev_docs = {k: (r["fingerprint"], r["kind"]) for k, r in previous.documents().items()} if previous else {}

        writer = ChunkDBWriter(staging.path / "chunks.sqlite")
        if previous:
            writer.attach_previous(previous.path)
        t0 = time.perf_counter()
        to_copy: list[str] = []
        pending: list[_Pending] = []
        seen: set[str] = set()
        self._prepare(sources, params, pipeline_fp, prev_docs)
        for cfg in sources:
            if cfg.type == "documents":
                self._load_documents(cfg, params, pipeline_fp, prev_docs, seen, to_copy, pending)
            else:
                self._load_tickets(cfg, params, pipeline_fp, prev_docs, seen, to_copy, pending)
        for doc_key, (_, kind) in prev_docs.items():
            if doc_key not in seen:
                (report.tickets if kind == "ticket" else report.documents).removed += 1
        report.redactions = dict(self._redactions)
        report.timings["load_and_chunk"] = round(time.perf_counter() - t0, 3)

        attempted = sum(c.added + c.updated + c.unchanged + c.failed for c in (report.documents, report.tickets))
        failed = report.documents.failed + report.tickets.failed
        report.failure_ratio = round(failed / attempted, 4) if attempted else 0.0
        if attempted == 0:
            raise self._abort("Nothing to index: the sources yielded no documents or tickets",
                              "check the paths and include/exclude globs in the sources file")
        if report.failure_ratio > self.settings.index.max_failure_ratio:
            raise self._abort(
                f"{failed} of {attempted} inputs failed ({report.failure_ratio:.0%}), over the limit of "
                f"{self.settings.index.max_failure_ratio:.0%}; nothing was published",
                "fix the inputs listed under failures, or raise ASSISTANT_INDEX_MAX_FAILURE_RATIO",
            )

        t0 = time.perf_counter()
        copied = writer.copy_documents(to_copy) if to_copy else 0
        for item in pending:
            writer.add_document(doc_key=item.doc_key, source=item.doc_key.split(":", 1)[0], kind=item.kind,
                                audience=item.audience,  # type: ignore[arg-type]
                                path=item.path, title=item.title, url=item.url, fingerprint=item.fingerprint,
                                metadata=item.metadata)
        new_chunks = [c for item in pending for c in item.chunks]
        matrix = self._vectors_for(new_chunks, previous)
        writer.add_chunks(new_chunks, matrix)
        writer.fill_question_vectors(self.embedder.encode)  # FAQ entries: their heading's question alone
        report.chunks.reused += copied
        report.timings["embed"] = round(time.perf_counter() - t0, 3)

        t0 = time.perf_counter()
        by_audience = writer.finalize(boilerplate_docs=self.settings.index.boilerplate_docs)
        report.chunks.boilerplate = writer.boilerplate
        writer.close()
        built = vectors.write_partitions(by_audience, staging.path, dimension=self.embedder.dimension,
                                         flat_max=self.settings.index.flat_max, ann=self.settings.index.ann)
        for audience, (n, kind) in built.items():
            report.audiences[audience] = n
            report.index_kind[audience] = kind
        report.chunks.total = sum(report.audiences.values())
        report.timings["index"] = round(time.perf_counter() - t0, 3)
        if previous:
            previous.close()
        min_chunks = self.settings.retrieval.term_table_min_chunks
        terms = self._term_table(staging, model_id) if 0 <= min_chunks <= report.chunks.total else None
        tuned = self._domain_tuning(staging) if self.settings.retrieval.domain_tuning else None

        report.generation = staging.id
        manifest = {
            "generation": staging.id,
            "format_version": FORMAT_VERSION,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedding": {"model": model_id, "dimension": self.embedder.dimension, "normalized": True,
                          "max_tokens": params.max_tokens},
            "sources_file": str(self.sources_file.resolve()),
            "sources": [{"name": s.name, "type": s.type, "audience": s.audience} for s in sources],
            "counts": {"chunks": report.audiences, "documents": report.documents.model_dump(),
                       "tickets": report.tickets.model_dump()},
            "index": report.index_kind,
            "pipeline_fingerprint": pipeline_fp,
            "previous_generation": report.previous_generation,
            "report": report.model_dump(mode="json"),
        }
        if tuned is not None:
            manifest["domain_tuning"] = tuned
        if terms is not None:
            manifest["term_vectors"] = terms
        self._publish(staging, manifest)
        for old in generations.prune(self.data_dir, self.settings.index.keep_generations):
            log.info("pruned generation %s", old)
        report.message = f"published generation {staging.id}"

    def _previous_dir(self) -> Path | None:
        """The directory of the generation this run replaces, when it still resolves."""
        if not self.report.previous_generation:
            return None
        with contextlib.suppress(AssistantError):
            return generations.resolve(self.data_dir, self.report.previous_generation)[1]
        return None

    def _term_table(self, staging: generations.Staging, model_id: str) -> dict[str, Any]:
        """The vectors of the model vocabulary's words (assistant/term_table.py), linked from the last
        generation when it was built with the same model, encoded otherwise."""
        from assistant import term_table

        previous = self._previous_dir()
        if previous is not None:
            with contextlib.suppress(AssistantError):
                if generations.read_manifest(previous).get("embedding", {}).get("model") != model_id:
                    previous = None
        t0 = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if not done:  # build's first call, before any word is encoded
                self._start("term vectors", total)
            self._advance(done)

        meta = term_table.build(staging.path, self.embedder, previous=previous, progress=progress)
        self.report.timings["term_vectors"] = round(time.perf_counter() - t0, 3)
        log.info("term vectors: %d words, %s", meta["words"], "linked" if meta["reused"] else "encoded")
        return meta

    def _domain_tuning(self, staging: generations.Staging) -> dict[str, Any]:
        """Optional step (ASSISTANT_RETRIEVAL_DOMAIN_TUNING): train the query adapter from this
        generation's own chunks and store it inside it (assistant/domain_tuning.py); bounded by
        the pairs and steps settings, seeded, so the same corpus gives the same adapter."""
        from assistant.domain_tuning import TuningParams, tune_generation

        cfg = self.settings.retrieval
        params = TuningParams(steps=cfg.domain_tuning_steps, max_pairs=cfg.domain_tuning_pairs)
        t0 = time.perf_counter()
        done = 0
        self._start("domain tuning", None)

        def say(message: str) -> None:
            nonlocal done
            log.info("%s", message)
            done += 1
            self._advance(done)

        meta = tune_generation(staging.path, self.embedder, params, say=say, previous=self._previous_dir())
        self.report.timings["domain_tuning"] = round(time.perf_counter() - t0, 3)
        return meta

    def _publish(self, staging: generations.Staging, manifest: dict[str, Any]) -> None:
        """Commit and publish ``staging``, unless a stop signal came (even one whose
        KeyboardInterrupt was swallowed on the way). A signal arriving in here is held until
        the pointer swap is done, then raised: the generation is published whole or not at all."""
        interrupts = self.interrupts
        with interrupts.held() if interrupts else contextlib.nullcontext():
            if interrupts:
                interrupts.check()
            final = staging.commit(manifest)
            if interrupts and interrupts.received:  # came while fsyncing: the pointer is not touched
                shutil.rmtree(final, ignore_errors=True)
                interrupts.check()
            generations.publish(self.data_dir, staging.id)
            self.report.published = True

    def _previous(self, model_id: str) -> ChunkDB | None:
        gen = generations.current_id(self.data_dir)
        if gen is None:
            return None
        try:
            _, path = generations.resolve(self.data_dir, gen)
            manifest = generations.read_manifest(path)
        except AssistantError as exc:
            log.warning("published generation %s unusable for reuse: %s", gen, exc)
            return None
        self.report.previous_generation = gen
        if manifest.get("embedding", {}).get("model") != model_id or manifest.get("format_version") != FORMAT_VERSION:
            log.warning("embedding model or format changed since %s: everything is re-embedded", gen)
            return None
        return ChunkDB(path / "chunks.sqlite")

    def _fail(self, counts: Counts, cfg: SourceConfig, exc: SourceError | Exception, path: Path | str,
              row: int | None = None) -> None:
        counts.failed += 1
        if isinstance(exc, SourceError):
            reason = exc.message + (f" ({exc.hint})" if exc.hint else "")
            path = exc.path or path
            row = exc.row if exc.row is not None else row
        else:  # a loader bug must not stop the whole run; keep the detail in the log
            reason = f"unexpected error while reading: {type(exc).__name__}: {exc}"
            log.exception("unexpected error reading %s", path)
        self.report.failures.append(Failure(path=str(path), row=row, reason=reason, source=cfg.name))
        log.warning("skipped %s%s: %s", path, f" row {row}" if row else "", reason)

    def _keep_stale(self, counts: Counts, doc_key: str, prev_docs: dict[str, tuple[str, str]], seen: set[str],
                    to_copy: list[str]) -> bool:
        """Nothing lost to a bad night: an item that failed to load but is in the previous
        generation keeps its last good chunks (copied, counted ``kept_stale``, still reported
        under failures) until it loads again or is really deleted."""
        if doc_key not in prev_docs or doc_key in seen:
            return False
        counts.kept_stale += 1
        seen.add(doc_key)
        to_copy.append(doc_key)
        return True

    def _keep_unseen(self, counts: Counts, cfg: SourceConfig, kind: str, prev_docs: dict[str, tuple[str, str]],
                     seen: set[str], to_copy: list[str], exclude: set[str] | None = None) -> int:
        """Keep every item of ``cfg`` from the previous generation that this run did not see
        (``exclude``: ones it saw and chose to drop, like tickets reopened since)."""
        prefix = f"{cfg.name}:"
        kept = 0
        for doc_key, (_, prev_kind) in prev_docs.items():
            if (prev_kind == kind and doc_key.startswith(prefix) and doc_key not in seen
                    and doc_key not in (exclude or ())):
                kept += self._keep_stale(counts, doc_key, prev_docs, seen, to_copy)
        return kept

    def _source_unreadable(self, counts: Counts, cfg: SourceConfig, kind: str,
                           prev_docs: dict[str, tuple[str, str]], seen: set[str], to_copy: list[str],
                           reason: str) -> None:
        """A source that yields nothing but had items last time is a failure, not a deletion:
        an unmounted share or an empty export must not take a whole help center offline."""
        kept = self._keep_unseen(counts, cfg, kind, prev_docs, seen, to_copy)
        if kept:
            hint = (f"kept the {kept} {kind}s of the previous generation; if they were really removed, "
                    "take the source out of the sources file")
            self._fail(counts, cfg, SourceError(reason, path=str(cfg.path), hint=hint), cfg.path)

    def _reused(self, counts: Counts, doc_key: str, fp: str, prev_docs: dict[str, tuple[str, str]],
                to_copy: list[str]) -> bool:
        """An item unchanged since the previous generation is copied from it, unparsed."""
        prev = prev_docs.get(doc_key)
        if prev is None or prev[0] != fp:
            return False
        counts.unchanged += 1
        to_copy.append(doc_key)
        return True

    def _built(self, counts: Counts, record: Document | Ticket, fp: str, chunks: list[Chunk],
               prev_docs: dict[str, tuple[str, str]], pending: list[_Pending]) -> None:
        item = self._pending(record, fp, chunks)
        if item.doc_key in prev_docs:
            counts.updated += 1
        else:
            counts.added += 1
        pending.append(item)

    def _load_documents(self, cfg: SourceConfig, params: ChunkParams, pipeline_fp: str,
                        prev_docs: dict[str, tuple[str, str]], seen: set[str], to_copy: list[str],
                        pending: list[_Pending]) -> None:
        counts = self.report.documents
        redact = cfg.should_redact  # documents: off unless the source turns it on
        redactor = Redactor() if redact else None
        max_bytes = int(self.settings.index.max_file_mb * 1024 * 1024)
        files = list_document_files(cfg)
        self._start(f"reading {cfg.name}", len(files))
        for n, (key, path) in enumerate(files, 1):
            self._advance(n)
            doc_key = f"{cfg.name}:{key}"
            try:
                size = path.stat().st_size
                if size > max_bytes:
                    raise SourceError(
                        f"file is {size / 1048576:.1f} MB, over the {self.settings.index.max_file_mb:g} MB limit",
                        path=str(path), hint="split it, exclude it, or raise ASSISTANT_INDEX_MAX_FILE_MB")
                fp = _doc_fingerprint(file_fingerprint(path, cfg), pipeline_fp, cfg, redact)
            except (SourceError, OSError) as exc:
                self._fail(counts, cfg, exc, path)
                self._keep_stale(counts, doc_key, prev_docs, seen, to_copy)
                continue
            if self._reused(counts, doc_key, fp, prev_docs, to_copy):
                seen.add(doc_key)
                continue
            try:
                doc, chunks = self._parse_document(cfg, key, path, max_bytes, redactor, params)
                navigation_only = bool(doc.metadata.get("navigation_only"))  # chunked to nothing
                if not chunks and not navigation_only:
                    raise SourceError("no text left after parsing", path=str(path),
                                      hint="is the file empty or only images?")
            except Exception as exc:
                self._fail(counts, cfg, exc, path)
                self._keep_stale(counts, doc_key, prev_docs, seen, to_copy)
                continue
            seen.add(doc_key)
            if navigation_only:
                # A page that only lists other pages (a book's index, a chapter's contents): it answers
                # nothing and crowded the pages it lists out of the results. Not a failure either.
                counts.skipped += 1
                log.info("skipped %s: only links to other pages (an index or a table of contents)", path)
                continue
            self._built(counts, doc, fp, chunks, prev_docs, pending)
        if not files:
            self._source_unreadable(counts, cfg, "document", prev_docs, seen, to_copy,
                                    "no files found (is the folder mounted?)")

    def _load_tickets(self, cfg: SourceConfig, params: ChunkParams, pipeline_fp: str,
                      prev_docs: dict[str, tuple[str, str]], seen: set[str], to_copy: list[str],
                      pending: list[_Pending]) -> None:
        counts = self.report.tickets
        redact = cfg.should_redact  # tickets: on unless the source turns it off
        redactor = Redactor() if redact else None
        self._start(f"reading {cfg.name}", None)
        unattributed = False  # a failure that names no ticket: the export may have lost some
        skipped: set[str] = set()
        n = 0
        for n, item in enumerate(iter_tickets(cfg), 1):
            self._advance(n)
            if isinstance(item, SourceError):
                self._fail(counts, cfg, item, cfg.path)
                ticket_id = item.ticket_id if isinstance(item, TicketError) else None
                if ticket_id is None:
                    unattributed = True
                else:
                    self._keep_stale(counts, f"{cfg.name}:{ticket_id}", prev_docs, seen, to_copy)
                continue
            if not item.resolved and cfg.resolved_only:
                counts.skipped += 1
                skipped.add(f"{cfg.name}:{item.id}")
                continue
            doc_key = f"{cfg.name}:{item.id}"
            if doc_key in seen:
                self._fail(counts, cfg, SourceError(f"duplicate ticket id {item.id}; the first one is kept",
                                                    path=str(cfg.path), row=item.row), cfg.path)
                continue
            fp = _doc_fingerprint(item.fingerprint, pipeline_fp, cfg, redact)
            if self._reused(counts, doc_key, fp, prev_docs, to_copy):
                seen.add(doc_key)
                continue
            try:
                ticket, chunks = self._parse_ticket(cfg, item, redactor, params)
                if not chunks:
                    raise SourceError("ticket has no text", path=str(cfg.path), row=item.row)
            except Exception as exc:
                self._fail(counts, cfg, exc, cfg.path, item.row)
                self._keep_stale(counts, doc_key, prev_docs, seen, to_copy)
                continue
            seen.add(doc_key)
            self._built(counts, ticket, fp, chunks, prev_docs, pending)
        if n == 0:
            self._source_unreadable(counts, cfg, "ticket", prev_docs, seen, to_copy, "the export holds no tickets")
        elif unattributed:  # e.g. a JSON Lines export cut short: its missing tickets are not deleted ones
            self._keep_unseen(counts, cfg, "ticket", prev_docs, seen, to_copy, exclude=skipped)

    # ---------------------------------------------- per-item work (engines override)

    def _parse_document(self, cfg: SourceConfig, key: str, path: Path, max_bytes: int, redactor: Redactor | None,
                        params: ChunkParams) -> tuple[Document, list[Chunk]]:
        """Load → redact → chunk one file. The Ray engine answers this from work done on the cluster."""
        doc = load_document(cfg, key, path, max_bytes=max_bytes)
        if redactor:
            doc, found = redact_document(doc, redactor)
            self._redactions.update(found)
        return doc, chunk_document(doc, params, self.embedder.count_tokens)

    def _parse_ticket(self, cfg: SourceConfig, ticket: Ticket, redactor: Redactor | None,
                      params: ChunkParams) -> tuple[Ticket, list[Chunk]]:
        """Redact → chunk one ticket (already parsed from its export)."""
        if redactor:
            ticket, found = redact_ticket(ticket, redactor)
            self._redactions.update(found)
        return ticket, chunk_ticket(ticket, params, self.embedder.count_tokens)

    def _prepare(self, sources: list[SourceConfig], params: ChunkParams, pipeline_fp: str,
                 prev_docs: dict[str, tuple[str, str]]) -> None:
        """Called once before the sources are read; an engine starts its parallel work here."""

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors for ``texts`` in order (the Ray engine uses an actor pool).

        On a GPU, tokenizing in one Python thread starves the model (~3k texts/s against ~30k/s
        for the forward pass), so the bulk path tokenizes in parallel CPU threads ahead of fp16
        forward passes (:mod:`assistant.embed_fast`); on CPU the plain path is as fast.
        """
        if self.embedder.device.startswith("cuda"):
            from assistant.embed_fast import FastEncoder

            fast = FastEncoder(self.embedder.model, batch_size=max(256, self.embedder.batch_size))
            return fast.encode(texts, progress=self._advance)
        return self.embedder.encode(texts, progress=self._advance)

    @staticmethod
    def _pending(record: Document | Ticket, fp: str, chunks: list[Chunk]) -> _Pending:
        if isinstance(record, Document):
            return _Pending(f"{record.source}:{record.key}", "document", record.audience, record.path,
                            record.title, record.url, fp, dict(record.metadata), chunks)
        meta = {"status": record.status, "tags": record.tags,
                "created": record.created.isoformat() if record.created else None,
                "updated": record.updated.isoformat() if record.updated else None}
        return _Pending(f"{record.source}:{record.id}", "ticket", record.audience, record.id,
                        record.subject, record.url, fp, meta, chunks)

    def _vectors_for(self, chunks: list[Chunk], previous: ChunkDB | None) -> np.ndarray:
        """Vectors for new chunks: reuse by content hash where known, embed the rest."""
        dim = self.embedder.dimension
        matrix = np.zeros((len(chunks), dim), dtype=np.float32)
        known = previous.vectors_by_hash(c.content_hash for c in chunks) if previous and chunks else {}
        todo: list[int] = []
        for i, chunk in enumerate(chunks):
            blob = known.get(chunk.content_hash)
            if blob is not None:
                matrix[i] = blob_to_vector(blob)
            else:
                todo.append(i)
        self.report.chunks.reused += len(chunks) - len(todo)
        self.report.chunks.embedded = len(todo)
        if todo:
            self._start("embedding", len(todo))
            encoded = self._embed([chunks[i].embed_text for i in todo])
            matrix[todo] = encoded
        return matrix

    def _abort(self, message: str, hint: str) -> IngestAborted:
        self.report.message = message
        return IngestAborted(message, hint=hint)

    def _start(self, phase: str, total: int | None) -> None:
        if self.progress:
            self.progress.start(phase, total)

    def _advance(self, done: int) -> None:
        if self.progress:
            self.progress.advance(done)

    def _store_report(self) -> None:
        reports = self.data_dir / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        name = self.report.generation or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-failed"
        generations.write_json_atomic(reports / f"{name}.json", self.report.model_dump(mode="json"))


def run_ingest(settings: Settings, sources_file: Path, *, embedder: Embedder,
               progress: Progress | None = None,
               on_abort: Callable[[IngestReport], None] | None = None,
               engine: str = "local", ray_address: str | None = None,
               interrupts: Interrupts | None = None) -> IngestReport:
    """Run one ingestion; an aborted or interrupted run still stores and hands back its report.

    ``interrupts``: the stop signals (installed by the caller) this run checks before publishing;
    an interrupted run raises ``KeyboardInterrupt`` after ``on_abort`` got its report.

    ``engine="ray"`` runs load/redact/chunk as Ray tasks and embedding on a Ray Data actor pool
    (``ray_address``: ``None``/``local`` starts a local Ray, else a cluster address); the
    generation written is the same either way.
    """
    job: IngestJob
    if engine == "ray":
        from ingest.ray_engine import RayIngestJob

        job = RayIngestJob(settings, sources_file, embedder=embedder, progress=progress, address=ray_address)
    elif engine == "local":
        job = IngestJob(settings, sources_file, embedder=embedder, progress=progress)
    else:
        raise ConfigError(f"Unknown ingest engine {engine!r}", hint="use --engine local or --engine ray")
    job.interrupts = interrupts
    try:
        report = job.run()
        if interrupts:
            interrupts.check()  # a signal swallowed after publishing still makes the run "interrupted"
        return report
    except IngestAborted:
        job.report.published = False
        job._store_report()
        if on_abort:
            on_abort(job.report)
        raise
    except KeyboardInterrupt:
        report = job.report
        report.message = (f"interrupted after publishing generation {report.generation}" if report.published
                          else "interrupted: nothing was published; the previous generation is still serving")
        if not report.published:
            report.generation = None
        job._store_report()
        if on_abort:
            on_abort(report)
        raise
