"""State that several serving replicas must agree on, in Redis when ``ASSISTANT_REDIS_URL`` is set.

One process keeps rate limits, daily quotas, Slack event de-duplication and revoked widget
sessions in its own memory (``bots/web/ratelimit.py``, ``bots/slack/guards.py``). With two
widget replicas each would grant the full quota, and a Slack retry landing on the other
replica would be answered twice. With a Redis URL, the same objects here keep that state in
Redis instead:

- rate limits and quotas use the ``limits`` library's Redis storage (moving windows, the same
  semantics as the in-memory sliding windows; the daily quota is a fixed window per UTC day);
- "seen" keys (Slack event ids, message timestamps) are one ``SET NX EX`` each, so exactly one
  replica wins a retry;
- a revoked session id is a key that expires when the session would have anyway.

Each class has the same methods as its in-memory twin, so callers do not change. When Redis
is unreachable the guards fail *open* (allow, treat as first time, not revoked) and log it:
an outage of the limiter must not take the assistant down with it. Calls are synchronous with
a 0.5 s socket timeout (a loopback or same-zone Redis answers in well under a millisecond).
Nothing connects at import or construction; the first call does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger(__name__)

KEY_PREFIX = "assistant"


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class SharedState:
    """One Redis connection pool and one ``limits`` storage for a process; built by the factory."""

    def __init__(self, url: str, *, namespace: str = KEY_PREFIX) -> None:
        self.url = url
        self.namespace = namespace
        self._client: Any = None
        self._storage: Any = None
        self._lock = threading.Lock()
        self._warned_at = 0.0

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        import redis
                    except ImportError as exc:  # pragma: no cover - a dependency of the redis extra
                        from assistant.errors import ConfigError

                        raise ConfigError("ASSISTANT_REDIS_URL is set but the redis client is not installed",
                                          hint='pip install "support-assistant[redis]"') from exc
                    self._client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                                        health_check_interval=30)
        return self._client

    @property
    def storage(self) -> Any:
        if self._storage is None:
            with self._lock:
                if self._storage is None:
                    from limits.storage import storage_from_string

                    self._storage = storage_from_string(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return self._storage

    def key(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except _redis_errors():
            return False

    def unavailable(self, what: str, exc: BaseException) -> None:
        """Log an outage at most once a minute per process (a down Redis would flood the log)."""
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            log.warning("redis unavailable (%s), failing open: %s", what, exc)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # The guards, named by what they count: one key space each.
    def window(self, name: str, limit: int, window_s: float) -> SharedWindow:
        return SharedWindow(self, name, limit, window_s)

    def daily(self, name: str, limit: int) -> SharedDailyQuota:
        return SharedDailyQuota(self, name, limit)

    def seen(self, name: str, ttl_s: float) -> SharedSeen:
        return SharedSeen(self, name, ttl_s)

    def per_minute(self, name: str, per_minute: int) -> SharedRateLimiter:
        return SharedRateLimiter(self.window(name, per_minute, 60))

    def revocations(self) -> SharedRevocations:
        return SharedRevocations(self)


class SharedWindow:
    """At most ``limit`` hits per ``window_s`` per key across every replica (``SlidingWindow.hit``)."""

    def __init__(self, state: SharedState, name: str, limit: int, window_s: float) -> None:
        from limits import RateLimitItemPerSecond
        from limits.strategies import MovingWindowRateLimiter

        self.state = state
        self.name = name
        self.limit = limit
        self.window_s = window_s
        self._item = RateLimitItemPerSecond(limit, max(1, round(window_s)), namespace=state.namespace)
        self._limiter: MovingWindowRateLimiter | None = None

    @property
    def limiter(self) -> Any:
        if self._limiter is None:
            from limits.strategies import MovingWindowRateLimiter

            self._limiter = MovingWindowRateLimiter(self.state.storage)
        return self._limiter

    def hit(self, key: str) -> float | None:
        """Count one hit; ``None`` when allowed, else seconds until one would be."""
        try:
            if self.limiter.hit(self._item, self.name, key):
                return None
            reset = self.limiter.get_window_stats(self._item, self.name, key).reset_time
        except _redis_errors() as exc:
            self.state.unavailable(f"limit {self.name}", exc)
            return None
        return max(float(reset) - time.time(), 0.001)


class SharedDailyQuota:
    """At most ``limit`` hits per key per UTC day across every replica (``DailyQuota.hit``)."""

    def __init__(self, state: SharedState, name: str, limit: int, *,
                 clock: Callable[[], float] = time.time) -> None:
        from limits import RateLimitItemPerDay

        self.state = state
        self.name = name
        self.limit = limit
        self._clock = clock
        self._item = RateLimitItemPerDay(limit, namespace=state.namespace)
        self._limiter: Any = None

    def hit(self, key: str) -> float | None:
        from limits.strategies import FixedWindowRateLimiter

        now = datetime.fromtimestamp(self._clock(), UTC)
        day = now.strftime("%Y-%m-%d")  # the day is in the key: the quota resets at midnight UTC
        try:
            if self._limiter is None:
                self._limiter = FixedWindowRateLimiter(self.state.storage)
            if self._limiter.hit(self._item, self.name, day, key):
                return None
        except _redis_errors() as exc:
            self.state.unavailable(f"quota {self.name}", exc)
            return None
        midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
        return (midnight - now).total_seconds()


class SharedRateLimiter:
    """Slack's ``RateLimiter`` contract (``allow``/``retry_after_s``) on a shared window."""

    def __init__(self, window: SharedWindow) -> None:
        self.window = window
        self.per_minute = window.limit

    def allow(self, key: str) -> bool:
        return self.window.hit(key) is None

    def retry_after_s(self, key: str) -> float:
        try:
            stats = self.window.limiter.get_window_stats(self.window._item, self.window.name, key)
        except _redis_errors() as exc:
            self.window.state.unavailable(f"limit {self.window.name}", exc)
            return 0.0
        return 0.0 if stats.remaining > 0 else max(0.0, float(stats.reset_time) - time.time())


class SharedSeen:
    """``SeenCache.first_time`` across replicas: the first ``SET NX`` wins, for ``ttl_s``."""

    def __init__(self, state: SharedState, name: str, ttl_s: float) -> None:
        self.state = state
        self.name = name
        self.ttl_s = ttl_s

    def first_time(self, key: str) -> bool:
        try:
            return bool(self.state.client.set(self.state.key("seen", self.name, key), b"1", nx=True,
                                              px=max(1, int(self.ttl_s * 1000))))
        except _redis_errors() as exc:
            self.state.unavailable(f"seen {self.name}", exc)
            return True


class Revocations(Protocol):
    """Ended widget sessions: refused until ``until`` (when they would have expired anyway)."""

    def revoke(self, sid: str, until: float) -> None: ...
    def is_revoked(self, sid: str) -> bool: ...


class SharedRevocations:
    """Revoked widget sessions: a key per session id that lives until the session would have expired."""

    def __init__(self, state: SharedState) -> None:
        self.state = state

    def revoke(self, sid: str, until: float) -> None:
        ttl_ms = int((until - time.time()) * 1000)
        if ttl_ms > 0:
            self.state.client.set(self.state.key("revoked", sid), b"1", px=ttl_ms)

    def is_revoked(self, sid: str) -> bool:
        try:
            return bool(self.state.client.exists(self.state.key("revoked", sid)))
        except _redis_errors() as exc:
            self.state.unavailable("revocations", exc)
            return False


class MemoryRevocations:
    """The one-process default: revoked session ids in a dict, forgotten when they expire."""

    def __init__(self, *, clock: Callable[[], float] = time.time, max_items: int = 100_000) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()
        self.max_items = max_items

    def revoke(self, sid: str, until: float) -> None:
        with self._lock:
            now = self._clock()
            if len(self._until) >= self.max_items:
                self._until = {k: v for k, v in self._until.items() if v > now}
            if until > now:
                self._until[sid] = until

    def is_revoked(self, sid: str) -> bool:
        with self._lock:
            until = self._until.get(sid)
            if until is None:
                return False
            if until <= self._clock():
                del self._until[sid]
                return False
            return True


def shared_state_from_url(url: str | None) -> SharedState | None:
    """``None`` (the in-memory defaults) unless a Redis URL is configured."""
    return SharedState(url) if url else None
