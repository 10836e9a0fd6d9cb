"""Follow-up questions read in the light of the conversation, without a language model.

A chat rarely stays at one message: "How do I refund a card payment?" is followed by "How long
does it take?", "Can I refund only part of it?", "And for ACH?". A generating backend rewrites
such a message into a standalone question with the ``condense`` prompt before retrieval; the
default extractive backend has no model to do that, so it searched for the follow-up alone.
"How long does it take?" then answered with how long *ACH payments* take to confirm, and "What
about changing the amount?" after a question on recurring invoices with multi-currency invoicing.

Here a message that reads as a follow-up is searched together with the conversation's topic: the
customer's last message that was not itself a follow-up (and the follow-up before this one, when
there was one, so a chain keeps its thread). What reads as a follow-up, deliberately narrowly:

- it opens like one ("and …", "what about …", "how about …", "what if …", "also …", "same for …");
- or it points back ("it", "that", "this", "those", "they", "one") and names at most
  :data:`MAX_TERMS` content words of its own, so "Can I pause one?" is a follow-up and "Is it
  possible to export all my data before closing my account?" is a question in its own right
  (an "it" that points nowhere, as in "is it possible", does not count).

- or it asks about "the" something in at most :data:`MAX_DEFINITE_TERMS` words and names no subject
  of its own ("What are the fees?", "What's the rate limit?"), after a topic that names one
  ("PayPal", "the API", "pg_dump"), and the documents hold the two in one passage: asked after a
  QuickBooks question, "What is the late fee?" is a question of its own.

A short message without any of these ("How do I refund?", "Fees?") is taken as a question of its own:
read wrongly as a follow-up, a new subject is searched beside the old one and loses to it, which is
worse than a follow-up answered in general terms.

A follow-up that swaps one name for another ("How do I connect Ledgerly to QuickBooks?" … "And
Xero?", "What about PayPal?") would otherwise be searched with the old name beside the new one,
and the old one, in the longer text, won. When it opens like that, with a short phrase that names
something (a capital where no sentence starts) the documents know, the topic's rarest such name
is left out: the search is for "How do I connect Ledgerly to ? And Xero?". Only names are
swapped: "And for ACH?" after "How do I refund a card payment?" asks about refunds of ACH payments,
and keeps the refund.

A message that changes the subject is answered on its own, whatever came before it. The
condensed text is used for retrieval and for choosing the answer's sentences; the conversation
record keeps the customer's own words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from assistant.ranking import content_terms, identifier_tokens
from assistant.schemas import HistoryTurn
from assistant.small_talk import small_talk

MAX_TERMS = 4  # a message pointing back with more content words than this names its own subject
MAX_TOPIC_CHARS = 400  # a long first message (a story with a log excerpt) is cut to its opening
REFERENT_MAX_TERMS = 1  # "and how do I turn it on?": the topic's name is what "it" adds
MAX_SWAP_WORDS = 4  # "and Xero?", "what about PayPal payouts?": a swapped-in subject is a short noun phrase

# Chunk share (0..1) of each word that the documents hold; words they never use are left out.
Shares = Callable[[Sequence[str]], Mapping[str, float]]
# Share (0..1) of each word's uses inside a sentence that the documents write with a capital.
Capitalised = Callable[[Sequence[str]], Mapping[str, float]]
# Whether one passage of the documents holds all these words.
Together = Callable[[Sequence[str]], bool]
MAX_DEFINITE_TERMS = 2  # "what are the fees?", "what's the limit?": a short question about "the" something
_DEFINITE = re.compile(r"\bthe\b", re.IGNORECASE)
_ASKING_CONTRACTIONS = frozenset(("whats", "hows", "wheres", "whens", "whos"))
# A question about an attribute of something ("what are the fees?", "how long is the trial?"), not an action.
_ATTRIBUTE = re.compile(r"\s*(?:whats?|which|how\s+(?:much|many|long|often|soon|big|fast)|when|where|is\s+there|"
                        r"are\s+there|any)\b", re.IGNORECASE)
NAME_SHARE = 0.8  # written with a capital this often inside a sentence: a name ("xero", "paypal", "ssl")


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_NAME = re.compile(r"\b[A-Za-z][\w-]*[A-Z][\w-]*|\b[A-Z][\w-]*")
# How a follow-up opens ("and …" covers "and if …", "and how …"). Not "so" or "then": a new
# question often starts "So I want to …".
_OPENERS = ("and", "also", "plus", "but", "what about", "how about", "what if", "what else", "same for", "same with",
            "same question for", "ok and", "okay and")
# Words that ask something new rather than name a new subject ("and how …", "and can I …").
_ASKING = _vocabulary("how what why when where which who can could do does did is are was were will would should if")
# Openers that ask the same thing of something else ("and Xero?", "what about PayPal?").
_SWAPS = tuple(sorted(("and", "also", "plus", "what about", "how about", "and what about", "and how about",
                       "same for", "same with", "ok and", "okay and"), key=len, reverse=True))  # longest first
_POINTERS = _vocabulary("it its it's itself that this these those they them their theirs there one ones same")
# An "it" or "that" that points at nothing: "is it possible to …", "it's possible", "that is all".
_EMPTY_POINTER = re.compile(
    r"\b(?:is|was|will|would|isn't|wasn't)\s+it\s+(?:be\s+)?(?:possible|ok|okay|safe|true|normal|hard|easy|"
    r"better|worth|allowed|necessary|recommended|a\s+good\s+idea)\b"
    r"|\bit(?:'s|\s+is)\s+(?:possible|ok|okay|normal|true|necessary|recommended)\b"
    r"|\bone\s+of\b|\bthis\s+(?:morning|afternoon|evening|week|month|year)\b",
    re.IGNORECASE,
)


def _opens_with(words: Sequence[str], openers: Sequence[str]) -> bool:
    head = " ".join(words[:4])
    return any(head == o or head.startswith(o + " ") for o in openers)


def reads_as_follow_up(message: str) -> bool:
    """True when ``message`` only makes sense after what the customer asked before it."""
    text = message.lower().replace("’", "'")
    words = _WORD.findall(text)
    if not words:
        return False
    if _opens_with(words, _OPENERS):
        return True
    terms = content_terms(message)
    pointing = any(w in _POINTERS for w in _WORD.findall(_EMPTY_POINTER.sub(" ", text)))
    return pointing and len(terms) <= MAX_TERMS


def _asks_of_the_topic(message: str, topic: str, shares: Shares | None, capitalised: Capitalised | None,
                       together: Together | None) -> bool:
    """A short question about "the" something that names no subject of its own ("What are the
    fees?", "What's the rate limit?"), asked after a topic that names one ("How do I accept PayPal
    payments?", "How do I use the API?"), when the documents discuss the two in one passage: then it
    asks about that subject's fees. Asked after a topic the documents never discuss it with ("What
    is the late fee?" after a QuickBooks question), after a topic without a name ("How do I create
    an index?": in a large manual every common word meets every other somewhere), or as an action
    of its own ("How do I delete the account?"), it is a question of its own."""
    if shares is None or together is None or not _ATTRIBUTE.match(message) or not _DEFINITE.search(message):
        return False
    if _names(message) or identifier_tokens(message):
        return False
    terms = [t for t in content_terms(message) if not t.isdigit() and t not in _ASKING_CONTRACTIONS]
    if not terms or len(terms) > MAX_DEFINITE_TERMS:
        return False
    # The subject: an identifier the topic names ("pg_dump", "mod_proxy"), else its rarest name.
    subject = next((t for t in identifier_tokens(topic) if t.lower() not in terms), None)
    if subject is None:
        names = [n for n in _written_names(topic, capitalised) if n not in terms]
        known = shares(names) if names else {}
        subject = min(((known[n], n) for n in names if n in known), default=(0.0, None))[1]
    return subject is not None and together([*terms, subject])


def _topic_text(message: str) -> str:
    text = " ".join(message.split())
    if len(text) <= MAX_TOPIC_CHARS:
        return text
    cut = text[:MAX_TOPIC_CHARS]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def _names(text: str) -> list[str]:
    """Words written with a capital where a sentence does not start ("QuickBooks", "PayPal", "ACH"),
    lower-cased: what a customer names a product, a service or a standard by."""
    out = []
    for match in _NAME.finditer(text):
        before = text[: match.start()].rstrip()
        if before and before[-1] not in ".?!:" and match.group() != "I":
            out.append(match.group().lower())
    return out


def _written_names(text: str, capitalised: Capitalised | None) -> list[str]:
    """:func:`_names`, plus the words typed in lower case that the documents write as names ("how
    do i connect to quickbooks", "and xero?": customers in a chat often skip capitals)."""
    names = _names(text)
    if capitalised is None:
        return names
    lower = [w for w in content_terms(text) if w not in names and not w.isdigit()]
    shares = capitalised(lower) if lower else {}
    return names + [w for w in lower if shares.get(w, 0.0) >= NAME_SHARE]


def _without_old_subject(topic: str, question: str, shares: Shares, capitalised: Capitalised | None = None) -> str:
    """``topic`` less the name it asked about when ``question`` swaps in another name (see the
    module docstring); ``topic`` as it is otherwise."""
    words = _WORD.findall(question.lower().replace("’", "'"))
    opener = next((o for o in _SWAPS if _opens_with(words, [o])), None)
    rest = words[len(opener.split()):] if opener else []
    if opener is None or any(w in _POINTERS or w in _ASKING for w in rest) or len(rest) > MAX_SWAP_WORDS:
        return topic  # "and how do I disconnect it?", "and drop one?": the same subject, something else asked
    old = _written_names(topic, capitalised)
    new = [n for n in _written_names(question, capitalised) if n not in old]
    if not new:
        return topic
    known = shares([*old, *new])
    rarest = sorted((known[n], n) for n in old if n in known)
    if not rarest or not any(n in known for n in new):
        return topic
    return re.sub(rf"\b{re.escape(rarest[0][1])}\b", " ", topic, flags=re.IGNORECASE).replace("  ", " ").strip()


def standalone_question(question: str, history: Sequence[HistoryTurn], *, shares: Shares | None = None,
                        capitalised: Capitalised | None = None, together: Together | None = None) -> str:
    """The text to search for ``question`` asked after ``history`` (oldest turn first): the
    question itself, or, for a follow-up, the conversation's topic followed by it. ``shares``:
    the documents' word frequencies (see :data:`Shares`); without it no subject is swapped.
    ``capitalised``: how the documents write words (see :data:`Capitalised`); without it only
    words the customer capitalised count as names. ``together``: whether the documents hold words
    in one passage (see :data:`Together`); without it a question about "the fees" is its own."""
    topic: str | None = None
    previous: str | None = None  # the follow-up just before, while it continues the same topic
    for turn in history:
        if turn.role != "user" or not turn.text.strip() or small_talk(turn.text) is not None:
            continue
        if topic is not None and (reads_as_follow_up(turn.text)
                                  or _asks_of_the_topic(turn.text, topic, shares, capitalised, together)):
            previous = turn.text
        else:
            topic, previous = turn.text, None
    if topic is None or not (reads_as_follow_up(question)
                             or _asks_of_the_topic(question, topic, shares, capitalised, together)):
        return question
    if shares is not None and previous is None:
        topic = _without_old_subject(topic, question, shares, capitalised)
    parts = [_topic_text(topic), *([_topic_text(previous)] if previous else []), question.strip()]
    return " ".join(parts)


def searched_text(question: str, history: Sequence[HistoryTurn], retriever: object, audience: str) -> str:
    """:func:`standalone_question` with what the retriever knows of the documents the audience
    reads (``term_shares``, ``capitalised_shares``, ``holds_together``; a retriever without them
    reads only what the message itself shows): what
    the pipeline and ``assistant eval`` search for a follow-up when no model condenses it."""
    def bound(name: str) -> Any:
        method = getattr(retriever, name, None)
        return partial(method, audience=audience) if callable(method) else None

    return standalone_question(question, history, shares=bound("term_shares"),
                               capitalised=bound("capitalised_shares"), together=bound("holds_together"))


def topic_names(topic: str) -> list[str]:
    """What the topic names: its identifiers ("2FA", "pg_dump") and the words it writes as names
    ("QuickBooks"), lower-cased."""
    return list(dict.fromkeys([*(t.lower() for t in identifier_tokens(topic)), *_names(topic)]))


def with_referent(question: str, topic: str) -> str:
    """A follow-up that points back ("And how do I turn it on?") with the names its topic gave
    ("How much does 2FA cost?"): "And how do I turn it on? 2fa". That is what it asks about, without
    what the topic asked of it (a cost): the words an answer's sentences and a section's heading are
    matched against. Only a follow-up whose own words are a single one (an action: "turn on",
    "delete") leans on the name this way: "Can I dump just one table?" after a pg_dump question names
    what it asks about, and weighing "pg_dump" as much as "table" drew every pg_dump sentence into its
    answer. A follow-up that names its own subject ("What about PayPal?"), or a topic that names
    nothing, leaves the question as it is."""
    text = question.lower().replace("’", "'")
    if not topic or len(content_terms(question)) > REFERENT_MAX_TERMS:
        return question
    if not any(w in _POINTERS for w in _WORD.findall(_EMPTY_POINTER.sub(" ", text))):
        return question
    names = [n for n in topic_names(topic) if n not in text]
    return f"{question.strip()} {' '.join(names)}" if names else question


def topic_of(question: str, standalone: str) -> str:
    """The conversation's part of :func:`standalone_question`'s text ("" when the question was
    searched on its own): an extractive answer weighs its words below the question's own."""
    asked = question.strip()
    if standalone.strip() == asked or not standalone.endswith(asked):
        return ""
    return standalone[: -len(asked)].strip()
