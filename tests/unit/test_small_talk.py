"""Messages that are only courtesy get a courtesy back; anything that may ask something is answered
from the documentation (assistant/small_talk.py, the pipeline's first step)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import USER_MESSAGES, NoIndexError
from assistant.prompts import default_prompts_dir, load_prompts
from assistant.schemas import AnswerRequest, DoneEvent, ErrorEvent
from assistant.small_talk import small_talk
from tests.fakes import FakeRetriever, make_passage
from tests.unit.test_pipeline import make_pipeline


@pytest.mark.parametrize(("message", "kind"), [
    ("hi", "greeting"), ("Hello!", "greeting"), ("Good morning team", "greeting"), ("hey there", "greeting"),
    ("Hello, I need help", "greeting"), ("Can you help me?", "greeting"), ("I have a question", "greeting"),
    ("thanks!", "thanks"), ("Thank you so much", "thanks"), ("ok great, thanks", "thanks"), ("thx", "thanks"),
    ("no thanks", "thanks"), ("Perfect, thank you, bye", "thanks"), ("bye", "goodbye"), ("Goodbye!", "goodbye"),
    ("ok", "thanks"), ("Great, got it!", "thanks"), ("okay cool", "thanks"),
    # A customer reporting that the answer worked: it asked nothing, and "I'm sorry, I couldn't find
    # anything about that" (and a knowledge gap in the insights) was the wrong reply.
    ("thanks, that worked!", "thanks"), ("That fixed it, thank you", "thanks"), ("ok it works now", "thanks"),
    ("Problem solved, thanks!", "thanks"), ("all sorted, cheers", "thanks"), ("Perfect, that's exactly it", "thanks"),
    ("Got it working, thanks a lot", "thanks"), ("appreciate it", "thanks"), ("makes sense, thanks", "thanks"),
])
def test_a_message_of_courtesy_words_only_is_small_talk(message: str, kind: str) -> None:
    assert small_talk(message) == kind


@pytest.mark.parametrize("message", [
    "hi, how do I refund a payment?", "thanks, and how do I export invoices?", "Hello, my payout is late",
    "help with refunds", "refund", "ok but the refund?", "great, how do I export it?",
    "What's the difference between hi and hello in the greeting template?",
    "Can you help me connect QuickBooks?", "", "?", "hi " * 9,
    "thanks, but it still doesn't work", "it doesn't work", "not working", "that didn't fix it",
    "thanks, it worked for cards but not for ACH", "ok it works now, how do I export it?", "it is not fixed",
    "is it working?", "Is it fixed now?",
])
def test_anything_that_may_ask_something_is_not(message: str) -> None:
    assert small_talk(message) is None


def ask(message: str, audience: str = "public", prompts=None) -> list:
    retriever = FakeRetriever([make_passage("Refunds take 5 business days.", title="Refunds", dense=0.8)])
    pipeline = make_pipeline(prompts or load_prompts(), Settings(_env_file=None), None, retriever,
                             backend="extractive")
    return list(pipeline.stream(AnswerRequest(question=message, audience=audience)))


def test_a_greeting_gets_the_brand_greeting_without_sources_or_an_apology() -> None:
    events = ask("Hi there!")
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert events[0].type == "sources" and events[0].sources == []
    assert done.answer.startswith("Hi! I'm the Ledgerly assistant") and "sorry" not in done.answer.lower()
    assert not done.abstained and done.sources == [] and done.backend == "small_talk"
    assert "".join(e.text for e in events if e.type == "token") == done.answer


def test_thanks_and_goodbye_get_their_own_reply_on_both_audiences() -> None:
    assert ask("thanks!")[-1].answer == "You're welcome! If anything else comes up, just ask."
    assert ask("thank you", audience="internal")[-1].answer == "Glad it helped."
    assert ask("bye")[-1].answer.startswith("Thanks for stopping by.")


@pytest.mark.parametrize("message", [
    "I want to talk to a human", "Can I speak to someone?", "human please", "a real person please",
    "connect me with an agent", "I'd like to speak to a representative", "Talk to a human", "live agent",
])
def test_a_request_for_a_person_is_its_own_kind(message: str) -> None:
    assert small_talk(message) == "human"


@pytest.mark.parametrize("message", [
    "agent", "How do I add an agent?", "Can an agent refund more than $500?", "contact", "Who is my contact person?",
    "How do I change the person on an invoice?", "someone charged my card",
])
def test_a_question_about_people_is_not_a_request_for_one(message: str) -> None:
    assert small_talk(message) is None


def test_a_request_for_a_person_says_how_to_reach_one_and_offers_the_handoff() -> None:
    """Before, "I want to talk to a human" got "I'm sorry, I couldn't find anything about that" and
    counted as a knowledge gap; the widget offered its hand-off only because the answer was a decline."""
    events = ask("I want to talk to a human")
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.offer_handoff and not done.abstained
    assert done.answer.startswith("Of course, a person can take it from here") and "sorry" not in done.answer.lower()
    assert "support@ledgerly.example" in done.answer and done.backend == "small_talk" and done.sources == []
    assert not ask("thanks!")[-1].offer_handoff and not ask("How long do refunds take?")[-1].offer_handoff
    # The internal prompt has no such text: staff asking for a person are answered from the documentation.
    assert ask("I want to talk to a human", audience="internal")[-1].backend != "small_talk"


def test_a_greeting_with_a_question_is_answered_from_the_documentation() -> None:
    done = ask("Hi, how long do refunds take?")[-1]
    assert "5 business days" in done.answer and done.sources


def test_a_prompt_file_without_small_talk_texts_answers_courtesy_as_before(tmp_path: Path) -> None:
    for source in default_prompts_dir().glob("*.md"):
        text = re.sub(r"(?m)^(greeting|thanks|goodbye|human): >-\n(?:  .*\n)+", "", source.read_text())
        (tmp_path / source.name).write_text(text)
    done = ask("hi", prompts=load_prompts(tmp_path))[-1]
    assert "greeting" not in load_prompts(tmp_path).answer("public", "public").texts
    assert not done.answer.startswith("Hi!")  # the documentation's answer, or its abstention


def test_a_greeting_to_a_server_without_an_index_is_told_it_is_not_ready() -> None:
    """The widget's first "hi" must not be welcomed by a server that cannot answer the question after it."""

    class NoIndex:
        def current(self) -> None:
            raise NoIndexError("No published index in /srv/var")

    retriever = FakeRetriever([])
    retriever.index = NoIndex()  # type: ignore[attr-defined]
    pipeline = make_pipeline(load_prompts(), Settings(_env_file=None), None, retriever, backend="extractive")
    events = list(pipeline.stream(AnswerRequest(question="hi", audience="public")))
    assert events == [ErrorEvent(code="not_ready", message=USER_MESSAGES["not_ready"], retryable=True)]
