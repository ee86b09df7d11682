"""Running the kernel: target series for many parameter sets in one numba pass, or any policy bar by bar.

* ``run_targets``: a ``(steps, sets)`` matrix of targets (fractions of the position scale, one column per
  parameter set or signal) stepped in one numba call, bars outer, sets inner. A grid of thousands of rule
  settings is one call.
* ``run_policy``: a policy decides in Python on every bar from the observation the env would give it (the
  one observation builder, ``asterrl.observation.write_observation``); the step is the same numba function.

Both start each account flat with ``setup.initial_balance`` at ``setup.start_bar`` and stop at
``setup.end_bar``, or earlier when a loss limit halts it, it is liquidated or its equity is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from asterrl.backtest.engine.kernel import run_rows, step_account
from asterrl.backtest.engine.layout import N_FILL, N_STEP, N_TOTAL, Total
from asterrl.backtest.engine.setup import BacktestSetup
from asterrl.errors import DataError
from asterrl.features.matrix import FeatureMatrix
from asterrl.observation import ACCOUNT_FIELDS, nan_free, write_observation
from asterrl.risk.stops import new_stop_state
from asterrl.sim.account import new_state, open_account
from asterrl.sim.layout import N_REPORT, Account, Counter, Market

FloatArray = npt.NDArray[np.float64]
#: A policy's decision at bar ``t`` from its observation there (``None`` without features): an action
#: of the setup's action rule (a level index for discrete actions, else a fraction in [-1, 1]).
Decide = Callable[[int, npt.NDArray[np.float32] | None], float]


@dataclass(frozen=True)
class Accounts:
    """The kernel's state and buffers for ``n`` accounts (``fstate``/``istate`` hold one spare column, the
    scratch copy of an account before its step)."""

    fstate: FloatArray
    istate: npt.NDArray[np.int64]
    stop_state: FloatArray
    report: FloatArray
    scratch: FloatArray
    steps: FloatArray
    fills: FloatArray
    counts: npt.NDArray[np.int64]
    totals: FloatArray

    @classmethod
    def open(cls, setup: BacktestSetup, n: int, record_steps: bool, fill_capacity: int) -> Accounts:
        fstate, istate = new_state(n + 1)
        for i in range(n):
            open_account(i, setup.start_bar, setup.end_bar, setup.initial_balance, fstate, istate,
                         setup.market.values)  # fmt: skip
        steps = np.zeros((setup.steps, n, N_STEP) if record_steps else (0, 0, N_STEP), dtype=np.float64)
        totals = np.zeros((n, N_TOTAL), dtype=np.float64)
        totals[:, Total.FINAL_EQUITY] = setup.initial_balance
        return cls(
            fstate, istate, new_stop_state(n + 1), np.zeros(N_REPORT), np.zeros(N_REPORT), steps,
            np.zeros((fill_capacity, N_FILL), dtype=np.float64), np.zeros(1, dtype=np.int64), totals,
        )  # fmt: skip

    @property
    def fill_rows(self) -> FloatArray:
        """The recorded fills, ordered by account then time."""
        rows = self.fills[: min(int(self.counts[0]), self.fills.shape[0])]
        return rows[np.argsort(rows[:, 0], kind="stable")]


@dataclass(frozen=True)
class TargetRun:
    """A run of many target series.

    :param totals: ``(sets, N_TOTAL)`` per-set sums (``Total`` slots).
    :param equity: ``(steps + 1, sets)`` equity after each decision, or ``None`` when not recorded.
    :param steps: ``(steps, sets, N_STEP)`` per-bar records, or ``None``.
    :param fills: ``(n, N_FILL)`` every fill ordered by set then time, or ``None``.
    """

    totals: FloatArray
    equity: FloatArray | None
    steps: FloatArray | None
    fills: FloatArray | None


def run_targets(
    setup: BacktestSetup,
    targets: npt.ArrayLike,
    record_equity: bool = True,
    record_steps: bool = False,
    record_fills: bool = False,
) -> TargetRun:
    """Step one account per column of ``targets`` (``(steps, sets)``, or one series) over the span."""
    actions = setup.check_targets(np.asarray(targets, dtype=np.float64))
    if setup.rule.action_type != "continuous":
        raise DataError("target series need a continuous action rule (the action is the target)")
    n = actions.shape[1]
    capacity = max(64, 4 * setup.steps) if record_fills and n == 1 else (1024 * n if record_fills else 0)
    while True:
        acc = Accounts.open(setup, n, record_steps, capacity)
        equity = np.zeros((setup.steps + 1, n) if record_equity else (0, 0), dtype=np.float64)
        if record_equity:
            equity[0] = setup.initial_balance
        run_rows(actions, acc.fstate, acc.istate, acc.stop_state, setup.market.values, setup.params,
                 setup.brackets, setup.limits, setup.rule_array, setup.levels, setup.stops, setup.atr,
                 acc.report, acc.scratch, acc.steps, acc.fills, acc.counts, acc.totals, equity)  # fmt: skip
        if int(acc.counts[0]) <= capacity:
            break
        capacity = int(acc.counts[0])  # the buffer was too small: run again with room for every fill
    return TargetRun(
        acc.totals,
        equity if record_equity else None,
        acc.steps if record_steps else None,
        acc.fill_rows if record_fills else None,
    )


@dataclass(frozen=True)
class ObservationSource:
    """The features a policy observes, laid out as the env lays them out.

    :param features_flat: float32 feature rows, flattened (NaN-free after the warm-up).
    :param n_features: columns per row.
    :param window: rows per observation.
    :param first_bar: first bar with a full window of valid features.
    """

    features_flat: npt.NDArray[np.float32]
    n_features: int
    window: int
    first_bar: int

    @classmethod
    def from_matrix(cls, features: FeatureMatrix, window: int) -> ObservationSource:
        first = features.first_valid_row
        values = nan_free(features.values, first)
        return cls(values.reshape(-1), values.shape[1], window, first + window - 1)

    @property
    def size(self) -> int:
        """Length of one flat observation."""
        return self.window * self.n_features + len(ACCOUNT_FIELDS)


def run_policy(
    setup: BacktestSetup, decide: Decide, observations: ObservationSource | None = None
) -> Accounts:
    """Step one account over the span, ``decide`` choosing the action on every bar (bar by bar in Python)."""
    if observations is not None:
        if setup.start_bar < observations.first_bar:
            raise DataError(
                f"the backtest starts at bar {setup.start_bar}, before the first full observation window "
                f"(bar {observations.first_bar}): start later or load more bars before it"
            )
        if observations.features_flat.shape[0] != setup.market.n_bars * observations.n_features:
            raise DataError("the features do not hold one row per bar of the market")
    acc = Accounts.open(setup, 1, True, max(64, 4 * setup.steps))
    market = setup.market.values
    obs = np.zeros(observations.size, dtype=np.float32) if observations is not None else None
    f, i_state = acc.fstate, acc.istate
    for row in range(setup.steps):
        t = int(i_state[Counter.BAR, 0])
        if observations is not None and obs is not None:
            write_observation(
                obs, observations.features_flat, observations.n_features, t, observations.window,
                f[Account.QTY, 0], f[Account.ENTRY, 0], f[Account.WALLET, 0], market[t, Market.VALUE_CLOSE],
                setup.brackets, i_state[Counter.BARS_SINCE_TRADE, 0], market[t, Market.HOURS_TO_FUNDING],
                market[t, Market.LAST_FUNDING_RATE],
            )  # fmt: skip
        action = float(decide(t, obs))
        step_account(0, row, action, f, i_state, acc.stop_state, market, setup.params, setup.brackets,
                     setup.limits, setup.rule_array, setup.levels, setup.stops, setup.atr, acc.report,
                     acc.scratch, acc.steps, acc.fills, acc.counts, acc.totals)  # fmt: skip
        if i_state[Counter.DONE, 0]:
            break
    return acc
