"""Conversation and audit store (docs/architecture.md §9): the one module that knows the database.

SQLite is the embedded default. Every channel (web, Slack, CLI, eval) records through this
class, so an answer can always be traced to the chunks, index generation, prompt version and
model that produced it. Swap this module for a server database, not its callers.

Thread safety and resources: a ``Store`` owns a small pool of SQLite connections (WAL mode).
Each method borrows one for a single short transaction and gives it back, whichever thread it
runs on, so the number of open files does not grow with the number of threads that ever
called it; :meth:`Store.close` closes them. The web server, the Slack listeners and the
answer workers share one ``Store`` object. A method must not call another while it holds a
connection (borrow once per transaction), or a full pool would wait on itself.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.schemas import Audience, DoneEvent, HistoryTurn

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    audience TEXT NOT NULL,
    external_key TEXT,              -- Slack thread ts, widget session id, ...
    user_id TEXT,
    created_at REAL NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS conversations_external
    ON conversations(channel, external_key) WHERE external_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS turns (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_conversation ON turns(conversation_id, created_at);
CREATE TABLE IF NOT EXISTS audit (
    turn_id TEXT PRIMARY KEY REFERENCES turns(id),
    conversation_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    audience TEXT NOT NULL,
    question TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,        -- JSON list, citation order
    chunk_audiences TEXT NOT NULL,  -- JSON list, same order
    retrieved_chunk_ids TEXT NOT NULL DEFAULT '[]',
    generation TEXT,
    prompt_version TEXT,
    backend TEXT,
    model TEXT,
    abstained INTEGER NOT NULL,
    fallback INTEGER NOT NULL,
    timings_ms TEXT NOT NULL,
    usage TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    grounding TEXT NOT NULL DEFAULT '{}',  -- JSON: checked, dropped, fell_back, dropped_units (text, reason)
    searched TEXT,                  -- what was searched when it differs from question (a follow-up read with its topic)
    declined TEXT,                  -- why a declined question was (pipeline.DECLINE_REASONS); NULL when answered
    confidence REAL                 -- the retrieval's confidence in its passages (0..1); NULL where none was computed
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    turn_id TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT,
    channel TEXT NOT NULL,
    user_id TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS handoffs (
    id TEXT PRIMARY KEY,
    conversation_id TEXT,
    turn_id TEXT,
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,      -- email, webhook, file, slack channel ...
    status TEXT NOT NULL,           -- sent | failed
    payload TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Conversation:
    id: str
    channel: str
    audience: Audience
    external_key: str | None
    user_id: str | None


class ConnectionPool:
    """Up to ``size`` connections, each lent out for one transaction; subclasses say how to connect.

    Shared by the SQLite store and the Postgres one (``assistant/store_postgres.py``): only
    :meth:`_connect`, :meth:`_usable` and :meth:`_begin` differ between databases.
    """

    def __init__(self, size: int) -> None:
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._open: set[Any] = set()

    def _connect(self) -> Any:
        raise NotImplementedError

    def _usable(self, conn: Any) -> bool:
        """Whether a pooled connection can be lent again (a server may have dropped it)."""
        return True

    def _begin(self, conn: Any) -> AbstractContextManager[Any]:
        """One transaction on ``conn``: committed on success, rolled back on an exception."""
        return conn  # sqlite3.Connection is its own transaction manager

    def _new(self) -> Any:
        conn = self._connect()
        with self._lock:
            self._open.add(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """Borrow a connection (waiting while all ``size`` are lent) for one transaction."""
        self._slots.acquire()
        yield from self._lent()

    @contextmanager
    def transaction_if_free(self) -> Iterator[Any]:
        """Like :meth:`transaction`, but yields ``None`` at once when every connection is lent."""
        if not self._slots.acquire(blocking=False):
            yield None
            return
        yield from self._lent()

    def _lent(self) -> Iterator[Any]:
        """One transaction on a pooled connection; the caller holds a slot, released here."""
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._new()
            if not self._usable(conn):
                self._forget(conn)
                conn = self._new()
            try:
                with self._begin(conn):
                    yield conn
            finally:
                with self._lock:
                    kept = conn in self._open and self._usable(conn)
                if kept:
                    self._idle.put(conn)
                else:  # the pool was closed while this one was lent, or the server dropped it
                    self._forget(conn)
        finally:
            self._slots.release()

    def _forget(self, conn: Any) -> None:
        with self._lock:
            self._open.discard(conn)
        conn.close()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def close(self) -> None:
        """Close idle connections now and lent ones when they come back; later calls reopen."""
        with self._lock:
            self._open.clear()
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break


class _SQLitePool(ConnectionPool):
    """Connections to one SQLite file.

    Connections stay open between transactions, with ``synchronous=NORMAL`` in WAL mode:
    opening one and fsyncing every commit cost ~20 ms a write, which showed up as latency in
    every streamed answer. NORMAL in WAL mode is still safe against corruption; a power cut
    can lose the last commits, never the database.
    """

    def __init__(self, path: Path, size: int) -> None:
        super().__init__(size)
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=30000")
        return db


class Store:
    """The conversation and audit store on one SQLite file (see the module docstring)."""

    POOL_SIZE = 8  # connections; WAL lets readers share, writers take turns anyway

    def __init__(self, path: Path, *, pool_size: int = POOL_SIZE) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pool: ConnectionPool = _SQLitePool(self.path, pool_size)
        self._write_lock = threading.Lock()
        with self._connect(write=True) as db:
            db.executescript(SCHEMA)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(audit)")}
            if "grounding" not in columns:  # a store written before the grounding guard
                db.execute("ALTER TABLE audit ADD COLUMN grounding TEXT NOT NULL DEFAULT '{}'")
            if "searched" not in columns:  # a store written before follow-ups were recorded as searched
                db.execute("ALTER TABLE audit ADD COLUMN searched TEXT")
            if "declined" not in columns:  # a store written before declines recorded their reason
                db.execute("ALTER TABLE audit ADD COLUMN declined TEXT")
            if "confidence" not in columns:  # a store written before answers recorded their confidence
                db.execute("ALTER TABLE audit ADD COLUMN confidence REAL")

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction on a connection borrowed from the pool (committed, or rolled back on error).

        ``write=True`` transactions take turns on a lock in this process first. SQLite lets one
        writer in at a time anyway, but a writer that finds the file locked sleeps in SQLite's
        busy handler (1, 2, 5, 10 … 100 ms steps), so under a burst of answers writes wait longer
        than they take; a waiter on this lock runs the moment the previous write ends.
        """
        if write:
            with self._write_lock, self._pool.transaction() as db:
                yield db
        else:
            with self._pool.transaction() as db:
                yield db

    def close(self) -> None:
        """Close the store's connections (a later call opens new ones, so late callers still work)."""
        self._pool.close()

    # ------------------------------------------------------------------ conversations

    def create_conversation(self, *, channel: str, audience: Audience, external_key: str | None = None,
                            user_id: str | None = None, metadata: dict[str, Any] | None = None) -> Conversation:
        conv = Conversation(uuid.uuid4().hex, channel, audience, external_key, user_id)
        with self._connect(write=True) as db:
            db.execute(
                "INSERT INTO conversations (id, channel, audience, external_key, user_id, created_at, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conv.id, channel, audience, external_key, user_id, time.time(), json.dumps(metadata or {})),
            )
        return conv

    def try_create_conversation(self, *, channel: str, audience: Audience, user_id: str | None = None,
                                metadata: dict[str, Any] | None = None) -> Conversation | None:
        """:meth:`create_conversation` if it can be done without waiting, else ``None``.

        For an event loop: on a free SQLite store the insert takes ~0.1 ms, less than handing it to
        a thread and back (~1-2 ms of the loop's time on a loaded 2-core machine, in front of every
        new chat's first event). Any wait (another writer in this process or in another, every
        connection lent, a database over the network) returns ``None``; the caller then creates
        it on a worker thread as usual.
        """
        if not isinstance(self._pool, _SQLitePool) or not self._write_lock.acquire(blocking=False):
            return None
        try:
            with self._pool.transaction_if_free() as db:
                if db is None:
                    return None
                conv = Conversation(uuid.uuid4().hex, channel, audience, None, user_id)
                db.execute("PRAGMA busy_timeout=0")  # another process writing: give up, don't wait
                try:
                    db.execute(
                        "INSERT INTO conversations (id, channel, audience, external_key, user_id, created_at,"
                        " metadata) VALUES (?, ?, ?, NULL, ?, ?, ?)",
                        (conv.id, channel, audience, user_id, time.time(), json.dumps(metadata or {})),
                    )
                except sqlite3.OperationalError as exc:  # SQLITE_BUSY / LOCKED: nothing was written
                    log.debug("store busy, conversation created on a thread instead: %s", exc)
                    return None
                finally:
                    db.execute("PRAGMA busy_timeout=30000")
                return conv
        finally:
            self._write_lock.release()

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return _conversation(row) if row else None

    def find_conversation(self, channel: str, external_key: str) -> Conversation | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM conversations WHERE channel = ? AND external_key = ?", (channel, external_key)
            ).fetchone()
        return _conversation(row) if row else None

    def get_or_create_conversation(self, *, channel: str, audience: Audience, external_key: str,
                                   user_id: str | None = None) -> Conversation:
        found = self.find_conversation(channel, external_key)
        if found:
            return found
        try:
            return self.create_conversation(channel=channel, audience=audience, external_key=external_key,
                                            user_id=user_id)
        except sqlite3.IntegrityError:  # created by a concurrent request
            found = self.find_conversation(channel, external_key)
            assert found is not None
            return found

    # ------------------------------------------------------------------ turns

    def add_turn(self, conversation_id: str, role: str, text: str, *, created_at: float | None = None) -> str:
        with self._connect(write=True) as db:
            return _insert_turn(db, conversation_id, role, text, time.time() if created_at is None else created_at)

    def history(self, conversation_id: str, limit: int = 20) -> list[HistoryTurn]:
        """The last ``limit`` turns, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT role, text FROM turns WHERE conversation_id = ? ORDER BY created_at DESC, rowid DESC"
                " LIMIT ?",
                (conversation_id, limit),
            ).fetchall()
        return [HistoryTurn(role=r["role"], text=r["text"]) for r in reversed(rows)]

    def turns(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT t.id, t.role, t.text, t.created_at, a.chunk_ids, a.abstained, a.fallback"
                " FROM turns t LEFT JOIN audit a ON a.turn_id = t.id"
                " WHERE t.conversation_id = ? ORDER BY t.created_at, t.rowid",
                (conversation_id,),
            ).fetchall()
        return [dict(r) for r in rows]

    def get_turn(self, turn_id: str) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM turns WHERE id = ?", (turn_id,)).fetchone()
        return dict(row) if row else None

    # ------------------------------------------------------------------ audit

    def record_answer(self, *, conversation: Conversation, question: str, done: DoneEvent,
                      retrieved_chunk_ids: list[str] | None = None, asked_at: float | None = None,
                      searched: str | None = None, declined: str | None = None,
                      confidence: float | None = None) -> str:
        """Store the assistant turn and its audit row in one transaction; returns the turn id.

        ``searched``: the text retrieval was given when it was not ``question`` itself: a follow-up
        ("How long does it take?") read with its conversation's topic, by rule or by the model's
        condense step. A reviewer, and the knowledge-gap report, need what was meant. ``declined``:
        why a declined question was declined (``pipeline.DECLINE_REASONS``). ``confidence``: the
        retrieval's confidence in its passages (0..1): an answer given on weak evidence is what a
        reviewer reads first (``assistant insights`` counts those under the "unsure" bound as gaps).

        With ``asked_at``, the user's turn (``question``, at that time) goes into the same
        transaction: the answer pipeline writes both at the end, so no store write stands
        between a question and its first event (README, "Web API": under a burst of answers
        that early write was most of the server's added latency)."""
        now = time.time() if asked_at is None else max(time.time(), asked_at + 1e-6)  # turns sort by time
        with self._connect(write=True) as db:
            if asked_at is not None:
                _insert_turn(db, conversation.id, "user", question, asked_at)
            turn_id = _insert_turn(db, conversation.id, "assistant", done.answer, now)
            db.execute(
                "INSERT INTO audit (turn_id, conversation_id, channel, audience, question, chunk_ids,"
                " chunk_audiences, retrieved_chunk_ids, generation, prompt_version, backend, model, abstained,"
                " fallback, timings_ms, usage, created_at, grounding, searched, declined, confidence)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    turn_id, conversation.id, conversation.channel, conversation.audience, question,
                    json.dumps([s.chunk_id for s in done.sources]),
                    json.dumps([s.audience for s in done.sources]),
                    json.dumps(retrieved_chunk_ids or []),
                    done.generation, done.prompt_version, done.backend, done.model,
                    int(done.abstained), int(done.fallback), json.dumps(done.timings_ms),
                    json.dumps(done.usage), now,
                    json.dumps({**done.grounding.model_dump(), "dropped_units": done.grounding.dropped_units}),
                    searched if searched and searched.strip() != question.strip() else None,
                    declined if done.abstained else None,
                    None if confidence is None else round(float(confidence), 4),
                ),
            )
        return turn_id

    def audit(self, turn_id: str) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM audit WHERE turn_id = ?", (turn_id,)).fetchone()
        if not row:
            return None
        out = dict(row)
        for key in ("chunk_ids", "chunk_audiences", "retrieved_chunk_ids", "timings_ms", "usage", "grounding"):
            out[key] = json.loads(out[key])
        out["abstained"], out["fallback"] = bool(out["abstained"]), bool(out["fallback"])
        return out

    # ------------------------------------------------------------------ feedback and hand-off

    def record_feedback(self, *, turn_id: str, rating: int, channel: str, comment: str | None = None,
                        user_id: str | None = None) -> int:
        with self._connect(write=True) as db:
            cur = db.execute(
                "INSERT INTO feedback (turn_id, rating, comment, channel, user_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (turn_id, 1 if rating > 0 else -1, comment, channel, user_id, time.time()),
            )
            return int(cur.lastrowid or 0)

    def feedback(self, turn_id: str) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM feedback WHERE turn_id = ? ORDER BY id", (turn_id,)).fetchall()
        return [dict(r) for r in rows]

    def record_handoff(self, *, channel: str, destination: str, status: str, payload: dict[str, Any],
                       conversation_id: str | None = None, turn_id: str | None = None) -> str:
        handoff_id = uuid.uuid4().hex
        with self._connect(write=True) as db:
            db.execute(
                "INSERT INTO handoffs (id, conversation_id, turn_id, channel, destination, status, payload,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (handoff_id, conversation_id, turn_id, channel, destination, status, json.dumps(payload),
                 time.time()),
            )
        return handoff_id

    def handoffs(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        with self._connect() as db:
            if conversation_id is None:
                rows = db.execute("SELECT * FROM handoffs ORDER BY created_at").fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM handoffs WHERE conversation_id = ? ORDER BY created_at", (conversation_id,)
                ).fetchall()
        return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]


def _insert_turn(db: sqlite3.Connection, conversation_id: str, role: str, text: str, created_at: float) -> str:
    """One turn row, inside the caller's transaction; returns its id."""
    turn_id = uuid.uuid4().hex
    db.execute("INSERT INTO turns (id, conversation_id, role, text, created_at) VALUES (?, ?, ?, ?, ?)",
               (turn_id, conversation_id, role, text, created_at))
    return turn_id


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(row["id"], row["channel"], row["audience"], row["external_key"], row["user_id"])
