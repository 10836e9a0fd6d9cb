"""The shared language of records (docs/architecture.md §1).

``ingest`` turns files into :class:`Document` and :class:`Ticket` records and those into
:class:`Chunk` records; the index stores chunks; the answer pipeline yields
:class:`AnswerEvent` values that ``bots`` translate to their medium. Nothing else crosses
the package boundaries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Audience = Literal["public", "internal"]
AUDIENCES: tuple[Audience, ...] = ("public", "internal")

Role = Literal["customer", "agent", "system"]
Visibility = Literal["public", "internal"]
ChunkKind = Literal["document", "ticket"]


def partitions_for(audience: Audience) -> tuple[Audience, ...]:
    """Index partitions a reader of ``audience`` may open: customers see public only."""
    return ("public",) if audience == "public" else ("public", "internal")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


# --------------------------------------------------------------------------- ingestion records


class TextBlock(_Record):
    """A run of text under one heading path; loaders keep structure so chunks know their section."""

    section: tuple[str, ...] = ()
    text: str
    kind: Literal["text", "code", "list", "table"] = "text"


class Document(_Record):
    """One knowledge-base file after parsing (Markdown, HTML, PDF, DOCX, text)."""

    source: str
    key: str  # stable id inside the source: the path relative to the source root, POSIX style
    path: str  # same as key for files; kept separate so URLs can differ from paths
    title: str
    audience: Audience
    url: str | None = None
    blocks: list[TextBlock]
    fingerprint: str  # hash of the raw bytes + the options that change the output
    metadata: dict[str, Any] = Field(default_factory=dict)


class TicketPart(_Record):
    """One message in a ticket conversation. Customer text is untrusted input."""

    role: Role
    visibility: Visibility = "public"
    text: str
    time: datetime | None = None


class Ticket(_Record):
    """One helpdesk ticket, whatever the vendor: the normalised record every loader produces."""

    source: str
    id: str
    subject: str
    parts: list[TicketPart]
    status: str
    resolved: bool
    tags: list[str] = Field(default_factory=list)
    created: datetime | None = None
    updated: datetime | None = None
    url: str | None = None
    requester_name: str | None = None  # only used for redaction, never stored
    audience: Audience = "internal"
    row: int | None = None  # 1-based record number in the export, for error reports
    fingerprint: str = ""


class Chunk(_Record):
    """The unit that is embedded, stored and cited."""

    chunk_id: str  # stable: hash of doc key, ordinal and content
    doc_key: str  # "<source>:<key>" — one document or one ticket
    source: str
    kind: ChunkKind
    audience: Audience
    title: str
    section: str = ""  # "Heading > Subheading"
    url: str | None = None
    path: str = ""  # relative path of a document, or the ticket id
    ordinal: int = 0
    text: str  # what goes into the prompt
    embed_text: str  # what is embedded: title and section as context, then text
    content_hash: str  # sha256 of embedding model id + embed_text: the vector cache key
    untrusted: bool = False  # contains customer-written text: quoted as data, never obeyed
    metadata: dict[str, Any] = Field(default_factory=dict)  # tags, status, created, updated


# --------------------------------------------------------------------------- answering


class SourceRef(_Record):
    """A numbered source as shown to users and recorded in the audit trail."""

    n: int
    title: str
    url: str | None = None
    source: str
    audience: Audience
    chunk_id: str
    path: str = ""
    section: str = ""
    snippet: str = ""
    score: float = 0.0


class HistoryTurn(_Record):
    role: Literal["user", "assistant"]
    text: str


class RetrievalFilters(_Record):
    sources: list[str] | None = None
    tags: list[str] | None = None
    kinds: list[ChunkKind] | None = None
    since: datetime | None = None
    until: datetime | None = None


class AnswerRequest(_Record):
    question: str
    audience: Audience
    history: list[HistoryTurn] = Field(default_factory=list)
    conversation_id: str | None = None
    channel: str = "cli"  # web | slack | cli | eval
    user_id: str | None = None
    backend: str | None = None  # overrides the configured backend for this request
    filters: RetrievalFilters | None = None
    prompt: str | None = None  # prompt name override (e.g. per Slack channel)


class Passage(_Record):
    """A retrieved chunk with the scores that ranked it."""

    chunk: Chunk
    score: float  # fused (reciprocal-rank) score: the ranking order
    dense_score: float | None = None  # cosine similarity to the question, when dense search found it
    keyword_score: float | None = None  # BM25 (higher is better), when keyword search found it
    rerank_score: float | None = None


class RetrievalResult(_Record):
    passages: list[Passage]
    generation: str | None
    best_dense: float  # max cosine over all dense candidates: the abstention signal
    timings_ms: dict[str, float] = Field(default_factory=dict)
    # The retriever's own abstention decision (assistant/abstention.py) when it makes one; None:
    # the caller compares best_dense with the configured threshold.
    abstain: bool | None = None
    confidence: float | None = None
    evidence: dict[str, float] = Field(default_factory=dict)


class SourcesEvent(_Record):
    type: Literal["sources"] = "sources"
    sources: list[SourceRef]


class TokenEvent(_Record):
    type: Literal["token"] = "token"
    text: str


class GroundingResult(_Record):
    """What the grounding guard did to a generated answer (docs/architecture.md §12)."""

    checked: int = 0  # units (sentences, list items) of the model's text that were checked
    dropped: int = 0  # units not shown: invented terms, unsupported, prompt text, unsafe
    fell_back: bool = False  # nothing supported was left, so the extractive answer was shown
    # What was dropped and why, for the audit record; never sent to users.
    dropped_units: list[dict[str, Any]] = Field(default_factory=list, exclude=True)


class DoneEvent(_Record):
    type: Literal["done"] = "done"
    answer: str
    sources: list[SourceRef]  # only those cited, in number order, numbered as in the sources event and text
    abstained: bool
    fallback: bool  # the LLM failed and the extractive answer was used
    backend: str
    model: str = ""
    generation: str | None = None
    prompt_version: str = ""
    conversation_id: str | None = None
    answer_id: str | None = None  # id of the stored turn: feedback refers to it
    timings_ms: dict[str, float] = Field(default_factory=dict)
    usage: dict[str, int] = Field(default_factory=dict)
    grounding: GroundingResult = Field(default_factory=GroundingResult)
    # Why a declined question was declined (pipeline.DECLINE_REASONS), for operators (CLI, eval); the
    # widget's answer object does not carry it.
    declined: str | None = None
    # The customer asked for a person ("I want to talk to a human"): a channel that can hand the
    # conversation over offers it with this answer (the widget's "Talk to a human").
    offer_handoff: bool = False


class ErrorEvent(_Record):
    type: Literal["error"] = "error"
    code: str
    message: str  # user-safe: never a stack trace or internal text
    retryable: bool = False


AnswerEvent = Annotated[SourcesEvent | TokenEvent | DoneEvent | ErrorEvent, Field(discriminator="type")]
