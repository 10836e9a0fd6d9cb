"""``chunks.sqlite`` of one generation: documents, chunk records, their vectors and FTS5 tables.

Layout (format version 1):

- ``documents``: one row per document or ticket, with the fingerprint that decides reuse.
- ``chunks``: one row per chunk; ``vector`` holds the float32 embedding (the reuse cache for
  the next run), ``faiss_id`` the position in ``<audience>.faiss``.
- ``fts_public`` / ``fts_internal``: contentless FTS5 tables (rowid = ``chunks.id``), one per
  audience so a public keyword search cannot touch internal rows (docs/architecture.md §2).
- ``terms_<audience>``: term → chunks holding it (document frequencies, one indexed lookup).
- ``postings_<audience>`` and ``postings_rows``: the same FTS5 index as one blob per term (the
  chunks holding it and its count in title, section path and text) plus each chunk's length,
  so BM25 is scored in numpy exactly as FTS5's ``bm25()`` scores it, without FTS5 visiting every
  matching row (see :class:`Postings`). Generations written before these tables fall back to
  FTS5 with the postings budget.

The writer only inserts rows; :meth:`ChunkDBWriter.finalize` derives faiss ids and FTS tables
from them, so copied and new rows are treated alike.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from assistant.ranking import spelled_apart
from assistant.schemas import AUDIENCES, Audience, Chunk

log = logging.getLogger(__name__)

FORMAT_VERSION = 1

SCHEMA = """
CREATE TABLE documents (
    doc_key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    audience TEXT NOT NULL,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    fingerprint TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_key TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    audience TEXT NOT NULL CHECK (audience IN ('public', 'internal')),
    title TEXT NOT NULL,
    section TEXT NOT NULL,
    url TEXT,
    path TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    embed_text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    untrusted INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    faiss_id INTEGER,
    vector BLOB NOT NULL,
    question_vector BLOB  -- the heading's question alone, for a chunk whose heading asks one (an FAQ entry)
);
CREATE INDEX chunks_doc ON chunks(doc_key);
CREATE INDEX chunks_hash ON chunks(content_hash);
CREATE INDEX chunks_question ON chunks(audience) WHERE question_vector IS NOT NULL;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_CHUNK_COLUMNS = (
    "chunk_id", "doc_key", "source", "kind", "audience", "title", "section", "url", "path", "ordinal",
    "text", "embed_text", "content_hash", "untrusted", "metadata",
)
_FTS_TOKEN = re.compile(r"\w+", re.UNICODE)
# bm25() column weights for (title, section path, text) unless the caller passes its own.
DEFAULT_FIELD_WEIGHTS = (2.0, 1.0, 1.0)


def fts_table(audience: Audience) -> str:
    return f"fts_{audience}"


def terms_table(audience: Audience) -> str:
    """Term → number of chunks holding it, per audience (absent in indexes built before it)."""
    return f"terms_{audience}"


def postings_table(audience: Audience) -> str:
    """Term → its postings as blobs, per audience (absent in indexes built before it)."""
    return f"postings_{audience}"


POSTINGS_ROWS = "postings_rows"  # per audience: the partition's chunk ids and token counts
# FTS5's bm25() constants (fts5_aux.c); the in-process scorer must rank exactly as FTS5 does.
BM25_K1 = 1.2
BM25_B = 0.75


def vector_to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def blob_to_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


NAME_SAMPLE = 8  # chunks read per word by ChunkDB.capitalised_counts


def heading_question(title: str, section: str) -> str | None:
    """The question a chunk's own heading asks, if it asks one: an FAQ entry ("How do I verify
    that a private key matches its Certificate?"), or a page titled as a question for its opening
    chunk. A customer's question is compared with it alone as well as with the whole chunk (see
    ``RetrievalSettings.question_heading_weight``): FAQ answers rarely repeat their question's words."""
    last = section.rsplit(" > ", 1)[-1].strip() if section.strip() else title.strip()
    return last if last.endswith("?") and len(last) > 3 else None


def fts_words(text: str) -> list[str]:
    """Distinct lower-cased words of more than one character, in order."""
    return list(dict.fromkeys(w for w in _FTS_TOKEN.findall(text.lower()) if len(w) > 1))


def fts_query(text: str) -> str:
    """A safe FTS5 query: every word quoted and OR-ed, so user text can't inject FTS syntax."""
    return " OR ".join(f'"{w}"' for w in fts_words(text))


@lru_cache(maxsize=65536)
def fts_stem(word: str) -> str:
    """A word as FTS5's ``porter unicode61`` tokenizer stores it: lower case, diacritics removed,
    Porter-stemmed (words of one or two letters are left alone, as SQLite's stemmer does)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))
    if len(plain) <= 2:
        return plain
    return str(_porter().stemWord(plain))


@lru_cache(maxsize=1)
def _porter() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("porter")


def fts_phrase_query(phrases: Sequence[Sequence[str]]) -> str:
    """An FTS5 query matching any of the word sequences as a phrase; words are quoted, so no syntax
    from the question survives."""
    parts = []
    for phrase in phrases:
        ws = [w for w in (t.lower() for t in phrase) if _FTS_TOKEN.fullmatch(w)]
        if ws:
            parts.append("(" + " + ".join(f'"{w}"' for w in ws) + ")")
    return " OR ".join(dict.fromkeys(parts))


def readonly_uri(path: Path) -> str:
    """A published generation never changes: ``immutable=1`` makes SQLite skip locks and never
    create ``-journal``/``-wal``/``-shm`` files, so replicas can read it from a read-only or
    network volume (NFS, EFS, Azure Files) where SQLite's locking is unreliable."""
    return f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    db = sqlite3.connect(readonly_uri(path), uri=True, check_same_thread=False) if readonly else sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    return db


class ChunkDBWriter:
    """Builds a new ``chunks.sqlite``; rows come from new chunks or are copied from the last one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = _connect(path)
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        self.db.execute("INSERT INTO meta VALUES ('format_version', ?)", (str(FORMAT_VERSION),))
        self._attached: Path | None = None
        self.boilerplate = 0  # rows finalize() kept out of the search indexes

    def add_document(self, *, doc_key: str, source: str, kind: str, audience: Audience, path: str,
                     title: str, url: str | None, fingerprint: str, metadata: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc_key, source, kind, audience, path, title, url, fingerprint, json.dumps(metadata, default=str)),
        )

    def add_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        rows = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            data = chunk.model_dump(mode="json")
            values = [data[c] for c in _CHUNK_COLUMNS]
            values[_CHUNK_COLUMNS.index("untrusted")] = int(chunk.untrusted)
            values[_CHUNK_COLUMNS.index("metadata")] = json.dumps(data["metadata"])
            rows.append((*values, vector_to_blob(vector)))
        self.db.executemany(
            f"INSERT INTO chunks ({', '.join(_CHUNK_COLUMNS)}, vector)"
            f" VALUES ({', '.join('?' * (len(_CHUNK_COLUMNS) + 1))})",
            rows,
        )

    def attach_previous(self, previous: Path) -> None:
        self.db.execute("ATTACH DATABASE ? AS prev", (readonly_uri(previous),))
        self._attached = previous

    def copy_documents(self, doc_keys: Iterable[str]) -> int:
        """Copy documents and their chunks (vectors included) from the attached previous generation."""
        assert self._attached is not None, "attach_previous() first"
        keys = list(doc_keys)
        previous = {row[1] for row in self.db.execute("PRAGMA prev.table_info(chunks)")}
        # A generation written before heading-question vectors: fill_question_vectors embeds them.
        columns = ", ".join((*_CHUNK_COLUMNS, "vector", *(("question_vector",) if "question_vector" in previous
                                                          else ())))
        copied = 0
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            marks = ",".join("?" * len(part))
            self.db.execute(f"INSERT INTO documents SELECT * FROM prev.documents WHERE doc_key IN ({marks})", part)
            cur = self.db.execute(
                f"INSERT INTO chunks ({columns}) SELECT {columns} FROM prev.chunks WHERE doc_key IN ({marks})"
                " ORDER BY id",
                part,
            )
            copied += cur.rowcount
        return copied

    def fill_question_vectors(self, encode: Callable[[list[str]], np.ndarray]) -> int:
        """Embed the question of every chunk whose heading asks one (:func:`heading_question`) and
        that has no vector for it yet (new chunks, and chunks copied from a generation written before
        these vectors existed); returns how many were embedded."""
        rows = self.db.execute("SELECT id, title, section FROM chunks WHERE question_vector IS NULL").fetchall()
        asked = [(row[0], question) for row in rows if (question := heading_question(row[1], row[2]))]
        if not asked:
            return 0
        matrix = encode([question for _, question in asked])
        self.db.executemany("UPDATE chunks SET question_vector = ? WHERE id = ?",
                            [(vector_to_blob(v), row) for (row, _), v in zip(asked, matrix, strict=True)])
        return len(asked)

    def finalize(self, *, boilerplate_docs: int = 0) -> dict[Audience, np.ndarray]:
        """Number chunks per audience, fill the FTS tables, and return the vectors in faiss order.

        ``boilerplate_docs``: a chunk text found in at least this many documents of one audience is
        searchable once (its first row); its other rows keep ``faiss_id`` NULL, out of FAISS, FTS5 and
        the postings, but stored, so the next run (which copies unchanged documents' rows) counts
        every copy again. 0 keeps every row searchable."""
        db = self.db
        if self._attached is not None:
            db.commit()
            db.execute("DETACH DATABASE prev")
            self._attached = None
        db.execute("CREATE TEMP TABLE repeated (id INTEGER PRIMARY KEY)")
        if boilerplate_docs > 0:
            db.execute(
                "INSERT INTO repeated SELECT c.id FROM chunks AS c JOIN (SELECT audience, text, min(id) AS keep"
                " FROM chunks GROUP BY audience, text HAVING count(DISTINCT doc_key) >= ?) AS r"
                " ON c.audience = r.audience AND c.text = r.text AND c.id != r.keep",
                (boilerplate_docs,),
            )
        self.boilerplate = int(db.execute("SELECT count(*) FROM repeated").fetchone()[0])
        db.execute("UPDATE chunks SET faiss_id = NULL")
        db.execute(
            "UPDATE chunks SET faiss_id = numbered.n FROM (SELECT id, row_number() OVER"
            " (PARTITION BY audience ORDER BY id) - 1 AS n FROM chunks WHERE id NOT IN (SELECT id FROM repeated))"
            " AS numbered WHERE chunks.id = numbered.id"
        )
        db.execute("DROP TABLE repeated")
        db.execute("CREATE UNIQUE INDEX chunks_faiss ON chunks(audience, faiss_id)")
        vectors: dict[Audience, np.ndarray] = {}
        for audience in AUDIENCES:
            table = fts_table(audience)
            db.execute(
                f"CREATE VIRTUAL TABLE {table} USING fts5(title, section, text, content='',"
                " tokenize='porter unicode61')"
            )
            db.execute(
                f"INSERT INTO {table} (rowid, title, section, text) SELECT id, title, section, text FROM chunks"
                " WHERE audience = ? AND faiss_id IS NOT NULL ORDER BY id",
                (audience,),
            )
            # Document frequencies, materialised once: fts5vocab counts them by reading whole
            # posting lists, too slow to ask per query (see ChunkDB.term_frequencies).
            db.execute(f"CREATE VIRTUAL TABLE temp.vocab_{audience} USING fts5vocab(main, '{table}', 'row')")
            db.execute(f"CREATE TABLE {terms_table(audience)} (term TEXT PRIMARY KEY, docs INTEGER NOT NULL)"
                       " WITHOUT ROWID")
            db.execute(f"INSERT INTO {terms_table(audience)} SELECT term, doc FROM temp.vocab_{audience}")
            db.execute(f"DROP TABLE temp.vocab_{audience}")
            write_postings(db, audience)
            blobs = db.execute(
                "SELECT vector FROM chunks WHERE audience = ? AND faiss_id IS NOT NULL ORDER BY faiss_id", (audience,)
            ).fetchall()
            vectors[audience] = (
                np.vstack([blob_to_vector(b[0]) for b in blobs]).astype(np.float32)
                if blobs else np.zeros((0, 0), dtype=np.float32)
            )
        db.commit()
        return vectors

    def close(self) -> None:
        self.db.commit()
        self.db.close()


def write_postings(db: sqlite3.Connection, audience: Audience) -> None:
    """``postings_<audience>`` and this audience's ``postings_rows`` row, read back from the FTS5
    table just filled (its own tokens, after its own stemming, so nothing can disagree with it).

    fts5vocab's ``instance`` view lists every token as (term, chunk, column) ordered by term, then
    chunk: one pass groups it. Per term: the chunks' positions in the partition (int32) and the
    term's count in each of the three columns (uint16 triples). ~5 s per million tokens.
    """
    table = fts_table(audience)
    db.execute(f"CREATE TABLE IF NOT EXISTS {POSTINGS_ROWS} (audience TEXT PRIMARY KEY, rows BLOB NOT NULL,"
               " lengths BLOB NOT NULL, tokens INTEGER NOT NULL)")
    db.execute(f"CREATE TABLE {postings_table(audience)} (term TEXT PRIMARY KEY, positions BLOB NOT NULL,"
               " tf BLOB NOT NULL) WITHOUT ROWID")
    rows = np.fromiter((r[0] for r in db.execute("SELECT id FROM chunks WHERE audience = ? AND faiss_id IS NOT NULL"
                                                   " ORDER BY id", (audience,))), dtype=np.int64)
    position = {int(row): i for i, row in enumerate(rows)}
    lengths = np.zeros(len(rows), dtype=np.int32)
    db.execute(f"CREATE VIRTUAL TABLE temp.instances_{audience} USING fts5vocab(main, '{table}', 'instance')")
    out: list[tuple[str, bytes, bytes]] = []

    def flush(term: str, docs: list[int], cols: list[int]) -> None:
        pos = np.fromiter((position[d] for d in docs), dtype=np.int32, count=len(docs))
        col = np.asarray(cols, dtype=np.int64)
        np.add.at(lengths, pos, 1)
        unique = np.unique(pos)
        tf = np.zeros((len(unique), 3), dtype=np.uint16)
        np.add.at(tf, (np.searchsorted(unique, pos), col), 1)
        out.append((term, unique.astype(np.int32).tobytes(), tf.tobytes()))
        if len(out) >= 2000:
            db.executemany(f"INSERT INTO {postings_table(audience)} VALUES (?, ?, ?)", out)
            out.clear()

    term: str | None = None
    docs: list[int] = []
    cols: list[int] = []
    for t, doc, col in db.execute(f"SELECT term, doc, col FROM temp.instances_{audience}"):
        if t != term:
            if term is not None:
                flush(term, docs, cols)
            term, docs, cols = t, [], []
        docs.append(doc)
        cols.append(_COLUMNS[col] if isinstance(col, str) else int(col))
    if term is not None:
        flush(term, docs, cols)
    if out:
        db.executemany(f"INSERT INTO {postings_table(audience)} VALUES (?, ?, ?)", out)
    db.execute(f"DROP TABLE temp.instances_{audience}")
    db.execute(f"INSERT OR REPLACE INTO {POSTINGS_ROWS} VALUES (?, ?, ?, ?)",
               (audience, rows.tobytes(), lengths.tobytes(), int(lengths.sum())))


_COLUMNS = {"title": 0, "section": 1, "text": 2}


IMPACT_CACHE_BYTES = 64 << 20  # per partition: the scored postings of the words questions keep using


class Postings:
    """One partition's BM25, scored in numpy from ``postings_<audience>``: the same ranking as
    FTS5's ``bm25()`` (same tokens, counts, lengths and formula), at a cost bounded by the query
    terms' posting lengths rather than by FTS5's per-row work (at 100k chunks: a few ms where
    FTS5 took 20-140 ms). Immutable, like the generation it reads.

    A word's contribution to each chunk's score depends only on the word, the chunk and the column
    weights, never on the rest of the question, and the words that cost most (common ones, with the
    longest postings) are the ones questions keep using. Each word's contributions are kept (LRU,
    ``IMPACT_CACHE_BYTES``), so a question of known words reads no postings blob and computes no
    length normalisation: only the sums. The scores are the same floats either way."""

    def __init__(self, rows: np.ndarray, lengths: np.ndarray, tokens: int) -> None:
        self.rows = rows  # chunk ids, by position
        self.lengths = lengths.astype(np.float64)
        self.avgdl = tokens / max(len(rows), 1)
        self._impacts: OrderedDict[tuple[str, tuple[float, float, float]], tuple[np.ndarray, np.ndarray]] = (
            OrderedDict())
        self._impact_bytes = 0
        self._lock = threading.Lock()

    def search(self, fetch: Callable[[list[str]], dict[str, tuple[bytes, bytes]]], terms: Sequence[str], k: int,
               weights: tuple[float, float, float]) -> list[tuple[int, float]]:
        """``terms``: the query's stemmed words, one per quoted FTS5 phrase (repeats count again,
        as they do in FTS5); ``fetch(words)``: the postings blobs of those of ``words`` that exist."""
        impacts = self.impacts(fetch, terms, weights)
        n = len(self.rows)
        scores = np.zeros(n, dtype=np.float64)
        matched = np.zeros(n, dtype=bool)
        for term in terms:
            if term not in impacts:
                continue
            pos, contribution = impacts[term]
            scores[pos] += contribution
            matched[pos] = True
        hits = np.flatnonzero(matched)
        if not len(hits):
            return []
        if len(hits) > k:
            cut = np.argpartition(-scores[hits], k - 1)[:k]
            hits = hits[cut]
        order = np.lexsort((self.rows[hits], -scores[hits]))  # best first; ties: lower chunk id first
        return [(int(self.rows[i]), float(scores[i])) for i in hits[order]]

    def impacts(self, fetch: Callable[[list[str]], dict[str, tuple[bytes, bytes]]], terms: Sequence[str],
                weights: tuple[float, float, float]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each of ``terms`` the partition holds: its postings' positions and BM25 contributions."""
        key_weights = (float(weights[0]), float(weights[1]), float(weights[2]))
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        with self._lock:
            for term in dict.fromkeys(terms):
                held = self._impacts.get((term, key_weights))
                if held is not None:
                    self._impacts.move_to_end((term, key_weights))
                    out[term] = held
        missing = [t for t in dict.fromkeys(terms) if t not in out]
        if not missing:
            return out
        n = len(self.rows)
        w = np.asarray(key_weights, dtype=np.float64)
        computed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, (blob_pos, blob_tf) in fetch(missing).items():
            pos = np.frombuffer(blob_pos, dtype=np.int32)
            tf = np.frombuffer(blob_tf, dtype=np.uint16).reshape(-1, 3)
            idf = math.log((n - len(pos) + 0.5) / (len(pos) + 0.5))
            idf = idf if idf > 0 else 1e-6
            f = tf @ w
            norm = BM25_K1 * (1 - BM25_B + BM25_B * self.lengths[pos] / self.avgdl)
            computed[term] = (pos, idf * f * (BM25_K1 + 1) / (f + norm))
        with self._lock:
            for term, value in computed.items():
                key = (term, key_weights)
                if key in self._impacts:
                    continue
                self._impacts[key] = value
                self._impact_bytes += value[0].nbytes + value[1].nbytes
            while self._impact_bytes > IMPACT_CACHE_BYTES and len(self._impacts) > 1:
                _, (pos, contribution) = self._impacts.popitem(last=False)
                self._impact_bytes -= pos.nbytes + contribution.nbytes
        out.update(computed)
        return out


SPELLING_MIN_CHARS = 4  # shorter stems have too many neighbours one edit away to correct
SPELLING_TWO_EDITS_FROM = 8  # stems this long may be two edits away ("authentif" → "authent")
SPELLING_CACHE = 4096  # words whose nearest spelling is remembered (a scan of the vocabulary costs 5-15 ms)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of two neighbours is one edit), or ``limit + 1``
    as soon as it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


def _chunk_from_row(row: sqlite3.Row) -> Chunk:
    data = {c: row[c] for c in _CHUNK_COLUMNS}
    data["untrusted"] = bool(data["untrusted"])
    data["metadata"] = json.loads(data["metadata"])
    # Validated when written; a query fetches ~200 of these, and validation was a fifth of it.
    return Chunk.model_construct(**data)


class StoredChunk:
    """A chunk as a search fetches it: what ranking reads (document, audience, vector) at once,
    the full :class:`Chunk` on first use. A query fetches about 200 candidates and keeps a
    handful; building every record was two thirds of the fetch step (1.9 of 2.8 ms at 100k)."""

    __slots__ = ("_chunk", "_row", "audience", "doc_key", "vector")

    def __init__(self, *, doc_key: str, audience: str, vector: np.ndarray, row: sqlite3.Row | None = None,
                 chunk: Chunk | None = None) -> None:
        if row is None and chunk is None:
            raise ValueError("a StoredChunk needs its row or its chunk")
        self.doc_key = doc_key
        self.audience = audience
        self.vector = vector
        self._row = row
        self._chunk = chunk

    @classmethod
    def of(cls, chunk: Chunk, vector: np.ndarray) -> StoredChunk:
        """One already built (in-memory generations, tests)."""
        return cls(doc_key=chunk.doc_key, audience=chunk.audience, vector=vector, chunk=chunk)

    @property
    def chunk(self) -> Chunk:
        if self._chunk is None:
            assert self._row is not None
            self._chunk = _chunk_from_row(self._row)
            self._row = None
        return self._chunk


class ChunkDB:
    """Read side, opened read-only with one connection per thread (servers query from many)."""

    use_postings = True  # False: always let FTS5 score (benchmarks compare the two paths)

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.db  # noqa: B018 - open now so a missing or corrupt file fails at load, not at first query

    @property
    def db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, readonly=True)
            conn.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def documents(self) -> dict[str, sqlite3.Row]:
        return {r["doc_key"]: r for r in self.db.execute("SELECT * FROM documents")}

    def ids_for_positions(self, audience: Audience, positions: Sequence[int]) -> list[int | None]:
        """Map FAISS positions of one partition to chunk row ids (None for missing)."""
        if not positions:
            return []
        marks = ",".join("?" * len(positions))
        rows = self.db.execute(
            f"SELECT faiss_id, id FROM chunks WHERE audience = ? AND faiss_id IN ({marks})",
            (audience, *positions),
        ).fetchall()
        found = {r[0]: r[1] for r in rows}
        return [found.get(p) for p in positions]

    def keyword_search(self, audience: Audience, query: str, k: int, *,
                       weights: tuple[float, float, float] = DEFAULT_FIELD_WEIGHTS,
                       max_postings: int = 0, respell: Callable[[str], bool] | None = None) -> list[tuple[int, float]]:
        """BM25 over one audience's FTS table: (chunk row id, score) with higher = better.

        ``weights`` are ``bm25()``'s column weights for (title, section path, text): a word in a
        page title or heading says more about the chunk than the same word in its body.

        FTS5 scores every chunk holding any query word, so one common word costs a pass over
        most of the table. With ``max_postings`` > 0 the query keeps its rarest words while the
        chunks they match add up to at most that (see :meth:`bounded_terms`). ``respell``: which of
        the words this partition never holds may be typos, searched also as the word they most likely
        meant (:meth:`near_spellings`); None respells nothing."""
        words = self._with_runs(audience, fts_words(query))
        if respell is not None:
            words = self._with_spellings(audience, words, respell)
        postings = self.postings(audience) if self.use_postings else None
        if postings is not None and words and all(w.isalnum() for w in words):
            # Exact BM25 at a bounded cost: no word needs dropping (``max_postings`` is FTS5's bound).
            return postings.search(partial(self._postings_of, audience), [fts_stem(w) for w in words], k, weights)
        if max_postings > 0 and words:
            words = self.bounded_terms(audience, words, max_postings=max_postings)
        return self._match(audience, fts_query(" ".join(words)), k, weights)

    def _postings_of(self, audience: Audience, terms: list[str]) -> dict[str, tuple[bytes, bytes]]:
        """The postings blobs (positions, per-column counts) of those ``terms`` (stems) the partition holds."""
        return {r[0]: (r[1], r[2]) for r in self.db.execute(
            f"SELECT term, positions, tf FROM {postings_table(audience)} WHERE term IN"
            f" ({','.join('?' * len(terms))})", sorted(terms))}

    def _with_runs(self, audience: Audience, words: list[str]) -> list[str]:
        """``words`` plus the letter and digit runs of a code this partition never writes as one word
        but knows apart ("abt06" → "abt", "06" where pages say "ABT 06"); a code whose runs it does
        not all know adds nothing (a lone "06" would match every page that numbers something)."""
        glued = {w: runs for w in words if (runs := spelled_apart(w))}
        if not glued:
            return words
        known = self.term_frequencies(audience, [*glued, *(r for runs in glued.values() for r in runs)])
        extra = [r for w, runs in glued.items() if not known.get(w) and all(known.get(r) for r in runs) for r in runs]
        return list(dict.fromkeys([*words, *extra]))

    def _with_spellings(self, audience: Audience, words: list[str], respell: Callable[[str], bool]) -> list[str]:
        """``words`` plus what each word this partition never holds, and ``respell`` takes for a typo,
        was probably meant to be: "refnd a card paymnet" also searches "refund" and "payment"."""
        candidates = [w for w in words if respell(w)]
        if not candidates:
            return words
        known = self.term_frequencies(audience, candidates)
        spellings = self.near_spellings(audience, [w for w in candidates if not known.get(w)])
        return list(dict.fromkeys([*words, *spellings.values()])) if spellings else words

    def postings(self, audience: Audience) -> Postings | None:
        """The partition's in-process BM25 (cached: a generation never changes); None for an index
        written before the postings tables (FTS5 then scores, bounded by ``max_postings``; re-run
        ``assistant ingest`` to get them)."""
        cache: dict[str, Postings | None] = self.__dict__.setdefault("_postings", {})
        if audience not in cache:
            table = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                    (postings_table(audience),)).fetchone()
            row = self.db.execute(f"SELECT rows, lengths, tokens FROM {POSTINGS_ROWS} WHERE audience = ?",
                                  (audience,)).fetchone() if table else None
            cache[audience] = None if row is None else Postings(
                np.frombuffer(row[0], dtype=np.int64), np.frombuffer(row[1], dtype=np.int32), int(row[2]))
            if row is None:
                log.info("%s was written before the postings tables: FTS5 scores BM25 for %s questions (slower"
                         " on large indexes, bounded by ASSISTANT_RETRIEVAL_KEYWORD_MAX_POSTINGS); re-run"
                         " `assistant ingest` to add them", self.path, audience)
        return cache[audience]

    def bounded_terms(self, audience: Audience, words: Sequence[str], *, max_postings: int) -> list[str]:
        """The words the partition holds, rarest first, while the chunks they match add up to at
        most ``max_postings`` (the rarest one is always kept): BM25's cost is the rows it scores,
        and the words dropped are the common ones BM25 weighs least."""
        frequencies = self.term_frequencies(audience, words)
        present = sorted((w for w in words if frequencies.get(w, 0) > 0), key=lambda w: frequencies[w])
        kept: list[str] = []
        used = 0
        for word in present:
            if kept and used + frequencies[word] > max_postings:
                break
            kept.append(word)
            used += frequencies[word]
        return kept

    def phrase_search(self, audience: Audience, phrases: Sequence[Sequence[str]], k: int, *,
                      weights: tuple[float, float, float] = DEFAULT_FIELD_WEIGHTS) -> list[tuple[int, float]]:
        """BM25 over chunks holding any of ``phrases`` (word sequences) verbatim: error codes,
        identifiers, fragments of a quoted log line. Phrases of several words are rare, so FTS5
        stays cheap on them. A phrase of one word is that word, and a product name ("QuickBooks",
        "2FA") may stand in thousands of chunks, each of which FTS5 visits (15 ms at 100k chunks):
        when every phrase is one word, the partition's postings score them, with the same BM25."""
        postings = self.postings(audience) if self.use_postings else None
        words = list(dict.fromkeys(
            tuple(w for w in (t.lower() for t in phrase) if _FTS_TOKEN.fullmatch(w)) for phrase in phrases))
        words = [ws for ws in words if ws]
        if postings is not None and words and all(len(ws) == 1 and ws[0].isalnum() for ws in words):
            return postings.search(partial(self._postings_of, audience), [fts_stem(ws[0]) for ws in words], k,
                                   weights)
        return self._match(audience, fts_phrase_query(phrases), k, weights)

    def _match(self, audience: Audience, match: str, k: int,
               weights: tuple[float, float, float]) -> list[tuple[int, float]]:
        if not match:
            return []
        table = fts_table(audience)
        w_title, w_section, w_text = (float(w) for w in weights)
        rows = self.db.execute(
            f"SELECT rowid, bm25({table}, {w_title!r}, {w_section!r}, {w_text!r}) AS s FROM {table}"
            f" WHERE {table} MATCH ? ORDER BY s LIMIT ?",
            (match, k),
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def term_frequencies(self, audience: Audience, terms: Sequence[str]) -> dict[str, int]:
        """Chunks of one partition holding each term, from FTS5's own vocabulary (fts5vocab), after
        the same Porter stemming FTS5 applies: one indexed lookup, however common the term."""
        if not terms:
            return {}
        stems = {t: fts_stem(t) for t in terms}
        wanted = sorted(set(stems.values()))
        marks = ",".join("?" * len(wanted))
        if self._has_terms_table(audience):
            sql = f"SELECT term, docs FROM {terms_table(audience)} WHERE term IN ({marks})"
        else:  # an index built before the terms table: ask FTS5 (slower on large indexes)
            self._vocab(audience)
            sql = f"SELECT term, doc FROM temp.vocab_{audience} WHERE term IN ({marks})"
        found = dict(self.db.execute(sql, wanted).fetchall())
        return {t: int(found.get(st, 0)) for t, st in stems.items()}

    def heading_questions(self, audience: Audience) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row ids, chunk vectors and heading-question vectors of the partition's searchable chunks
        whose heading asks a question (empty for an index written before these vectors existed)."""
        dimension = 0
        ids: list[int] = []
        chunk_vectors: list[np.ndarray] = []
        question_vectors: list[np.ndarray] = []
        if "question_vector" in {row[1] for row in self.db.execute("PRAGMA table_info(chunks)")}:
            for row, vector, question in self.db.execute(
                    "SELECT id, vector, question_vector FROM chunks WHERE audience = ? AND faiss_id IS NOT NULL"
                    " AND question_vector IS NOT NULL ORDER BY id", (audience,)):
                ids.append(int(row))
                chunk_vectors.append(blob_to_vector(vector))
                question_vectors.append(blob_to_vector(question))
            dimension = len(chunk_vectors[0]) if chunk_vectors else 0
        if not ids:
            empty = np.zeros((0, dimension), dtype=np.float32)
            return np.zeros(0, dtype=np.int64), empty, empty
        return np.array(ids, dtype=np.int64), np.stack(chunk_vectors), np.stack(question_vectors)

    def holds_together(self, audience: Audience, words: Sequence[str]) -> bool:
        """Whether one chunk of the partition holds every word (as FTS5 matches them, stemmed)."""
        terms = [t for w in words for t in fts_words(w)]
        if not terms:
            return False
        table = fts_table(audience)
        match = " AND ".join(f'"{t}"' for t in dict.fromkeys(terms))
        return self.db.execute(f"SELECT 1 FROM {table} WHERE {table} MATCH ? LIMIT 1", (match,)).fetchone() is not None

    def capitalised_counts(self, audience: Audience, words: Sequence[str], *, sample: int = NAME_SAMPLE
                           ) -> dict[str, tuple[int, int]]:
        """For each word, how many of its uses inside a sentence the partition writes with a capital,
        and how many there are ("Xero", "QuickBooks", "PayPal" nearly always; "connect" or "refund"
        only as a button label now and then), over the first ``sample`` chunks that hold it. A customer types
        "and xero?" in lower case; the documents tell that it names something. Words the partition
        never uses inside a sentence are left out. FTS5 lower-cases what it indexes, so this reads
        the chunks' own text: one small query per word."""
        table = fts_table(audience)
        out: dict[str, tuple[int, int]] = {}
        for word in dict.fromkeys(w.lower() for w in words if _FTS_TOKEN.fullmatch(w.lower())):
            rows = self.db.execute(
                f"SELECT c.title, c.section, c.text FROM {table} f JOIN chunks c ON c.id = f.rowid"
                f" WHERE {table} MATCH ? LIMIT ?", (f'"{word}"', sample)).fetchall()
            capital = total = 0
            pattern = re.compile(rf"(?<![\w-])({re.escape(word)})(?![\w-])", re.IGNORECASE)
            for row in rows:
                for text in row:
                    for match in pattern.finditer(text or ""):
                        line = text[: match.start()].rstrip(" \t")
                        before = line.rstrip()
                        if not before or line.endswith("\n") or before[-1] in ".?!:*#>|-_`[(\"'":
                            continue  # where a sentence, a heading, a list item or a label starts
                        total += 1
                        capital += match.group(1)[0].isupper()
            if total:
                out[word] = (capital, total)
        return out

    def near_spellings(self, audience: Audience, words: Sequence[str]) -> dict[str, str]:
        """The partition's word (as FTS5 indexes it, stemmed) that each misspelt word most likely
        meant: one edit away ("refnd" → "refund", "paymnet" → "payment", a swap counts as one), two for
        stems of eight letters or more ("authentification" → "authent"), the same first letter, the
        word most chunks hold among equally close ones. Words of fewer than four letters are left
        alone (too many neighbours), so is every word of an index without the terms table."""
        if not words or not self._has_terms_table(audience):
            return {}
        buckets = self._spelling_buckets(audience)
        seen: dict[tuple[str, str], str | None] = self.__dict__.setdefault("_respelt", {})
        out: dict[str, str] = {}
        for word in words:
            if (audience, word) in seen:  # the keyword search and the abstention signals both ask
                if (found := seen[audience, word]) is not None:
                    out[word] = found
                continue
            if len(seen) >= SPELLING_CACHE:
                seen.clear()
            seen[audience, word] = None
            stem = fts_stem(word)
            if len(stem) < SPELLING_MIN_CHARS or not stem.isalpha():
                continue
            limit = 2 if len(stem) >= SPELLING_TWO_EDITS_FROM else 1
            best: tuple[int, int, str] | None = None
            for term, docs in buckets.get(stem[0], ()):
                if abs(len(term) - len(stem)) > limit or term == stem:
                    continue
                d = edit_distance(stem, term, limit)
                if d <= limit and (best is None or (d, -docs) < best[:2]):
                    best = (d, -docs, term)
            if best is not None:
                out[word] = seen[audience, word] = best[2]
        return out

    def _spelling_buckets(self, audience: Audience) -> dict[str, list[tuple[str, int]]]:
        """The partition's indexed words by first letter (cached: a generation never changes)."""
        cache: dict[str, dict[str, list[tuple[str, int]]]] = self.__dict__.setdefault("_spellings", {})
        if audience not in cache:
            buckets: dict[str, list[tuple[str, int]]] = {}
            for term, docs in self.db.execute(f"SELECT term, docs FROM {terms_table(audience)}"):
                if term[:1].isalpha():
                    buckets.setdefault(term[0], []).append((term, int(docs)))
            cache[audience] = buckets
        return cache[audience]

    def _has_terms_table(self, audience: Audience) -> bool:
        known: dict[str, bool] = self.__dict__.setdefault("_terms_tables", {})
        if audience not in known:
            known[audience] = self.db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (terms_table(audience),)
            ).fetchone() is not None
        return known[audience]

    def _vocab(self, audience: Audience) -> None:
        """The fts5vocab view of one FTS table, in this connection's temp schema (the file stays read-only)."""
        self.db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab_{audience}"
                        f" USING fts5vocab(main, '{fts_table(audience)}', 'row')")

    def partition_size(self, audience: Audience) -> int:
        """Searchable chunks in one audience's partition (cached: a generation never changes)."""
        sizes: dict[str, int] = self.__dict__.setdefault("_sizes", {})
        if audience not in sizes:
            sizes[audience] = int(self.db.execute(
                "SELECT count(*) FROM chunks WHERE audience = ? AND faiss_id IS NOT NULL", (audience,)).fetchone()[0])
        return sizes[audience]

    def chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        return {int(r["id"]): _chunk_from_row(r) for r in self._rows(ids, vector=False)}

    def stored(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        """Records and vectors of ``ids`` in one query, each :class:`Chunk` built on first use."""
        return {int(r["id"]): StoredChunk(doc_key=r["doc_key"], audience=r["audience"],
                                          vector=blob_to_vector(r["vector"]), row=r)
                for r in self._rows(ids, vector=True)}

    def _rows(self, ids: Sequence[int], *, vector: bool) -> Iterator[sqlite3.Row]:
        """The chunk rows of ``ids`` (any order), with the vector column or without, 500 ids a query."""
        columns = ", ".join(("id", *_CHUNK_COLUMNS, *(("vector",) if vector else ())))
        for start in range(0, len(ids), 500):
            part = list(ids[start:start + 500])
            yield from self.db.execute(f"SELECT {columns} FROM chunks WHERE id IN ({','.join('?' * len(part))})",
                                       part)

    def vectors_by_hash(self, hashes: Iterable[str]) -> dict[str, bytes]:
        """The reuse cache: content hash → stored vector bytes."""
        out: dict[str, bytes] = {}
        items = list(dict.fromkeys(hashes))
        for start in range(0, len(items), 500):
            part = items[start:start + 500]
            for r in self.db.execute(
                f"SELECT content_hash, vector FROM chunks WHERE content_hash IN ({','.join('?' * len(part))})", part
            ):
                out[r[0]] = r[1]
        return out

    def iter_chunks(self, audience: Audience | None = None) -> Iterator[Chunk]:
        ids = [
            r[0] for r in (
                self.db.execute("SELECT id FROM chunks ORDER BY id") if audience is None
                else self.db.execute("SELECT id FROM chunks WHERE audience = ? ORDER BY id", (audience,))
            )
        ]
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            found = self.chunks(part)
            for i in part:
                yield found[i]
