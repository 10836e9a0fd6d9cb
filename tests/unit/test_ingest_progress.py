"""What a nightly ingest writes to its log while it runs without a terminal."""

from __future__ import annotations

import logging

import pytest

from ingest.cli import LogProgress


def test_a_long_phase_logs_how_far_it_got_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    """One line at the start of a phase was all a cron log showed of an 8-minute embedding step."""
    now = [0.0]
    progress = LogProgress(every_s=30.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="ingest.cli"):
        progress.start("embedding", 13352)
        for done, at in ((512, 10.0), (4096, 31.0), (4608, 40.0), (9000, 62.0)):
            now[0] = at
            progress.advance(done)
    assert [r.getMessage() for r in caplog.records] == [
        "embedding (13,352 items)", "embedding: 4,096 of 13,352 (31%)", "embedding: 9,000 of 13,352 (67%)"]


def test_a_phase_without_a_total_logs_the_count_alone(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    progress = LogProgress(every_s=1.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="ingest.cli"):
        progress.start("loading", None)
        now[0] = 5.0
        progress.advance(120)
    assert [r.getMessage() for r in caplog.records] == ["loading", "loading: 120"]
