"""A line on the console as each trial ends (imports Ray: the leading underscore keeps Hydra's plugin
scanner from importing it; the sweeper imports it when a sweep starts)."""

from collections.abc import Mapping, Sequence
from typing import Any

from ray import tune


class TrialLog(tune.Callback):
    """Prints ``job <num> <key=value ...>: <status>[: <error>] (<seconds> s)`` when a trial ends.

    :param jobs: each grid point (the axes' values as text) -> its Hydra job number.
    :param axes: the swept keys, in the order of the points' values.
    """

    def __init__(self, jobs: Mapping[tuple[str, ...], int], axes: Sequence[str]) -> None:
        self.jobs = dict(jobs)
        self.axes = tuple(axes)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._line(trial, trial.last_result or {})

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._line(trial, {"status": "failed", "error": "the trial raised (see its folder under tune/)"})

    def _line(self, trial: Any, result: Mapping[str, Any]) -> None:
        point = tuple(str(trial.config[key]) for key in self.axes)
        where = " ".join(f"{key}={value}" for key, value in zip(self.axes, point, strict=True))
        outcome = str(result.get("status", "failed"))
        if result.get("error"):
            outcome += f": {result['error']}"
        seconds = result.get("time_total_s")
        took = f" ({seconds:.0f} s)" if isinstance(seconds, int | float) else ""
        print(f"  job {self.jobs[point]} {where}: {outcome}{took}", flush=True)
