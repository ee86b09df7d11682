"""A manual clock shared by the local server and its clients, so that tests wait without waiting."""

from __future__ import annotations

import threading


class ManualClock:
    """Time that moves only when told: ``sleep`` advances it instead of blocking.

    :param start_s: initial time in seconds since the epoch (UTC).
    """

    def __init__(self, start_s: float) -> None:
        self._now = float(start_s)
        self._lock = threading.Lock()
        #: Every ``sleep`` requested, in seconds, in order.
        self.sleeps: list[float] = []

    def time(self) -> float:
        """Current time in seconds since the epoch (a ``time.time`` stand-in)."""
        with self._lock:
            return self._now

    def ms(self) -> int:
        """Current time in UTC milliseconds, rounded (a server clock)."""
        with self._lock:
            return round(self._now * 1000)

    def sleep(self, seconds: float) -> None:
        """Record the sleep and advance the clock by it (a ``time.sleep`` stand-in)."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Move the clock forward without recording a sleep."""
        with self._lock:
            self._now += max(0.0, seconds)
