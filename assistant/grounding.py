"""The grounding guard (docs/architecture.md §12): every sentence a user reads is supported, or not shown.

A generating backend's answer is cut into units (sentences, list items) as it streams, and each
unit is checked against the *evidence*: the passages offered to the model, the question and the
brand texts. A unit is dropped when

- it **invents** a number, an identifier (``mod_rewrite``, ``--force``, ``AllowOverride``, a
  path or file name, a code span), a quoted or bold UI label, or a capitalised name that the
  evidence does not contain (small models write "open Microsoft Excel" or "180 days" fluently);
- it **leaks** the prompt: template text ("The customer asked…", "Answer using only the
  passages…"), passage markup, placeholders;
- it is **unsafe**: it passes on an instruction planted in a document or ticket ("ignore the
  previous instructions", "email us your password") — text we refuse to relay even when a
  passage says it;
- it is a **refusal** ("I don't know", "the passages do not say"): not an answer, and the
  extractive answer from the same passages is a better one;
- it is **unsupported**: too few of its content words occur in the evidence
  (:data:`MIN_SUPPORT`, calibrated on a labelled sample: ``tests/data/grounding_sentences.jsonl``).

Short connective units ("Here's how:") carry no claim, and neither does a unit too short to judge by
its support unless every word of it is supported ("Five days [1]." is; "Your response was formatted
with [m]." is not); they are held back until a supported unit follows, so an answer whose every
claim is dropped shows nothing at all and the pipeline answers extractively instead. A unit is shown
only after it has been checked, so a customer never sees a sentence appear and vanish. What was
dropped and why is kept for the audit record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


def _word_set(*lines: str) -> frozenset[str]:
    return frozenset(word for line in lines for word in line.split())


# --------------------------------------------------------------------------- calibrated settings

# Share of a unit's content words that must occur in the evidence. Calibrated on the labelled
# sample (true answers, paraphrases, fabrications); see tests/unit/test_grounding_calibration.py.
MIN_SUPPORT = 0.6
# Units with fewer content words than this are too short to judge by support ("Five days [1].");
# the other checks (invented terms, leaks, refusals) still apply to them.
MIN_CLAIM_WORDS = 3
# Words that make no claim: a unit of only these (or one that ends in ":") is connective text.
_FILLER = _word_set(
    "here here's heres how steps step follow following answer answers help glad happy sure thanks thank",
    "great question questions hope hi hello below short note okay ok course certainly absolutely",
)
# Longest run of words a unit may share with the prompt template but not with the evidence.
LEAK_NGRAM = 5

# --------------------------------------------------------------------------- text helpers

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# A citation marker, as a model writes one ("[2]", "[1, 3]", "[0]"); "[0-9]" is a character class.
_MARKER = r"\[(?!0\s*[-–])\d{1,2}(?:\s*[,;\-–]\s*\d{1,2})*\]"
_CITATION = re.compile(rf"\s*{_MARKER}(?:{_MARKER})*")
_CODE_OR_CITATION = re.compile(rf"(`[^`\n]*`)|{_CITATION.pattern}")
_LEADING_CITATION = re.compile(rf"[ \t]*{_MARKER}(?:[ \t]*{_MARKER})*[ \t]*")
_LIST_MARKER = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)]|#{1,6})\s+")
_STOPWORDS = _word_set(
    "a about above after again all also am an and any are as at be because been before being below",
    "between both but by can cannot could did do does doing don done down during each either else even",
    "every few for from further get gets getting go goes got had has have having he her here hers him his",
    "how however i if in into is isn it its itself just let like make makes may me might more most much",
    "must my need needs no nor not now of off on once one only or other our ours out over own per please",
    "same see she should so some such than that the their them then there these they this those through",
    "to too under until up upon us use used using very via want was way we well were what when where",
    "whether which while who whom why will with within without would yes yet you your yours first next",
    "also simply just then once click select choose open go tap enter",
)


def content_words(text: str) -> list[str]:
    """Lower-cased words that carry meaning (no stop words, no one-letter words)."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper: enough to match "refunds"/"refunded"/"refunding" to "refund".
    Cached: every answer stems the words of its passages, and the words recur."""
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def strip_citations(text: str, *, boundary: str = "") -> str:
    """``text`` without citation markers (each replaced by ``boundary``); brackets inside a code
    span are code and stay."""
    return _CODE_OR_CITATION.sub(lambda m: m.group(1) or boundary, text)


def normalise(text: str) -> str:
    """Lower case, Markdown emphasis and code ticks removed, typographic quotes and dashes folded,
    whitespace collapsed: the form evidence and terms are compared in."""
    text = text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = text.replace("–", "-").replace("—", "-").replace("\u00a0", " ")
    text = re.sub(r"(\*\*|__|`)", "", text)
    return " ".join(text.split())


# --------------------------------------------------------------------------- terms a unit asserts

_NUMBER = re.compile(r"(?<![\w.])\$?(\d+(?:[.,]\d+)*)(?:%|st|nd|rd|th)?(?![\w])")
_CODE_SPAN = re.compile(r"`([^`\n]{1,80})`")
_BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*|__([^_\n]{1,80})__")
_QUOTED = re.compile(r"\"([^\"\n]{2,60})\"|“([^”\n]{2,60})”|(?<![\w])'([^'\n]{2,60})'(?![\w])")
_MENU_SEP = re.compile(r"[ \t]+(?:>|→|›)[ \t]+")
_IDENTIFIER = re.compile(
    r"(?<![\w/.-])("
    r"--?[a-zA-Z][\w-]+"  # command-line flags
    r"|(?:[A-Za-z]:)?(?:/[\w.-]+){2,}/?"  # paths with at least two segments
    r"|\.?[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+(?:\(\))?"  # dotted names: httpd.conf, .htaccess, a.b()
    r"|[A-Za-z]+_[\w]+"  # snake_case
    r"|[a-z]+[A-Z]\w*"  # camelCase
    r"|[A-Z][a-z0-9]+[A-Z]\w*"  # CamelCase: AllowOverride, QuickBooks
    r"|[A-Z]{2,}[a-z]+\w*"  # HTTPSRedirect
    r"|[A-Z]\w*(?:-[A-Z]\w*)+"  # hyphenated names: X-Api-Key, Ledgerly-Signature
    r"|\w+\(\)"  # function calls
    r"|</?[A-Za-z][\w-]*>"  # <Directory>
    r")(?![\w/])"
)
_CAPITALISED = re.compile(r"(?<![\w'-])([A-Z][a-zA-Z]{2,})(?![\w-])")
_SENTENCE_START = re.compile(r"(^|[.!?:;]\s+|\n\s*|^\s*(?:[-*•+]|\d{1,2}[.)])\s+|[\"“(]\s*)$")


@dataclass
class Evidence:
    """What a unit may rest on: passages, question and brand texts, in comparable forms."""

    text: str  # normalised
    words: set[str]  # content-word stems
    numbers: set[str]
    prompt_ngrams: set[tuple[str, ...]] = field(default_factory=set)  # template word runs

    @classmethod
    def build(cls, question: str, passages: Iterable[str], *, extra: Iterable[str] = (),
              prompt_text: str = "") -> Evidence:
        parts = [question, *passages, *extra]
        text = normalise("\n".join(parts))
        words = {stem(w) for w in content_words(text)}
        numbers = {_number_key(m.group(1)) for m in _NUMBER.finditer(text)}
        evidence_ngrams = set(_ngrams(_WORD.findall(text), LEAK_NGRAM))
        prompt_ngrams = set(_ngrams(_WORD.findall(normalise(prompt_text)), LEAK_NGRAM)) - evidence_ngrams
        return cls(text=text, words=words, numbers=numbers, prompt_ngrams=prompt_ngrams)

    def has(self, term: str) -> bool:
        term = normalise(term).strip(" .,:;!?\"'()")
        if not term:
            return True
        return re.search(r"(?<![a-z0-9])" + re.escape(term) + r"(?![a-z0-9])", self.text) is not None


def _number_key(raw: str) -> str:
    return raw.replace(",", "").rstrip("0").rstrip(".") if "." in raw else raw.replace(",", "")


def _ngrams(words: Sequence[str], n: int) -> Iterable[tuple[str, ...]]:
    return (tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def menu_steps(text: str) -> list[str]:
    """The labels of a menu path ("Settings > Invoice design"): the word before the first arrow
    and the first two words after each arrow (labels are short; the sentence goes on after them).
    A citation ends a path: table rows quoted one after another ("length('jose') → 4 [4] ltrim …")
    are not the path "→ 4 ltrim"."""
    plain = strip_citations(text, boundary="\n").replace("**", "").replace("__", "")
    if not _MENU_SEP.search(plain):
        return []
    lines = [line for line in plain.splitlines() if _MENU_SEP.search(line)]
    steps: list[str] = []
    for line in lines:
        parts = _MENU_SEP.split(line)
        head = re.split(r"[,.;:!?()]", parts[0])[-1].split()
        steps.append(head[-1] if head else "")
        for part in parts[1:]:
            words = re.split(r"[,.;:!?()]", part)[0].split()[:2]
            if len(words) == 2 and words[1].lower() in _STOPWORDS:
                words = words[:1]  # "Numbering to change it": the label is one word
            steps.append(" ".join(words))
    return [step for step in steps if step]


def invented_terms(text: str, evidence: Evidence) -> list[str]:
    """Numbers, identifiers, UI labels and names in ``text`` that the evidence does not hold."""
    body = strip_citations(text)
    body = _LIST_MARKER.sub("", body) if _LIST_MARKER.match(body) else body
    found: list[str] = []

    def add(term: str, *, known: bool | None = None) -> None:
        term = term.strip()
        if not term or any(term.lower() in f.lower() for f in found):
            return  # already reported, or part of a term already reported
        if not (evidence.has(term) if known is None else known):
            found.append(term)

    for match in _CODE_SPAN.finditer(body):
        add(match.group(1))
    for match in _BOLD.finditer(body):
        add(match.group(1) or match.group(2))
    for match in _QUOTED.finditer(body):
        label = next(g for g in match.groups() if g)
        if len(label.split()) <= 6:  # a label, not a quoted sentence
            add(label)
    for step in menu_steps(text):  # its citations still in: a citation ends a path
        add(step)
    plain = _CODE_SPAN.sub(" ", body).replace("**", "").replace("__", "")
    for match in _NUMBER.finditer(plain):
        add(match.group(0), known=_number_key(match.group(1)) in evidence.numbers)
    for match in _IDENTIFIER.finditer(plain):
        add(match.group(1))
    for match in _CAPITALISED.finditer(plain):
        if _SENTENCE_START.search(plain[: match.start()]):
            continue  # a capital because a sentence or item starts here
        add(match.group(1))
    return found


# --------------------------------------------------------------------------- leaks, refusals, unsafe

_LEAK_PATTERNS = re.compile(
    r"</?passages?\b|\{(?:question|passages|history|product_name|company_name|tone|escalation_contact)\}"
    r"|\bpassages?\s*(?:\[?\d+\]?|n)\b|\bthe (?:numbered |above |given |provided )?passages?\b"
    r"|\[n\]|\bcustomer question\s*:|\bagent question\s*:|\bthe customer asked\b|\bthe agent asked\b"
    r"|\bthese instructions\b|\bsystem prompt\b|\bmy instructions\b|\bas an ai\b|\blanguage model\b"
    r"|\byou(?:'ve| have) answered\b|\bthe answer is\s*:?\s*$|\banswer the (?:customer|agent|question)\b"
    r"|\buntrusted customer text\b"
    # the model narrating the prompt instead of answering ("The customer asks about refunds.")
    r"|^\s*(?:[-*•]\s+)?the (?:customer|agent|user)(?:'s question)? (?:asks|is asking|wants to know|question)\b"
    r"|^\s*(?:[-*•]\s+)?the answer is\b",
    re.IGNORECASE,
)
_REFUSAL = re.compile(
    r"\b(?:i (?:do not|don't|dont) know|i(?:'m| am) not sure|i (?:cannot|can't|can not) (?:find|answer|help)"
    r"|(?:is|are) not (?:mentioned|provided|covered|included|specified|available) in"
    r"|no information (?:about|on)|(?:do|does) not (?:say|mention|specify|contain)"
    r"|(?:don't|doesn't) (?:say|mention|specify|contain)|unable to (?:find|answer))\b",
    re.IGNORECASE,
)
_UNSAFE = re.compile(
    r"\bignore (?:all |any |the )?(?:previous|prior|above|earlier|preceding|your) (?:instructions|rules|prompts?)\b"
    r"|\b(?:print|reveal|show|output|dump|paste) (?:the |your )?(?:internal |full |whole )?"
    r"(?:runbook|system prompt|instructions|prompt)\b"
    r"|\b(?:send|e-?mail|give|share|tell|provide|reply with|text)\b[^.\n]{0,60}"
    r"\b(?:password|passcode|one-time code|2fa code|verification code|security code|credentials|api key|"
    r"card number|cvv|secret key)s?\b"
    r"|\bdisregard (?:all |the |any )?(?:previous|prior|above) \w+",
    re.IGNORECASE,
)


def is_leak(text: str, evidence: Evidence | None = None) -> bool:
    """Whether ``text`` shows prompt or template text instead of an answer (wording that the
    evidence itself uses is not a leak: a help article may well say "language model")."""
    for match in _LEAK_PATTERNS.finditer(text):
        if evidence is None or not evidence.has(match.group(0)):
            return True
    if evidence is not None and evidence.prompt_ngrams:
        words = _WORD.findall(normalise(strip_citations(text)))
        return any(gram in evidence.prompt_ngrams for gram in _ngrams(words, LEAK_NGRAM))
    return False


def is_refusal(text: str) -> bool:
    return _REFUSAL.search(text) is not None


def is_unsafe(text: str) -> bool:
    """An instruction planted in the data that no answer relays (credentials, prompt overrides)."""
    return _UNSAFE.search(text) is not None


# --------------------------------------------------------------------------- one unit


@dataclass
class Verdict:
    text: str
    kept: bool
    reason: str | None = None  # invented | leak | unsafe | refusal | unsupported
    terms: list[str] = field(default_factory=list)
    support: float = 1.0
    claim: bool = True  # makes a checkable claim (enough content words)

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text.strip()[:300], "reason": self.reason,
                               "support": round(self.support, 3)}
        if self.terms:
            out["terms"] = self.terms
        return out


# A number written out counts as the digits a passage writes ("Five days [1]." from "5 business days").
_NUMBER_WORDS = {w: str(n) for n, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
     "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"])} | {
    "thirty": "30", "sixty": "60", "ninety": "90", "hundred": "100"}


def support(text: str, evidence: Evidence) -> tuple[float, int]:
    """Share of the unit's content words (stemmed) found in the evidence, and how many it has."""
    words = content_words(strip_citations(text))
    if not words:
        return 1.0, 0
    found = sum(stem(w) in evidence.words or _NUMBER_WORDS.get(w) in evidence.numbers for w in words)
    return found / len(words), len(words)


def check_unit(text: str, evidence: Evidence, *, min_support: float = MIN_SUPPORT) -> Verdict:
    """Judge one unit; the first failing check names the reason."""
    if is_unsafe(text):
        return Verdict(text, False, "unsafe")
    if is_leak(text, evidence):
        return Verdict(text, False, "leak")
    terms = invented_terms(text, evidence)
    if terms:
        return Verdict(text, False, "invented", terms=terms)
    if is_refusal(text):
        return Verdict(text, False, "refusal")
    score, count = support(text, evidence)
    if count >= MIN_CLAIM_WORDS and score < min_support:
        return Verdict(text, False, "unsupported", support=score)
    # A unit too short to judge by its support is shown, but answers only when every word is supported.
    claim = is_claim(text, evidence) and (count >= MIN_CLAIM_WORDS or score == 1.0)
    return Verdict(text, True, support=score, claim=claim)


def is_claim(text: str, evidence: Evidence) -> bool:
    """Whether a unit says something of its own: a supported content word that is not filler, and
    not a lead-in ending with a colon ("Here's how:", "To do this:"). :func:`check_unit` also asks a
    unit too short to judge by its support to be supported in full before it counts as an answer:
    SmolLM2 once answered a refund question with only "Your response was formatted with [m].", shown
    because "response" was in a passage."""
    body = strip_citations(text).strip()
    if body.endswith(":"):
        return False
    words = [w for w in content_words(body) if w not in _FILLER]
    return any(stem(w) in evidence.words for w in words)


# --------------------------------------------------------------------------- units of a stream

# A sentence ends at a full stop (with the citations after it), or at a citation that a new
# capitalised sentence follows ("… LogFormat "%h" combined [2] Examples: …": a quoted line has no stop).
_UNIT_END = re.compile(r"(?<=[.!?])[\"')\]]*(?:[ \t]*\[\d+(?:\s*[,;\-–]\s*\d+)*\])*(?=\s)"
                       rf"|(?<=[^\s\[])[ \t]+{_MARKER}(?:{_MARKER})*(?=[ \t]+[A-Z])")


def split_units(text: str) -> list[str]:
    """Cut text into units (lines, then sentences); each keeps its trailing whitespace, so
    ``"".join(split_units(t)) == t``. Citations after a full stop stay with their sentence."""
    units: list[str] = []
    for line in text.splitlines(keepends=True):
        start = 0
        for match in _UNIT_END.finditer(line):
            end = match.end()
            while end < len(line) and line[end] in " \t\r\n":
                end += 1
            piece = line[start:end]
            if _is_sentence_end(line, match.end()) and piece.strip():
                units.append(piece)
                start = end
        if start < len(line):
            units.append(line[start:])
    return units


def _is_sentence_end(line: str, at: int) -> bool:
    before = line[:at].rstrip("\"')]0123456789[,;-– ")
    # "e.g.", "i.e.", "1." (a list marker), "v2." are not sentence ends
    tail = before[-6:].lower()
    if re.search(r"(?:\be\.g|\bi\.e|\betc|\bvs|\bno|\bapprox)\.$", tail):
        return False
    return not re.fullmatch(r"\s*\d{1,2}[.)]", line[:at])


def ends_unit(text: str) -> bool:
    """Whether ``text`` ends a unit: a line break, or a sentence end followed by whitespace
    ("… costs $5. "; not "e.g. ", not "1. " at a line start)."""
    return text.endswith("\n") or (text[-1:].isspace() and len(split_units(text + "x")) > 1)


class UnitBuffer:
    """Collects streamed text and hands out complete units, never inside a code fence.

    A unit is handed out as soon as it ends (its sentence end and the space after it), not when
    the next one starts: the guard delays a sentence by the cost of checking it and no more. A
    citation that follows a sentence end ("… costs $5. [2]") arrives at the head of the next
    unit; :class:`GroundingGuard` shows it after the sentence it belongs to."""

    def __init__(self) -> None:
        self._text = ""

    def feed(self, text: str) -> list[str]:
        self._text += text
        if self._text.count("```") % 2:  # inside a code block: wait for it to close
            return []
        units = split_units(self._text)
        complete = units if units and ends_unit(units[-1]) else units[:-1]
        self._text = self._text[len("".join(complete)):]
        return complete

    def finish(self) -> list[str]:
        rest, self._text = self._text, ""
        return split_units(rest) if rest.strip() else []


# --------------------------------------------------------------------------- the streaming guard


@dataclass
class GroundingReport:
    """What the guard did to one answer; ``dropped`` goes into the audit record."""

    checked: int = 0
    dropped: list[dict[str, Any]] = field(default_factory=list)
    fell_back: bool = False

    def summary(self) -> dict[str, Any]:
        return {"checked": self.checked, "dropped": len(self.dropped), "fell_back": self.fell_back}

    def record(self) -> dict[str, Any]:
        return {**self.summary(), "dropped_units": self.dropped}


class GroundingGuard:
    """Feed the model's text; get back only checked, supported units, in order.

    Units without a claim of their own (a heading, "Here's how:") wait for the next supported
    unit; if none comes they are never shown. :attr:`answered` says whether any supported claim
    was shown: when it is false at the end, the caller answers extractively.
    """

    def __init__(self, evidence: Evidence, *, min_support: float = MIN_SUPPORT) -> None:
        self.evidence = evidence
        self.min_support = min_support
        self.report = GroundingReport()
        self.answered = False
        self._buffer = UnitBuffer()
        self._waiting: list[str] = []  # connective units held until a claim follows
        self._dropped_last = False

    def feed(self, text: str) -> str:
        return "".join(self._judge(unit) for unit in self._buffer.feed(text))

    def finish(self) -> str:
        out = "".join(self._judge(unit) for unit in self._buffer.finish())
        self._waiting = []
        return out

    def _judge(self, unit: str) -> str:
        """A leading citation ("[2] Next sentence.") belongs to the unit before: it is shown, held or
        dropped with that one; the rest is judged on its own."""
        lead = _LEADING_CITATION.match(unit)
        if lead is None:
            return self._judge_unit(unit)
        head, rest = lead.group(0), unit[lead.end():]
        if self._dropped_last or not (self.answered or self._waiting):
            shown = ""
        elif self._waiting:
            self._waiting.append(head)
            shown = ""
        else:
            shown = head
        return shown + (self._judge_unit(rest) if rest else "")

    def _judge_unit(self, unit: str) -> str:
        if not unit.strip():
            if self._dropped_last:
                return ""
            if self._waiting:
                self._waiting.append(unit)
                return ""
            return unit if self.answered else ""
        verdict = check_unit(unit, self.evidence, min_support=self.min_support)
        self.report.checked += 1
        if not verdict.kept:
            self.report.dropped.append(verdict.record())
            self._dropped_last = True
            return ""
        self._dropped_last = False
        if not verdict.claim and not self.answered:
            self._waiting.append(unit)
            return ""
        shown = "".join(self._waiting) + unit
        self._waiting = []
        self.answered = True
        return shown


def evidence_for(question: str, passages: Sequence[Any], *, extra: Iterable[str] = (),
                 prompt_text: str = "") -> Evidence:
    """Evidence from :class:`~assistant.schemas.Passage` values (text, title and section)."""
    texts = []
    for passage in passages:
        chunk = passage.chunk
        texts.extend([chunk.title, chunk.section, chunk.text])
    return Evidence.build(question, texts, extra=extra, prompt_text=prompt_text)
