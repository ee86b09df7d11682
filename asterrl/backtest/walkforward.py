"""Walk-forward backtests: fit on a training window, trade the next window, move on; one stitched
out-of-sample account.

The folds are ``asterrl.forecast.folds`` plans over the backtest's bars (``rolling``: a training window of
fixed length; ``anchored``: every fold trains from the first bar), with a purge of ``1 + purge`` bars
between each training window and its test window (a decision's return is the next bar's, so the last
training return ends before the first test decision) and the embargo after each test span. The test
windows follow each other without gaps, so the out-of-sample run is one account over all of them: at each
test window's first bar the targets switch to that fold's fitted choice (``stitch``), and the backtest of
the spliced targets is the stitched out-of-sample equity.

What is fitted per fold is the caller's: ``select_settings`` picks the best setting of a rule-agent
parameter grid on each training window (the grid backtested in one pass, ``run_targets``); the walk-forward
command also fits forecasters or fine-tunes a PPO checkpoint per fold.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.backtest.engine import BacktestSetup, run_targets
from asterrl.backtest.result import BacktestResult
from asterrl.config_values import check_int, check_number
from asterrl.errors import ConfigError
from asterrl.forecast.config import FoldConfig, FoldScheme
from asterrl.forecast.folds import FoldPlan, make_fold_plan

FloatArray = npt.NDArray[np.float64]
SCHEMES = {"rolling": FoldScheme.ROLLING, "anchored": FoldScheme.EXPANDING}
OBJECTIVES = ("sharpe", "net_return", "calmar")
FITS = ("grid", "forecast", "ppo")


@dataclass
class WalkForwardConfig:
    """Settings of ``asterrl walkforward`` (``walkforward.*``).

    :param fit: what is fitted on each training window: ``grid`` (the best setting of the rule agent's
        ``backtest.grid``), ``forecast`` (the forecasters of ``forecast.*``, traded on their sign) or
        ``ppo`` (a fine-tune of ``backtest.checkpoint``).
    :param scheme: ``rolling`` (training windows of ``train_bars``) or ``anchored`` (from the first bar).
    :param n_folds: test windows.
    :param min_train_fraction: share of the bars before the first test window.
    :param train_bars: bars of a rolling training window (0: as long as the first fold's).
    :param purge: bars dropped between a training window and its test window, on top of the one a
        decision's return spans.
    :param embargo: bars after each test window kept out of any later training (>= 1).
    :param objective: what picks a grid setting on a training window: ``sharpe``, ``net_return`` or
        ``calmar`` (annualised return over maximum drawdown).
    :param forecast_threshold: ``fit=forecast``: trade only forecasts beyond this many training-label
        standard deviations.
    :param ppo_iterations: ``fit=ppo``: PPO iterations of each fold's fine-tune.
    """

    fit: str = "grid"
    scheme: str = "rolling"
    n_folds: int = 6
    min_train_fraction: float = 0.4
    train_bars: int = 0
    purge: int = 0
    embargo: int = 1
    objective: str = "sharpe"
    forecast_threshold: float = 0.0
    ppo_iterations: int = 2

    def validate(self) -> WalkForwardConfig:
        for key, value, allowed in (("fit", self.fit, FITS), ("scheme", self.scheme, tuple(SCHEMES)),
                                    ("objective", self.objective, OBJECTIVES)):  # fmt: skip
            if value not in allowed:
                raise ConfigError(f"walkforward.{key}={value!r}; expected one of {', '.join(allowed)}")
        check_int("walkforward.n_folds", self.n_folds, 1)
        check_number("walkforward.min_train_fraction", self.min_train_fraction, 0.0, 1.0, low_open=True)
        check_int("walkforward.train_bars", self.train_bars, 0)
        check_int("walkforward.purge", self.purge, 0)
        check_int("walkforward.embargo", self.embargo, 1)
        check_number("walkforward.forecast_threshold", self.forecast_threshold, 0.0, math.inf)
        check_int("walkforward.ppo_iterations", self.ppo_iterations, 1)
        return self

    def fold_config(self) -> FoldConfig:
        """The fold plan settings of ``asterrl.forecast.folds`` (the validation slice is a single bar: a
        training window here is all of ``[fit_start, val_end)``)."""
        return FoldConfig(SCHEMES[self.scheme], self.n_folds, self.min_train_fraction, self.train_bars,
                          self.purge, self.embargo, 0.01)  # fmt: skip


def fold_plan(setup: BacktestSetup, config: WalkForwardConfig) -> FoldPlan:
    """The folds over the backtest's bars ``[start_bar, end_bar]``."""
    n = setup.end_bar + 1
    return make_fold_plan(
        n, setup.start_bar, 1, config.fold_config(), config.embargo, setup.market.timestamps[:n]
    )


def objective_values(equity: FloatArray, objective: str, bars_per_year: float) -> FloatArray:
    """The objective of each column of an ``(points, sets)`` equity matrix."""
    e = np.asarray(equity, dtype=np.float64)
    r = e[1:] / np.where(e[:-1] > 0.0, e[:-1], 1.0) - 1.0
    if objective == "net_return":
        return e[-1] / e[0] - 1.0
    if objective == "sharpe":
        sd = r.std(axis=0, ddof=1)
        return np.where(sd > 1e-15, r.mean(axis=0) / np.where(sd > 1e-15, sd, 1.0), 0.0) * math.sqrt(
            bars_per_year
        )
    years = r.shape[0] / bars_per_year
    growth = np.where(e[-1] > 0.0, (np.maximum(e[-1], 1e-300) / e[0]) ** (1.0 / years) - 1.0, -1.0)
    drawdown = (1.0 - e / np.maximum.accumulate(e, axis=0)).max(axis=0)
    return np.where(drawdown > 0.0, growth / np.where(drawdown > 0.0, drawdown, 1.0), growth * 1e6)


@dataclass(frozen=True)
class FoldChoice:
    """One fold: its training and test windows (bar indices, test end exclusive), the setting chosen and
    its training-window score."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int
    choice: int
    train_score: float
    label: str = ""


def select_settings(
    setup: BacktestSetup, targets: FloatArray, plan: FoldPlan, objective: str, labels: list[str] | None = None
) -> list[FoldChoice]:
    """For each fold, the column of ``targets`` (``(bars, settings)`` over all bars) whose backtest on the
    training window scores best (all settings in one pass per fold)."""
    out = []
    for fold in plan.folds:
        start, end = fold.fit_start, fold.val_end - 1
        window = setup.with_span(start, end)
        run = run_targets(window, targets[start:end], record_equity=True)
        assert run.equity is not None
        scores = objective_values(run.equity, objective, setup.bars_per_year)
        best = int(np.argmax(scores))
        test_end = min(fold.test_end, setup.end_bar)
        label = labels[best] if labels else str(best)
        out.append(
            FoldChoice(fold.index, start, end, fold.test_start, test_end, best, float(scores[best]), label)
        )
    return out


def stitch(targets: FloatArray, folds: list[FoldChoice]) -> tuple[FloatArray, int, int]:
    """The spliced target series over the test windows: ``(targets, first decision bar, last bar)``."""
    first, last = folds[0].test_start, folds[-1].test_end
    out = np.zeros(last - first)
    for f in folds:
        out[f.test_start - first : f.test_end - first] = targets[f.test_start : f.test_end, f.choice]
    return out, first, last


@dataclass(frozen=True)
class FoldTable:
    """Per-fold figures of a stitched result."""

    frame: pd.DataFrame
    boundaries: list[int] = field(default_factory=list)


def fold_table(result: BacktestResult, folds: list[FoldChoice], setup: BacktestSetup) -> FoldTable:
    """Per fold: training and test dates, the choice, its training score, and the stitched account's
    return, Sharpe, maximum drawdown and fills inside the test window."""
    ts = setup.market.timestamps
    first = folds[0].test_start
    rows, bounds = [], []
    for f in folds:
        lo, hi = f.test_start - first, f.test_end - first
        e = result.equity[lo : hi + 1]
        r = e[1:] / e[:-1] - 1.0
        sd = float(r.std(ddof=1)) if r.size > 1 else 0.0
        in_fold = (result.fills.timestamp > ts[f.test_start]) & (result.fills.timestamp <= ts[f.test_end])
        rows.append({
            "fold": f.index + 1,
            "train": f"{_day(ts[f.train_start])}..{_day(ts[f.train_end])}",
            "test": f"{_day(ts[f.test_start])}..{_day(ts[f.test_end])}",
            "choice": f.label,
            "train_score": f.train_score,
            "test_return": float(e[-1] / e[0] - 1.0),
            "test_sharpe": float(r.mean() / sd * math.sqrt(setup.bars_per_year)) if sd > 1e-15 else 0.0,
            "test_max_drawdown": float((1.0 - e / np.maximum.accumulate(e)).max()),
            "fills": int(np.count_nonzero(in_fold)),
        })  # fmt: skip
        bounds.append(lo)
    return FoldTable(pd.DataFrame(rows).set_index("fold"), bounds)


def fold_figure(result: BacktestResult, table: FoldTable, objective: str) -> bytes:
    """PNG: the stitched equity with the test windows shaded, and the training score beside the test
    Sharpe of each fold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    when = pd.to_datetime(result.timestamps, unit="ms", utc=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), height_ratios=(2, 1))
    top.plot(when, result.equity, lw=1.0, label="stitched out-of-sample equity")
    if result.benchmark is not None:
        top.plot(when, result.benchmark, lw=0.8, alpha=0.6, label="buy and hold")
    edges = [*table.boundaries, result.equity.size - 1]
    for k in range(len(table.boundaries)):
        top.axvspan(when[edges[k]], when[edges[k + 1]], alpha=0.08 if k % 2 else 0.16, color="tab:blue")
        top.text(when[edges[k]], top.get_ylim()[1], f" {k + 1}: {table.frame['choice'].iloc[k]}", va="top",
                 fontsize=7, rotation=90)  # fmt: skip
    top.set_ylabel("USDT")
    top.legend(loc="lower left", fontsize=8)
    x = np.arange(len(table.frame))
    bottom.bar(x - 0.2, table.frame["train_score"], 0.4, label=f"training {objective}")
    bottom.bar(x + 0.2, table.frame["test_sharpe"], 0.4, label="test Sharpe")
    bottom.set_xticks(x, [str(i) for i in table.frame.index])
    bottom.set_xlabel("fold")
    bottom.axhline(0.0, color="black", lw=0.5)
    bottom.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _day(ms: int) -> str:
    return str(pd.Timestamp(int(ms), unit="ms", tz="UTC").date())
