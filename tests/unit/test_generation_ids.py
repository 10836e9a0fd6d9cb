"""Generation ids sort after the latest one and never repeat, whatever the clock does."""

from __future__ import annotations

import calendar
import time
from pathlib import Path

from assistant import generations


def _clock(*readings: float):
    values = iter(readings)
    return lambda: next(values)


NOON = calendar.timegm(time.strptime("20261130T120000", "%Y%m%dT%H%M%S"))


def _make(data_dir: Path, clock) -> str:
    staging = generations.Staging(data_dir, generations.new_generation_id(data_dir, clock=clock))
    return staging.commit({"ok": True}).name


def test_ids_follow_the_clock_when_it_moves_forward(tmp_path: Path) -> None:
    first = _make(tmp_path, _clock(NOON + 0.25))
    second = _make(tmp_path, _clock(NOON + 1.5))
    assert (first, second) == ("20261130T120000250000Z", "20261130T120001500000Z")


def test_a_clock_that_goes_backwards_still_gives_later_ids_that_never_repeat(tmp_path: Path) -> None:
    made = [_make(tmp_path, _clock(NOON + 3600))]
    for back in (NOON, NOON - 86_400, NOON, NOON + 3600):  # an NTP step back, a restored VM, a repeat
        made.append(_make(tmp_path, _clock(back)))
    assert made == sorted(made) and len(set(made)) == len(made)
    assert made[1] == "20261130T130000000001Z"  # the latest plus one microsecond
    assert made[-1] == "20261130T130000000004Z"
    listed = [g.id for g in generations.list_generations(tmp_path)]
    assert listed == sorted(made, reverse=True)  # newest first, as prune and rollback expect


def test_two_runs_in_one_microsecond_get_different_ids(tmp_path: Path) -> None:
    a = _make(tmp_path, _clock(NOON))
    b = _make(tmp_path, _clock(NOON))
    assert b > a


def test_a_staged_run_and_the_published_pointer_count_as_existing(tmp_path: Path) -> None:
    staging = generations.Staging(tmp_path, generations.new_generation_id(tmp_path, clock=_clock(NOON + 10)))
    nxt = generations.new_generation_id(tmp_path, clock=_clock(NOON))
    assert nxt > staging.id
    generations.publish(tmp_path, "20991231T235959999999Z")  # CURRENT names an id with no directory
    assert generations.new_generation_id(tmp_path, clock=_clock(NOON)) == "21000101T000000000000Z"


def test_hand_made_ids_are_followed_by_a_later_one(tmp_path: Path) -> None:
    (generations.generations_dir(tmp_path) / "zz-manual").mkdir(parents=True)
    nxt = generations.new_generation_id(tmp_path, clock=_clock(NOON))
    assert nxt == "zz-manual.1" and nxt > "zz-manual"
