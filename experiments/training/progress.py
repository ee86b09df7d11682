"""What a training loop watches besides the trainer: Ctrl-C, the best validation figure, the episodes'
coverage of the split, and the progress bar's figures."""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Mapping
from types import FrameType, TracebackType

from envs.coverage import CoverageSummary
from experiments.training.checkpoints import BestSoFar
from experiments.training.config import BEST_METRICS


class StopRequest:
    """Turns the first Ctrl-C (SIGINT) into a request to stop after the current iteration; a second one
    interrupts at once. Outside the main thread (a Tune trial) it does nothing."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: object = None
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._installed = False


class BestTracker:
    """The best value of one validation metric so far (higher or lower is better, per ``BEST_METRICS``)."""

    def __init__(self, metric: str, start: BestSoFar | None = None) -> None:
        self.metric = metric
        self.higher_is_better = BEST_METRICS.get(metric, True)
        self.best = start if start is not None and start.metric == metric else None

    def improves(self, metrics: Mapping[str, float], iteration: int) -> bool:
        """Record ``metrics`` of ``iteration``; whether they beat the best so far (NaN never does)."""
        if not self.metric:
            return False
        value = float(metrics[self.metric])
        if not math.isfinite(value):
            return False
        if self.best is not None:
            better = value > self.best.value if self.higher_is_better else value < self.best.value
            if not better:
                return False
        self.best = BestSoFar(self.metric, value, iteration)
        return True


class CoverageWatch:
    """Keeps the per-iteration coverage log of a run and says when coverage stays too low.

    Only finished episodes count as visited, so the watch judges once the finished episodes have stepped
    through as many bars as the split's tradable bars twice (uniform starts then visit about 86 % of them):
    then a visited share below ``threshold`` gives one warning. Counting the finished episodes' bars, not
    env steps or finished episodes, keeps it quiet while hundreds of accounts are still in their first
    episodes and only a few short ones (stopped by a risk limit) have ended.
    """

    def __init__(self, threshold: float, coverage_range: tuple[int, int, int]) -> None:
        lo, _, split_end = coverage_range
        self.threshold = threshold
        self.enough_bars = 2 * (split_end - lo + 1)
        self.log: list[dict[str, float]] = []
        self.warning: str | None = None

    def update(self, iteration: int, env_steps: int, coverage: CoverageSummary) -> str | None:
        """Log ``coverage``; return the warning the first time coverage is found too low, else ``None``."""
        self.log.append({"iteration": float(iteration), "env_steps": float(env_steps), **coverage.as_dict()})
        judged = coverage.finished_bars >= self.enough_bars
        low = coverage.bars_visited_share < self.threshold
        if self.warning is None and self.threshold > 0.0 and judged and low:
            self.warning = (
                f"after {env_steps} env steps the finished episodes have visited only "
                f"{coverage.bars_visited_share:.1%} of the training split's bars from "
                f"{coverage.distinct_starts} distinct starts (train.min_coverage={self.threshold:g}): "
                "episodes may be repeating the same window"
            )
            return self.warning
        return None

    def record(self) -> dict[str, object]:
        """What ``run.json`` keeps: the log and the warning, if any."""
        return {"coverage": self.log, "coverage_warning": self.warning}


class Postfix:
    """The progress bar's figures: the mean episode return of the last iteration that finished an episode
    (an iteration that finished none keeps the previous figure instead of showing ``nan``), env steps per
    second and coverage."""

    def __init__(self) -> None:
        self.last_return: float | None = None

    def text(self, scalars: Mapping[str, float], coverage: CoverageSummary | None = None) -> str:
        value = scalars.get("episode_return_mean")
        if value is not None and math.isfinite(value):
            self.last_return = float(value)
        parts = []
        if self.last_return is not None:
            parts.append(f"return={self.last_return:+.3f}")
        rate = scalars.get("env_steps_per_s")
        if rate is not None and math.isfinite(rate):
            parts.append(f"{rate:.0f} steps/s")
        if coverage is not None and coverage.finished_episodes:
            parts.append(f"coverage={coverage.bars_visited_share:.0%}")
        return " ".join(parts)
