"""How an answer reaches a Slack thread while it is being written.

Two writers with one interface:

- :class:`StreamWriter` uses Slack's streaming messages (``chat.startStream`` /
  ``appendStream`` / ``stopStream`` through ``slack_sdk``'s ``chat_stream``); Slack renders the
  Markdown itself. If Slack refuses the method (older workspace, missing feature), it hands
  over to the update writer and the app stops trying.
- :class:`UpdateWriter` posts a placeholder and edits it with ``chat.update``.

Both flush at most once per ``update_interval_s`` (Slack allows about one edit per second per
message), then write the final message: the answer in mrkdwn sections, sources, notices and
feedback buttons, continued in further thread replies when it is too long for one message.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.blocks import SECTIONS_PER_MESSAGE, Block, fallback_text, section
from bots.slack.formatting import SECTION_LIMIT, escape, to_mrkdwn

log = logging.getLogger(__name__)

THINKING = ":hourglass_flowing_sand: _Looking this up…_"
PREVIEW_LIMIT = 3900  # characters of a preview edit: Slack truncates longer plain text
STREAM_LIMIT = SECTIONS_PER_MESSAGE * SECTION_LIMIT


class Writer(Protocol):
    async def add(self, text: str) -> None: ...

    async def finish(self, messages: list[list[Block]], footer: list[Block], markdown: str) -> str | None: ...

    async def fail(self, message: str) -> None: ...


async def post_messages(client: AsyncWebClient, channel: str, thread_ts: str | None,
                        messages: list[list[Block]], footer: list[Block], *, first_ts: str | None = None) -> str | None:
    """Write the final answer: edit ``first_ts`` (when given) with the first part, post the rest
    as thread replies; the footer goes under the last part. Returns the last message's ts."""
    last_ts = first_ts
    for i, blocks in enumerate(messages):
        if i == len(messages) - 1:
            blocks = blocks + footer
        text = fallback_text(blocks)
        if i == 0 and first_ts:
            await client.chat_update(channel=channel, ts=first_ts, text=text, blocks=blocks)
        else:
            resp = await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks,
                                                 unfurl_links=False, unfurl_media=False)
            last_ts = resp.get("ts")
    return last_ts


class UpdateWriter:
    def __init__(self, client: AsyncWebClient, *, channel: str, thread_ts: str, interval_s: float,
                 ts: str | None = None, text: str = "") -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.interval_s = interval_s
        self.ts = ts
        self.text = text
        self._last = 0.0
        self._shown = ""

    async def start(self) -> None:
        if self.ts is None:
            resp = await self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text=THINKING)
            self.ts = resp.get("ts")
            self._last = time.monotonic()

    async def add(self, text: str) -> None:
        self.text += text
        if time.monotonic() - self._last >= self.interval_s:
            await self._preview()

    async def _preview(self) -> None:
        preview = to_mrkdwn(self.text)
        if len(preview) > PREVIEW_LIMIT:
            preview = preview[:PREVIEW_LIMIT]
        if not preview.strip() or preview == self._shown or self.ts is None:
            return
        self._last = time.monotonic()
        self._shown = preview
        await self.client.chat_update(channel=self.channel, ts=self.ts, text=preview + " …")

    async def finish(self, messages: list[list[Block]], footer: list[Block], markdown: str) -> str | None:
        return await post_messages(self.client, self.channel, self.thread_ts, messages, footer, first_ts=self.ts)

    async def fail(self, message: str) -> None:
        text = ":warning: " + escape(message)
        if self.ts:
            await self.client.chat_update(channel=self.channel, ts=self.ts, text=text, blocks=[section(text)])
        else:
            await self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text=text)


class StreamWriter:
    """Streams Markdown with Slack's streaming methods; see the module docstring."""

    def __init__(self, client: AsyncWebClient, *, channel: str, thread_ts: str, user: str | None,
                 team: str | None, interval_s: float, on_unsupported: Any = None) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.user = user
        self.team = team
        self.interval_s = interval_s
        self.on_unsupported = on_unsupported
        self.stream: AsyncChatStream | None = None
        self.sent = ""
        self.pending = ""
        self._last = 0.0
        self._fallback: UpdateWriter | None = None

    async def add(self, text: str) -> None:
        if self._fallback is not None:
            await self._fallback.add(text)
            return
        self.pending += text
        if self.stream is None or time.monotonic() - self._last >= self.interval_s:
            await self._flush()

    async def _flush(self) -> None:
        if not self.pending.strip() or len(self.sent) + len(self.pending) > STREAM_LIMIT:
            return  # an overlong answer is finished by finish() with chat.update and extra replies
        try:
            if self.stream is None:
                self.stream = await self.client.chat_stream(
                    channel=self.channel, thread_ts=self.thread_ts, recipient_user_id=self.user,
                    recipient_team_id=self.team, buffer_size=1)
            await self.stream.append(markdown_text=self.pending)
        except SlackApiError as exc:
            await self._switch_to_updates(exc)
            return
        self.sent += self.pending
        self.pending = ""
        self._last = time.monotonic()

    async def _switch_to_updates(self, exc: SlackApiError) -> None:
        error = exc.response.get("error") if exc.response is not None else None
        started = self.stream is not None and self.stream.ts is not None
        log.info("Slack streaming unavailable (%s); using chat.update instead", error)
        if not started and self.on_unsupported is not None:
            self.on_unsupported()
        ts = self.stream.ts if started and self.stream is not None else None
        self._fallback = UpdateWriter(self.client, channel=self.channel, thread_ts=self.thread_ts,
                                      interval_s=self.interval_s, ts=ts, text=self.sent + self.pending)
        await self._fallback.start()
        self.pending = ""

    async def finish(self, messages: list[list[Block]], footer: list[Block], markdown: str) -> str | None:
        if self._fallback is not None:
            return await self._fallback.finish(messages, footer, markdown)
        if self.stream is None or self.stream.ts is None:
            return await post_messages(self.client, self.channel, self.thread_ts, messages, footer)
        ts = self.stream.ts
        streamed = self.sent + self.pending
        if len(messages) == 1 and _same(streamed, markdown) and len(streamed) <= STREAM_LIMIT:
            await self.stream.stop(markdown_text=self.pending or None, blocks=footer)
            return ts
        # The final text differs from what was streamed (citations renumbered, a fallback answer,
        # or too long for one message): close the stream, then replace it with the final version.
        await self.stream.stop()
        return await post_messages(self.client, self.channel, self.thread_ts, messages, footer, first_ts=ts)

    async def fail(self, message: str) -> None:
        if self._fallback is not None:
            await self._fallback.fail(message)
        elif self.stream is not None and self.stream.ts is not None:
            await self.stream.stop(markdown_text="\n\n:warning: " + message)
        else:
            await self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts,
                                               text=":warning: " + escape(message))


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())
