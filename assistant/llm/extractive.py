"""The ``extractive`` backend: no LLM, the sentences of the top passages that answer the question.

It is a backend of its own (fast, exact, nothing to host, nothing invented) and the fallback
whenever a generating backend fails or its answer does not survive the grounding guard. It is
not a chat model: it needs the retrieved passages rather than a rendered prompt, so the
pipeline calls :func:`extractive_answer` directly.

How an answer is built (query-focused sentence selection):

1. the top passages (``max_passages`` distinct documents) are cut into units: sentences,
   numbered procedures kept whole as one unit ("1. Open … 2. Click …"; a numbered list of remarks,
   "1. The server must be shut down …", is sentences), and fenced code blocks
   (ingest keeps ``<pre>`` and Markdown code fenced) with the sentence right before them, which
   introduces them ("To select a dbm file, for example:") or says what they do: on a server
   manual the configuration example is the answer, and glued into a sentence it could be
   neither read nor copied. When the answer has no room left for a block, its lead-in sentence
   may still be quoted alone;
2. each unit is scored against the question: cosine of sentence embeddings when an encoder is
   given (the retriever's; the better of the unit alone and the unit read under its section's
   heading, "Lost your phone or security key?"), plus a share (``W_HEADING``) of its heading's
   own cosine to the question ("When the client gets the money" for "how long until the client
   has the refund"), plus the share of the question's content words it holds (rarer words weigh
   more), plus a small bonus for the passage's retrieval rank;
3. the best unit is chosen, with the sentence after it when it continues the same thought; then
   the best sentence of each other document (the retriever's first document is often not the
   one that answers), then the next best units while they score close to the best and fit
   ``max_chars``. A numbered procedure stays whole, with the bullets under its steps, and is
   quoted besides the best unit only when it scores close to it (a page's other how-to is not
   the answer). The best unit opens the answer, unless it only points elsewhere ("see …") or
   the question asks how to do something and a chosen procedure scores nearly as well: then the
   steps open it, under their section's name;
4. every sentence is the passage's own words (Markdown emphasis removed so it reads the same in
   Slack, the widget and a terminal; inline code keeps its ticks, a regex keeps its stars) and
   ends with its citation ``[n]``, ``n`` being the passage's position in ``passages``; a section
   label names where it comes from (the page title where the heading is "Summary" or "Note").
   Sentences that relay an instruction planted in the data
   (:func:`assistant.grounding.is_unsafe`) are never quoted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from assistant.grounding import content_words, is_unsafe, stem
from assistant.ranking import HOW_TO, STEP, reads_as_steps
from assistant.schemas import Passage
from assistant.ticket_text import customer_problem, staff_text

Encoder = Callable[[Sequence[str]], np.ndarray]

# A sentence ends at . ! or ? before a capital, a digit or an opening mark, but not after an initial
# ("us-east-1, N. Virginia") or an abbreviation ("e.g. VAT numbers"): cut there, the half after the
# period was quoted as a sentence of its own.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bvs\.)"
                           r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bSt\.)\s+(?=[A-Z0-9\"'(`<])")
_TABLE_ROW = re.compile(r"\S\s*\|\s*\S")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_RULE_LINE = re.compile(r"(?m)^[ \t|:-]+$")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Weights of the unit score: semantic similarity, lexical coverage of the question, rank prior.
W_COSINE = 1.0
# 1.0, not 0.6: the sentence holding the question's most specific word ("QuickBooks Desktop is not
# supported.") is the answer more often than the one MiniLM finds closest ("Sync is one-way, from
# Ledgerly to QuickBooks."). Replayed on the same passages: httpd 41 -> 43 of 70 answers with every fact,
# examples 45 -> 47 of 51; 0.9 and 1.2 the same, 1.6 lost one on each.
W_LEXICAL = 1.0
W_RANK = 0.1
W_HEADING = 0.4  # the heading's own similarity to the question, added to each sentence under it
# A follow-up's conversation topic ("How do I refund a card payment?" before "How long does it take?"):
# its words weigh this much against the follow-up's own at 1, and a unit's similarity to the two read
# together this much against its similarity to the follow-up alone. At 0 "How long does it take?" opened
# with how long a card dispute takes; at 0.5 (and with the topic read as part of the question) "What if
# I lose my phone?" opened with how to turn 2FA on. At 0.3 both open with what they ask; the follow-up
# sets' facts are the same at 0.3 and 0.5 (examples 0.900, httpd 0.812, PostgreSQL 0.857; at 0 httpd 0.750).
W_CONTEXT = 0.3
# "How long …?" and "When will …?" ask for a duration: a sentence that states one ("Cards: 5–10
# business days") scores this much more, so it is not outranked by one that shares more of the
# question's words ("If it shows Failed …, refund the client another way" for card refunds).
W_DURATION = 0.2
_ASKS_DURATION = re.compile(r"(?:^|[,;:.?!]\s*|\b(?:and|but|or)\s+)(?:how\s+(?:long|soon|quickly)|when\s+will)\b",
                            re.IGNORECASE)
_DURATION = re.compile(r"\b\d+(?:\s*[–-]\s*\d+)?\s*(?:business\s+|working\s+|calendar\s+)?"
                       r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b"
                       r"|\b(?:immediately|instantly|at once|within)\b", re.IGNORECASE)
# A sentence under a heading that says it is the fix ("Solution", "Resolution", "Workaround": a
# knowledge-base article's or a recipe's answer part) scores this much more than the problem statement
# above it, which restates the question and so reads closest to it ("You want all HTTP requests to be
# redirected to HTTPS."). Replayed on cached passages: httpd answers opening with a fact 28 → 29 of 66,
# no fact lost on any set.
W_SOLUTION = 0.15
_SOLUTION_HEADING = re.compile(r"(?:solutions?|resolution|fix|the fix|workaround|how to fix(?: it)?)[:.]?",
                               re.IGNORECASE)
W_POINTER = 0.3  # a short "see …" cross-reference scores this much less
_POINTER = re.compile(r"(?:^|[:.;]\s*)see\b", re.IGNORECASE)
# A sentence that opens with one of these words in lower case was cut from its start, most often by an
# example box or code block in the middle of it (mod_md: "With: <example> you announce that …").
_CUT = re.compile(r"(?:you|and|or|but|which|that|then|so|it|its|they|this|these|those|with|for|to|of|in|on|as|"
                  r"if|when|where|while|because|than|from|by|at|is|are|was|were|be)\b")
# Further units must score at least this share of the best unit (0.2 read long: the examples'
# answers averaged 1,203 characters, at 0.4 1,047, with the same facts found; 0.5, replayed on the
# same passages: examples 955 -> 849 characters, httpd 1,264 -> 1,228, the same facts on both; 0.6
# lost one example's fact).
FOLLOW_MIN_RATIO = 0.5
MAX_UNITS = 10
MAX_CHARS = 1200  # answer length budget (procedures count up to MAX_PROCEDURE_CHARS)
MAX_EMBEDDED = 32  # units embedded per answer (the rest are scored by word overlap alone)
MAX_PROCEDURE_CHARS = 1400
MIN_UNIT_CHARS = 12
MAX_CODE_CHARS = 700  # a longer code block is not quoted (it is a listing to read on the page)
FENCE = "```"
CODE_COST_CHARS = 300  # what a code block counts against max_chars at most
MAX_CODE = 2  # code blocks per answer
_SUB_ITEM = "\n- "  # joins a step and the bullets under it, inside one step's text
PER_DOC_FIRST = True  # after the best unit, the best sentence of each other document
PER_DOC_MIN_RATIO = 0.5  # ... when it scores at least this share of the best unit
# "How do I …?" is answered by steps: a chosen procedure scoring at least this share of the best
# unit opens the answer instead of it (reading order only: the same units are chosen).
PROCEDURE_LEAD_RATIO = 0.8
# "Can Ledgerly sync with QuickBooks Desktop?" asks for a yes or a no: when the best unit says neither
# about the question's most specific word (the one fewest chosen units hold, "Desktop"), a chosen unit
# that does ("QuickBooks Desktop is not supported.") opens the answer if it scores at least this share
# of the best (reading order only; replayed on the httpd and example sets it changed that one answer of
# 116, where a bonus for the rarest word in every question changed 45 openings, as many for the worse).
_YES_NO = re.compile(r"^\s*(?:[^?]*,\s*)?(?:can|could|does|do|is|are|will|would|may)\b[^?]*\?", re.IGNORECASE)
_STANCE = re.compile(r"\b(?:not|n't|no|only|cannot|unsupported|supported|available|unavailable|never|always)\b",
                     re.IGNORECASE)
YES_NO_LEAD_RATIO = 0.6
# A procedure is long and read as a whole: one that is not the best unit is quoted only when it
# scores at least this share of it (0.4 let "Add a tax rate" steps into a reverse-charge VAT
# answer; examples: 10 of 67 answers shorter, 869 -> 815 characters on average, the same facts;
# httpd: no answer changed).
PROCEDURE_MIN_RATIO = 0.7


@dataclass
class _Unit:
    n: int  # the passage's number (1-based position in ``passages``)
    rank: float  # position of its document among those considered (ties: passage order)
    index: int  # position inside its passage
    text: str
    steps: list[str] | None = None  # a numbered procedure, one text per step
    lead: str = ""  # a code block's lead-in sentence ("For example:"), when it has one
    code: str | None = None  # a fenced code block, quoted as written
    context: str = ""  # the heading above it: scored with the unit, never shown
    heading: str = ""  # its section's heading, when the passage's text has none above it
    section: str = ""  # the passage's section: shown as a label before its first sentence
    # A ticket's replies: read in the order they were written, whichever sentence scored best
    # ("For security, payouts pause for 72 hours …" before "They resume automatically after that").
    in_order: bool = False
    score: float = 0.0

    @property
    def chars(self) -> int:
        if self.code is not None:
            return len(self.lead) + len(self.code) + 10
        return sum(len(s) + 8 for s in self.steps) if self.steps else len(self.text)


def extractive_answer(question: str, passages: list[Passage], *, intro: str, max_passages: int = 3,
                      max_chars: int | None = None, encode: Encoder | None = None, context: str = "") -> str:
    """An answer made of the passages' best sentences, best first, each cited ``[n]``.

    ``context``: what the conversation was about when ``question`` is a follow-up ("How do I refund
    a card payment?" before "How long does it take?"); its words count for less than the question's."""
    units = _candidate_units(passages, max_passages)
    if not units:
        return intro.strip()
    _score(question, units, encode, context)
    chosen = _select(units, max_chars or MAX_CHARS)
    focus = _focus(question, chosen) if _YES_NO.search(question) else set()
    return _render(intro, chosen, how_to=bool(HOW_TO.match(question)), focus=focus)


def best_excerpt(question: str, text: str, *, max_chars: int = 320) -> str:
    """The run of sentences around the one that best matches the question, at most ``max_chars``
    (the snippet shown under a source)."""
    plain = _strip_markdown(text).replace("`", "")  # a snippet is shown as plain text
    sentences = [s for s in (_clean(p) for p in _SENTENCE_END.split(plain)) if s]
    if not sentences:
        return ""
    wanted = set(_content_stems(question))
    scores = [len(wanted & set(_content_stems(s))) for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    excerpt = sentences[best]
    for sentence in sentences[best + 1:]:
        if len(excerpt) + 1 + len(sentence) > max_chars:
            break
        excerpt += " " + sentence
    return _shorten(excerpt, max_chars)


# --------------------------------------------------------------------------- units


def _candidate_units(passages: list[Passage], max_passages: int) -> list[_Unit]:
    units: list[_Unit] = []
    docs: list[str] = []
    for n, passage in enumerate(passages, start=1):
        doc = passage.chunk.doc_key
        if doc not in docs:
            if len(docs) >= max_passages:
                continue
            docs.append(doc)
        rank = docs.index(doc)
        label = _section_label(passage.chunk.section, passage.chunk.title)
        heading = _section_label(passage.chunk.section)
        if passage.chunk.kind == "ticket":
            # Quote what staff answered, read as the answer to the customer's problem (which
            # scores it and is never shown): the customer's words are untrusted, and they are
            # the problem restated, which is why the ticket matched the question.
            problem = customer_problem(passage.chunk.text)
            parts = [part._replace(context=part.context or problem)
                     for part in _split_passage(staff_text(passage.chunk.text))]
        else:
            parts = _split_passage(passage.chunk.text, labels=True)
        if parts and parts[-1].steps is None and parts[-1].code is None and parts[-1].text.endswith(":"):
            parts.pop()  # a lead-in whose example the chunk cut off: it introduces nothing here
        for index, (text, steps, context, code, inner) in enumerate(parts):
            if code is None and steps is None and (len(text) < MIN_UNIT_CHARS or _LONE_WORD.fullmatch(text)
                                                   or is_unsafe(text)):
                continue
            if steps is not None:
                steps = [s for s in steps if not is_unsafe(s)]
                if not steps:
                    continue
            # A heading or label inside the passage ("On an invoice" over a table of shortcuts) names
            # where the unit comes from better than the passage's section does.
            shown = _section_label(inner) if inner and passage.chunk.kind != "ticket" else ""
            unit = _Unit(n=n, rank=rank + n / 100, index=index, text=text, steps=steps, context=context,
                         heading="" if context else heading,
                         section=shown if shown.lower() not in _GENERIC_HEADINGS else label,
                         lead=code[0] if code else "", code=code[1] if code else None,
                         in_order=passage.chunk.kind == "ticket")
            if code is not None and (len(code[1]) > MAX_CODE_CHARS or is_unsafe(text)):
                # A long listing is a reference to read on the page, not an answer; a sentence that
                # led into it is still one.
                alone = _lead_alone(unit)
                if alone is not None and not is_unsafe(alone.text):
                    units.append(alone)
                continue
            units.append(unit)
    return units


# A line that labels what follows rather than saying something: capitalised, no sentence punctuation,
# no digits or code (not "Default: 5", "Apache HTTP Server Version 2.4", "`ServerName`").
_LABEL = re.compile(r"[A-Z][A-Za-z'’&/ -]*[A-Za-z)]|[A-Z][A-Za-z'’&/ -]*\([A-Za-z' -]+\)")
MAX_LABEL_WORDS = 8
# A lone word is what is left of a "See also" list ("ServerAlias."); a lone URL or path is an example.
_LONE_WORD = re.compile(r"[A-Za-z][A-Za-z-]*\.?")
class _Part(NamedTuple):
    text: str
    steps: list[str] | None  # a numbered procedure, one text per step
    context: str  # what it is read under when scored: its heading, and a table's lead-in for a row
    code: tuple[str, str] | None  # (lead-in, block) of a fenced code block
    heading: str = ""  # the heading or label line above it inside the passage ("On an invoice")
_ENDS_SENTENCE = re.compile(r"[.!?…][\"')\]]*$")


def _introduces(part: _Part, from_prose: bool) -> bool:
    """Whether the part before a code block is its lead-in: a sentence ending with a colon ("For
    example:"), a prose sentence the page ends without a stop because the block completes it ("To
    enable status reports … add this code to your configuration file"), or any other prose sentence
    right before it: a manual's example follows the sentence that says what it does ("… you may need
    to explicitly permit access to the target directory." before the ``<Directory>`` block that does).
    Quoted apart, the sentence lost the configuration it describes, or the block was shown under the
    bare section name with the sentence that explains it left out (httpd: answers holding every fact
    45 → 46 of 70, fact recall 0.701 → 0.711; PostgreSQL and the example sets lost no fact). A table
    row is never a lead-in."""
    if part.steps is not None or part.code is not None:
        return False
    return part.text.endswith(":") or from_prose

def _split_passage(text: str, *, labels: bool = False) -> list[_Part]:
    """Sentences, with each numbered procedure as one unit (its steps cleaned, in order), each
    fenced code block as one unit, and the heading each sits under. A lead-in ending with a colon
    ("To issue a refund:", "For example:") joins the procedure or code block it introduces;
    headings are context, not units.

    ``labels``: a paragraph that is one short title-like line ("On an invoice" over a table of
    shortcuts, "Keyboard shortcuts in the Ledgerly web app" over a plain-text page) is a heading
    too. Quoted as a sentence it read "… [1] On an invoice [1] P — Record payment. [1]"; a ticket's
    reply is read without it ("Hi Anna", "Best regards" are not headings)."""
    out: list[_Part] = []
    prose: list[str] = []
    steps: list[str] = []
    table: list[str] = []
    heading = ""
    label = ""  # a label line's words: the heading of the next block only
    prose_parts: set[int] = set()  # positions in ``out`` of sentences read from prose (not table rows)

    def flush_prose() -> None:
        # A paragraph ends a sentence even when the next one starts in lower case (a function
        # table's rows: "age ( timestamp ) → interval — …", then "clock_timestamp ( ) → …").
        nonlocal label
        for paragraph in _PARAGRAPH_BREAK.split("\n".join(prose)):
            block = _strip_markdown(paragraph)
            if labels and _LABEL.fullmatch(block.strip()) and len(block.split()) <= MAX_LABEL_WORDS:
                label = _clean(block)
                continue
            sentences = [s for s in (_balance_parentheses(_clean(p)) for p in _SENTENCE_END.split(block)) if s]
            under = take_heading() if sentences else ""
            for sentence in sentences:
                prose_parts.add(len(out))
                out.append(_Part(sentence, None, heading, None, under))
        prose.clear()

    def take_heading() -> str:
        """The heading shown over the block being flushed: a label line's (once), else the last
        heading's. A label is shown, not scored: read with "On an invoice", every shortcut on an
        invoice outscored "N then I — New invoice" for "Is there a shortcut to start a new invoice?"."""
        nonlocal label
        under, label = label or heading, ""
        return under

    def flush_steps() -> None:
        if len(steps) >= 2 and reads_as_steps([_strip_markdown(s) for s in steps]):
            under = take_heading()
            cleaned = [_SUB_ITEM.join(_clean(_strip_markdown(part)) for part in s.split(_SUB_ITEM)) for s in steps]
            if out and out[-1].steps is None and out[-1].text.endswith(":"):
                lead = out.pop().text
                cleaned = [s for s in cleaned if s]
                out.append(_Part(lead + " " + " ".join(cleaned), [lead, *cleaned], heading, None, under))
            else:
                out.append(_Part(" ".join(cleaned), cleaned, heading, None, under))
        else:
            if (len(steps) >= 2 and out and out[-1].steps is None and out[-1].code is None
                    and out[-1].text.endswith(":")):
                prose.append(out.pop().text)  # "… this may not work if:" reads on into the first item
            prose.extend(steps)
        steps.clear()

    def flush_table() -> None:
        if len(table) >= 2:
            flush_prose()
            lead = out[-1].text if out and out[-1].steps is None and out[-1].text.endswith(":") else ""
            under = take_heading()
            context = f"{heading} {lead}".strip()
            out.extend(_Part(row, None, context, None, under) for row in _table_rows(table))
        else:
            prose.extend(table)
        table.clear()

    code: list[str] | None = None  # inside a fenced block: its lines so far

    def flush_code(lines: list[str]) -> None:
        flush_table()
        flush_steps()
        flush_prose()
        body = "\n".join(lines).strip("\n")
        if not body.strip():
            return
        lead = out.pop().text if out and _introduces(out[-1], len(out) - 1 in prose_parts) else ""
        under = take_heading()
        out.append(_Part((lead + " " if lead else "") + body, None, heading, (lead, body), under))

    closed: list[str] | None = None  # a block just closed: the next one may continue it
    for line in text.splitlines():
        if line.lstrip().startswith(FENCE):
            if code is None:  # opening; blocks separated only by blank lines are one example
                code, closed = ([*closed, ""] if closed is not None else []), None
            else:
                closed, code = code, None
            continue
        if code is not None:
            code.append(line)
            continue
        if closed is not None:
            if not line.strip():
                continue
            flush_code(closed)
            closed = None
        if _TABLE_ROW.search(line) and not STEP.match(line):
            table.append(line)
            continue
        if table:
            flush_table()
        title = re.match(r"^\s{0,3}#{1,6}\s+(.*)$", line)
        match = STEP.match(line)
        if title:
            flush_steps()
            flush_prose()
            heading, label = _clean(_strip_markdown(title.group(1))), ""
        elif match:
            if not steps:
                flush_prose()
            if steps and int(match.group(1)) != len(steps) + 1:
                flush_steps()
                flush_prose()
            steps.append(match.group(2))
        elif steps and line.strip() and line.startswith(("  ", "\t")):
            sub = re.match(r"^\s*[-*+•]\s+(.*)$", line)
            if sub:  # a bullet under a step ("2. Add these DNS records:" then "  - SPF: …") stays with it
                steps[-1] += _SUB_ITEM + sub.group(1).strip()
            else:
                steps[-1] += " " + line.strip()  # a step's continuation line
        else:
            if steps and line.strip():
                flush_steps()
            if line.strip() or not steps:
                prose.append(line)
    if code is not None or closed is not None:  # (a fence the chunk cut off: what there is, is still code)
        flush_code(code if code is not None else closed or [])
    flush_table()
    flush_steps()
    flush_prose()
    return out


def _balance_parentheses(sentence: str) -> str:
    """A sentence cut out of a parenthesis ("(If you are using a pre-packaged version …, it may provide
    scripts …." then "Consult the package-level documentation for details.)") loses the bracket it
    never closes or never opened: quoted alone, it read as if the answer had lost its end."""
    opened, closed = sentence.count("("), sentence.count(")")
    if sentence.startswith("(") and opened > closed:
        return sentence[1:].lstrip()
    if closed > opened and re.search(r"\)[.!?]?$", sentence):
        return re.sub(r"\)([.!?]?)$", r"\1", sentence).rstrip()
    return sentence


_CELL_BORDER = re.compile(r"(?<!\\)\|")  # a pipe not written as "\|": a pipe inside a cell is escaped


def _cells(line: str) -> list[str]:
    stripped = line.strip()
    cells = _CELL_BORDER.split(stripped)
    if stripped.startswith("|"):
        cells = cells[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|"):
        cells = cells[:-1]
    return [c.replace("\\|", "|") for c in cells]


_TABLE_RULE = re.compile(r"[\s|:-]+")


def _table_rows(lines: list[str]) -> list[str]:
    """A table as one sentence per row, each cell named by its column when the table has a header
    row (a first row over a ``--- | ---`` rule): "Pro — First response: 8 hours"; without one, the
    cells in order: "SSLProtocol — server config — Configure usable protocol versions"."""
    ruled = len(lines) > 1 and bool(_TABLE_RULE.fullmatch(lines[1]))
    rows = [[_clean(_strip_markdown(c.strip())).rstrip(".") for c in _cells(line)]
            for line in lines if not _TABLE_RULE.fullmatch(line)]
    if all(len(r) == 2 and r[0].endswith(":") for r in rows):  # "Syntax: | ServerName name": key, value
        return [f"{key} {value}." for key, value in rows if value]
    if not ruled:
        return [" — ".join(c for c in cells if c) + "." for cells in rows if any(cells)]
    header, body = rows[0], rows[1:]
    width = max(len(r) for r in body) if body else len(header)
    if len(header) < width:  # an empty corner cell above the row labels was lost
        header = [""] * (width - len(header)) + header
    out = []
    for cells in body:
        named = [f"{h}: {c}" if h else c for h, c in zip(header[1:], cells[1:], strict=False) if c]
        out.append(f"{cells[0]} — {'; '.join(named)}." if named else f"{cells[0]}.")
    return out


# --------------------------------------------------------------------------- scoring and selection


def _content_stems(text: str) -> list[str]:
    return [stem(w) for w in content_words(text)]


def _unit_stems(unit: _Unit) -> set[str]:
    """The words a unit holds, read under its heading: what the lexical score and the focus compare."""
    return set(_content_stems(unit.context + " " + unit.text))


def _score(question: str, units: list[_Unit], encode: Encoder | None, context: str = "") -> None:
    own = list(dict.fromkeys(_content_stems(question)))
    wanted = own + [w for w in dict.fromkeys(_content_stems(context)) if w not in own]
    unit_stems = [_unit_stems(u) for u in units]
    # Rarer question words (present in few units) say more about which unit answers; a follow-up's
    # topic words less than its own.
    weights = {w: (1.0 if w in own else W_CONTEXT) * math.log(1 + len(units) / (1 + sum(w in s for s in unit_stems)))
               for w in wanted}
    total = sum(weights.values()) or 1.0
    lexical = [sum(weights[w] for w in wanted if w in s) / total for s in unit_stems]
    cosine = [0.0] * len(units)
    if encode is not None:
        # Only the lexically most promising units are embedded: the cost stays flat on long passages.
        shortlist = sorted(range(len(units)), key=lambda i: -lexical[i])[:MAX_EMBEDDED]
        headed = [i for i in shortlist if units[i].heading]
        titles = list(dict.fromkeys(t for t in (_heading_of(units[i]) for i in shortlist) if t)) if W_HEADING else []
        asked = [question, *([f"{context} {question}"] if context else [])]
        texts = [*asked, *(_embed_text(units[i]) for i in shortlist),
                 *(f"{units[i].heading}: {units[i].text}"[:1000] for i in headed), *titles]
        vectors = np.asarray(encode(texts), dtype=np.float32)
        scores = vectors[len(asked):] @ vectors[0]
        if context:  # a follow-up: close to what it asks, and to what it asks in the conversation's light
            scores = (1 - W_CONTEXT) * scores + W_CONTEXT * (vectors[len(asked):] @ vectors[1])
        for i, score in zip(shortlist, scores[: len(shortlist)], strict=True):
            cosine[i] = float(score)
        # Read under its section's heading too ("Lost your phone?"): the better of the two counts.
        for i, score in zip(headed, scores[len(shortlist):len(shortlist) + len(headed)], strict=True):
            cosine[i] = max(cosine[i], float(score))
        # The heading alone says which section the question is about ("When the client gets the money"
        # for "how long until the client has the refund"), whatever each sentence under it says.
        about = dict(zip(titles, (float(s) for s in scores[len(shortlist) + len(headed):]), strict=True))
        for i in shortlist:
            cosine[i] += W_HEADING * about.get(_heading_of(units[i]), 0.0)
    duration = _ASKS_DURATION.search(question) is not None
    for unit, lex, cos in zip(units, lexical, cosine, strict=True):
        unit.score = W_COSINE * cos + W_LEXICAL * lex - W_RANK * unit.rank
        if duration and _DURATION.search(unit.text):
            unit.score += W_DURATION
        if _is_pointer(unit):  # "Lost your device: see Two-factor authentication." names, not answers
            unit.score -= W_POINTER
        if _SOLUTION_HEADING.fullmatch(_section_label(_heading_of(unit) or unit.section)):
            unit.score += W_SOLUTION


def _heading_of(unit: _Unit) -> str:
    return unit.context or unit.heading


def _is_pointer(unit: _Unit) -> bool:
    """A short cross-reference ("See Roles and permissions.", "See also: …"): it matches the question's
    words because it names the page that answers; it should not open the answer."""
    return not unit.steps and _POINTER.search(unit.text) is not None and len(content_words(unit.text)) <= 6


def _is_cut(unit: _Unit) -> bool:
    """A sentence cut from its start ("you announce that …", "because a repeatable read transaction …"): it
    may add to an answer, but an answer opening with it reads as a mistake."""
    return not unit.steps and unit.code is None and _CUT.match(unit.text) is not None


def _embed_text(unit: _Unit) -> str:
    return (unit.context + ": " + unit.text if unit.context else unit.text)[:1000]


def _select(units: list[_Unit], max_chars: int) -> list[_Unit]:
    ranked = sorted(units, key=lambda u: -u.score)
    best = ranked[0]
    chosen = [best]
    used = _cost(best)
    # The sentence right after the best one usually completes it (a value, a condition, a step).
    following = next((u for u in units if u.n == best.n and u.index == best.index + 1 and not u.steps), None)
    if following is not None and not best.steps and used + _cost(following) <= max_chars:
        chosen.append(following)
        used += _cost(following)
    floor = best.score * FOLLOW_MIN_RATIO if best.score > 0 else best.score
    # Each other document's best unit comes next: the retriever's first document is often not the
    # one that answers, and the best sentence of the second says more than the fifth of the first.
    docs_first = [top for top in (max(group, key=lambda u: u.score) for group in _by_doc(units) if best not in group)
                  if not top.steps and not _is_pointer(top) and top.score >= best.score * PER_DOC_MIN_RATIO]
    if PER_DOC_FIRST:
        ranked = [*sorted(docs_first, key=lambda u: -u.score), *ranked]
    for unit in ranked:
        if len(chosen) >= MAX_UNITS:
            break
        if unit.score < floor or unit in chosen or _same_text(unit, chosen):
            continue
        if unit.steps and unit.score < best.score * PROCEDURE_MIN_RATIO:
            continue
        if not _fits(unit, chosen, used, max_chars):
            alone = _lead_alone(unit)  # no room for the example: its lead-in sentence may still fit
            if alone is None or _same_text(alone, chosen) or not _fits(alone, chosen, used, max_chars):
                continue
            unit = alone
        chosen.append(unit)
        used += _cost(unit)
    return _complete_lead_ins(chosen, units, used, max_chars)


def _lead_alone(unit: _Unit) -> _Unit | None:
    """A code block's lead-in sentence without its block, when the lead is a sentence of its own
    (not "For example:"): what is still worth quoting when the answer has no room for another block."""
    if unit.code is None or not unit.lead or _ENDS_SENTENCE.search(unit.lead) is None:
        return None
    return _Unit(n=unit.n, rank=unit.rank, index=unit.index, text=unit.lead, context=unit.context,
                 heading=unit.heading, section=unit.section, in_order=unit.in_order, score=unit.score)


def _fits(unit: _Unit, chosen: list[_Unit], used: int, max_chars: int) -> bool:
    """Whether ``unit`` still fits the answer: its cost within the length budget, and at most
    ``MAX_CODE`` code blocks."""
    return used + _cost(unit) <= max_chars and (unit.code is None or sum(c.code is not None for c in chosen) < MAX_CODE)


def _complete_lead_ins(chosen: list[_Unit], units: list[_Unit], used: int, max_chars: int) -> list[_Unit]:
    """A chosen sentence that ends in a colon ("To add a user to your existing password file, type:")
    promises what comes next in its passage: it brings that unit along when it fits the budget, and
    is left out when it does not (the opening unit always stays), so no answer ends on "type:"."""
    by_place = {(u.n, u.index): u for u in units}
    for unit in list(chosen):
        if unit.steps or unit.code is not None or not unit.text.rstrip().endswith(":"):
            continue
        introduced = by_place.get((unit.n, unit.index + 1))
        if introduced is not None and any(c is introduced for c in chosen):
            continue
        if introduced is not None and not _same_text(introduced, chosen) and _fits(introduced, chosen, used, max_chars):
            chosen.append(introduced)
            used += _cost(introduced)
        elif unit is not chosen[0]:
            chosen = [c for c in chosen if c is not unit]
            used -= _cost(unit)
    return chosen


def _cost(unit: _Unit) -> int:
    """What a unit takes of the answer's length budget. A procedure or a code block is read at a
    glance and copied, not read like prose: it counts up to a cap, so one configuration example
    does not crowd out the sentences that explain it."""
    if unit.code is not None:
        return min(unit.chars, CODE_COST_CHARS)
    return min(unit.chars, MAX_PROCEDURE_CHARS) if unit.steps else unit.chars


def _by_doc(units: list[_Unit]) -> list[list[_Unit]]:
    groups: dict[int, list[_Unit]] = {}
    for unit in units:
        groups.setdefault(int(unit.rank), []).append(unit)
    return list(groups.values())


def _same_text(unit: _Unit, chosen: list[_Unit]) -> bool:
    """Whether ``unit`` says what a chosen unit says: the same sentence, or a code block or lead-in
    sentence already quoted (overlapping chunks of one page hold the same example)."""
    said = {piece for c in chosen for piece in _pieces(c)}
    return any(piece in said for piece in _pieces(unit))


def _pieces(unit: _Unit) -> list[str]:
    parts = (unit.lead, unit.code) if unit.code is not None else (unit.text,)
    return [key for key in (" ".join(_WORD.findall(p.lower())) for p in parts if p) if key]


def _place(unit: _Unit) -> tuple[int, str, str]:
    return unit.n, unit.section, unit.context


def _focus(question: str, chosen: list[_Unit]) -> set[str]:
    """The question's most specific words among the chosen units: those the fewest of them hold."""
    held = [_unit_stems(u) for u in chosen]
    counts = {w: sum(w in h for h in held) for w in dict.fromkeys(_content_stems(question))}
    present = [n for n in counts.values() if n]
    return {w for w, n in counts.items() if present and n == min(present)}


def _lead(chosen: list[_Unit], *, how_to: bool, focus: set[str] | None = None) -> _Unit:
    """The unit that opens the answer: the best one, unless it only points elsewhere ("Lost your
    device: see Two-factor authentication.") or was cut from its start (:func:`_is_cut`), the
    question asks how to do something and a chosen procedure scores nearly as well (then the steps
    come first, the context after), or the question asks yes or no and another unit answers that
    about its ``focus`` words (``_YES_NO``)."""
    answering = [u for u in chosen if not _is_pointer(u)] or chosen
    answering = [u for u in answering if not _is_cut(u)] or answering
    lead = max(answering, key=lambda u: u.score)
    if how_to and not lead.steps:
        procedures = [u for u in answering if u.steps and u.score >= lead.score * PROCEDURE_LEAD_RATIO]
        if procedures:
            return max(procedures, key=lambda u: u.score)
    if focus and not _STANCE.search(lead.text) and not focus & _unit_stems(lead):
        # The best unit about it that says yes or no ("QuickBooks Desktop is not supported."), not
        # the best about it, which may say neither ("Ledgerly sends your clients … to QuickBooks Online").
        about = [u for u in answering if not u.steps and focus & _unit_stems(u) and _STANCE.search(u.text)
                 and u.score >= lead.score * YES_NO_LEAD_RATIO]
        best = max(about, key=lambda u: u.score, default=None)
        if best is not None:
            return best
    return lead


def _reading_order(chosen: list[_Unit], *, how_to: bool = False, focus: set[str] | None = None) -> list[_Unit]:
    """The opening unit (:func:`_lead`) first, and the sentences right after it in its passage
    (they continue it: "Instead, …"), or, for a ticket, its chosen sentences in the order they
    were written; then the others grouped by where they stand
    (passage and heading), each group in the passage's own order, a page's groups together (the
    opening unit's page first), pages and groups by their best unit's score. The same sentences
    as chosen, read as a page reads: "Cards: 5–10 days. ACH: 3–5 days." together, not with a
    sentence from another article between them."""
    groups: dict[tuple[int, str, str], list[_Unit]] = {}
    for unit in chosen:
        groups.setdefault(_place(unit), []).append(unit)
    lead = _lead(chosen, how_to=how_to, focus=focus)
    rest = sorted((u for u in groups.pop(_place(lead)) if u is not lead), key=lambda u: u.index)
    if lead.in_order:  # a ticket's replies: its group opens the answer, read as written
        out = sorted([lead, *rest], key=lambda u: u.index)
    else:
        # The sentences right after the opening one continue it ("Instead, …"): they come next,
        # then the rest of its section in the page's order.
        chain: list[_Unit] = []
        for unit in (u for u in rest if u.index > lead.index):
            if unit.index != lead.index + 1 + len(chain):
                break
            chain.append(unit)
        continued = {id(u) for u in chain}
        out = [lead, *chain, *(u for u in rest if id(u) not in continued)]
    # A page's groups stay together (the lead's page first), pages and groups by their best sentence.
    page_best: dict[int, float] = {}
    for group in groups.values():
        page = int(group[0].rank)
        page_best[page] = max(page_best.get(page, float("-inf")), *(u.score for u in group))
    page_best[int(lead.rank)] = float("inf")
    for group in sorted(groups.values(), key=lambda g: (-page_best[int(g[0].rank)], int(g[0].rank),
                                                        -max(u.score for u in g))):
        out.extend(sorted(group, key=lambda u: u.index))
    return out


def _render(intro: str, chosen: list[_Unit], *, how_to: bool = False, focus: set[str] | None = None) -> str:
    """Each group of sentences from one place is a paragraph, labelled once with its section;
    a procedure or a code block is a paragraph of its own, a procedure under its section's
    name when it has no lead-in of its own ("Connect QuickBooks Online:")."""
    paragraphs: list[str] = []
    prose: list[str] = []
    shown_section = ""
    place: tuple[int, str, str] | None = None
    for unit in _reading_order(chosen, how_to=how_to, focus=focus):
        if prose and _place(unit) != place:
            paragraphs.append(" ".join(prose))
            prose = []
            shown_section = ""
        place = _place(unit)
        if unit.code is not None:
            if prose:
                paragraphs.append(" ".join(prose))
                prose = []
            label = ""
            if unit.lead and unit.section and unit.section != shown_section and not _names(unit.lead, unit.section):
                label = _label(unit.section) + " "
            head = unit.lead or (_label(unit.section) if unit.section else "For example:")
            shown_section = unit.section
            paragraphs.append(f"{label}{head} [{unit.n}]\n{FENCE}\n{unit.code}\n{FENCE}")
        elif unit.steps:
            if prose:
                paragraphs.append(" ".join(prose))
                prose = []
            steps = _cap_steps(unit.steps)
            if steps[0].endswith(":"):  # "To issue a refund:"
                lead = steps.pop(0) + "\n"
            elif unit.section and unit.section.lower() not in _GENERIC_HEADINGS:
                lead = _label(unit.section) + "\n"
                shown_section = unit.section
            else:
                lead = ""
            paragraphs.append(lead + "\n".join(_step_lines(i, step, unit.n) for i, step in enumerate(steps, start=1)))
        else:
            label = ""
            if unit.section and unit.section != shown_section and not _names(unit.text, unit.section):
                label = _label(unit.section) + " "
            shown_section = unit.section
            prose.append(f"{label}{_shorten(unit.text, 400)} [{unit.n}]")
    if prose:
        paragraphs.append(" ".join(prose))
    return "\n\n".join([intro.strip(), *paragraphs]).strip()


def _label(section: str) -> str:
    """A section's name as the label of what follows: with a colon, unless it already ends in
    punctuation ("Why was my client charged twice?", "Example:") that would read doubled."""
    return section if section[-1:] in "?!:." else section + ":"


# A heading that is one name written as code ("PORT", "work_mem", "ServerName"), not a word of prose.
_IDENTIFIER = re.compile(r"(?=\S*(?:[A-Z]\S*[A-Z]|_|\d))\S+")
# A heading that is one word in lower case: a term a manual defines ("ldap", "peer", "trust" in a list
# of authentication methods), the value a reader types; a title of prose is capitalised ("Refunds").
_TERM = re.compile(r"[a-z][a-z0-9.+-]*")


def _names(text: str, section: str) -> bool:
    """Whether ``text`` already says where it comes from, so its section label would repeat it: it
    opens with the section's name, or holds it ("Card refunds take …" under "Refunds"). A heading
    that is a name or a defined term must appear as written, as a word: under psql's variable "PORT",
    "The database server port to which you are currently connected." does not name it, and under
    pg_hba.conf's methods "ldap" and "cert", "Authenticate using an LDAP server." and "Authenticate
    using SSL client certificates." do not; without their labels they said nothing of what to type."""
    if _IDENTIFIER.fullmatch(section) or _TERM.fullmatch(section):
        return re.search(r"(?<!\w)" + re.escape(section) + r"(?!\w)", text) is not None
    if text.lower().startswith(section.lower()):
        return True
    return section.lower() in text.lower()


_GENERIC_HEADINGS = frozenset({"summary", "overview", "introduction", "description", "synopsis", "note", "notes",
                               "warning", "example", "examples", "see also", "options", "directives", ""})


def _step_lines(i: int, step: str, n: int) -> str:
    """One numbered step, its bullets indented under it, each line cited."""
    head, *subs = step.split(_SUB_ITEM)
    return "\n".join([f"{i}. {head} [{n}]", *(f"   - {sub} [{n}]" for sub in subs)])


def _section_label(section: str, title: str = "") -> str:
    """The innermost heading of a section path, without permalink marks ("ServerName Directive ¶");
    the page's title where that heading says nothing on its own ("Summary", "Note", none)."""
    last = re.split(r"\s+>\s+", section.strip())[-1] if section.strip() else ""
    label = re.sub(r"^\d{1,2}[.)]\s+", "", _clean(last.replace("¶", "")).strip(" :"))  # "4. Send from …"
    if label.lower() in _GENERIC_HEADINGS and title.strip():
        label = _clean(title).strip(" :")
    return label


def _cap_steps(steps: list[str]) -> list[str]:
    out: list[str] = []
    used = 0
    for step in steps:
        used += len(step)
        if out and used > MAX_PROCEDURE_CHARS:
            break
        out.append(_SUB_ITEM.join(_shorten(part, 300) for part in step.split(_SUB_ITEM)))
    return out


# --------------------------------------------------------------------------- text cleaning


def _remove_code(text: str) -> str:
    return re.sub(r"```.*?```", " ", text, flags=re.DOTALL)  # code blocks do not read as an answer


def _strip_markdown(text: str) -> str:
    text = _remove_code(text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)  # images
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links: keep the words
    # A heading or list item without closing punctuation still ends a sentence.
    text = re.sub(r"(?m)^(\s{0,3}(?:#{1,6}|[-*+]|\d+[.)])\s+.*?[^.!?:;,\s])[ \t]*$", r"\1.", text)
    text = re.sub(r"(?m)^\s{0,3}(#{1,6}|>|[-*+]|\d+[.)])\s+", "", text)  # headings, quotes, list markers
    text = re.sub(r"(\*\*|__|~~)", "", text)  # inline `code` keeps its ticks: it reads as code everywhere
    # *italic*: between words only, so a regex or a glob (".*\.php(/.*)?$", "*.log") keeps its stars
    text = re.sub(r"(?<![^\s(\"'])\*([A-Za-z][^*\n]*?[A-Za-z0-9.!?:)])\*(?=[\s.,;:!?)\"']|$)", r"\1", text)
    text = re.sub(r"(?m)^\s*\|.*\|\s*$", " ", text)  # table rows
    text = _RULE_LINE.sub(lambda m: " " if "---" in m.group(0) else m.group(0), text)  # a table's header rule
    # A line without closing punctuation (a heading, a list item) ends a sentence too.
    return re.sub(r"(?<![.!?:;,])\s*\n\s*\n", ". ", text)


_CITATION_SHAPED = re.compile(r"\[(\s*[1-9]\d?\s*(?:[,;\-–]\s*[1-9]\d?\s*)*)\]")


_TOKEN_WITH_MARKER = re.compile(r"(?<![\S`])(\S*?)(" + _CITATION_SHAPED.pattern + r")(\S*)")


def _clean(text: str) -> str:
    r"""Whitespace collapsed; brackets that a reader (or the citation rewriter) would take for a
    citation are kept from reading as one without changing a character of code: a standalone
    reference ("see [2]") becomes "(2)"; a token that holds one ("=10\.0\.0\.[1-9]") becomes a code
    span, so a regex or a config line reads exactly as the passage wrote it. Other brackets
    ("[END]", "[0-9]+", "[en]") are the passage's own words and stay as written."""

    def keep(match: re.Match[str]) -> str:
        before, after = match.group(1), match.group(4)
        if "`" in match.group(0):
            return match.group(0)
        if not before and not after.strip(".,;:!?)"):
            return "(" + match.group(3) + ")" + after
        return f"`{match.group(0)}`"

    text = " ".join(text.split())
    if text.count("`") % 2:  # an unbalanced tick would turn the rest of the answer into code
        text = text.replace("`", "")
    return _TOKEN_WITH_MARKER.sub(keep, text)


def _shorten(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1].rsplit(" ", 1)[0].rstrip(",;:")
    if cut.count("`") % 2:  # a code span cut in half is closed, or all that follows would read as code
        cut += "`"
    return cut + "…"
