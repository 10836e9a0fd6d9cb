"""Stop signals during an ingestion run: recorded, raised at once, held while publishing."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

from ingest.interrupts import Interrupts


def test_a_real_sigterm_becomes_a_keyboard_interrupt_and_the_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    interrupts = Interrupts()
    with pytest.raises(KeyboardInterrupt), interrupts.installed():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10_000_000):  # the handler runs at the next bytecode boundary, long before this ends
            pass
        pytest.fail("the signal was not delivered")
    assert interrupts.signum == signal.SIGTERM and interrupts.exit_code == 143
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_signal_inside_held_is_raised_when_the_block_ends() -> None:
    interrupts = Interrupts()
    finished = []
    with pytest.raises(KeyboardInterrupt), interrupts.held():
        interrupts.handle(signal.SIGINT)  # would raise outside held()
        finished.append("publish completed")
    assert finished == ["publish completed"]
    assert interrupts.exit_code == 130


def test_a_swallowed_signal_is_still_seen_by_check() -> None:
    interrupts = Interrupts()
    interrupts.check()  # nothing received: no-op
    with contextlib.suppress(KeyboardInterrupt):  # what a careless library might do
        interrupts.handle(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()
