"""One decision on a closed bar: the observation built exactly as the env builds it, the frozen policy's
action, and the target position of the env's action rule.

``DecisionCore.decide`` takes the bars the bridge holds (the newest is the decision bar, closed) and the
account's state, computes the feature rows with the artifact's feature set, writes the observation with
``asterrl.observation.write_observation`` (the env's kernel), runs the network, and maps the action with
``asterrl.actions.target_position``. The risk gate and execution come after it, in the bridge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.actions import target_position
from asterrl.data.schema import interval_ms
from asterrl.errors import DataError
from asterrl.live.artifact import FrozenPolicy
from asterrl.live.features import ObservationFeatures
from asterrl.live.market_view import BarInputs, bar_inputs
from asterrl.observation import write_observation
from asterrl.sim.config import CostConfig


@dataclass(frozen=True, slots=True)
class AccountView:
    """The account at the decision close.

    :param qty: signed position, base asset.
    :param entry: average entry price, USDT (0 when flat).
    :param wallet: wallet balance (realised PnL, fees and funding booked), USDT.
    :param bars_since_trade: bars since the last fill (0 on the bar of a fill).
    """

    qty: float
    entry: float
    wallet: float
    bars_since_trade: int

    def equity(self, price: float) -> float:
        """Wallet plus unrealised PnL at ``price``, USDT."""
        return self.wallet + self.qty * (price - self.entry)


@dataclass(frozen=True)
class Decision:
    """What the policy decided on one bar.

    :param bar: the decision bar's market inputs.
    :param observation: the flat float32 observation.
    :param action: the network's action (an index for discrete policies).
    :param target_qty: the wanted position, base asset (NaN: an action outside the action space).
    :param equity: equity at the decision close, USDT.
    :param volumes: base volume of every bar held (for slicing).
    :param compute_us: time spent from the bars to the target, microseconds.
    """

    bar: BarInputs
    observation: npt.NDArray[np.float32]
    action: float
    target_qty: float
    equity: float
    volumes: npt.NDArray[np.float64]
    compute_us: float


class DecisionCore:
    """The artifact's observation, policy and action rule for one symbol.

    :param policy: the verified frozen policy.
    :param brackets: the instrument's margin tiers (the observation's margin ratio).
    :param costs: the cost model's estimator windows (volatility, spread), as trained.
    """

    def __init__(self, policy: FrozenPolicy, brackets: npt.NDArray[np.float64], costs: CostConfig) -> None:
        manifest = policy.manifest
        self.policy = policy
        self.features = ObservationFeatures(manifest, policy.directory)
        self.layout = manifest.layout
        self.brackets = np.ascontiguousarray(brackets, dtype=np.float64)
        self.costs = costs
        self.interval_ms = interval_ms(manifest.interval)
        action = manifest.action
        self.discrete = action.action_type == "discrete"
        self.levels = np.asarray(action.levels, dtype=np.float64)
        self.scale = action.position_scale
        self.deadband = action.deadband
        self.min_hold = action.min_hold_bars

    @property
    def history_bars(self) -> int:
        """Least number of closed bars for a decision."""
        return self.features.history_bars

    def observation(
        self,
        bars: pd.DataFrame,
        funding: pd.DataFrame | None,
        mark: pd.DataFrame | None,
        account: AccountView,
    ) -> tuple[npt.NDArray[np.float32], BarInputs, npt.NDArray[np.float64]]:
        """The observation at the newest bar's close, with the bar's inputs and the bars' volumes."""
        window = self.layout.window
        if len(bars) < window + 1:
            raise DataError(f"{len(bars)} bars held; a decision needs at least {self.history_bars}")
        matrix = self.features.compute(bars, funding)
        values = np.ascontiguousarray(matrix.values, dtype=np.float32)
        t = values.shape[0] - 1
        if not np.isfinite(values[t - window + 1 :]).all():
            raise DataError(
                f"feature rows of the last {window} bars hold NaN: {len(bars)} bars of history are too few "
                f"(at least {self.history_bars})"
            )
        inputs, volumes = bar_inputs(bars, funding, mark, self.costs, self.interval_ms)
        out = np.empty(self.layout.size, dtype=np.float32)
        write_observation(
            out, values.reshape(-1), values.shape[1], t, window, account.qty, account.entry, account.wallet,
            inputs.value_close, self.brackets, account.bars_since_trade, inputs.hours_to_funding,
            inputs.last_funding_rate,
        )  # fmt: skip
        return out, inputs, volumes

    def decide(
        self,
        bars: pd.DataFrame,
        funding: pd.DataFrame | None,
        mark: pd.DataFrame | None,
        account: AccountView,
    ) -> Decision:
        """Observation, action and target position at the newest bar's close."""
        start = time.perf_counter()
        obs, inputs, volumes = self.observation(bars, funding, mark, account)
        action = self.policy.act_one(obs)
        equity = account.equity(inputs.value_close)
        target = target_position(
            action, account.qty, equity, inputs.value_close, inputs.close, account.bars_since_trade,
            self.discrete, self.levels, self.scale, self.deadband, self.min_hold,
        )  # fmt: skip
        elapsed = (time.perf_counter() - start) * 1e6
        return Decision(inputs, obs, action, float(target), equity, volumes, elapsed)
