"""Messages that are only courtesy, "hi", "thanks!", "bye", "hello, I need help", or a request for a
person: "I want to talk to a human", "can I speak to someone?".

A chat widget's first message is often a greeting, and its last a thank-you. Sent through
retrieval, they matched nothing and got "I'm sorry, I couldn't find anything about that … and I'd
rather not guess" (and counted as knowledge gaps in the insights report). They get a short reply
in the brand voice instead, from the answer prompt's front matter (``greeting``, ``thanks``,
``goodbye``, ``human``); a prompt file without that text answers them as before. A request for a
person is answered by saying how to reach one, and the widget offers its hand-off there and then
(``DoneEvent.offer_handoff``).

The test is deliberately narrow: every word of the message must be a courtesy word, so anything
that could be a question ("hi, how do I refund a payment?", "thanks, and the invoice?") is
answered from the documentation as usual.
"""

from __future__ import annotations

import re
from typing import Literal

SmallTalk = Literal["greeting", "thanks", "goodbye", "human"]
# The backend recorded for a courtesy reply (none ran): insights leave these out of every figure.
BACKEND = "small_talk"

_MAX_WORDS = 8


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_WORD = re.compile(r"[a-z]+")
# Words that say which kind a message is; a message holds at least one of them.
_GREETING = _words("hi hello hey hiya howdy yo greetings morning afternoon evening")
_THANKS = _words("thanks thank thx ty cheers thankyou thanx tysm appreciate appreciated")
_GOODBYE = _words("bye goodbye cya")
# An acknowledgement of the last answer ("ok", "great, got it"), or news that it worked ("that fixed it",
# "problem solved"): answered like thanks. Anything that says it did not ("not", "didn't", "still") is a
# word of none of these lists, so such a message is answered from the documentation.
_ACKNOWLEDGEMENT = _words("ok okay great perfect cool awesome brilliant excellent wonderful understood noted alright "
                          "worked works working fixed solved sorted resolved sense gotcha fantastic amazing super "
                          "lovely")
# Asking for help without saying with what: a greeting, answered by asking what it is about.
_OPENING = _words("help question need have quick can could you me anyone someone there is are")
# Words that go with any of them ("thank you so much", "good morning team", "great, got it").
_FILLER = _words("good a an i so very much lot all everyone team folks guys again you that it this nice got "
                 "helps helped helpful many and please see later have day the no now problem issue thats exactly "
                 "makes just u")
# A request for a person: one of these, with a way to reach them ("talk", "speak") or a word that says
# a real one ("real person", "live agent"); "human" says it alone. "How do I add an agent?" asks how.
_PERSON = _words("human humans person someone somebody agent representative rep operator")
_REACH = _words("talk speak chat contact connect reach transfer real live actual")
_ASKING = _words("want would like to with me my please can could may i id get an a be put through someone")
_VOCABULARY = _GREETING | _THANKS | _GOODBYE | _ACKNOWLEDGEMENT | _OPENING | _FILLER | _PERSON | _REACH | _ASKING


def small_talk(message: str) -> SmallTalk | None:
    """The kind of courtesy ``message`` is, or None when it may ask something."""
    words = _WORD.findall(message.lower().replace("'", "").replace("’", ""))
    if not words or len(words) > _MAX_WORDS:
        return None
    if any(w not in _VOCABULARY for w in words):
        return None
    present = set(words)
    if present & _PERSON and (present & _REACH or "human" in present):
        return "human"
    if present & (_PERSON | _REACH):  # "agent please", "contact": not courtesy, not clearly a request
        return None
    if present & _THANKS:
        return "thanks"
    if present & _GOODBYE:
        return "goodbye"
    if present & _GREETING or present & {"help", "question"}:
        return "greeting"
    if present & _ACKNOWLEDGEMENT and not message.rstrip().endswith("?"):  # "is it working?" asks
        return "thanks"
    return None
