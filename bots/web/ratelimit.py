"""Per-session and per-IP rate limits and a per-IP daily quota, kept in process memory.

Why in memory: one server process answers all widget traffic in the default deployment, and
a limiter that needs no Redis is one less moving part. The cost is that counts reset on
restart and are per process. When serving runs as several replicas, set
``ASSISTANT_REDIS_URL``: :class:`WebLimits` then builds the same limits on Redis
(``assistant/shared_state.py``) and they count across all replicas.

Limits are sliding windows (a deque of hit times per key), so a burst cannot straddle a
window edge to get twice the allowance. Idle keys are swept so memory stays bounded by the
number of recently active visitors.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from assistant.shared_state import SharedState


class Limit(Protocol):
    """What routes enforce: ``hit`` returns ``None`` when allowed, else seconds to wait."""

    def hit(self, key: str) -> float | None: ...


class SlidingWindow:
    """At most ``limit`` hits per ``window_s`` seconds for each key."""

    def __init__(self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def hit(self, key: str) -> float | None:
        """Count one hit; returns ``None`` when allowed, else seconds until one would be."""
        now = self._clock()
        with self._lock:
            self._calls += 1
            if self._calls % 1024 == 0:
                self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window_s - now, 0.001)
            hits.append(now)
            return None

    def __len__(self) -> int:
        return len(self._hits)

    def _sweep(self, now: float) -> None:
        stale = [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.window_s]
        for key in stale:
            del self._hits[key]


class DailyQuota:
    """At most ``limit`` hits per key per UTC day; resets at midnight UTC."""

    def __init__(self, limit: int, *, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._clock = clock
        self._day = ""
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        now = datetime.fromtimestamp(self._clock(), UTC)
        with self._lock:
            day = now.strftime("%Y-%m-%d")
            if day != self._day:
                self._day, self._counts = day, {}
            used = self._counts.get(key, 0)
            if used >= self.limit:
                midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
                return (midnight - now).total_seconds()
            self._counts[key] = used + 1
            return None


def retry_after_header(seconds: float) -> dict[str, str]:
    """``Retry-After`` in whole seconds, rounded up so a client that obeys it is let in."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class WebLimits:
    """The limits one web app enforces, built from :class:`~assistant.config.WebSettings`."""

    def __init__(self, *, per_minute_session: int, per_minute_ip: int, daily_quota_ip: int,
                 handoff_per_hour_session: int, shared: SharedState | None = None) -> None:
        # With ``shared`` (Redis) every limit counts across all replicas; without, in this process.
        def window(name: str, limit: int, window_s: float) -> Limit:
            return shared.window(f"web:{name}", limit, window_s) if shared else SlidingWindow(limit, window_s)

        self.chat_session = window("chat_session", per_minute_session, 60)
        self.chat_ip = window("chat_ip", per_minute_ip, 60)
        self.chat_daily_ip: Limit = shared.daily("web:chat_daily_ip", daily_quota_ip) if shared \
            else DailyQuota(daily_quota_ip)
        # Issuing tokens and the small calls get their own per-IP allowance, so a visitor who
        # used up chat can still give feedback or ask for a human. New sessions do not buy more
        # chat: the per-IP chat limit holds whatever the session.
        self.session_ip = window("session_ip", per_minute_ip * 2, 60)
        self.other_ip = window("other_ip", per_minute_ip * 2, 60)
        self.handoff_session = window("handoff_session", handoff_per_hour_session, 3600)
