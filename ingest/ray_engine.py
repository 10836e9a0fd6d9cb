"""``assistant ingest --engine ray``: the same ingestion job, its heavy steps on Ray.

What runs where:

- **driver** (this process): reads ``sources.yaml``, lists files and parses ticket exports,
  decides what is unchanged since the published generation (fingerprints), and writes and
  publishes the generation exactly as the local engine does (:class:`ingest.jobs.IngestJob`);
- **Ray tasks**: load → redact → chunk for every new or changed document, and redact → chunk
  for tickets, in batches, started before the driver walks the sources so they overlap with it;
- **Ray Data actor pool**: embedding, as two ``map_batches`` stages: CPU tokenization tasks
  feeding embedding actors (one GPU each when the cluster has GPUs, else CPU), built from
  :mod:`assistant.embed_fast`.

Everything that decides *what* goes into the generation (fingerprints, reuse, failures, counts)
stays in the driver's code shared with the local engine, so both engines write the same chunk
ids and, within float rounding, the same vectors; the report says ``"engine": "ray"``.

The Ray workers import this project: on a cluster, run them from the same image as the
driver (``deploy/kubernetes/rayjob.yaml``), and point them at the same sources path.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.errors import ConfigError, SourceError
from assistant.schemas import Chunk, Document, Ticket
from ingest.chunking import ChunkParams, chunk_document, chunk_ticket
from ingest.jobs import IngestJob, Progress, _doc_fingerprint
from ingest.redact import Redactor, redact_document, redact_ticket
from ingest.sources.config import SourceConfig
from ingest.sources.documents import file_fingerprint, list_document_files, load_document
from ingest.sources.tickets import iter_tickets

log = logging.getLogger(__name__)

ITEMS_PER_TASK = 16  # documents or tickets per Ray task: big enough to amortise task overhead
EMBED_BATCH = 256

# Per worker process: one model per (model, device), loaded on first use and kept for the
# worker's life, so a task does not pay the model load again.
_WORKER_EMBEDDERS: dict[tuple[str, str], Embedder] = {}
_WORKER_TOKENIZERS: dict[str, Any] = {}
_WORKER_COUNTERS: dict[str, Callable[[Sequence[str]], list[int]]] = {}


def _worker_embedder(model: str, device: str = "cpu") -> Embedder:
    key = (model, device)
    if key not in _WORKER_EMBEDDERS:
        _WORKER_EMBEDDERS[key] = Embedder(model, device=device)
    return _WORKER_EMBEDDERS[key]


def _worker_token_counter(model: str) -> Callable[[Sequence[str]], list[int]]:
    """``Embedder.count_tokens`` without loading the weights: the chunking tasks need only the
    tokenizer (loads in a fraction of a second, where the model takes seconds per worker)."""
    counter = _WORKER_COUNTERS.get(model)
    if counter is None:
        from transformers import AutoTokenizer

        from assistant.embeddings import packaged_model_path

        tokenizer = AutoTokenizer.from_pretrained(model or packaged_model_path())

        def counter(texts: Sequence[str]) -> list[int]:
            encoded = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
            return [len(ids) for ids in encoded]

        _WORKER_COUNTERS[model] = counter
    return counter


@dataclass(frozen=True)
class _Failed:
    """An exception crossing the process boundary without pickling it (our errors take keywords)."""

    type_name: str
    message: str
    source_error: bool = False
    hint: str | None = None
    path: str | None = None
    row: int | None = None

    @classmethod
    def of(cls, exc: BaseException) -> _Failed:
        if isinstance(exc, SourceError):
            return cls(type(exc).__name__, exc.message, True, exc.hint, exc.path, exc.row)
        return cls(type(exc).__name__, str(exc))

    def rebuild(self) -> Exception:
        if self.source_error:
            return SourceError(self.message, path=self.path, row=self.row, hint=self.hint)
        # Same class name as the worker saw, so the report reads as the local engine's does.
        return type(self.type_name, (Exception,), {})(self.message)


_Parsed = tuple[Any, list[Chunk], Counter[str]] | _Failed


def parse_documents(cfg: SourceConfig, items: list[tuple[str, str]], max_bytes: int, redact: bool,
                    params: ChunkParams, model: str) -> list[_Parsed]:
    """Ray task body: load → redact → chunk a batch of files; failures are returned, not raised."""
    counter = _worker_token_counter(model)
    redactor = Redactor() if redact else None
    out: list[_Parsed] = []
    for key, path in items:
        try:
            doc = load_document(cfg, key, Path(path), max_bytes=max_bytes)
            found: Counter[str] = Counter()
            if redactor:
                doc, found = redact_document(doc, redactor)
            out.append((doc, chunk_document(doc, params, counter), found))
        except Exception as exc:  # reported per file by the driver, like the local engine
            out.append(_Failed.of(exc))
    return out


def parse_tickets(tickets: list[Ticket], redact: bool, params: ChunkParams, model: str) -> list[_Parsed]:
    """Ray task body: redact → chunk a batch of tickets."""
    counter = _worker_token_counter(model)
    redactor = Redactor() if redact else None
    out: list[_Parsed] = []
    for ticket in tickets:
        try:
            found: Counter[str] = Counter()
            if redactor:
                ticket, found = redact_ticket(ticket, redactor)
            out.append((ticket, chunk_ticket(ticket, params, counter), found))
        except Exception as exc:
            out.append(_Failed.of(exc))
    return out


def tokenize_stage(batch: dict[str, np.ndarray], model: str) -> dict[str, np.ndarray]:
    """Ray Data stage 1 (CPU tasks): the model's tokenizer, fixed-width so blocks concatenate."""
    from assistant.embed_fast import BatchTokenizer

    embedder = _worker_embedder(model)
    tokenizer = _WORKER_TOKENIZERS.get(model)
    if tokenizer is None:
        tokenizer = _WORKER_TOKENIZERS[model] = BatchTokenizer(embedder.model)
    arrays = tokenizer([str(t) for t in batch["text"]], fixed_width=True)
    return {"i": batch["i"], **arrays}


class EmbedStage:
    """Ray Data stage 2 (actor pool): the forward pass on this actor's GPU, or CPU."""

    def __init__(self, model: str, device: str, threads: int = 1) -> None:
        import torch

        from assistant.embeddings import resolve_device

        self._device = resolve_device(device)
        if self._device == "cpu":
            torch.set_num_threads(threads)  # the CPUs this actor reserved, no more
        self._model = _worker_embedder(model, self._device).model

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from assistant.embed_fast import forward_batch

        arrays = {k: v for k, v in batch.items() if k != "i"}
        vectors = forward_batch(self._model, arrays, device=self._device)
        return {"i": batch["i"], "vector": vectors}


@contextmanager
def ray_session(address: str | None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """Join ``address`` (a cluster) or start a local Ray; a Ray already running here is reused."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--engine ray needs Ray installed",
                          hint='pip install "support-assistant[ray]" (or "ray[data]")') from exc
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "configure_logging": False}
    target = None if address in (None, "", "local") else address
    if target is None:
        kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
    logging.getLogger("ray").setLevel(logging.WARNING)  # Ray Data logs every operator's progress at INFO
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        ray.init(address=target, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"Cannot reach the Ray cluster at {address}",
                          hint="check --ray-address (ray://host:10001 or auto) and that the cluster is up",
                          detail=str(exc)) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


class RayIngestJob(IngestJob):
    """:class:`IngestJob` with load/redact/chunk on Ray tasks and embedding on a Ray Data actor pool."""

    def __init__(self, settings: Settings, sources_file: Path, *, embedder: Embedder,
                 progress: Progress | None = None, address: str | None = None,
                 embed_actors: int | None = None) -> None:
        super().__init__(settings, sources_file, embedder=embedder, progress=progress)
        self.report.engine = "ray"
        self.address = address
        self.embed_actors = embed_actors
        self._model = settings.embedding.model
        self._device = settings.embedding.device
        self._ray: Any = None
        self._docs: dict[tuple[str, str], tuple[Any, int]] = {}  # (source, key) -> (task ref, position)
        self._tickets: dict[tuple[str, str], tuple[Any, int]] = {}
        self._results: dict[Any, list[_Parsed]] = {}  # task ref -> its fetched results, until all are used
        self._waiting: dict[Any, int] = {}  # task ref -> items not handed to the driver yet

    def run(self) -> Any:
        with ray_session(self.address) as ray:
            import ray.data

            ray.data.DataContext.get_current().enable_progress_bars = False  # our own progress, not Ray's
            logging.getLogger("ray.data").setLevel(logging.WARNING)  # set on import: quiet it after that
            self._ray = ray
            try:
                return super().run()
            except ray.exceptions.RayError as exc:  # a worker died, ran out of memory, lost its node
                log.error("ray engine failed: %s", exc)
                raise self._abort("The Ray cluster failed during ingestion; nothing was published",
                                  "see the Ray logs (`ray logs`, or the dashboard) and run again") from exc
            finally:
                self._ray = None
                self._docs.clear()
                self._tickets.clear()
                self._results.clear()
                self._waiting.clear()

    # -------------------------------------------------------- fan out before the walk

    def _prepare(self, sources: list[SourceConfig], params: ChunkParams, pipeline_fp: str,
                 prev_docs: dict[str, tuple[str, str]]) -> None:
        ray = self._ray
        parse_docs = ray.remote(parse_documents).options(num_cpus=1)
        parse_tix = ray.remote(parse_tickets).options(num_cpus=1)
        max_bytes = int(self.settings.index.max_file_mb * 1024 * 1024)
        params_ref = ray.put(params)
        for cfg in sources:
            redact = cfg.should_redact
            if cfg.type == "documents":
                todo = [(key, str(path)) for key, path in list_document_files(cfg)
                        if self._needs_parse(f"{cfg.name}:{key}", path, cfg, pipeline_fp, prev_docs, redact,
                                             max_bytes)]
                for start in range(0, len(todo), ITEMS_PER_TASK):
                    part = todo[start:start + ITEMS_PER_TASK]
                    ref = parse_docs.remote(cfg, part, max_bytes, redact, params_ref, self._model)
                    self._waiting[ref] = len(part)
                    for pos, (key, _) in enumerate(part):
                        self._docs[(cfg.name, key)] = (ref, pos)
            else:
                batch: list[Ticket] = []
                seen: set[str] = set()
                for item in iter_tickets(cfg):
                    if isinstance(item, SourceError) or (not item.resolved and cfg.resolved_only):
                        continue
                    if item.id in seen:
                        continue
                    seen.add(item.id)
                    fp = _doc_fingerprint(item.fingerprint, pipeline_fp, cfg, redact)
                    prev = prev_docs.get(f"{cfg.name}:{item.id}")
                    if prev is not None and prev[0] == fp:
                        continue
                    batch.append(item)
                    if len(batch) == ITEMS_PER_TASK:
                        self._submit_tickets(parse_tix, cfg, batch, redact, params_ref)
                        batch = []
                if batch:
                    self._submit_tickets(parse_tix, cfg, batch, redact, params_ref)
        log.info("ray: %d documents and %d tickets to parse", len(self._docs), len(self._tickets))

    def _submit_tickets(self, task: Any, cfg: SourceConfig, batch: list[Ticket], redact: bool, params_ref: Any) -> None:
        ref = task.remote(batch, redact, params_ref, self._model)
        self._waiting[ref] = len(batch)
        for pos, ticket in enumerate(batch):
            self._tickets[(cfg.name, ticket.id)] = (ref, pos)

    @staticmethod
    def _needs_parse(doc_key: str, path: Path, cfg: SourceConfig, pipeline_fp: str,
                     prev_docs: dict[str, tuple[str, str]], redact: bool, max_bytes: int) -> bool:
        """Mirror of the driver's reuse test; anything it cannot decide is left to the driver."""
        try:
            if path.stat().st_size > max_bytes:
                return False
            fp = _doc_fingerprint(file_fingerprint(path, cfg), pipeline_fp, cfg, redact)
        except (SourceError, OSError):
            return False
        prev = prev_docs.get(doc_key)
        return prev is None or prev[0] != fp

    # -------------------------------------------------------- answer from the tasks

    def _take(self, ref: Any, pos: int) -> _Parsed:
        """One item's result; a task's results are fetched once and dropped when all are used."""
        if ref not in self._results:
            self._results[ref] = self._ray.get(ref)
        parsed = self._results[ref][pos]
        self._waiting[ref] -= 1
        if self._waiting[ref] == 0:
            del self._results[ref], self._waiting[ref]
        return parsed

    def _use(self, parsed: _Parsed) -> tuple[Any, list[Chunk]]:
        if isinstance(parsed, _Failed):
            raise parsed.rebuild()
        record, chunks, found = parsed
        self._redactions.update(found)
        return record, chunks

    def _parse_document(self, cfg: SourceConfig, key: str, path: Path, max_bytes: int, redactor: Redactor | None,
                        params: ChunkParams) -> tuple[Document, list[Chunk]]:
        slot = self._docs.pop((cfg.name, key), None)
        if slot is None:  # not fanned out (changed between the two looks): do it here
            return super()._parse_document(cfg, key, path, max_bytes, redactor, params)
        return self._use(self._take(*slot))

    def _parse_ticket(self, cfg: SourceConfig, ticket: Ticket, redactor: Redactor | None,
                      params: ChunkParams) -> tuple[Ticket, list[Chunk]]:
        slot = self._tickets.pop((cfg.name, ticket.id), None)
        if slot is None:
            return super()._parse_ticket(cfg, ticket, redactor, params)
        return self._use(self._take(*slot))

    # -------------------------------------------------------- embedding on an actor pool

    def _embed(self, texts: list[str]) -> np.ndarray:
        import ray.data

        dim = self.embedder.dimension
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        from assistant.embed_fast import length_order

        order = length_order(texts)  # similar lengths share a batch: little padding
        ds = ray.data.from_items([{"i": int(i), "text": texts[i]} for i in order],
                                 override_num_blocks=max(1, len(texts) // (EMBED_BATCH * 4)))
        resources = self._ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
        device = "cuda" if gpus and self._device in ("auto", "cuda") else "cpu"
        stage: Any = tokenize_stage  # Ray's stubs do not type keyword arguments of a batch function
        if device == "cuda":
            # One actor per GPU; tokenization runs as separate 1-CPU tasks feeding them.
            actors, tokenize_cpus, embed_cpus, embed_gpus = self.embed_actors or gpus, 1, 0, 1
        else:
            # CPU: torch already uses every core it is given, so few actors with several cores
            # each; same CPU request on both stages, so Ray Data fuses them (no hand-off).
            actors = self.embed_actors or max(1, cpus // 4)
            tokenize_cpus = embed_cpus = max(1, cpus // actors)
            embed_gpus = 0
        tokenized = ds.map_batches(stage, fn_kwargs={"model": self._model}, batch_size=EMBED_BATCH,
                                   num_cpus=tokenize_cpus)
        embedded = tokenized.map_batches(
            EmbedStage, fn_constructor_args=(self._model, device, max(1, embed_cpus)), batch_size=EMBED_BATCH,
            compute=ray.data.ActorPoolStrategy(size=actors), num_gpus=embed_gpus, num_cpus=embed_cpus)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        done = 0
        self._start("embedding (ray)", len(texts))
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            out[batch["i"]] = batch["vector"]
            done += len(batch["i"])
            self._advance(done)
        if done != len(texts):  # pragma: no cover - Ray Data drops nothing; guard the invariant
            raise RuntimeError(f"ray embedding returned {done} of {len(texts)} vectors")
        return out
