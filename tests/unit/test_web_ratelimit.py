"""Rate limits and the daily quota: sliding windows, Retry-After, reset at UTC midnight."""

from __future__ import annotations

from datetime import UTC, datetime

from bots.web.ratelimit import DailyQuota, SlidingWindow, retry_after_header


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_window_allows_the_limit_then_says_how_long_to_wait() -> None:
    clock = Clock(1000.0)
    window = SlidingWindow(3, 60, clock=clock)
    assert [window.hit("a") for _ in range(3)] == [None, None, None]
    clock.now += 10
    assert window.hit("a") == 50.0  # the first hit leaves the window 60 s after it happened
    assert window.hit("b") is None  # keys are independent


def test_window_slides_instead_of_resetting_at_a_boundary() -> None:
    clock = Clock(0.0)
    window = SlidingWindow(2, 60, clock=clock)
    window.hit("a")
    clock.now = 59
    window.hit("a")
    clock.now = 61  # a fixed window would allow two more here
    assert window.hit("a") is None
    assert window.hit("a") is not None


def test_idle_keys_are_swept() -> None:
    clock = Clock(0.0)
    window = SlidingWindow(5, 60, clock=clock)
    for i in range(1000):
        window.hit(f"visitor-{i}")
    clock.now = 500
    for _ in range(1024):
        window.hit("active")
    assert len(window) == 1


def test_daily_quota_resets_at_utc_midnight() -> None:
    late = datetime(2026, 3, 1, 23, 59, 0, tzinfo=UTC).timestamp()
    clock = Clock(late)
    quota = DailyQuota(2, clock=clock)
    assert quota.hit("ip") is None
    assert quota.hit("ip") is None
    assert quota.hit("ip") == 60.0
    clock.now = late + 61
    assert quota.hit("ip") is None


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert retry_after_header(0.2) == {"Retry-After": "1"}
    assert retry_after_header(59.01) == {"Retry-After": "60"}
