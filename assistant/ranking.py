"""What a question contains, and how chunk evidence becomes a ranking of documents.

Real support questions are not written in the manual's vocabulary, but many of them carry
something only an exact match finds: a log line or error message (quoted, or pasted after its
severity: "FATAL: password authentication failed for user"), an error code (``AH00124``, or a bare
``500`` when the asker says it is a code), a setting or identifier (``FollowSymLinks``,
``proxy_pass``, ``max_upload_size``), a file path. :func:`analyse_query` pulls those out so the
retriever can search them as phrases and give keyword evidence more say for that question.

Everything here is pure and corpus-independent: no word lists of any product, only the shapes
of tokens and the marker words people use around codes ("error", "code", "status").

Document aggregation: the user (and the evaluation) care about the page, not the chunk. A
page whose several sections all match is a better answer than a page with one lucky chunk,
so a document's score is its best chunk plus a damped share of its next best ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

QueryKind = Literal["exact", "natural"]

# Function words: dropped from keyword queries and from key-term coverage.
_STOPWORDS = (
    "a about after again all also am an and any are as at be because been before being but by can "
    "could did do does doing done for from get gets got had has have having he her here how i if in "
    "into is it its just me my need of off on once only or other our out over should so some "
    "still such than that the their them then there these they this those through to too try tried "
    "trying up use used using very want was way we were what when where which while who whom why "
    "will with without would you your yours"
)
# What a word tokenizer leaves of a contraction ("didn't" → "didn", "I've" → "ve", "we'll" → "ll"):
# no manual writes these, so as terms they read as words the corpus never heard of and pushed a
# customer's question ("my payment didn't go through") towards "I don't know".
_CONTRACTION_PIECES = ("aren couldn didn doesn don hadn hasn haven isn mightn mustn needn shan shouldn wasn "
                       "weren won wouldn ain ll ve re cannot")
STOPWORDS = frozenset(_STOPWORDS.split()) | frozenset(_CONTRACTION_PIECES.split())

_WORD = re.compile(r"\w+", re.UNICODE)
# Quoted spans: straight or curly double quotes and backticks; single quotes too, but only as a
# pair that opens after a space or bracket and closes before one, around text that starts and ends
# with a non-space ("don't", "users' files" and "the '90s" are apostrophes, not quotes).
_QUOTED = re.compile(r"\"([^\"]{3,300})\"|“([^”]{3,300})”|`([^`]{2,200})`|‘([^’]{3,300})’"
                     r"|(?<![\w'’])'(?=[^\s'])([^'\n]{2,300}?[^\s'])'(?![\w'])")
# A log line or error message pasted without quotes, after what marks it as one: a severity
# ("ERROR:", "FATAL:", "error:", "Warning:"), an exception name ("ValueError:"), a message code
# ("AH00558:", "ORA-00942:"), or "the log says:". It runs to the end of the sentence.
_MESSAGE_MARK = (
    r"(?:\b(?:[Ee]rror|ERROR|[Ff]atal(?:\s+error)?|FATAL|PANIC|[Ww]arning|WARNING|WARN|NOTICE|LOG|DETAIL|HINT"
    r"|CRITICAL|SEVERE|ALERT|EMERG|[Ee]xception)"
    r"|\b[A-Z][A-Za-z]*(?:Error|Exception)"
    r"|\b[A-Z]{1,6}-?\d{3,6}"
    r"|\b(?:says|said|shows|showed|reads|prints|printed|reports|reported|complains|logs|logged))"
)
_MESSAGE = re.compile(_MESSAGE_MARK + r"\s*:\s+(?P<message>[^\n]+?)\s*(?=[?!]|\.(?:\s|$)|\n|$)")
_MESSAGE_MIN_WORDS = 3
_SINGLE_QUOTED_MIN_WORDS = 3
# Identifier-like tokens, taken from the raw question (dots, slashes and dashes kept):
_TOKEN = re.compile(r"[%$@]?[\w./\\:{}-]*\w[\w./\\:{}-]*")
_CODE = re.compile(r"(?=[\w-]*[A-Za-z])(?=[\w-]*\d)[\w-]+")
# "How do I …?" asks for steps; on a help center a numbered procedure is the answer to it.
# A follow-up may open with a word before it: "And how do I turn it on?", "OK, so how do I …".
HOW_TO = re.compile(r"\s*(?:(?:and|also|so|ok|okay|then|but|now)\b[\s,]*)*"
                    r"(?:how\s+(?:do|can|should|would|to)\b|what\s+are\s+the\s+steps\b|steps\s+to\b)",
                    re.IGNORECASE)
# A numbered step at the start of a line ("1. Go to Settings", "2) Click Save").
STEP = re.compile(r"^\s{0,3}(\d{1,2})[.)]\s+(.*)$")
_CAMEL = re.compile(r"[A-Za-z]*[a-z][A-Z][A-Za-z0-9]*|[A-Z]{2,}[a-z][A-Za-z0-9]*")
_UNDERSCORE = re.compile(r"\w*[A-Za-z0-9]_\w*[A-Za-z0-9]\w*")
_DOTTED = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+|\.[A-Za-z][\w-]+")
_PATH = re.compile(r"(?:/[\w.-]+){2,}/?")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)", re.IGNORECASE)
_UNIT = re.compile(r"\d+(?:[kKmMgGtT]?[bB]|ms|s|px|pt|x|k|m|h|d|%)", re.IGNORECASE)
# A bare number is a code only when the question says so: "error 1045", "status 502", "code 13",
# "HTTP 404", "errno 98", "exit code 127", "a 500 page", "503 error".
_MARKED_NUMBER = re.compile(
    r"\b(?:error|err|code|status|errno|sqlstate|exit\s+code|http|response|returns?|returned|got|gives?|giving)"
    r"\s*(?:code\s*)?[:#=]?\s*(\d{3,6})\b"
    r"|\b(\d{3,6})\s+(?:error|errors|status|response|page|code)\b",
    re.IGNORECASE,
)
_SHINGLE = 3  # words per phrase taken from a long quoted message


def words(text: str) -> list[str]:
    """Lower-cased word tokens (``\\w+``), the unit of keyword matching here."""
    return [w.lower() for w in _WORD.findall(text)]


def content_terms(text: str) -> list[str]:
    """Distinct words worth matching: no function words, no one-letter tokens, order kept."""
    return list(dict.fromkeys(w for w in words(text) if w not in STOPWORDS and len(w) > 1))


def marked_numbers(question: str) -> list[str]:
    """Bare numbers the question marks as a code ("error 1045", "HTTP 502", "a 500 page")."""
    return list(dict.fromkeys(a or b for a, b in _MARKED_NUMBER.findall(question)))


def quoted_spans(question: str) -> list[str]:
    """Text between quotes or backticks: what the asker copied verbatim. Single quotes count from
    three words on: around one or two words they mostly mark a term ("what counts as a
    'construction service'", "every request is for 'localhost'"), not a copied message."""
    spans = []
    for *double, curly_single, single in _QUOTED.findall(question):
        span = next((g for g in double if g), "")
        if not span and len(words(curly_single or single)) >= _SINGLE_QUOTED_MIN_WORDS:
            span = curly_single or single
        if words(span):
            spans.append(span.strip())
    return spans


def logged_messages(question: str) -> list[str]:
    """Error messages and log lines pasted without quotes ("psql fails with FATAL: password
    authentication failed for user", "the log says: checkpoints are occurring too frequently"),
    each from its marker to the end of its sentence; at least three words. A message the asker
    put in quotes is found by :func:`quoted_spans` instead."""
    unquoted = _QUOTED.sub(" ", question)
    found = [m.group("message").strip(" '\"“”‘’") for m in _MESSAGE.finditer(unquoted)]
    return list(dict.fromkeys(m for m in found if len(words(m)) >= _MESSAGE_MIN_WORDS))


def identifier_tokens(question: str) -> list[str]:
    """Tokens only an exact match finds: codes (letters and digits mixed), CamelCase and
    snake_case names, dotted names and file paths. Ordinals and sizes ("1st", "10MB") are not."""
    found: list[str] = []
    for match in _TOKEN.finditer(question):
        token = match.group(0).rstrip(".:-/\\").lstrip(".:-\\")
        if len(token) < 3:
            continue
        if _PATH.fullmatch(token) or (_DOTTED.fullmatch(token) and len(token) >= 5
                                      and len(token.rsplit(".", 1)[-1]) >= 2):
            found.append(token)
            continue
        for piece in re.split(r"[./\\:{}%$@]+", token):
            piece = piece.strip("-")
            if (len(piece) < 3 or _ORDINAL.fullmatch(piece) or _UNIT.fullmatch(piece)
                    or _ACRONYM_PLURAL.fullmatch(piece)):
                continue
            if _CODE.fullmatch(piece) or _CAMEL.fullmatch(piece) or _UNDERSCORE.fullmatch(piece):
                found.append(piece)
    return list(dict.fromkeys(found))


_CODE_RUN = re.compile(r"[a-z]+|\d+")
_GLUED_CODE = re.compile(r"(?=[a-z]*\d)(?=\d*[a-z])[a-z\d]+")


def spelled_apart(term: str) -> list[str]:
    """A code written without its space or hyphen ("ABT06", "utf8", "x509") as a page may write it
    ("ABT 06", "UTF-8", "X.509"): its letter and digit runs of two characters or more; [] for any
    other term. FTS5 indexes "ABT 06" as two words and "ABT06" as one, so each spelling alone
    misses the other (zaragoza: "What is ABT06?" over answers that say "ABT 06")."""
    lowered = term.lower()
    if not _GLUED_CODE.fullmatch(lowered):
        return []
    return [run for run in _CODE_RUN.findall(lowered) if len(run) > 1]


_FTS_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_ACRONYM_PLURAL = re.compile(r"[A-Z]{2,}s")


def phrase_words(text: str) -> list[str]:
    """The words of an exact token or phrase as FTS5's unicode61 tokenizer sees them: letters and
    digits only (``mod_rewrite`` → mod, rewrite)."""
    return [w.lower() for w in _FTS_WORD.findall(text)]


def shingles(span: str, size: int = _SHINGLE) -> list[tuple[str, ...]]:
    """Overlapping word windows of a quoted message, so a log line whose variable parts (paths,
    host names, numbers) differ from the manual's still matches on its fixed wording."""
    ws = [w for w in phrase_words(span) if not w.isdigit()]
    if len(ws) <= size:
        return [tuple(ws)] if ws else []
    return [tuple(ws[i:i + size]) for i in range(len(ws) - size + 1)]


@dataclass(frozen=True)
class QueryProfile:
    """What one question holds, for retrieval and for the abstention decision."""

    question: str
    terms: tuple[str, ...]  # content words, lower-cased, function words dropped
    identifiers: tuple[str, ...]  # codes, identifiers, paths, marked numbers
    quoted: tuple[str, ...]  # verbatim quoted spans

    @property
    def how_to(self) -> bool:
        """The question asks how to do something ("How do I enable two-factor authentication?")."""
        return HOW_TO.match(self.question) is not None

    @property
    def kind(self) -> QueryKind:
        """``exact`` when the question carries something an exact match should find first."""
        return "exact" if self.identifiers or self.quoted else "natural"

    def phrases(self) -> list[tuple[str, ...]]:
        """Word sequences to search as FTS5 phrases: each identifier, and shingles of quotes."""
        out: list[tuple[str, ...]] = []
        for token in self.identifiers:
            ws = tuple(phrase_words(token))
            if ws:
                out.append(ws)
        for span in self.quoted:
            out.extend(shingles(span))
        return list(dict.fromkeys(out))


def analyse_query(question: str) -> QueryProfile:
    """Split a question into content terms, exact tokens and quoted spans."""
    quoted = [*quoted_spans(question), *logged_messages(question)]
    identifiers = [*identifier_tokens(question), *marked_numbers(question)]
    # A short quote is an identifier in quotes ("`AllowOverride`"): keep it as one.
    long_quotes = []
    for span in quoted:
        if len(words(span)) <= 2:
            identifiers.append(span)
        else:
            long_quotes.append(span)
    return QueryProfile(question=question, terms=tuple(content_terms(question)),
                        identifiers=tuple(dict.fromkeys(identifiers)), quoted=tuple(long_quotes))


# Words that open a statement, not an instruction: a numbered list whose items mostly start with
# one ("1. The database server must be shut down …", "2. If you have dug into …") lists remarks;
# steps start with a verb ("Go to …", "Click …", "Run …"), a condition ("If …") or a command.
_STATEMENT_OPENERS = (
    "the a an this that these those it its there here each every some all any no none you your we our "
    "they their he she his her i my one both either neither most many much such in on at for with by from "
    "of as when while although though because since unless"
)
_NOT_AN_INSTRUCTION = frozenset(_STATEMENT_OPENERS.split())
_FIRST_WORD = re.compile(r"\s*([a-z0-9]+)")


def reads_as_steps(items: Sequence[str]) -> bool:
    """Whether most items of a numbered list read as steps to follow rather than as statements."""
    verbs = 0
    for item in items:
        first = _FIRST_WORD.match(item.lower())
        verbs += first is None or first.group(1) not in _NOT_AN_INSTRUCTION
    return verbs * 2 > len(items)


def holds_procedure(text: str) -> bool:
    """The text holds a numbered procedure: two or more numbered lines that read as steps."""
    items = [m.group(2) for m in map(STEP.match, text.splitlines()) if m]
    return len(items) >= 2 and reads_as_steps(items)


def exact_hits(profile: QueryProfile, text: str) -> int:
    """How many of the question's identifiers occur in ``text`` as whole word sequences."""
    if not profile.identifiers:
        return 0
    haystack = " " + " ".join(phrase_words(text)) + " "
    return sum(1 for token in profile.identifiers
               if (ws := phrase_words(token)) and f" {' '.join(ws)} " in haystack)


# --------------------------------------------------------------------------- aggregation


def aggregate_documents(scored: Iterable[tuple[str, float]], *, weight: float,
                        depth: int = 3) -> dict[str, float]:
    """Document score from its chunks' scores: best + ``weight`` × (the next ``depth - 1`` best,
    each halved again), so extra matching sections help without letting a long page win on length."""
    by_doc: dict[str, list[float]] = {}
    for doc, score in scored:
        by_doc.setdefault(doc, []).append(score)
    out: dict[str, float] = {}
    for doc, scores in by_doc.items():
        scores.sort(reverse=True)
        extra = sum(s * (0.5 ** n) for n, s in enumerate(scores[1:depth]))
        out[doc] = scores[0] + weight * extra
    return out


def document_scores(scored: Iterable[tuple[str, float]], *, temperature: float = 0.0,
                    aggregation: float = 0.0) -> dict[str, float]:
    """One retriever's chunk list (doc, score), best first, as a score per document, in order
    of each document's first chunk.

    ``temperature`` > 0: a soft maximum (log-sum-exp) over a document's chunk scores, for
    bounded scores like cosines: one strong chunk counts most, and each further chunk within a
    few ``temperature`` of it adds a little. Else ``aggregation`` as in :func:`aggregate_documents`
    (unbounded scores such as BM25), or the best chunk alone."""
    by_doc: dict[str, list[float]] = {}
    for doc, score in scored:
        by_doc.setdefault(doc, []).append(score)
    if temperature > 0:
        scores = {}
        for doc, values in by_doc.items():
            top = max(values)
            scores[doc] = top + temperature * math.log(sum(math.exp((v - top) / temperature) for v in values))
        return scores
    aggregated = aggregate_documents(((d, s) for d, ss in by_doc.items() for s in ss), weight=aggregation)
    return {doc: aggregated[doc] for doc in by_doc}


def ranked(scores: dict[str, float]) -> list[str]:
    """Documents best first; ties keep the input order (deterministic)."""
    order = {doc: n for n, doc in enumerate(scores)}
    return sorted(scores, key=lambda d: (-scores[d], order[d]))


def document_ranking(scored: Iterable[tuple[str, float]], *, temperature: float = 0.0,
                     aggregation: float = 0.0) -> list[str]:
    """One retriever's chunk list as a ranking of documents (:func:`document_scores`, best first)."""
    return ranked(document_scores(scored, temperature=temperature, aggregation=aggregation))


def min_max(scores: dict[str, float]) -> dict[str, float]:
    """Scores rescaled to [0, 1] over one retriever's candidates (best 1, worst 0; all 1 when equal).

    Reciprocal-rank fusion sees only positions: a page whose cosine is a hair under the first
    and one far below it get the same step. Added with a small weight next to the ranks, the
    rescaled scores let those gaps count, on every retriever's own scale."""
    if not scores:
        return {}
    top, bottom = max(scores.values()), min(scores.values())
    if top <= bottom:
        return dict.fromkeys(scores, 1.0)
    return {doc: (s - bottom) / (top - bottom) for doc, s in scores.items()}


def order_by_document(items: Sequence[tuple[str, float]], doc_scores: dict[str, float]) -> list[int]:
    """Indexes of ``items`` (doc, chunk score) ordered by their document's score, then their own.

    Ties keep the input order, so the result is deterministic."""
    return sorted(range(len(items)), key=lambda i: (-doc_scores[items[i][0]], -items[i][1], i))
