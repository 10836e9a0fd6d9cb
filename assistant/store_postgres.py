"""The conversation/audit/feedback store on PostgreSQL, for several serving replicas.

Selected with ``ASSISTANT_STORE_URL=postgresql://user:password@host:5432/db`` (see
:func:`open_store`); unset, the embedded SQLite store (:class:`assistant.store.Store`) stays.

Why a subclass with a thin connection adapter rather than a second copy of every query: the
store's SQL (and the insights/drafts readers that borrow its connection through
``Store._connect``) is plain SQL that both databases accept. The adapter turns SQLite's ``?``
placeholders into psycopg's ``%s``, SQLite's implicit ``rowid`` into an explicit ``seq``
column, ``REAL`` timestamps in other modules' DDL into ``DOUBLE PRECISION``, and returns rows
that behave like ``sqlite3.Row`` (by index, by name, ``dict(row)``). Only what differs in
substance is overridden here: schema creation (versioned migrations below) and the race-free
"get or create" (``ON CONFLICT``).

Migrations are plain versioned SQL in :data:`MIGRATIONS`, applied in order at start-up under a
transaction-scoped advisory lock, so replicas starting together apply each one exactly once;
``schema_migrations`` records what was applied. Add a migration by appending ``(N, sql)``;
never edit one that has shipped. The tables and columns are the same as SQLite's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from assistant.errors import ConfigError
from assistant.schemas import Audience
from assistant.store import ConnectionPool, Conversation, Store

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    audience TEXT NOT NULL,
    external_key TEXT,
    user_id TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX conversations_external ON conversations(channel, external_key)
    WHERE external_key IS NOT NULL;
CREATE TABLE turns (
    id TEXT PRIMARY KEY,
    seq BIGSERIAL NOT NULL,          -- insertion order (SQLite's rowid)
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX turns_conversation ON turns(conversation_id, created_at);
CREATE TABLE audit (
    turn_id TEXT PRIMARY KEY REFERENCES turns(id),
    conversation_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    audience TEXT NOT NULL,
    question TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,
    chunk_audiences TEXT NOT NULL,
    retrieved_chunk_ids TEXT NOT NULL DEFAULT '[]',
    generation TEXT,
    prompt_version TEXT,
    backend TEXT,
    model TEXT,
    abstained INTEGER NOT NULL,
    fallback INTEGER NOT NULL,
    timings_ms TEXT NOT NULL,
    usage TEXT NOT NULL DEFAULT '{}',
    created_at DOUBLE PRECISION NOT NULL,
    grounding TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_created ON audit(created_at);
CREATE TABLE feedback (
    id BIGSERIAL PRIMARY KEY,
    turn_id TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT,
    channel TEXT NOT NULL,
    user_id TEXT,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX feedback_turn ON feedback(turn_id);
CREATE TABLE handoffs (
    id TEXT PRIMARY KEY,
    conversation_id TEXT,
    turn_id TEXT,
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX handoffs_conversation ON handoffs(conversation_id, created_at);
"""),
    (2, """
ALTER TABLE audit ADD COLUMN searched TEXT;
"""),
    (3, """
ALTER TABLE audit ADD COLUMN declined TEXT;
"""),
    (4, """
ALTER TABLE audit ADD COLUMN confidence DOUBLE PRECISION;
"""),
]

_MIGRATION_LOCK = 0x61737369  # pg_advisory_xact_lock key: "assi"
_PLACEHOLDER = re.compile(r"\?")
_ROWID = re.compile(r"\browid\b", re.IGNORECASE)
_REAL = re.compile(r"\bREAL\b")


def is_postgres_url(url: str) -> bool:
    return urlsplit(url).scheme in ("postgresql", "postgres", "postgresql+psycopg")


class Row(Sequence[Any]):
    """A result row that behaves like ``sqlite3.Row``: ``row[0]``, ``row["name"]``, ``dict(row)``."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: tuple[str, ...], values: tuple[Any, ...]) -> None:
        self._names = names
        self._values = values

    def keys(self) -> list[str]:
        return list(self._names)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._names.index(key)]
            except ValueError:
                raise IndexError(f"No item with that key: {key}") from None
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._names, self._values, strict=True))!r})"


def _row_factory(cursor: Any) -> Any:
    names = tuple(d.name for d in cursor.description or ())

    def make(values: Sequence[Any]) -> Row:
        return Row(names, tuple(values))

    return make


def translate(sql: str) -> str:
    """SQLite-flavoured SQL as used by the store and its readers → PostgreSQL."""
    return _ROWID.sub("seq", _PLACEHOLDER.sub("%s", sql.replace("%", "%%")))


class _Cursor:
    """The part of ``sqlite3.Cursor`` the store's callers use."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def fetchone(self) -> Row | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Row]:
        return list(self._cursor.fetchall()) if self._cursor.description else []

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    @property
    def lastrowid(self) -> int | None:
        """The id a ``BIGSERIAL`` column just took in this session (SQLite's lastrowid)."""
        row = self._cursor.connection.execute("SELECT lastval()").fetchone()
        return int(row[0]) if row else None


class Connection:
    """A psycopg connection that accepts the store's SQLite-style calls (see the module docstring)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Cursor:
        return _Cursor(self._conn.execute(translate(sql), tuple(params or ())))

    def executemany(self, sql: str, seq: Sequence[Sequence[Any]]) -> _Cursor:
        cur = self._conn.cursor()
        cur.executemany(translate(sql), [tuple(p) for p in seq])
        return _Cursor(cur)

    def executescript(self, script: str) -> None:
        """DDL from other modules (``CREATE TABLE IF NOT EXISTS``): REAL timestamps become doubles."""
        self._conn.execute(_REAL.sub("DOUBLE PRECISION", script))


class _Pool(ConnectionPool):
    """Connections to one Postgres database (the pool itself is the SQLite store's)."""

    def __init__(self, url: str, size: int) -> None:
        super().__init__(size)
        self.url = url

    def _connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.url, row_factory=_row_factory, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise ConfigError("Cannot connect to the Postgres store",
                              hint="check ASSISTANT_STORE_URL (host, port, database, user, password)",
                              detail=str(exc)) from exc

    def _usable(self, conn: Any) -> bool:
        return not (conn.closed or conn.broken)

    def _begin(self, conn: Any) -> AbstractContextManager[Any]:
        return conn.transaction()


class PostgresStore(Store):
    """:class:`Store` on PostgreSQL: same methods, same tables, safe for many replicas."""

    def __init__(self, url: str, *, pool_size: int = Store.POOL_SIZE) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise ConfigError("ASSISTANT_STORE_URL points at Postgres but psycopg is not installed",
                              hint='pip install "support-assistant[postgres]"') from exc
        self.url = url
        self.path = None  # type: ignore[assignment]  # no file: the store lives in the database
        self._pool = _Pool(url, pool_size)
        self.migrate()

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[Connection]:  # type: ignore[override]
        """One transaction; ``write`` is accepted for the SQLite store's signature and needs no lock
        here (Postgres runs concurrent writers itself)."""
        with self._pool.transaction() as conn:
            yield Connection(conn)

    def migrate(self) -> list[int]:
        """Apply the migrations this database lacks; returns the versions applied now."""
        applied: list[int] = []
        with self._pool.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         " version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
            for version, sql in MIGRATIONS:
                if version not in done:
                    conn.execute(sql)
                    conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                                 (version, time.time()))
                    applied.append(version)
        return applied

    def get_or_create_conversation(self, *, channel: str, audience: Audience, external_key: str,
                                   user_id: str | None = None) -> Conversation:
        import json
        import uuid

        with self._connect() as db:  # one statement, no race between replicas
            db.execute(
                "INSERT INTO conversations (id, channel, audience, external_key, user_id, created_at, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, external_key)"
                " WHERE external_key IS NOT NULL DO NOTHING",
                (uuid.uuid4().hex, channel, audience, external_key, user_id, time.time(), json.dumps({})),
            )
        found = self.find_conversation(channel, external_key)
        assert found is not None
        return found


def open_store(url: str | None, default_path: Any) -> Store:
    """The store ``ASSISTANT_STORE_URL`` names: ``postgresql://…``, ``sqlite:////abs/path.sqlite``,
    or unset for the SQLite file in the data directory."""
    if not url:
        return Store(default_path)
    if is_postgres_url(url):
        return PostgresStore(url.replace("postgresql+psycopg://", "postgresql://", 1))
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        rest = url.split("://", 1)[1]
        return Store(Path(rest[1:] if rest.startswith("/") else rest))  # sqlite:////abs/path, sqlite:///relative
    raise ConfigError(f"Unsupported ASSISTANT_STORE_URL scheme {parts.scheme!r}",
                      hint="use postgresql://user:password@host/db or sqlite:////path/to/store.sqlite")
