"""Ticket -> article drafts: recurring resolved-ticket topics the public help lacks, written up
from what agents already answered, published only after a person approves them.

Mining (:func:`mine_drafts`) reads resolved tickets from the published index generation (they
were redacted at ingest; the text is redacted again here), embeds each ticket's question (its
subject and the customer's first message) with the index's model, and groups them with
scikit-learn's agglomerative clustering. A group of at least ``min_tickets`` is *covered* when
the public help has pages that match its questions **and** hold its answer: coverage is the
smaller of (median over its tickets of the best cosine from the question to a public document
chunk) and (median over the agents' answer sentences of the same). Matching the question alone
is not enough: "export timesheets as CSV" resembles the data-export page, which says nothing
about timesheets. A group under ``coverage_threshold`` gets a draft. The draft is extractive: sentences from the
agents' public replies, ranked by how many *other* tickets of the group contain a sentence
saying the same (agreement across agents, not one agent's wording), questions back to the
customer and greetings dropped. With ``ASSISTANT_DRAFTS_BACKEND`` set, an LLM rewrites those
sentences into an article and the grounding guard (:mod:`assistant.grounding`) keeps only the
sentences the agents' replies support; a rewrite left with nothing falls back to extractive.

Review (:class:`DraftStore`): drafts wait as ``pending``; ``approve`` (with the audience the
reviewer picks) writes Markdown into ``<curated_dir>/<audience>/`` for the next ingest, and
``reject`` records a reason. Every decision is kept with who made it and when, in the store's
database (tables ``drafts`` and ``draft_events``, plain portable SQL).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import AssistantError, ConfigError
from assistant.gaps import cluster_labels
from assistant.redact import Redactor
from assistant.ticket_text import GREETING, NAME_ONLY, SIGNOFF, is_courtesy_line, turns

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

    from assistant.embeddings import Embedder
    from assistant.gaps import VectorCache
    from assistant.index import LoadedGeneration
    from assistant.schemas import Audience
    from assistant.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS drafts (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,            -- pending | approved | rejected
    title TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,            -- Markdown, extractive
    tickets TEXT NOT NULL,           -- JSON list of {id, subject, url}
    topic_size INTEGER NOT NULL,
    coverage REAL NOT NULL,          -- min(question, answer) best cosine to public documents
    nearest_doc TEXT,
    generation TEXT,
    audience TEXT,
    decided_by TEXT,
    decided_at REAL,
    reason TEXT,
    path TEXT
);
CREATE TABLE IF NOT EXISTS draft_events (
    draft_id TEXT NOT NULL,
    action TEXT NOT NULL,            -- created | approved | rejected
    actor TEXT NOT NULL,
    at REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
"""

RESOLVED = frozenset({"solved", "closed", "resolved"})
_SENTENCE = re.compile(r"(?<=[.!])\s+(?=[A-Z0-9\"'(\[])")
_IDENTIFIER = re.compile(r"\b[A-Z]{2,}-\d+\b|https?://\S*(ticket|agent)\S*", re.IGNORECASE)  # INV-1251: one case only
_AGREE = 0.72  # cosine at which two agents' sentences say the same thing
_DUPLICATE = _AGREE  # two picked sentences that say the same thing: keep one


class DraftError(AssistantError):
    """A draft that does not exist or cannot take the requested decision."""


@dataclass
class MinedTicket:
    id: str
    subject: str
    url: str | None
    question: str  # the customer's first message
    replies: list[str]  # the agents' public replies, in order
    updated: str | None = None


@dataclass
class Draft:
    id: str
    status: str
    title: str
    question: str
    answer: str
    tickets: list[dict[str, Any]]
    topic_size: int
    coverage: float
    nearest_doc: str | None
    created_at: float
    generation: str | None = None
    audience: str | None = None
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str | None = None
    path: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def markdown(self, audience: str) -> str:
        """The article as it is published: public copies never link internal tickets."""
        lines = [f"# {self.title}", "", f"**Question:** {self.question}", "", "## Answer", "", self.answer, ""]
        if audience == "internal":
            lines += ["## Source tickets", ""]
            lines += [f"- [{t['id']}]({t['url']}) {t['subject']}" if t.get("url") else f"- {t['id']} {t['subject']}"
                      for t in self.tickets]
            lines.append("")
        return "\n".join(lines)


def slug(text: str, *, limit: int = 60) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = "-".join(words)[:limit].strip("-")
    return out or "draft"


class DraftStore:
    """Drafts and their decisions, in the store's database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with self._db(write=True) as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        with self.store._connect(write=write) as db:  # the store's connection API (SQLite or Postgres)
            yield db

    def add(self, draft: Draft, *, actor: str = "drafts mine") -> Draft:
        with self._db(write=True) as db:
            db.execute(
                "INSERT INTO drafts (id, created_at, status, title, question, answer, tickets, topic_size,"
                " coverage, nearest_doc, generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (draft.id, draft.created_at, "pending", draft.title, draft.question, draft.answer,
                 json.dumps(draft.tickets), draft.topic_size, draft.coverage, draft.nearest_doc, draft.generation),
            )
            db.execute("INSERT INTO draft_events (draft_id, action, actor, at, detail) VALUES (?, ?, ?, ?, ?)",
                       (draft.id, "created", actor, draft.created_at, f"{draft.topic_size} tickets"))
        return draft

    def drafts(self, status: str | None = None) -> list[Draft]:
        with self._db() as db:
            if status:
                rows = db.execute("SELECT * FROM drafts WHERE status = ? ORDER BY created_at DESC, id",
                                  (status,)).fetchall()
            else:
                rows = db.execute("SELECT * FROM drafts ORDER BY created_at DESC, id").fetchall()
        return [_draft(r) for r in rows]

    def get(self, draft_id: str) -> Draft:
        with self._db() as db:
            row = db.execute("SELECT * FROM drafts WHERE id = ?", (draft_id,)).fetchone()
            events = db.execute("SELECT action, actor, at, detail FROM draft_events WHERE draft_id = ?"
                                " ORDER BY at", (draft_id,)).fetchall()
        if row is None:
            raise DraftError(f"No draft {draft_id!r}", hint="`assistant drafts list` shows the ids")
        draft = _draft(row)
        draft.events = [dict(e) for e in events]
        return draft

    def approve(self, draft_id: str, *, audience: Audience, actor: str, curated_dir: Path | None) -> Draft:
        """Write the article into ``<curated_dir>/<audience>/`` and record who approved it."""
        if audience not in ("public", "internal"):
            raise DraftError(f"Unknown audience {audience!r}", hint="use --audience public or --audience internal")
        actor = _actor(actor)
        draft = self._pending(draft_id)
        if curated_dir is None:
            raise ConfigError("No curated source is configured, so there is nowhere to publish the draft",
                              hint="set ASSISTANT_DRAFTS_CURATED_DIR to the folder your sources.yaml lists "
                                   "as the curated source (e.g. examples/curated)")
        folder = Path(curated_dir) / audience
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{slug(draft.title)}-{draft.id}.md"
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text(draft.markdown(audience), encoding="utf-8")
        tmp.replace(path)  # the next ingest never sees half a file
        now = time.time()
        with self._db(write=True) as db:
            cur = db.execute("UPDATE drafts SET status = 'approved', audience = ?, decided_by = ?, decided_at = ?,"
                             " path = ? WHERE id = ? AND status = 'pending'",
                             (audience, actor, now, str(path), draft.id))
            if cur.rowcount != 1:
                path.unlink(missing_ok=True)
                raise DraftError(f"Draft {draft.id} was decided by someone else meanwhile",
                                 hint=f"`assistant drafts show {draft.id}` shows the decision")
            db.execute("INSERT INTO draft_events (draft_id, action, actor, at, detail) VALUES (?, ?, ?, ?, ?)",
                       (draft.id, "approved", actor, now, f"{audience} -> {path}"))
        return self.get(draft.id)

    def reject(self, draft_id: str, *, actor: str, reason: str | None = None) -> Draft:
        actor = _actor(actor)
        draft = self._pending(draft_id)
        now = time.time()
        reason = (reason or "").strip()[:500] or None
        with self._db(write=True) as db:
            cur = db.execute("UPDATE drafts SET status = 'rejected', decided_by = ?, decided_at = ?, reason = ?"
                             " WHERE id = ? AND status = 'pending'", (actor, now, reason, draft.id))
            if cur.rowcount != 1:
                raise DraftError(f"Draft {draft.id} was decided by someone else meanwhile",
                                 hint=f"`assistant drafts show {draft.id}` shows the decision")
            db.execute("INSERT INTO draft_events (draft_id, action, actor, at, detail) VALUES (?, ?, ?, ?, ?)",
                       (draft.id, "rejected", actor, now, reason or ""))
        return self.get(draft.id)

    def _pending(self, draft_id: str) -> Draft:
        draft = self.get(draft_id)
        if draft.status != "pending":
            when = datetime.fromtimestamp(draft.decided_at or 0, UTC).strftime("%Y-%m-%d %H:%M UTC")
            raise DraftError(f"Draft {draft.id} is already {draft.status} (by {draft.decided_by}, {when})",
                             hint="only pending drafts can be approved or rejected")
        return draft

    def ticket_ids(self) -> list[set[str]]:
        """Ticket sets of every draft ever made, so mining does not propose a topic twice."""
        with self._db() as db:
            rows = db.execute("SELECT tickets FROM drafts").fetchall()
        return [{str(t["id"]) for t in json.loads(r[0])} for r in rows]


def _actor(actor: str) -> str:
    actor = " ".join((actor or "").split())[:100]
    if not actor:
        raise DraftError("A decision needs the name of who made it", hint="pass --by NAME")
    return actor


def _draft(row: sqlite3.Row) -> Draft:
    data = dict(row)
    data["tickets"] = json.loads(data["tickets"])
    return Draft(**data)


# --------------------------------------------------------------------------- mining


def resolved_tickets(generation: LoadedGeneration, redactor: Redactor | None = None) -> list[MinedTicket]:
    """Resolved tickets of the published generation, rebuilt from their chunks (turns in order)."""
    redactor = redactor or Redactor()
    rows = generation.db.db.execute(
        "SELECT doc_key, ordinal, title, url, path, text, metadata FROM chunks WHERE kind = 'ticket'"
        " ORDER BY doc_key, audience DESC, ordinal").fetchall()
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row["doc_key"], []).append(row)
    tickets: list[MinedTicket] = []
    for chunks in grouped.values():
        meta = json.loads(chunks[0]["metadata"])
        if str(meta.get("status", "")).lower() not in RESOLVED:
            continue
        turns: list[tuple[str, str]] = []
        for chunk in chunks:
            turns.extend(_turns(chunk["text"]))
        question = next((text for role, text in turns if role == "Customer"), "")
        replies = [text for role, text in turns if role == "Agent"]
        if not question or not replies:
            continue
        subject = re.sub(r"^Ticket [^:]*:\s*", "", chunks[0]["title"])
        tickets.append(MinedTicket(
            id=str(meta.get("ticket_id") or chunks[0]["path"]), subject=redactor.redact(subject)[0],
            url=chunks[0]["url"], question=clean_question(redactor.redact(question)[0]),
            replies=[redactor.redact(r)[0] for r in replies], updated=meta.get("updated"),
        ))
    return tickets


def _turns(text: str) -> list[tuple[str, str]]:
    """``Customer: ...`` / ``Agent: ...`` blocks of a ticket chunk; internal notes are left out."""
    return [(turn.role, turn.text) for turn in turns(text) if not turn.internal]


def clean_question(text: str) -> str:
    """The customer's question without greeting, sign-off and signature lines ("Thanks, [NAME]")."""
    kept = [line.strip() for line in text.splitlines() if line.strip() and not is_courtesy_line(line)]
    return " ".join(kept) or text.strip()


def _answer_sentences(reply: str) -> list[str]:
    """Sentences of an agent reply worth keeping: no greetings, sign-offs, names or questions back."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n", reply):
        paragraph = paragraph.strip()
        if (not paragraph or GREETING.match(paragraph) or NAME_ONLY.match(paragraph)
                or (len(paragraph.split()) <= 4 and not paragraph.endswith((".", "!")))):
            continue  # greetings, signatures ("Ledgerly Customer Support"), names
        for sentence in _SENTENCE.split(paragraph):
            sentence = sentence.strip()
            if (len(sentence) < 25 or sentence.endswith("?") or SIGNOFF.match(sentence)
                    or GREETING.match(sentence) or "[NAME]" in sentence or _IDENTIFIER.search(sentence)):
                continue
            out.append(sentence)
    return out


def _encode(embedder: Embedder, texts: Sequence[str], cache: VectorCache | None) -> np.ndarray:
    vectors = cache.encode(embedder, texts) if cache is not None else embedder.encode(list(texts))
    return np.asarray(vectors, dtype=np.float32)


def compose_answer(tickets: Sequence[MinedTicket], embedder: Embedder, *, max_sentences: int = 6,
                   cache: VectorCache | None = None) -> str:
    """Extractive answer: the agents' sentences the most tickets agree on, near-duplicates dropped."""
    candidates: list[tuple[int, int, str]] = []  # (ticket index, position, sentence)
    for t, ticket in enumerate(tickets):
        position = 0
        for reply in ticket.replies:
            for sentence in _answer_sentences(reply):
                candidates.append((t, position, sentence))
                position += 1
    if not candidates:
        return ""
    vectors = _encode(embedder, [c[2] for c in candidates], cache)
    sims = vectors @ vectors.T
    owners = np.array([c[0] for c in candidates])
    support = np.zeros(len(candidates))
    for i in range(len(candidates)):
        others = owners != owners[i]
        if others.any():
            agreeing = set(owners[others & (sims[i] >= _AGREE)].tolist())
            support[i] = len(agreeing) + float(sims[i][others].max()) * 0.5
    order = sorted(range(len(candidates)), key=lambda i: (-support[i], candidates[i][1], i))
    picked: list[int] = []
    for i in order:
        if len(picked) >= max_sentences:
            break
        if support[i] < 1.0 and picked:  # a sentence no other ticket backs, once we have some that are
            break
        if any(sims[i, j] >= _DUPLICATE for j in picked):
            continue
        picked.append(i)
    picked.sort(key=lambda i: (candidates[i][1], -support[i]))
    return "\n".join(f"- {candidates[i][2]}" for i in picked)


PROMPT = Path(__file__).resolve().parent.parent / "prompts" / "drafts" / "article.md"


def rewrite_with_llm(llm: BaseChatModel, *, question: str, answer: str, tickets: Sequence[MinedTicket],
                     product_name: str = "our product", tone: str = "friendly, concise and precise",
                     prompt_path: Path = PROMPT) -> tuple[str, dict[str, Any]]:
    """An LLM rewrite of the extractive ``answer``, every sentence checked by the grounding guard.

    The evidence is the agents' replies and the question; sentences that invent numbers, labels
    or names, leak the prompt, or are unsupported are dropped (as answers to customers are).
    Whatever the LLM returns, the result is never worse than extractive: a failed call or a
    rewrite with no supported claim left gives back ``answer`` unchanged.
    """
    from langchain_core.messages import HumanMessage

    from assistant.grounding import Evidence, check_unit, split_units

    template = prompt_path.read_text(encoding="utf-8")
    prompt = template.format(product_name=product_name, tone=tone, question=question, facts=answer)
    record: dict[str, Any] = {"used": False, "dropped": []}
    try:
        reply = llm.invoke([HumanMessage(content=prompt)])
    except Exception as exc:  # a backend down or timing out: keep the extractive draft
        record["error"] = exc.__class__.__name__
        return answer, record
    text = reply.content if isinstance(reply.content, str) else str(reply.content)
    evidence = Evidence.build(question, [r for t in tickets for r in t.replies], extra=[answer],
                              prompt_text=template)
    kept: list[str] = []
    claims = 0
    for unit in split_units(text):
        if not unit.strip():
            continue
        verdict = check_unit(unit, evidence)
        if verdict.kept:
            kept.append(unit.rstrip())
            claims += int(verdict.claim)
        else:
            record["dropped"].append(verdict.record())
    if not claims:
        return answer, record
    record["used"] = True
    return "\n".join(kept), record


@dataclass
class MiningReport:
    tickets: int
    topics: int  # groups with at least min_tickets tickets
    covered: int  # of those, already answered by public documents
    already_drafted: int
    drafts: list[Draft]

    def to_dict(self) -> dict[str, Any]:
        return {"tickets": self.tickets, "topics": self.topics, "covered": self.covered,
                "already_drafted": self.already_drafted, "drafts": [d.to_dict() for d in self.drafts]}


def _best_public(generation: LoadedGeneration, vector: np.ndarray) -> tuple[float, str | None]:
    """Best cosine of ``vector`` to a public *document* chunk (public tickets are not help articles)."""
    hits = generation.dense_search("public", vector.astype(np.float32), 20)
    chunks = generation.chunks([row for row, _ in hits])
    for row, score in hits:
        chunk = chunks.get(row)
        if chunk is not None and chunk.kind == "document":
            return float(score), chunk.title
    return 0.0, None


def _answer_coverage(generation: LoadedGeneration, embedder: Embedder, tickets: Sequence[MinedTicket],
                     cache: VectorCache | None) -> float:
    """Median over the agents' answer sentences of their best cosine to a public document chunk."""
    sentences = [s for t in tickets for reply in t.replies for s in _answer_sentences(reply)]
    if not sentences:
        return 0.0
    vectors = _encode(embedder, sentences[:200], cache)
    return float(np.median([_best_public(generation, v)[0] for v in vectors]))


def mine_drafts(generation: LoadedGeneration, embedder: Embedder, drafts: DraftStore, *, min_tickets: int = 3,
                coverage_threshold: float = 0.5, cluster_distance: float = 0.45,
                redactor: Redactor | None = None, dry_run: bool = False,
                cache: VectorCache | None = None, llm: BaseChatModel | None = None,
                brand: tuple[str, str] = ("our product", "friendly, concise and precise")) -> MiningReport:
    """Find recurring, poorly covered resolved-ticket topics and store a pending draft for each."""
    tickets = resolved_tickets(generation, redactor)
    if len(tickets) < min_tickets:
        return MiningReport(len(tickets), 0, 0, 0, [])
    texts = [f"{t.subject}\n{t.question}"[:1000] for t in tickets]
    vectors = _encode(embedder, texts, cache)
    labels = cluster_labels(vectors, cluster_distance)
    known = drafts.ticket_ids()
    report = MiningReport(len(tickets), 0, 0, 0, [])
    groups = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    for members in sorted(groups, key=len, reverse=True):
        if len(members) < min_tickets:
            continue
        report.topics += 1
        best = [_best_public(generation, vectors[i]) for i in members]
        coverage = float(np.median([b[0] for b in best]))
        if coverage >= coverage_threshold:  # the questions match a page; does it hold the agents' answer?
            coverage = min(coverage, _answer_coverage(generation, embedder, [tickets[i] for i in members], cache))
        if coverage >= coverage_threshold:
            report.covered += 1
            continue
        ids = {tickets[i].id for i in members}
        if any(len(ids & seen) * 2 >= len(ids) for seen in known):
            report.already_drafted += 1
            continue
        centroid = vectors[members].mean(axis=0)
        order = members[np.argsort(-(vectors[members] @ centroid), kind="stable")]
        group = [tickets[i] for i in order]
        answer = compose_answer(group, embedder, cache=cache)
        if not answer:
            continue
        if llm is not None:
            answer, _checked = rewrite_with_llm(llm, question=group[0].question, answer=answer, tickets=group,
                                                product_name=brand[0], tone=brand[1])
        nearest = max(best, key=lambda b: b[0])[1]
        draft = Draft(
            id=uuid.uuid4().hex[:8], status="pending", title=group[0].subject, question=group[0].question,
            answer=answer, tickets=[{"id": t.id, "subject": t.subject, "url": t.url} for t in group],
            topic_size=len(group), coverage=round(coverage, 3), nearest_doc=nearest, created_at=time.time(),
            generation=generation.id,
        )
        if not dry_run:
            drafts.add(draft)
        known.append(ids)
        report.drafts.append(draft)
    return report
