"""What the Slack listeners share: settings, the pipeline, the store and in-memory guards.

Built once per app by :func:`bots.slack.app.create_slack_app` and passed to every listener
module's ``register``; nothing here is global, so tests build as many apps as they like.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from assistant.config import Settings
from assistant.schemas import AnswerEvent, AnswerRequest, Audience, SourceRef
from assistant.shared_state import SharedRateLimiter, SharedSeen, shared_state_from_url
from assistant.store import Store
from assistant.workers import Busy
from bots.slack.audience import SharedChannels
from bots.slack.channels import ChannelConfig
from bots.slack.guards import RateLimiter, SeenCache


class AnswerPipeline(Protocol):
    """The part of ``assistant.pipeline.AnswerPipeline`` this channel uses."""

    def astream(self, request: AnswerRequest) -> AsyncIterator[AnswerEvent]: ...


@dataclass(frozen=True)
class AnswerRecord:
    """An answer as shown in Slack: what feedback, escalation and "Post to channel" need."""

    answer_id: str
    question: str
    answer: str
    sources: list[SourceRef]
    audience: Audience
    channel: str
    user: str | None
    fallback: bool = False
    abstained: bool = False
    conversation_id: str | None = None
    message_ts: str | None = None


class AnswerSlots:
    """Slack's share of the answer work: ``limit`` answers at once, ``waiting`` more in line.

    A question past that gets :class:`~assistant.workers.Busy` at once ("busy, try again" in
    the thread) instead of joining an unbounded pile of waiting tasks. The pipeline's shared
    worker pool bounds all channels together and may refuse with ``Busy`` too.
    """

    def __init__(self, limit: int, *, waiting: int) -> None:
        self.limit = limit
        self.waiting = waiting
        self._semaphore: asyncio.Semaphore | None = None  # made on first use, in the serving loop
        self._queued = 0

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.limit)
        semaphore = self._semaphore
        if semaphore.locked() and self._queued >= self.waiting:
            raise Busy(detail=f"Slack: {self.limit} answering, {self._queued} waiting")
        self._queued += 1
        try:
            await semaphore.acquire()
        finally:
            self._queued -= 1
        try:
            yield
        finally:
            semaphore.release()


class AnswerCache:
    """Recent answers by turn id. The store keeps question and answer text for ever; this
    adds the rendered sources, so an escalation can list them without re-running retrieval."""

    def __init__(self, max_items: int = 2000) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, AnswerRecord] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, record: AnswerRecord) -> None:
        with self._lock:
            self._items[record.answer_id] = record
            self._items.move_to_end(record.answer_id)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def get(self, answer_id: str) -> AnswerRecord | None:
        with self._lock:
            return self._items.get(answer_id)


@dataclass
class SlackDeps:
    settings: Settings
    pipeline: AnswerPipeline
    store: Store
    channels: ChannelConfig
    seen_events: SeenCache | SharedSeen  # SharedSeen/SharedRateLimiter: in Redis (ASSISTANT_REDIS_URL)
    seen_messages: SeenCache | SharedSeen
    user_limits: RateLimiter | SharedRateLimiter
    channel_limits: RateLimiter | SharedRateLimiter
    shared: SharedChannels = field(default_factory=lambda: SharedChannels(300.0))
    answers: AnswerCache = field(default_factory=AnswerCache)
    streaming_available: bool = True  # turned off the first time Slack refuses chat.startStream
    slots: AnswerSlots = field(default_factory=lambda: AnswerSlots(4, waiting=32))

    @classmethod
    def build(cls, settings: Settings, *, pipeline: AnswerPipeline, store: Store) -> SlackDeps:
        slack = settings.slack
        channels = ChannelConfig.load(slack.channels)
        if slack.channels is not None and any(p.prompt for p in channels.channels.values()):
            from assistant.prompts import load_prompts

            channels.check_prompts(load_prompts(settings.llm.prompts_dir), slack.channels)
        shared = shared_state_from_url(settings.redis_url)
        return cls(
            settings=settings, pipeline=pipeline, store=store,
            channels=channels,
            # With Redis, a retry that lands on another replica is still recognised, and limits
            # count across replicas; without, this process remembers (one Slack worker).
            seen_events=shared.seen("slack:events", slack.dedupe_ttl_s) if shared
            else SeenCache(slack.dedupe_ttl_s),
            seen_messages=shared.seen("slack:messages", slack.dedupe_ttl_s) if shared
            else SeenCache(slack.dedupe_ttl_s),
            user_limits=shared.per_minute("slack:user", slack.rate_per_minute_user) if shared
            else RateLimiter(slack.rate_per_minute_user),
            channel_limits=shared.per_minute("slack:channel", slack.rate_per_minute_channel) if shared
            else RateLimiter(slack.rate_per_minute_channel),
            shared=SharedChannels(slack.shared_channel_ttl_s),
            slots=AnswerSlots(slack.max_concurrent_answers, waiting=slack.answer_queue),
            streaming_available=slack.streaming != "update",
        )

