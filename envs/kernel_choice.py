"""``KernelPicker``: step with whichever of the serial and the parallel kernel is faster right now.

Both kernels give identical results, so the choice is a matter of speed only, and that depends on the
machine's load more than on N: on idle cores the parallel kernel wins for large batches, but every call ends
in a join that waits for all of numba's threads, and when other processes hold the cores a worker may wait
a whole scheduler slice (milliseconds) for a CPU, making it several times slower than the serial kernel on
the calling thread. The picker times every call (``perf_counter``, well under a microsecond) and keeps the
faster kernel, re-timing the other one now and then: first after ``probe_interval`` calls, the interval
doubling (up to ``max_interval``) each time the probe loses, so a losing kernel costs at most about
``(its time - the winner's) / max_interval`` per call, and a change of load is noticed within
``max_interval`` calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

#: Weight of a new timing in the running estimate of the kernel in use.
SMOOTHING = 0.2


class KernelPicker:
    """Calls one of ``kernels`` (same arguments, same results) and keeps to the fastest by measured time.

    :param kernels: interchangeable kernels, the first one used first (put the serial kernel first).
    :param probe_interval: calls between two timings of the kernel not in use, at first and after a switch.
    :param max_interval: the longest such gap, reached by doubling while the probed kernel keeps losing.
    :param clock: seconds as a float (``time.perf_counter``; tests pass a fake one).
    """

    def __init__(
        self,
        kernels: Sequence[Callable[..., None]],
        probe_interval: int = 8,
        max_interval: int = 512,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not kernels:
            raise ValueError("KernelPicker needs at least one kernel")
        self.kernels = tuple(kernels)
        self.probe_interval = probe_interval
        self.max_interval = max_interval
        self.clock = clock
        #: Seconds per call: a running estimate for the kernel in use, the last timing for the others.
        self.seconds = [0.0] * len(self.kernels)
        self.active = 0
        self._interval = probe_interval
        self._countdown = probe_interval
        self._probe = 0

    def __call__(self, *args: Any) -> None:
        """Run one kernel on ``args``."""
        if len(self.kernels) == 1:
            self.kernels[0](*args)
            return
        self._countdown -= 1
        if self._countdown > 0:
            start = self.clock()
            self.kernels[self.active](*args)
            elapsed = self.clock() - start
            old = self.seconds[self.active]
            self.seconds[self.active] = elapsed if old == 0.0 else old + SMOOTHING * (elapsed - old)
            return
        self._probe = (self._probe + 1) % len(self.kernels)
        if self._probe == self.active:
            self._probe = (self._probe + 1) % len(self.kernels)
        start = self.clock()
        self.kernels[self._probe](*args)
        elapsed = self.clock() - start
        self.seconds[self._probe] = elapsed
        if elapsed < self.seconds[self.active]:
            self.active = self._probe
            self._interval = self.probe_interval
        else:
            self._interval = min(2 * self._interval, self.max_interval)
        self._countdown = self._interval
