"""In-memory guards: remember what was handled (Slack retries) and how often people ask.

Both live in one process. Several replicas behind one Slack app would each keep their own,
so run Socket Mode as one process, or put HTTP replicas behind sticky routing by team.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class SeenCache:
    """Keys seen within ``ttl_s``: an event id or message handled once is never handled again."""

    def __init__(self, ttl_s: float, *, max_items: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        """Marks ``key`` as seen; True only for the first caller within the TTL."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True

    def _expire(self, now: float) -> None:
        while self._seen:
            oldest, seen_at = next(iter(self._seen.items()))
            if now - seen_at <= self.ttl_s and len(self._seen) < self.max_items:
                break
            del self._seen[oldest]


class RateLimiter:
    """Sliding one-minute window per key (a user or a channel)."""

    def __init__(self, per_minute: int, *, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self.window_s:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle keys so the map cannot grow without bound
                for idle in [k for k, v in self._hits.items() if not v or now - v[-1] >= self.window_s]:
                    del self._hits[idle]
            return True

    def retry_after_s(self, key: str) -> float:
        with self._lock:
            hits = self._hits.get(key)
            if not hits:
                return 0.0
            return max(0.0, self.window_s - (self._clock() - hits[0]))
