"""One question in, one answer out: conversation, pipeline events, Slack messages.

Listeners decide *whether* to answer (channel policy, duplicates, rate limits) and build an
:class:`Ask`; this module does the rest the same way for mentions, DMs, thread follow-ups,
assistant threads and the slash command. The pipeline records turns and the audit row
itself (it gets the conversation id); this module only finds or creates the conversation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from assistant.errors import user_message
from assistant.schemas import AnswerRequest, Audience, DoneEvent, ErrorEvent, TokenEvent
from assistant.workers import Busy
from bots.slack.blocks import Block, answer_footer, answer_messages, context, fallback_text
from bots.slack.deps import AnswerRecord, SlackDeps
from bots.slack.formatting import escape
from bots.slack.writers import StreamWriter, UpdateWriter, Writer

log = logging.getLogger(__name__)

CHANNEL = "slack"
GENERIC_ERROR = "Sorry, something went wrong while answering. Please try again in a minute."
BUSY = user_message("busy")  # the catalogue's words, the same as the widget's


@dataclass(frozen=True)
class Ask:
    question: str
    channel: str
    user: str | None
    team: str | None
    audience: Audience
    prompt: str | None = None
    thread_ts: str | None = None  # the thread the answer goes to; None for an ephemeral answer
    assistant_thread: bool = False  # a Slack AI-app thread: show a "thinking…" status


def conversation_key(channel: str, thread_ts: str, audience: Audience) -> str:
    """Store key of a thread's conversation. The audience is part of it, so a channel switched
    to ``public`` never carries internal history into a public prompt."""
    return f"{audience}:{channel}:{thread_ts}"


def bot_is_in_thread(deps: SlackDeps, channel: str, thread_ts: str, audience: Audience) -> bool:
    return deps.store.find_conversation(CHANNEL, conversation_key(channel, thread_ts, audience)) is not None


@dataclass
class Outcome:
    done: DoneEvent | None = None
    error: ErrorEvent | None = None


async def run_pipeline(deps: SlackDeps, ask: Ask, on_token: Callable[[str], Awaitable[None]] | None) -> Outcome:
    """Find the conversation, call the pipeline, feed tokens to ``on_token``. Callers hold one of
    ``deps.slots`` around it: under a burst, queued questions then cost nothing until their turn,
    which keeps the event loop free to acknowledge new events quickly. Raises
    :class:`~assistant.workers.Busy` when the pipeline's shared worker pool is full."""
    store = deps.store
    if ask.thread_ts:
        conversation = await asyncio.to_thread(
            store.get_or_create_conversation, channel=CHANNEL, audience=ask.audience,
            external_key=conversation_key(ask.channel, ask.thread_ts, ask.audience), user_id=ask.user)
    else:
        conversation = await asyncio.to_thread(
            store.create_conversation, channel=CHANNEL, audience=ask.audience, user_id=ask.user)
    history = await asyncio.to_thread(store.history, conversation.id, deps.settings.slack.history_turns)
    request = AnswerRequest(question=ask.question, audience=ask.audience, history=history,
                            conversation_id=conversation.id, channel=CHANNEL, user_id=ask.user, prompt=ask.prompt)
    outcome = Outcome()
    async for event in deps.pipeline.astream(request):
        if isinstance(event, TokenEvent):
            if on_token is not None:
                await on_token(event.text)
        elif isinstance(event, DoneEvent):
            outcome.done = event
        elif isinstance(event, ErrorEvent):
            outcome.error = event
            break
    return outcome


def remember(deps: SlackDeps, ask: Ask, done: DoneEvent, message_ts: str | None) -> AnswerRecord | None:
    if not done.answer_id:
        return None
    record = AnswerRecord(
        answer_id=done.answer_id, question=ask.question, answer=done.answer, sources=done.sources,
        audience=ask.audience, channel=ask.channel, user=ask.user, fallback=done.fallback,
        abstained=done.abstained, conversation_id=done.conversation_id, message_ts=message_ts)
    deps.answers.put(record)
    return record


def _writer(deps: SlackDeps, client: AsyncWebClient, ask: Ask, thread_ts: str) -> Writer:
    interval = deps.settings.slack.update_interval_s
    if deps.streaming_available:
        def unsupported() -> None:
            if deps.settings.slack.streaming == "auto":
                deps.streaming_available = False

        return StreamWriter(client, channel=ask.channel, thread_ts=thread_ts, user=ask.user, team=ask.team,
                            interval_s=interval, on_unsupported=unsupported)
    return UpdateWriter(client, channel=ask.channel, thread_ts=thread_ts, interval_s=interval)


async def answer_in_thread(deps: SlackDeps, client: AsyncWebClient, ask: Ask) -> AnswerRecord | None:
    """Stream the answer into ``ask.thread_ts``, then post the final message with its footer."""
    assert ask.thread_ts is not None
    writer = _writer(deps, client, ask, ask.thread_ts)
    try:
        if ask.assistant_thread:
            await _set_status(client, ask.channel, ask.thread_ts)
        async with deps.slots.admit():
            return await _write_answer(deps, ask, writer)
    except Busy as exc:
        log.info("busy, question in %s refused: %s", ask.channel, exc.detail)
        await quietly(writer.fail(BUSY))
        return None
    except Exception:
        log.exception("answering in %s failed", ask.channel)
        await quietly(writer.fail(GENERIC_ERROR))
        return None


async def _write_answer(deps: SlackDeps, ask: Ask, writer: Writer) -> AnswerRecord | None:
    if isinstance(writer, UpdateWriter):
        await writer.start()
    outcome = await run_pipeline(deps, ask, writer.add)
    if outcome.done is None:
        message = outcome.error.message if outcome.error else GENERIC_ERROR
        await writer.fail(message)
        return None
    done = outcome.done
    footer = answer_footer(sources=done.sources, fallback=done.fallback, abstained=done.abstained,
                           answer_id=done.answer_id)
    remember(deps, ask, done, None)  # before the buttons exist, so a quick click finds it
    ts = await writer.finish(answer_messages(done.answer), footer, done.answer)
    return remember(deps, ask, done, ts)


async def answer_ephemeral(deps: SlackDeps, respond: Callable[..., Awaitable[Any]], ask: Ask) -> AnswerRecord | None:
    """The slash command's answer: only the asker sees it, with a button to post it."""
    try:
        async with deps.slots.admit():
            outcome = await run_pipeline(deps, ask, None)
        if outcome.done is None:
            message = outcome.error.message if outcome.error else GENERIC_ERROR
            await respond(text=":warning: " + escape(message), response_type="ephemeral", replace_original=True)
            return None
        done = outcome.done
        messages = answer_messages(done.answer)
        messages[0].insert(0, context(f"*You asked:* {escape(ask.question)}"))
        footer = answer_footer(sources=done.sources, fallback=done.fallback, abstained=done.abstained,
                               answer_id=done.answer_id, with_post_button=True)
        record = remember(deps, ask, done, None)
        for i, blocks in enumerate(messages):
            if i == len(messages) - 1:
                blocks = blocks + footer
            await respond(text=fallback_text(blocks), blocks=blocks, response_type="ephemeral",
                          replace_original=(i == 0))
        return record
    except Busy as exc:
        log.info("busy, /ask in %s refused: %s", ask.channel, exc.detail)
        await quietly(respond(text=":hourglass: " + BUSY, response_type="ephemeral", replace_original=True))
        return None
    except Exception:
        log.exception("answering /ask in %s failed", ask.channel)
        await quietly(respond(text=":warning: " + GENERIC_ERROR, response_type="ephemeral", replace_original=True))
        return None


async def _set_status(client: AsyncWebClient, channel: str, thread_ts: str) -> None:
    await quietly(client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts,
                                                      status="is thinking…"))


async def quietly(call: Awaitable[Any]) -> None:
    """For best-effort calls (status, error notices): a failure is logged, never raised."""
    try:
        await call
    except Exception as exc:  # nothing else can be done for the user here
        log.warning("Slack call failed: %s", exc)


def header_blocks(asked_by: str | None, question: str) -> list[Block]:
    who = f"<@{asked_by}> asked" if asked_by else "Question"
    return [context(f"*{who}:* {escape(question)}")]
