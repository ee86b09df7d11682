"""``KernelPicker``: keeps to the faster kernel by measured time, re-timing the other one with backoff."""

from __future__ import annotations

from collections.abc import Callable

from envs.kernel_choice import KernelPicker


class FakeKernels:
    """Two kernels whose calls take ``cost[k]`` seconds on a fake clock; records which one ran."""

    def __init__(self, cost: list[float]) -> None:
        self.now = 0.0
        self.cost = cost
        self.calls: list[int] = []

    def clock(self) -> float:
        return self.now

    def kernel(self, k: int) -> Callable[..., None]:
        def run(*_: object) -> None:
            self.calls.append(k)
            self.now += self.cost[k]

        return run


def test_switches_to_the_faster_kernel_and_backs_off_probing_the_slower() -> None:
    fake = FakeKernels([1.0, 0.25])
    kernels = (fake.kernel(0), fake.kernel(1))
    picker = KernelPicker(kernels, probe_interval=2, max_interval=8, clock=fake.clock)
    for _ in range(40):
        picker()
    # Call 2 probes kernel 1 (0.25 s < 1.0 s): switch. Then kernel 0 is probed after 2, 4, 8, 8, ... calls.
    probes = [n for n, k in enumerate(fake.calls) if k == 0][1:]
    assert probes == [3, 7, 15, 23, 31, 39]
    assert picker.active == 1
    assert picker.seconds == [1.0, 0.25]


def test_follows_a_change_of_load_within_max_interval_calls() -> None:
    fake = FakeKernels([1.0, 0.25])
    kernels = (fake.kernel(0), fake.kernel(1))
    picker = KernelPicker(kernels, probe_interval=2, max_interval=8, clock=fake.clock)
    for _ in range(40):
        picker()
    fake.cost = [1.0, 4.0]  # the parallel kernel collapses (other processes took the cores)
    for _ in range(20):
        picker()
    # Calls 40-46 run kernel 1 (its estimate climbs 0.25 -> 1.0 -> 1.6 -> ... -> 3.2 at 20 % a call); the
    # probe of kernel 0 at call 47 (1.0 s) wins; kernel 1 is then probed at 49 and 53 and loses.
    assert [n for n in range(40, 60) if fake.calls[n] == 1] == [40, 41, 42, 43, 44, 45, 46, 49, 53]
    assert picker.active == 0


def test_one_kernel_is_called_without_timing() -> None:
    fake = FakeKernels([1.0])
    picker = KernelPicker((fake.kernel(0),), clock=fake.clock)
    picker()
    picker()
    assert fake.calls == [0, 0]
    assert picker.seconds == [0.0]
