"""Who can read a conversation: externally shared ones (Slack Connect) get the public audience.

The audience of an answer follows the conversation it is posted in, not the person who asked:
a staff member's mention in a channel shared with a customer's workspace is read by that
customer too. So every entry point (mentions, DMs, thread follow-ups, assistant threads,
``/ask`` and "Post to channel") asks :class:`SharedChannels` before it picks an audience.

Where Slack says it in the request, that is the answer: event callbacks carry
``is_ext_shared_channel`` and channel objects ``is_ext_shared``. Otherwise
``conversations.info`` is asked once and the result is cached for ``ttl_s``;
``channel_shared`` / ``channel_unshared`` events update the cache at once. If Slack cannot
say (a missing ``*:read`` scope, an outage), the conversation is treated as shared: a staff
answer withheld is a nuisance, a staff answer shown to a customer cannot be taken back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

FAILED_LOOKUP_TTL_S = 30.0  # ask Slack again soon after an error, but not on every message


def shared_flag(body: Mapping[str, Any] | None, event: Mapping[str, Any] | None = None) -> bool | None:
    """What the request itself says about the conversation being externally shared; None if silent.

    Event callbacks carry ``is_ext_shared_channel`` beside the event; some events and payloads
    carry the channel as an object with ``is_ext_shared`` (and ``is_pending_ext_shared`` while an
    invitation to another organisation is open, which counts as shared)."""
    candidates: list[Any] = []
    for holder in (event, body):
        if not holder:
            continue
        candidates.append(holder.get("is_ext_shared_channel"))
        candidates.append(holder.get("is_ext_shared"))
        channel = holder.get("channel")
        if isinstance(channel, Mapping):
            candidates.append(channel.get("is_ext_shared"))
            if channel.get("is_pending_ext_shared"):
                return True
    flags = [c for c in candidates if isinstance(c, bool)]
    if any(flags):
        return True
    return False if flags else None


class SharedChannels:
    """Cached answers to "is this conversation shared with another organisation?"."""

    def __init__(self, ttl_s: float, *, max_items: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._clock = clock
        self._known: OrderedDict[str, tuple[bool, float]] = OrderedDict()  # channel -> (shared, expires)
        self._lookups: dict[str, asyncio.Future[bool]] = {}

    def remember(self, channel: str, shared: bool, *, ttl_s: float | None = None) -> None:
        expires = self._clock() + (self.ttl_s if ttl_s is None else ttl_s)
        self._known[channel] = (shared, expires)
        self._known.move_to_end(channel)
        while len(self._known) > self.max_items:
            self._known.popitem(last=False)

    def forget(self, channel: str) -> None:
        self._known.pop(channel, None)

    def cached(self, channel: str) -> bool | None:
        found = self._known.get(channel)
        if found is None:
            return None
        shared, expires = found
        if self._clock() >= expires:
            del self._known[channel]
            return None
        return shared

    async def is_shared(self, client: AsyncWebClient, channel: str, *, flag: bool | None = None,
                        fresh: bool = False) -> bool:
        """True when people outside this workspace's organisation can read ``channel``.

        ``fresh`` skips the cache, for rare actions where a stale answer would cost most
        (posting an internal answer into a channel)."""
        if flag is not None:
            self.remember(channel, flag)
            return flag
        known = None if fresh else self.cached(channel)
        if known is not None:
            return known
        pending = self._lookups.get(channel)
        if pending is None:  # one conversations.info call per channel, however many ask at once
            pending = asyncio.ensure_future(self._lookup(client, channel))
            self._lookups[channel] = pending
            pending.add_done_callback(lambda _f: self._lookups.pop(channel, None))
        return await asyncio.shield(pending)

    async def _lookup(self, client: AsyncWebClient, channel: str) -> bool:
        try:
            response = await client.conversations_info(channel=channel)
            info = response.get("channel") or {}
        except Exception as exc:  # any failure (API error, timeout, connection): fail closed
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("conversations.info for %s failed (%s); answering there from public material only "
                        "(the bot needs channels:read, groups:read, im:read and mpim:read)", channel, error)
            self.remember(channel, True, ttl_s=min(self.ttl_s, FAILED_LOOKUP_TTL_S))
            return True
        shared = bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))
        self.remember(channel, shared)
        return shared
