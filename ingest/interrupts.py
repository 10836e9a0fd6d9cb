"""SIGINT / SIGTERM during an ingestion run: stop cleanly, never publish afterwards, never exit 0.

A nightly run is stopped by Ctrl-C, ``systemctl stop`` or a Kubernetes pod shutdown (SIGTERM).
Python's own handling covers only SIGINT, only when the process did not inherit it ignored
(a job started in the background by a non-interactive shell does), and turns it into a
``KeyboardInterrupt`` that any ``except BaseException`` on the way can swallow. So the run
installs :class:`Interrupts` for both signals, which

* records the signal, so the job checks it again right before publishing and the CLI exits
  with ``128 + signal`` even if some library swallowed the ``KeyboardInterrupt``;
* raises ``KeyboardInterrupt`` at once (the job discards its staging directory on the way out),
  except inside :meth:`Interrupts.held`, the few lines that commit and publish a generation,
  where it is raised as soon as they end: a generation is either published whole, or not at all.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """The stop signals a run received; see the module docstring."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._held = 0

    @property
    def received(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        """What a shell expects from a process stopped by the signal: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + (self.signum or signal.SIGINT)

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        self.signum = signum
        if not self._held:
            raise KeyboardInterrupt

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a stop signal came, even one whose exception was swallowed."""
        if self.signum is not None:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Defer a stop signal until the block ends; it is raised then (if the block succeeded)."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        if not self._held:
            self.check()

    @contextlib.contextmanager
    def installed(self) -> Iterator[Interrupts]:
        """Handle SIGINT and SIGTERM while the block runs (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self.handle) for sig in HANDLED}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
