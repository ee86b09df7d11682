"""What the bridge needs of ``asterrl.sim``'s per-bar market arrays, for the decision bar of a live history.

The arrays are built by the same ``from_frames`` as the env's (valuation close from the mark klines, hours
to the next settlement and the last settled rate from the funding history, volatility and half-spread
known at the close), over the bars the bridge holds; only the newest row is read. This module is the one
place the bridge touches the sim's array layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.sim import layout as L
from asterrl.sim.config import CostConfig
from asterrl.sim.market_data import MarketData


@dataclass(frozen=True, slots=True)
class BarInputs:
    """The decision bar's market values (USDT unless said).

    :param open_ms: the bar's open time, ms UTC.
    :param close: last-trade close; ``value_close``: valuation (mark) close.
    :param hours_to_funding: hours from the close to the next settlement.
    :param last_funding_rate: most recent settled rate at the close (fraction).
    :param sigma: per-bar volatility of log returns known at the close.
    :param half_spread: estimated half-spread known at the close, fraction of price.
    :param day: UTC day number of the bar's open.
    """

    open_ms: int
    close: float
    value_close: float
    hours_to_funding: float
    last_funding_rate: float
    sigma: float
    half_spread: float
    day: int


def bar_inputs(
    bars: pd.DataFrame,
    funding: pd.DataFrame | None,
    mark: pd.DataFrame | None,
    costs: CostConfig,
    interval_ms: int,
) -> tuple[BarInputs, npt.NDArray[np.float64]]:
    """The newest bar's inputs, and the volumes of the bars (base asset) for the planner's slicing."""
    market = MarketData.from_frames(bars, funding, mark, costs, interval_ms)
    row = market.values[-1]
    inputs = BarInputs(
        open_ms=int(market.timestamps[-1]),
        close=float(row[L.M_CLOSE]),
        value_close=float(row[L.M_VALUE_CLOSE]),
        hours_to_funding=float(row[L.M_HOURS_TO_FUNDING]),
        last_funding_rate=float(row[L.M_LAST_FUNDING_RATE]),
        sigma=float(row[L.M_SIGMA]),
        half_spread=float(row[L.M_HALF_SPREAD]),
        day=int(row[L.M_DAY]),
    )
    return inputs, np.ascontiguousarray(market.values[:, L.M_VOLUME])
