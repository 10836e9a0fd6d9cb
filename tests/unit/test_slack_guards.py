"""Retry de-duplication and per-key rate limits."""

from __future__ import annotations

from bots.slack.guards import RateLimiter, SeenCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_new_once_within_the_ttl_and_new_again_after() -> None:
    clock = Clock()
    seen = SeenCache(60, clock=clock)
    assert seen.first_time("Ev1") is True
    assert seen.first_time("Ev1") is False
    assert seen.first_time("Ev2") is True
    clock.now += 61
    assert seen.first_time("Ev1") is True


def test_seen_cache_stays_bounded() -> None:
    seen = SeenCache(3600, max_items=100)
    for i in range(1000):
        seen.first_time(f"Ev{i}")
    assert len(seen._seen) <= 100
    assert seen.first_time("Ev999") is False


def test_rate_limit_is_a_sliding_minute_per_key() -> None:
    clock = Clock()
    limits = RateLimiter(2, clock=clock)
    assert limits.allow("U1") and limits.allow("U1")
    assert not limits.allow("U1")
    assert limits.allow("U2"), "another user has their own budget"
    assert 0 < limits.retry_after_s("U1") <= 60
    clock.now += 60
    assert limits.allow("U1")
