"""The answer pipeline: condense → retrieve → abstain or prompt → stream → cite → record.

Both bots and the CLI call :meth:`AnswerPipeline.stream` (or :meth:`AnswerPipeline.astream`)
and only translate its events to their medium. The event contract:

- exactly one :class:`SourcesEvent` first: every passage offered to the model, numbered as in
  the prompt (empty when the pipeline abstains);
- then :class:`TokenEvent` pieces. Their concatenation is exactly ``DoneEvent.answer``:
  citations keep the sources event's numbers (a ``[3]`` shown mid-stream already points to its
  passage) and citations to numbers that were never offered are removed, so a client can append
  tokens and never has to rewrite what it showed;
- then exactly one :class:`DoneEvent` (answer, the cited sources in number order, numbered as in
  the sources event and the text, abstained/fallback flags, backend, model, generation, prompt version,
  timings per stage, usage, and ``answer_id`` when the conversation was recorded);
- or an :class:`ErrorEvent` with a stable code and a user-safe message, ending the stream.

Failure policy (docs/architecture.md §6, §7): a weak best dense score abstains with the brand's
hand-off text and no LLM call. When the LLM fails before its first token (after the backend's
own bounded retries) the extractive answer is streamed instead, ``fallback=True``. When it
fails mid-answer, the text already shown stays, a short notice follows and then the
extractive answer; the stored answer is all of it, exactly what the user saw. A model that
returns nothing usable is treated as a failure too.

LCEL is used where it composes: ``condense prompt | llm | parser`` and ``answer prompt | llm``.
The orchestration around them is plain Python, because events, timings and fallback are
control flow, not a chain.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from typing import Any

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import StrOutputParser

from assistant.abstention import OUTSIDE_SCOPE, PRICE_UNSTATED, VETOES
from assistant.citations import CitationRewriter
from assistant.config import Settings
from assistant.errors import AssistantError, public_error
from assistant.follow_up import searched_text, topic_of, with_referent
from assistant.grounding import GroundingGuard, evidence_for
from assistant.llm import EXTRACTIVE, check_backend
from assistant.llm.extractive import best_excerpt, extractive_answer
from assistant.prompts import PromptFile, PromptSet, brand_values, format_history, format_passages
from assistant.protocols import Retriever
from assistant.repetition import RepetitionGuard
from assistant.schemas import (
    AnswerEvent,
    AnswerRequest,
    Audience,
    DoneEvent,
    ErrorEvent,
    GroundingResult,
    HistoryTurn,
    Passage,
    RetrievalResult,
    SourceRef,
    SourcesEvent,
    TokenEvent,
    partitions_for,
)
from assistant.small_talk import BACKEND as SMALL_TALK_BACKEND
from assistant.small_talk import small_talk
from assistant.store import Conversation, Store
from assistant.ticket_text import staff_text
from assistant.workers import WorkerPool, stop_requested

log = logging.getLogger(__name__)

LLMProvider = Callable[[str], BaseChatModel | None]
STAGES = ("condense", "retrieve", "llm_first_token", "llm_total", "total")
CONDENSE_MAX_TOKENS = 96
# An answer never contains passage markup; a model that starts writing some is echoing the prompt.
ANSWER_STOP = ["<passage", "</passage"]
# When the model cites nothing: cite up to this many passages the answer resembles at least this much
# (cosine of all-MiniLM-L6-v2 vectors; answers drawn from a passage score ~0.6-0.9 against it).
ATTRIBUTION_MAX = 3
ATTRIBUTION_MIN_COSINE = 0.5
ATTRIBUTION_LABEL = "Sources:"


class AnswerPipeline:
    """One pipeline per process; safe to share between threads (no per-request state on self).

    :meth:`astream` runs answers on ``pool``, the process's bounded :class:`WorkerPool`
    (``ASSISTANT_WEB_WORKERS`` threads); every channel that answers through this pipeline shares
    it. Without one, the pipeline makes its own from the settings.
    """

    def __init__(self, *, retriever: Retriever, prompts: PromptSet, llm_provider: LLMProvider,
                 settings: Settings, store: Store | None = None, backend: str | None = None,
                 pool: WorkerPool | None = None) -> None:
        self.retriever = retriever
        self.prompts = prompts
        self.settings = settings
        self.store = store
        self.default_backend = check_backend(backend or settings.llm.backend)
        self._llm_provider = llm_provider
        self.pool = pool or WorkerPool(settings.web.workers, queue=settings.web.queue)

    # ------------------------------------------------------------------ public interface

    def ready(self) -> dict[str, bool]:
        """Readiness for probes (``/readyz``): a generation can be served, the default backend answers.

        May do I/O (a ``stat`` of ``CURRENT``, an HTTP health call); callers run it in a thread.
        """
        return self.readiness()[0]

    def readiness(self) -> tuple[dict[str, bool], str | None]:
        """:meth:`ready`'s checks and a short reason for operators, without paths (``/readyz``
        shows it): "no index published yet", "LLM backend not reachable". The reason can come
        with all checks passing: the newest generation failed to load, the previous one serves."""
        checks: dict[str, bool] = {}
        reason: str | None = None
        index = getattr(self.retriever, "index", None)
        status = getattr(index, "status", None)
        if callable(status):
            state = status()
            checks["index"] = state.serving is not None
            reason = state.reason
        elif index is not None and hasattr(index, "current"):
            try:
                index.current()
                checks["index"] = True
            except AssistantError as exc:
                log.warning("not ready: %s [%s] %s", exc.message, exc.code, exc.detail or "")
                checks["index"] = False
                reason = _INDEX_REASONS.get(exc.code, "index cannot be loaded")
        if self.default_backend == EXTRACTIVE:
            checks["llm"] = True
        else:
            llm = self._llm_provider(self.default_backend)
            probe = getattr(llm, "health", None)
            checks["llm"] = bool(probe()) if callable(probe) else llm is not None
            if not checks["llm"] and reason is None:
                reason = "LLM backend not reachable"
        return checks, reason

    def warm(self) -> None:
        """Load the embedding model and the published index generation now, at server start.

        Otherwise the first customer waits for them (seconds: the model, its libraries' imports,
        the FAISS files), and the server's long-lived objects could not be set aside from the
        garbage collector before traffic arrives (``bots/web/app.py``). A failure is logged and
        left for the first question to meet again: ``/readyz`` reports it, and the index loader
        retries with backoff.
        """
        embedder = getattr(self.retriever, "embedder", None)
        encode = getattr(embedder, "encode_query", None)
        try:
            if callable(encode):  # on its own first: the search stops at a missing index before it encodes
                encode("warm up")
            self.retriever.search("warm up", audience="public")
        except AssistantError as exc:
            log.warning("warm-up incomplete: %s [%s] %s %s", exc.message, exc.code, exc.detail or "",
                        f"({exc.hint})" if exc.hint else "")

    def stream(self, request: AnswerRequest) -> Generator[AnswerEvent, None, None]:
        """Answer one request as events; never raises (failures end the stream with ErrorEvent)."""
        try:
            yield from _Run(self, request).events()
        except AssistantError as exc:
            log.warning("answer refused: %s [%s] %s", exc.message, exc.code, exc.detail or "",
                        exc_info=exc.code == "internal_error")
            shown = public_error(exc)  # the catalogue's words: exc.message may name paths or settings
            yield ErrorEvent(code=shown.code, message=shown.message, retryable=shown.retryable)
        except Exception:
            log.exception("answer failed (channel=%s, audience=%s)", request.channel, request.audience)
            shown = public_error("internal_error")
            yield ErrorEvent(code=shown.code, message=shown.message, retryable=True)

    def astream(self, request: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        """:meth:`stream` for async callers, run start to end on one worker of :attr:`pool`.

        Raises :class:`assistant.workers.Busy` *when called* if the pool and its waiting line
        are full, so a channel can refuse before it answers anything (HTTP 503, "busy" in
        Slack). If the caller stops early (a client disconnects) and closes the iterator, the
        worker stops at its next event and closes the pipeline, which releases the LLM stream.
        """
        return self.pool.stream(lambda: self.stream(request))

    def close(self, *, wait: bool = True) -> None:
        """Stop the workers (with ``wait``, after running answers finish) and release the index."""
        self.pool.close(wait=wait)
        index = getattr(self.retriever, "index", None)
        close = getattr(index, "close", None)
        if callable(close):
            close()

    def llm_for(self, backend: str) -> BaseChatModel | None:
        """The chat model for ``backend`` (``None`` for extractive)."""
        return None if backend == EXTRACTIVE else self._llm_provider(backend)


class _Run:
    """The state of answering one request."""

    def __init__(self, pipeline: AnswerPipeline, request: AnswerRequest) -> None:
        self.p = pipeline
        self.request = request
        self.brand = pipeline.settings.brand
        self.started = time.perf_counter()
        self.timings = dict.fromkeys(STAGES, 0.0)
        self.parts: list[str] = []
        self.rewriter = CitationRewriter(0)
        self.grounding = GroundingResult()
        self.asked_at = time.time()
        self.unrecorded: Conversation | None = None  # a conversation whose user turn is not stored yet
        self.searched: str | None = None  # what retrieval was given, when a follow-up was read with its topic
        self.declined: str | None = None  # why the question was declined (:func:`decline_reason`), if it was
        self.confidence: float | None = None  # the retrieval's confidence in its passages, when it has one

    def events(self) -> Iterator[AnswerEvent]:
        """The answer's events. The user's turn is stored with the answer at the end, in one
        transaction; if the answer fails or its reader goes away first, it is stored alone."""
        try:
            yield from self._answer()
        finally:
            if self.unrecorded is not None:
                assert self.p.store is not None
                try:
                    self.p.store.add_turn(self.unrecorded.id, "user", self.request.question.strip(),
                                          created_at=self.asked_at)
                except Exception:
                    log.exception("could not record the question for conversation %s", self.unrecorded.id)

    def _answer(self) -> Iterator[AnswerEvent]:
        request, p = self.request, self.p
        backend = check_backend(request.backend or p.default_backend)
        question = request.question.strip()
        if not question:
            raise AssistantError("Please type a question.", code="empty_question")
        prompt = p.prompts.answer(request.prompt or request.audience, request.audience)
        conversation = self.unrecorded = self._conversation()
        kind = small_talk(question)
        reply = prompt.reply(kind, self.brand) if kind else None
        if reply:  # "hi", "thanks!", "a human please": a reply of their own, not "I couldn't find anything about that"
            index = getattr(p.retriever, "index", None)
            if index is not None and hasattr(index, "current"):
                index.current()  # no index yet: "not ready" to a greeting too, as to the question after it
            yield SourcesEvent(sources=[])
            yield from self._tokens(reply)
            yield from self._flush()
            yield self._done(conversation, [], [], abstained=False, fallback=False, backend=SMALL_TALK_BACKEND,
                             prompt_versions=[prompt.full_version], offer_handoff=kind == "human")
            return

        llm, llm_error = self._llm(backend)
        prompt_versions = [prompt.full_version]

        standalone = question
        started = time.perf_counter()
        if request.history and llm is not None:
            condense = p.prompts.get("condense", "condense")
            try:
                standalone = self._condense(llm, condense, request.history, question)
                prompt_versions.append(condense.full_version)
            except Exception as exc:  # the LLM is down: skip it for the answer too
                log.warning("condense failed on %s, answering extractively: %s", backend, _describe(exc))
                llm, llm_error = None, exc
        # What the answer's sentences are chosen for: a model's standalone question, or the customer's own
        # words when the follow-up was read by rule (the search then also carries the topic, and an answer
        # chosen for the topic opened "Can I pause one?" with how to create a recurring profile).
        focus, context = standalone, ""
        if request.history and llm is None:  # no model to condense with: read the follow-up by rule
            standalone = self._follow_up(question, request)
            context = topic_of(question, standalone)
            focus = with_referent(question, context)  # "And how do I turn it on?" asks about the topic's 2FA
        self.timings["condense"] = _ms(started)
        self.searched = standalone

        started = time.perf_counter()
        result = p.retriever.search(standalone, audience=request.audience, filters=request.filters, asked=question)
        self.timings["retrieve"] = _ms(started)
        passages = _audience_guard(result.passages, request.audience)

        abstained = not passages or (result.abstain if result.abstain is not None
                                     else result.best_dense < p.settings.retrieval.abstain_threshold)
        self.declined = decline_reason(result, passages) if abstained else None
        self.confidence = result.confidence
        # Answered, but on weak evidence: an extractive answer says it may not be a direct one.
        unsure = result.confidence is not None and result.confidence < p.settings.retrieval.abstain_unsure_confidence
        fallback = False
        model = ""
        usage: dict[str, int] = {}
        if abstained:
            offered: list[SourceRef] = []
            yield SourcesEvent(sources=offered)
            yield from self._tokens(prompt.text("abstain", self.brand))
        else:
            offered = [_source_ref(n, passage, focus) for n, passage in enumerate(passages, start=1)]
            self.rewriter = CitationRewriter(len(offered))
            yield SourcesEvent(sources=offered)
            if llm is None:
                fallback = llm_error is not None
                yield from self._extractive(focus, passages, prompt, unsure=unsure, context=context)
            else:
                outcome = _LLMOutcome()
                yield from self._generate(llm, prompt, standalone, passages, outcome)
                model, usage = outcome.model, outcome.usage
                if outcome.error is not None or not self._shown():
                    fallback = True
                    if outcome.error is None and self.grounding.checked:
                        self.grounding.fell_back = True
                        log.info("no supported sentence left of the %s answer (%d dropped); extractive answer",
                                 backend, self.grounding.dropped)
                    else:
                        reason = _describe(outcome.error) if outcome.error else "empty answer"
                        log.warning("LLM backend %s failed (%s); extractive fallback", backend, reason)
                    if self._shown():
                        self.rewriter.new_paragraph()
                        yield from self._tokens(prompt.text("interrupted_notice", self.brand) + "\n\n")
                    yield from self._extractive(focus, passages, prompt, unsure=unsure, context=context)
                elif not self.rewriter.order:
                    yield from self._attribute(passages)
        yield from self._flush()

        yield self._done(conversation, offered, passages, abstained=abstained, fallback=fallback, backend=backend,
                         model=model, generation=result.generation, prompt_versions=prompt_versions, usage=usage)

    def _flush(self) -> Iterator[TokenEvent]:
        """What the citation rewriter still holds back, at the end of the answer."""
        tail = self.rewriter.finish()
        if tail:
            self.parts.append(tail)
            yield TokenEvent(text=tail)

    def _done(self, conversation: Conversation | None, offered: list[SourceRef], passages: list[Passage], *,
              abstained: bool, fallback: bool, backend: str, prompt_versions: list[str], model: str = "",
              generation: str | None = None, usage: dict[str, int] | None = None,
              offer_handoff: bool = False) -> DoneEvent:
        """The last event, recorded with the question in the store when there is a conversation."""
        self.timings["total"] = _ms(self.started)
        done = DoneEvent(
            answer="".join(self.parts),
            # In number order: an answer that cites [2] first would otherwise list its sources 2, 3, 1.
            sources=[offered[n - 1] for n in sorted(self.rewriter.order)],
            abstained=abstained,
            fallback=fallback,
            backend=backend,
            model=model,
            generation=generation,
            prompt_version=";".join(prompt_versions),
            conversation_id=conversation.id if conversation else None,
            timings_ms={k: round(v, 2) for k, v in self.timings.items()},
            usage=usage or {},
            grounding=self.grounding,
            declined=self.declined if abstained else None,
            offer_handoff=offer_handoff,
        )
        if conversation is not None:
            done.answer_id = self._record(conversation, done, passages)
        return done

    # ------------------------------------------------------------------ stages

    def _llm(self, backend: str) -> tuple[BaseChatModel | None, Exception | None]:
        if backend == EXTRACTIVE:
            return None, None
        try:
            return self.p.llm_for(backend), None
        except Exception as exc:  # a backend that cannot even be built is a failed backend
            log.warning("LLM backend %s unavailable: %s", backend, _describe(exc))
            return None, exc

    def _follow_up(self, question: str, request: AnswerRequest) -> str:
        """``question`` with the conversation's topic when it reads as a follow-up (assistant/follow_up.py)."""
        try:
            standalone = searched_text(question, request.history, self.p.retriever, request.audience)
        except AssistantError:
            raise
        except Exception:  # the rule is a help, never a reason to fail an answer
            log.warning("follow-up rewrite failed; searching the question as asked", exc_info=True)
            return question
        if standalone != question:
            log.info("follow-up read with its topic: %r", standalone)
        return standalone

    def _condense(self, llm: BaseChatModel, prompt: PromptFile, history: list[HistoryTurn], question: str) -> str:
        chain = prompt.template(self.brand) | llm.bind(max_tokens=CONDENSE_MAX_TOKENS) | StrOutputParser()
        raw = chain.invoke({"history": format_history(history), "question": question})
        return _clean_condensed(raw) or question

    def _generate(self, llm: BaseChatModel, prompt: PromptFile, question: str, passages: list[Passage],
                  outcome: _LLMOutcome) -> Iterator[TokenEvent]:
        chain = prompt.template(self.brand) | llm.bind(stop=ANSWER_STOP)
        started = time.perf_counter()
        guard = RepetitionGuard()
        grounding = self._grounding_guard(prompt, question, passages)
        stream: Any = chain.stream({"question": question, "passages": format_passages(passages)})
        try:
            for chunk in stream:
                outcome.observe(chunk)
                if chunk.text and not self.timings["llm_first_token"]:
                    self.timings["llm_first_token"] = _ms(started)
                yield from self._tokens(grounding.feed(guard.feed(chunk.text)))
                if guard.stopped:
                    log.info("answer started repeating itself; stopped the %s stream", llm._llm_type)
                    break
                if stop_requested():  # the client went away: nobody reads the rest
                    log.info("the client went away; stopped the %s stream", llm._llm_type)
                    break
        except Exception as exc:
            outcome.error = exc
        finally:
            stream.close()  # releases the model (a remote stream, or the local model's lock)
        if outcome.error is None:  # a unit cut off by a failure was never checked: it is not shown
            yield from self._tokens(grounding.feed(guard.finish()) + grounding.finish())
        report = grounding.report
        self.grounding = GroundingResult(checked=report.checked, dropped=len(report.dropped),
                                         dropped_units=report.dropped)
        if report.dropped:
            log.info("grounding guard dropped %d of %d unit(s): %s", len(report.dropped), report.checked,
                     "; ".join(f"{d['reason']} {d.get('terms', '')}".strip() for d in report.dropped))
        self.timings["llm_total"] = _ms(started)

    def _grounding_guard(self, prompt: PromptFile, question: str, passages: list[Passage]) -> GroundingGuard:
        """The guard for one answer: evidence is the offered passages, the question and the brand's
        own texts; the prompt's wording is what a leak would repeat."""
        brand = brand_values(self.brand)
        texts = prompt.brand_texts(self.brand)
        return GroundingGuard(
            evidence_for(question, passages, extra=[*brand.values(), *texts],
                         prompt_text=prompt.system + "\n" + prompt.user),
            min_support=self.p.settings.llm.grounding_min_support,
        )

    def _attribute(self, passages: list[Passage]) -> Iterator[TokenEvent]:
        """The model answered without citing anything (small models often do): cite the passages
        the answer is semantically closest to, so a user can still check it. Passages the answer
        does not resemble are not cited; an answer that resembles none stays uncited."""
        embedder = getattr(self.p.retriever, "embedder", None)
        answer = "".join(self.parts).strip()
        if embedder is None or not answer:
            return
        started = time.perf_counter()
        vectors = np.asarray(embedder.encode([answer, *(p.chunk.embed_text for p in passages)]), dtype=np.float32)
        scores = vectors[1:] @ vectors[0]
        ranked = sorted(range(len(passages)), key=lambda i: -float(scores[i]))
        picks = [i + 1 for i in ranked[:ATTRIBUTION_MAX] if scores[i] >= ATTRIBUTION_MIN_COSINE]
        self.timings["attribute"] = _ms(started)
        if picks:
            log.info("answer had no citations; attributed to passages %s by similarity", picks)
            self.rewriter.new_paragraph()
            yield from self._tokens(ATTRIBUTION_LABEL + " " + " ".join(f"[{n}]" for n in sorted(picks)))

    def _extractive(self, question: str, passages: list[Passage], prompt: PromptFile, *,
                    unsure: bool = False, context: str = "") -> Iterator[TokenEvent]:
        embedder = getattr(self.p.retriever, "embedder", None)
        intro = prompt.text("unsure_intro" if unsure else "extractive_intro", self.brand)
        text = extractive_answer(question, passages, intro=intro, context=context,
                                 encode=embedder.encode if embedder is not None else None)
        for line in text.splitlines(keepends=True):
            yield from self._tokens(line)

    def _tokens(self, text: str) -> Iterator[TokenEvent]:
        shown = self.rewriter.feed(text)
        if shown:
            self.parts.append(shown)
            yield TokenEvent(text=shown)

    def _shown(self) -> bool:
        return any(part.strip() for part in self.parts)

    # ------------------------------------------------------------------ store

    def _conversation(self) -> Conversation | None:
        request, store = self.request, self.p.store
        if request.conversation_id is None or store is None:
            return None
        conversation = store.get_conversation(request.conversation_id)
        if conversation is None:
            raise AssistantError("This conversation has expired. Please start a new one.",
                                 code="conversation_not_found",
                                 detail=f"no conversation {request.conversation_id}")
        if conversation.audience != request.audience:
            # A channel re-configured mid-thread: the audit records what this answer really used.
            log.warning("conversation %s is %s but the request is %s", conversation.id, conversation.audience,
                        request.audience)
            conversation = dataclasses.replace(conversation, audience=request.audience)
        return conversation

    def _record(self, conversation: Conversation, done: DoneEvent, passages: list[Passage]) -> str | None:
        assert self.p.store is not None
        try:
            answer_id = self.p.store.record_answer(
                conversation=conversation, question=self.request.question.strip(), done=done,
                retrieved_chunk_ids=[passage.chunk.chunk_id for passage in passages], asked_at=self.asked_at,
                searched=self.searched, declined=self.declined, confidence=self.confidence,
            )
            self.unrecorded = None
            return answer_id
        except Exception:  # the answer is still worth showing; the gap is in the logs
            log.exception("could not record the answer for conversation %s", conversation.id)
            return None


# Why a question was declined, as the audit records it, and in words for an operator (the CLI's note,
# /admin's conversation view): nothing to offer; a question about a price no passage states; one scoped
# to a product the documents barely know (assistant/abstention.py VETOES); else a retrieval confidence
# under the cut-off. Never shown to a customer: their decline is the prompt's own text.
DECLINE_REASONS: dict[str, str] = {
    "no_passages": "nothing in the documents matched this question",
    PRICE_UNSTATED: "it asks a price and no passage found states one",
    OUTSIDE_SCOPE: "it asks about another product, which the documents barely mention",
    "low_confidence": "the retrieval confidence was under the cut-off",
}


def decline_reason(result: RetrievalResult, passages: Sequence[Passage]) -> str:
    if not passages:
        return "no_passages"
    return next((veto for veto in VETOES if result.evidence.get(veto)), "low_confidence")


class _LLMOutcome:
    """What the LLM stream reported besides text."""

    def __init__(self) -> None:
        self.model = ""
        self.usage: dict[str, int] = {}
        self.error: Exception | None = None

    def observe(self, chunk: BaseMessage) -> None:
        model = chunk.response_metadata.get("model_name")
        if model:
            self.model = str(model)
        usage: Any = getattr(chunk, "usage_metadata", None)
        if usage:
            self.usage = {
                "prompt_tokens": int(usage.get("input_tokens", 0)),
                "completion_tokens": int(usage.get("output_tokens", 0)),
                "total_tokens": int(usage.get("total_tokens", 0)),
            }


_INDEX_REASONS = {
    "no_index": "no index published yet",
    "model_mismatch": "index built with another embedding model",
    "index_error": "published index cannot be loaded",
}


def _audience_guard(passages: list[Passage], audience: Audience) -> list[Passage]:
    """Defence in depth: the retriever enforces the audience; this drops anything it missed."""
    allowed = partitions_for(audience)
    kept = [p for p in passages if p.chunk.audience in allowed]
    if len(kept) != len(passages):
        leaked = [p.chunk.chunk_id for p in passages if p.chunk.audience not in allowed]
        log.error("retriever returned %d chunk(s) not allowed for audience %s; dropped: %s",
                  len(leaked), audience, leaked)
    return kept


def _source_ref(n: int, passage: Passage, question: str) -> SourceRef:
    chunk = passage.chunk
    # A ticket's snippet is what the agent answered, as its quoted sentences are.
    text = (staff_text(chunk.text) if chunk.kind == "ticket" else "") or chunk.text
    return SourceRef(
        n=n, title=chunk.title, url=chunk.url, source=chunk.source, audience=chunk.audience,
        chunk_id=chunk.chunk_id, path=chunk.path, section=chunk.section,
        snippet=best_excerpt(question, text, max_chars=200), score=passage.score,
    )


def _clean_condensed(text: str) -> str:
    """The first line of the model's reply, without labels or quotes; capped for retrieval."""
    for line in text.strip().splitlines():
        line = re.sub(r"^\s*(standalone question|question)\s*:\s*", "", line, flags=re.IGNORECASE)
        line = line.strip().strip("\"'“”").strip()
        if line:
            return line[:500]
    return ""


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    detail = getattr(exc, "detail", None)
    return f"{type(exc).__name__}: {detail or exc}"


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
