"""Retrieval latency at 10k and 100k chunks, beside plain FAISS on the same vectors, and the
answer pipeline's time-to-first-token overhead over the LLM's own.

    python benchmarks/retrieval.py [--sizes 10000 100000] [--queries 100] [--cache DIR] [--domain-adapter]

What is real and what is synthetic (printed with the results):

- chunk texts are synthesised by recombining sentences of the example help centre, so the FTS5
  table has realistic vocabulary; titles come from the example documents;
- chunk vectors are random unit vectors: embedding 100k chunks on a laptop CPU takes too long
  for a benchmark, and search cost does not depend on what the vectors mean;
- query vectors are real: every retrieval embeds the question with the real model, because
  that is part of what a user waits for;
- the generation is written by the same code as a real one (chunks.sqlite + FAISS files; flat
  index up to ``index.flat_max`` vectors, HNSW above), and searched through ``HybridRetriever``.

"Plain FAISS" is ``index.search`` on the same loaded index file with the same candidate count;
the ratio says what fusion, BM25, record fetch and the query embedding add.

The time-to-first-token part runs ``AnswerPipeline`` with a stand-in chat model that waits a
fixed time before its first token; the overhead is the pipeline's first token minus that wait.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

REPO = Path(__file__).resolve().parents[1]
FALLBACK_SENTENCES = [
    "Open the invoice and choose Record payment to mark it paid.",
    "Recurring profiles send the same invoice every week, month or year.",
    "Card payments are processed by Stripe and settle in two business days.",
    "Tax rates are added under Settings and chosen per line item.",
    "The client portal lets customers download invoices and pay online.",
]
FALLBACK_QUESTIONS = [
    "How do I refund a card payment?", "Can I bill clients automatically every month?",
    "Which exchange rates do you use?", "How do I add a sales tax rate?", "Why was my payout paused?",
]


class DelayedChatModel(BaseChatModel):
    """A stand-in LLM: waits ``first_token_s`` before its first token, then streams a short answer."""

    first_token_s: float = 0.2
    reply: str = "You can do that from the invoice page [1]. It takes effect at once [1]."

    @property
    def _llm_type(self) -> str:
        return "delayed-stand-in"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        time.sleep(self.first_token_s)
        for token in re.findall(r"\S+\s*", self.reply):
            yield ChatGenerationChunk(message=AIMessageChunk(content=token))


def _sentences() -> tuple[list[str], list[str]]:
    sentences: list[str] = []
    titles: list[str] = []
    for path in sorted((REPO / "examples" / "docs" / "public").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
        titles.append(heading.group(1).strip() if heading else path.stem.replace("-", " "))
        body = re.sub(r"[#*`>|\[\]()_-]+", " ", text)
        sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", body) if 40 <= len(s.strip()) <= 300]
    return (sentences or FALLBACK_SENTENCES), (titles or ["Help article"])


def _questions() -> list[str]:
    import json

    golden = REPO / "examples" / "eval" / "golden.jsonl"
    if golden.exists():
        return [json.loads(line)["question"] for line in golden.read_text().splitlines() if line.strip()]
    return FALLBACK_QUESTIONS


def build_corpus(data_dir: Path, n: int, *, model_id: str, dim: int, internal_share: float = 0.3) -> float:
    """Write a synthetic generation of ``n`` chunks; returns the seconds it took."""
    from assistant.eval_datasets import document_chunk, write_generation

    rng = random.Random(n)
    sentences, titles = _sentences()
    chunks = []
    for i in range(n):
        doc = i // 4  # four chunks per document, like a short article
        chunks.append(document_chunk(
            source="synthetic", key=f"doc-{doc}.md", title=f"{rng.choice(titles)} ({doc})",
            text=" ".join(rng.sample(sentences, k=min(len(sentences), rng.randint(3, 6)))), ordinal=i % 4,
            model_id=model_id, audience="internal" if (doc % 10) < internal_share * 10 else "public",
        ))
    vectors = np.random.default_rng(n).normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    t0 = time.perf_counter()
    write_generation(data_dir, chunks, vectors, model_id=model_id)
    return time.perf_counter() - t0


def ensure_term_table(data_dir: Path, embedder: Any) -> None:
    """The vocabulary's word vectors in the benchmark generation, as `assistant ingest` writes them
    for a corpus this size (ASSISTANT_RETRIEVAL_TERM_TABLE_MIN_CHUNKS); added to a cached one."""
    from assistant import generations, term_table

    _, path = generations.resolve(data_dir)
    if not (path / term_table.VECTORS_FILE).exists():
        term_table.build(path, embedder)


def _pct(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure_retrieval(data_dir: Path, embedder: Any, questions: list[str], runs: int,
                      settings: Any = None, *, postings: bool = True) -> dict[str, Any]:
    from assistant import generations, vectors
    from assistant.config import RetrievalSettings
    from assistant.index import IndexHandle
    from assistant.retrieval import HybridRetriever

    settings = settings or RetrievalSettings()
    handle = IndexHandle(data_dir, model_id=embedder.model_id, device="cpu")
    retriever = HybridRetriever(handle, embedder, settings)
    _, path = generations.resolve(data_dir)
    plain, _ = vectors.load_index(path / "public.faiss", device="cpu")
    kind = handle.current().manifest.get("index", {}).get("public", "?")
    db = handle.current().db
    db.use_postings = postings
    keyword = "postings" if postings and db.postings("public") is not None else "FTS5"
    retriever.search(questions[0], audience="public")  # warm-up: model load, page cache
    gc.collect()
    gc.freeze()  # as the web server does after its warm-up (bots/web/app.py)
    from assistant import term_table

    out: dict[str, Any] = {"index": kind, "keyword": keyword,
                           "term_table": term_table.table_for(handle.current()) is not None}
    for audience in ("public", "internal"):
        totals, embeds, rest, faiss_ms, seen = [], [], [], [], []
        for i in range(runs):
            question = questions[i % len(questions)]
            t0 = time.perf_counter()
            result = retriever.search(question, audience=audience)
            totals.append((time.perf_counter() - t0) * 1000)
            embeds.append(result.timings_ms["embed"])
            rest.append(totals[-1] - result.timings_ms["embed"])
            query = np.ascontiguousarray(embedder.encode_query(question).reshape(1, -1), dtype=np.float32)
            t0 = time.perf_counter()
            plain.search(query, min(settings.candidates, int(plain.ntotal)))  # FAISS's own search, as shipped by it
            faiss_ms.append((time.perf_counter() - t0) * 1000)
        # The same questions again: their words' vectors (the abstention salience signal) are cached now,
        # as on a server that has seen those words before; the first pass encodes each new rare word.
        for i in range(runs):
            result = retriever.search(questions[i % len(questions)], audience=audience)
            seen.append(result.timings_ms["total"] - result.timings_ms["embed"])
        out[audience] = {"total": _pct(totals), "embed": _pct(embeds), "search": _pct(rest), "faiss": _pct(faiss_ms),
                         "seen": _pct(seen)}
    gc.unfreeze()
    return out


def measure_term_table(data_dir: Path, embedder: Any, questions: list[str], settings: Any) -> dict[str, Any]:
    """Search time with the generation's term table and without it (every new word encoded at query
    time, as on a generation that has none), question by question in a shuffled order, each
    question on first sight for both retrievers (each keeps its own term-vector cache): the two
    share the machine's state of the moment, which sequential runs on this machine do not."""
    from assistant.index import IndexHandle
    from assistant.retrieval import HybridRetriever

    rng = random.Random(0)
    out: dict[str, Any] = {}
    for audience in ("public", "internal"):
        retrievers = {}
        for name in ("table", "encode"):
            handle = IndexHandle(data_dir, model_id=embedder.model_id, device="cpu")
            if name == "encode":
                handle.current()._term_table = None  # read by assistant.term_table.table_for
            retrievers[name] = HybridRetriever(handle, embedder, settings)
            retrievers[name].search("How do I send an invoice?", audience=audience)  # warm-up
        laps: dict[str, list[float]] = {"table": [], "encode": []}
        terms: dict[str, list[float]] = {"table": [], "encode": []}
        for question in dict.fromkeys(questions):
            order = list(retrievers)
            rng.shuffle(order)
            for name in order:
                result = retrievers[name].search(question, audience=audience)
                laps[name].append(result.timings_ms["total"] - result.timings_ms["embed"])
                terms[name].append(result.timings_ms.get("embed_terms", 0.0))
        out[audience] = {name: {"search": _pct(laps[name]), "embed_terms": _pct(terms[name])} for name in laps}
    return out


def measure_domain(data_dir: Path, embedder: Any, questions: list[str], runs: int, settings: Any) -> dict[str, Any]:
    """Retrieval with and without a domain adapter stored in the generation, interleaved query by
    query, and the adapter step alone. The adapter is the identity plus noise: its cost (one
    matrix-vector product, a dot product per candidate, a page re-sort) does not depend on its values."""
    from assistant import generations
    from assistant.domain_tuning import ADAPTER_FILE, ADAPTER_FORMAT, DomainAdapter
    from assistant.index import IndexHandle
    from assistant.retrieval import HybridRetriever

    _, path = generations.resolve(data_dir)
    rng = np.random.default_rng(0)
    dim = embedder.dimension
    matrix = (np.eye(dim) + 0.01 * rng.normal(size=(dim, dim))).astype(np.float32)
    DomainAdapter(matrices={"public": matrix, "internal": matrix},
                  meta={"format": ADAPTER_FORMAT, "kind": "benchmark"}).save(path)
    try:
        handle = IndexHandle(data_dir, model_id=embedder.model_id, device="cpu")
        adapted = HybridRetriever(handle, embedder, settings.model_copy(update={"domain_weight": 1.0}))
        plain = HybridRetriever(handle, embedder, settings.model_copy(update={"domain_weight": 0.0}))
        adapted.search(questions[0], audience="public")  # warm-up
        out: dict[str, Any] = {}
        for audience in ("public", "internal"):
            without, with_adapter, step = [], [], []
            for i in range(runs):
                question = questions[i % len(questions)]
                t0 = time.perf_counter()
                plain.search(question, audience=audience)
                without.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                result = adapted.search(question, audience=audience)
                with_adapter.append((time.perf_counter() - t0) * 1000)
                step.append(result.timings_ms.get("domain", 0.0))
            out[audience] = {"without": _pct(without), "with": _pct(with_adapter), "step": _pct(step)}
        return out
    finally:
        (path / ADAPTER_FILE).unlink(missing_ok=True)


def measure_ttft(data_dir: Path, embedder: Any, questions: list[str], runs: int,
                 first_token_s: float) -> dict[str, Any]:
    from assistant.config import Settings
    from assistant.index import IndexHandle
    from assistant.pipeline import AnswerPipeline
    from assistant.prompts import load_prompts
    from assistant.retrieval import HybridRetriever
    from assistant.schemas import AnswerRequest

    settings = Settings(data_dir=data_dir, _env_file=None)
    settings.retrieval.abstain_threshold = -1.0  # random corpus vectors: never abstain, always call the LLM
    retriever = HybridRetriever(IndexHandle(data_dir, model_id=embedder.model_id, device="cpu"), embedder,
                                settings.retrieval)
    llm = DelayedChatModel(first_token_s=first_token_s)
    pipeline = AnswerPipeline(retriever=retriever, prompts=load_prompts(settings.llm.prompts_dir),
                              llm_provider=lambda _name: llm, settings=settings, store=None, backend="local")
    ttft, retrieve = [], []
    for i in range(runs + 1):
        request = AnswerRequest(question=questions[i % len(questions)], audience="public", channel="eval")
        t0 = time.perf_counter()
        first = None
        for event in pipeline.stream(request):
            if event.type == "token" and first is None:
                first = (time.perf_counter() - t0) * 1000
            elif event.type == "done" and i:  # the first run is a warm-up
                ttft.append(first or 0.0)
                retrieve.append(event.timings_ms.get("retrieve", 0.0))
    p50, p95 = _pct(ttft)
    own = first_token_s * 1000
    return {"ttft": (p50, p95), "own": own, "overhead": (p50 - own, p95 - own), "retrieve": _pct(retrieve)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=100, help="timed searches per size and audience")
    parser.add_argument("--ttft-runs", type=int, default=30)
    parser.add_argument("--first-token-ms", type=float, default=200.0, help="the stand-in LLM's own first token")
    parser.add_argument("--cache", type=Path, default=None,
                        help="build each size's corpus under DIR/<size> once and reuse it (default: a temp dir)")
    parser.add_argument("--domain-adapter", action="store_true",
                        help="also time retrieval with a domain adapter stored in the generation (the reranking step)")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from assistant.embeddings import Embedder

    console = Console(width=160)
    embedder = Embedder(device="cpu")
    # Query embeddings run as in the server: on its model thread's torch threads (on 2 shared
    # cores the default 2 spin against each other and the rest of the machine).
    import torch

    from assistant.embeddings import serving_threads

    torch.set_num_threads(serving_threads())
    questions = _questions()
    table = Table(title="Retrieval latency (ms): query embedding + hybrid search + record fetch vs plain FAISS")
    for column in ("chunks", "index", "BM25", "budget", "terms", "audience", "retrieval p50", "p95", "embed p50",
                   "search p50", "p95", "seen p95", "FAISS p50", "p95", "search/FAISS p95", "build s"):
        table.add_column(column, justify="left" if column in ("index", "BM25", "terms", "audience") else "right")
    domain = Table(title="Domain adapter (ASSISTANT_RETRIEVAL_DOMAIN_TUNING): retrieval ms without / with it, "
                         "and its reorder step over the first rerank_candidates passages")
    for column in ("chunks", "audience", "without p50", "p95", "with p50", "p95", "step p50", "p95"):
        domain.add_column(column, justify="left" if column == "audience" else "right")
    terms_table = Table(title="Term table (assistant/term_table.py): search ms on first sight of each question, "
                              "encoding its words at query time vs reading them from the table, interleaved")
    for column in ("chunks", "audience", "encode p50", "p95", "embed_terms p95", "table p50", "p95",
                   "embed_terms p95", "p95 ratio"):
        terms_table.add_column(column, justify="left" if column == "audience" else "right")
    ttft: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            data_dir = (args.cache or Path(tmp)) / str(n)
            if (data_dir / "CURRENT").exists():
                console.print(f"reusing {n:,} synthetic chunks in {data_dir}", style="dim")
                build_s = 0.0
            else:
                console.print(f"building {n:,} synthetic chunks…", style="dim")
                build_s = build_corpus(data_dir, n, model_id=embedder.model_id, dim=embedder.dimension)
            from assistant.config import RetrievalSettings

            shipped = RetrievalSettings()
            if 0 <= shipped.term_table_min_chunks <= n:
                ensure_term_table(data_dir, embedder)
            # The shipped path (postings tables when the generation has them), then FTS5 scoring
            # with and without the postings budget (what generations written before them use).
            for postings, budget in ((True, shipped.keyword_max_postings), (False, shipped.keyword_max_postings),
                                     (False, 0)):
                m = measure_retrieval(data_dir, embedder, questions, args.queries,
                                      shipped.model_copy(update={"keyword_max_postings": budget}),
                                      postings=postings)
                if postings and m["keyword"] != "postings":
                    continue  # an index written before the postings tables: the FTS5 rows say it all
                for audience in ("public", "internal"):
                    r = m[audience]
                    table.add_row(f"{n:,}", m["index"], m["keyword"],
                                  "-" if m["keyword"] == "postings" else f"{budget:,}" if budget else "none",
                                  "table" if m["term_table"] else "encode",
                                  audience, f"{r['total'][0]:.1f}", f"{r['total'][1]:.1f}",
                                  f"{r['embed'][0]:.1f}", f"{r['search'][0]:.1f}", f"{r['search'][1]:.1f}",
                                  f"{r['seen'][1]:.1f}", f"{r['faiss'][0]:.2f}", f"{r['faiss'][1]:.2f}",
                                  f"{r['search'][1] / max(r['faiss'][1], 1e-3):.0f}×", f"{build_s:.0f}")
            if 0 <= shipped.term_table_min_chunks <= n:
                t = measure_term_table(data_dir, embedder, questions, shipped)
                for audience in ("public", "internal"):
                    with_table, encoding = t[audience]["table"], t[audience]["encode"]
                    terms_table.add_row(f"{n:,}", audience, f"{encoding['search'][0]:.1f}",
                                        f"{encoding['search'][1]:.1f}", f"{encoding['embed_terms'][1]:.1f}",
                                        f"{with_table['search'][0]:.1f}", f"{with_table['search'][1]:.1f}",
                                        f"{with_table['embed_terms'][1]:.1f}",
                                        f"×{with_table['search'][1] / max(encoding['search'][1], 1e-3):.2f}")
            if args.domain_adapter:
                d = measure_domain(data_dir, embedder, questions, args.queries, shipped)
                for audience in ("public", "internal"):
                    r = d[audience]
                    domain.add_row(f"{n:,}", audience, f"{r['without'][0]:.1f}", f"{r['without'][1]:.1f}",
                                   f"{r['with'][0]:.1f}", f"{r['with'][1]:.1f}", f"{r['step'][0]:.3f}",
                                   f"{r['step'][1]:.3f}")
            if n == args.sizes[0] and args.ttft_runs > 0:
                ttft = measure_ttft(data_dir, embedder, questions, args.ttft_runs, args.first_token_ms / 1000)
    console.print(table)
    console.print("Chunk vectors are random unit vectors; texts are recombined example sentences; query "
                  "vectors are real (all-MiniLM-L6-v2, CPU). FAISS column: index.search on the same index file, "
                  "public partition, same candidate count. search = retrieval minus the query embedding. "
                  "seen p95: the search part of the same questions asked a second time (term vectors cached). "
                  "terms: the salience signal's word vectors read from the generation's term table, or "
                  "encoded at query time (a generation without one). "
                  "BM25 postings: the in-process scorer over the postings tables (same ranking as FTS5's "
                  "bm25()); FTS5: bm25() in SQLite, with or without the postings budget.", style="dim")
    if terms_table.row_count:
        console.print(terms_table)
    if args.domain_adapter:
        console.print(domain)
    if ttft:
        console.print(
            f"Time to first token at {args.sizes[0]:,} chunks (stand-in LLM, own first token "
            f"{ttft['own']:.0f} ms): p50 {ttft['ttft'][0]:.0f} ms, p95 {ttft['ttft'][1]:.0f} ms → pipeline "
            f"overhead p50 {ttft['overhead'][0]:.0f} ms, p95 {ttft['overhead'][1]:.0f} ms "
            f"(of which retrieval p50 {ttft['retrieve'][0]:.0f} ms)")


if __name__ == "__main__":
    main()
