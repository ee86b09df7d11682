"""Clocks of the local exchange: a manual one tests move by hand, and one running at a chosen speed."""

from __future__ import annotations

import threading
import time


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


class ScaledClock:
    """Market time that runs ``speed`` times faster than the wall clock from ``start_ms``.

    :param start_ms: market time (UTC ms) at creation.
    :param speed: market seconds per wall second (1 = real time).
    """

    def __init__(self, start_ms: int, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("clock speed must be > 0")
        self.start_ms = int(start_ms)
        self.speed = float(speed)
        self._wall0 = time.monotonic()

    def ms(self) -> int:
        """Current market time, UTC ms."""
        return self.start_ms + int((time.monotonic() - self._wall0) * 1000.0 * self.speed)
