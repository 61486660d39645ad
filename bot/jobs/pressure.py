"""Back-pressure: how hard this process is pressed, told to its job runner.

Two things press it. The Slack and VoIPbin requests being answered at its front door
(``web.FrontDoor`` counts them): while they queue, the runner steps back (``pressed``), so the
CPU goes to answering them; every request is recorded before its answer, so nothing waits but
the jobs. And the jobs that only wait for Slack's pacing (the messenger's ``Pacer`` counts
them, ``pacing_wait``): they hold no resource but a place in line, so the runner does not count
them against its concurrency (``waiting``). The runner is woken (``listen``) when the last
request has been answered and when a job starts waiting for its turn, to start another at once.

One object per process, built by ``bot.components`` and given to the front door, the Slack
messenger's pacer and the runner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ClassVar


class BackPressure:
    """The requests in flight at the front door and the jobs waiting for a pacing turn."""

    # This many requests in flight at once means they are arriving faster than they are
    # answered; one or two at a time is normal traffic.
    PRESSURE: ClassVar[int] = 4

    # Pressure lasts this long after requests last queued: under a burst, concurrent
    # requests wait on one shared commit and are answered together, so the count drops to
    # zero for an instant between batches; without the hold, jobs would rush in there.
    HOLD_SECONDS: ClassVar[float] = 0.25

    def __init__(self) -> None:
        self.requests = 0
        self.waiting = 0
        self._pressed_at = float("-inf")
        self._wake: Callable[[], None] = lambda: None

    def listen(self, wake: Callable[[], None]) -> None:
        """``wake`` (the runner's) is called when the last request in flight is answered
        and when a job starts waiting for its pacing turn."""
        self._wake = wake

    def request_started(self) -> None:
        self.requests += 1
        if self.requests >= self.PRESSURE:
            self._pressed_at = time.monotonic()

    def request_answered(self) -> None:
        self.requests -= 1
        if self.requests == 0:
            self._wake()

    @contextmanager
    def pacing_wait(self) -> Iterator[None]:
        """A job waits for its pacing turn inside this block: counted in ``waiting``."""
        self.waiting += 1
        self._wake()
        try:
            yield
        finally:
            self.waiting -= 1

    def pressed(self) -> bool:
        """True while requests queue at the front door (and ``HOLD_SECONDS`` after)."""
        return (
            self.requests >= self.PRESSURE
            or time.monotonic() - self._pressed_at < self.HOLD_SECONDS
        )
