"""What the bridge needs of ``asterrl.sim``'s per-bar market arrays, for the decision bar of a live history.

The arrays are built by the same ``MarketArrays.from_frames`` as the env's (valuation close from the mark
klines, hours to the next settlement and the last settled rate from the funding history, volatility,
half-spread and known volume at the close), over the bars the bridge holds; the decision reads the newest
row, and the gate prices its order from it with the sim's own ``taker_price``. This module is the one
place the bridge touches the sim's array layout.

The arrays are built over the newest ``tail_bars(costs)`` bars only: each estimator is a rolling window
(volatility, spread, known volume), so the newest row depends on no earlier bar, and the valuation and
funding columns are per bar. Building them over the whole history took most of a decision's time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.sim.config import CostConfig
from asterrl.sim.layout import Market
from asterrl.sim.market_arrays import MarketArrays


@dataclass(frozen=True, slots=True)
class BarInputs:
    """The decision bar's market values (USDT unless said).

    :param open_ms: the bar's open time, ms UTC.
    :param close: last-trade close; ``value_close``: valuation (mark) close.
    :param hours_to_funding: hours from the close to the next settlement.
    :param last_funding_rate: most recent settled rate at the close (fraction).
    :param day: UTC day number of the bar's open.
    :param values: the market arrays of every bar held (``Market`` columns); ``row``: the decision bar's.
    """

    open_ms: int
    close: float
    value_close: float
    hours_to_funding: float
    last_funding_rate: float
    day: int
    values: npt.NDArray[np.float64]
    row: int


def tail_bars(costs: CostConfig) -> int:
    """Bars the arrays are built over: four times the longest estimator window (at least 64)."""
    return max(64, 4 * max(costs.volatility_window, costs.estimate_window, costs.volume_window))


def bar_inputs(
    bars: pd.DataFrame,
    funding: pd.DataFrame | None,
    mark: pd.DataFrame | None,
    costs: CostConfig,
    interval_ms: int,
) -> tuple[BarInputs, npt.NDArray[np.float64]]:
    """The newest bar's inputs, and the volumes of the bars (base asset) for the planner's slicing."""
    tail = bars.iloc[-tail_bars(costs) :]
    if mark is not None:
        mark = mark[mark["timestamp"] >= int(tail["timestamp"].iloc[0])]
    market = MarketArrays.from_frames(tail, funding, mark, costs, interval_ms)
    row = market.n_bars - 1
    last = market.values[row]
    inputs = BarInputs(
        open_ms=int(market.timestamps[row]),
        close=float(last[Market.CLOSE]),
        value_close=float(last[Market.VALUE_CLOSE]),
        hours_to_funding=float(last[Market.HOURS_TO_FUNDING]),
        last_funding_rate=float(last[Market.LAST_FUNDING_RATE]),
        day=int(last[Market.DAY]),
        values=market.values,
        row=row,
    )
    return inputs, bars["volume"].to_numpy(dtype=np.float64)
