"""TensorBoard logging with one tag set for every agent: RL scalars under ``rl/``, trading under ``trading/``.

One log root per experiment (``<experiment dir>/tensorboard``), one run (sub-folder) per agent and seed, so
``tensorboard --logdir <experiment dir>/tensorboard`` overlays every agent of the experiment. A training run
``<run>`` logs ``rl/*`` and ``coverage/*``; its evaluations log ``trading/*`` into ``<run>/validation`` and
``<run>/train`` (the last bars of the training split), so the two curves overlay and the gap between them
(overfitting) shows at a glance; ``asterrl evaluate`` logs into ``<run>/<split>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt
from torch.utils.tensorboard import SummaryWriter

from asterrl.backtest.metrics import TradingMetrics
from envs.coverage import CoverageSummary

#: TensorBoard tag of each trading metric (identical for every agent).
TRADING_TAGS: dict[str, str] = {
    "net_return": "trading/net_return",
    "sharpe": "trading/sharpe",
    "sortino": "trading/sortino",
    "max_drawdown": "trading/max_drawdown",
    "turnover": "trading/turnover",
    "fees_paid": "trading/fees_paid",
    "funding_paid": "trading/funding_paid",
    "time_flat": "trading/time_flat",
    "trade_count": "trading/trade_count",
}
ACTION_HISTOGRAM_TAG = "trading/actions"

#: RL scalars every trainer reports (RLlib and SB3 alike), by key of the trainer's result dict.
RL_TAGS: dict[str, str] = {
    "episode_return_mean": "rl/episode_return_mean",
    "episode_len_mean": "rl/episode_len_mean",
    "policy_loss": "rl/policy_loss",
    "vf_loss": "rl/vf_loss",
    "entropy": "rl/entropy",
    "kl": "rl/kl",
    "env_steps_per_s": "rl/env_steps_per_s",
    "env_steps": "rl/env_steps",
}


class RunWriter:
    """Writes one TensorBoard run: ``<log_root>/<run_name>``."""

    def __init__(self, log_root: Path, run_name: str, purge_step: int | None = None) -> None:
        """:param purge_step: hide every point of this run at or after this step (a resumed run writes
        the steps after its checkpoint again)."""
        self.path = Path(log_root) / run_name
        self.path.mkdir(parents=True, exist_ok=True)
        self._writer = SummaryWriter(log_dir=str(self.path), purge_step=purge_step)

    def rl_scalars(self, values: Mapping[str, float], step: int) -> None:
        """Log the RL scalars present in ``values`` (keys of ``RL_TAGS``) at env step ``step``."""
        for key, tag in RL_TAGS.items():
            value = values.get(key)
            if value is not None and math.isfinite(float(value)):
                self._writer.add_scalar(tag, float(value), step)

    def trading(
        self,
        metrics: TradingMetrics,
        step: int,
        actions: npt.NDArray[np.float64] | npt.NDArray[np.int64] | None = None,
        n_actions: int | None = None,
        prefix: str = "",
    ) -> None:
        """Log the trading metrics of an evaluation and the histogram of its actions at ``step``.

        :param prefix: prepended to every tag (e.g. ``"train_"`` for training-episode figures); the
            evaluation figures use no prefix, so every agent shares the tags.
        :param n_actions: number of discrete actions (bins centred on each index); ``None``: continuous.
        """
        for key, value in metrics.as_dict().items():
            self._writer.add_scalar(prefix + TRADING_TAGS[key], value, step)
        if actions is not None and np.size(actions) > 0:
            values = np.asarray(actions, dtype=np.float64).reshape(-1)
            bins: npt.NDArray[np.float64] | str = (
                np.arange(n_actions + 1, dtype=np.float64) - 0.5 if n_actions else "auto"
            )
            self._writer.add_histogram(prefix + ACTION_HISTOGRAM_TAG, values, step, bins=bins)

    def coverage(self, summary: CoverageSummary, step: int) -> None:
        """Log how much of the training split the episodes have covered (``coverage/*``) at ``step``."""
        for key, value in summary.as_dict().items():
            self._writer.add_scalar(f"coverage/{key}", value, step)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self._writer.add_scalar(tag, value, step)

    def text(self, tag: str, text: str, step: int = 0) -> None:
        self._writer.add_text(tag, text, step)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a TensorBoard run as ``tag -> [(step, value), ...]`` (for tests and reports)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def has_point(run_dir: Path, tag: str, step: int) -> bool:
    """Whether the TensorBoard run at ``run_dir`` already holds a point of ``tag`` at ``step``."""
    if not run_dir.is_dir():
        return False
    return any(point_step == step for point_step, _ in read_scalars(run_dir).get(tag, []))


def read_histogram_tags(run_dir: Path) -> list[str]:
    """Histogram tags of a TensorBoard run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return list(acc.Tags()["histograms"])
