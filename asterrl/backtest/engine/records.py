"""A ``BacktestResult`` from what the kernel recorded for one account: equity, positions, costs and fills.

After a loss limit halted the account (or a liquidation closed it) the rest of the span is kept flat at
its last equity, so every result covers its whole span; an account whose equity reached 0 ends there (a
result's equity stays positive until its last point).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.backtest.engine.layout import EVENTS, FILL_KINDS, Fill, Step, Total
from asterrl.backtest.engine.setup import BacktestSetup
from asterrl.backtest.result import BacktestResult, Fills, TrialSet
from asterrl.risk.gate import flag_names
from asterrl.risk.stops import STOP_REASONS, StopReason
from asterrl.sim.layout import Market

FloatArray = npt.NDArray[np.float64]


def filled_steps(setup: BacktestSetup, steps: FloatArray, totals: FloatArray) -> tuple[FloatArray, int]:
    """``(steps, points)``: one account's step records with the rows after its run ended filled flat, and
    how many equity points the result keeps (all, unless the equity reached 0)."""
    out = np.array(steps, dtype=np.float64)
    last = int(totals[Total.LAST_STEP])
    if last < out.shape[0]:
        rows = np.arange(last, out.shape[0])
        out[rows] = 0.0
        out[rows, Step.EQUITY] = totals[Total.FINAL_EQUITY]
        out[rows, Step.VALUE_CLOSE] = setup.market.values[setup.start_bar + 1 + rows, Market.VALUE_CLOSE]
        out[rows, Step.WANTED] = np.nan
    points = out.shape[0] + 1
    if totals[Total.FINAL_EQUITY] <= 0.0:
        points = last + 1
    return out, points


def fills_of(rows: FloatArray) -> Fills:
    """The fills of one account (rows of ``Fill`` slots) as ``Fills``."""
    return Fills(
        rows[:, Fill.TIMESTAMP].astype(np.int64),
        rows[:, Fill.QUANTITY],
        rows[:, Fill.PRICE],
        rows[:, Fill.FEE],
        rows[:, Fill.SLIPPAGE],
        rows[:, Fill.REALIZED_PNL],
        rows[:, Fill.EQUITY_BEFORE],
    )


def account_result(
    setup: BacktestSetup,
    steps: FloatArray,
    totals: FloatArray,
    fill_rows: FloatArray,
    name: str,
    trials: TrialSet | None = None,
) -> BacktestResult:
    """The ``BacktestResult`` of one account's run (``steps``: ``(rows, N_STEP)``; ``totals``: its row)."""
    flat, points = filled_steps(setup, steps, totals)
    flat = flat[: points - 1]
    bars = np.arange(setup.start_bar, setup.start_bar + points)
    values = setup.market.values
    equity = np.concatenate(([setup.initial_balance], flat[:, Step.EQUITY]))
    close = np.concatenate(([values[setup.start_bar, Market.VALUE_CLOSE]], flat[:, Step.VALUE_CLOSE]))
    position = flat[:, Step.POSITION]
    after = equity[1:]
    leverage = np.where(after > 0.0, np.abs(position) * close[1:] / np.where(after > 0.0, after, 1.0), 0.0)
    return BacktestResult(
        name=name,
        symbol=setup.symbol,
        bars_per_year=setup.bars_per_year,
        timestamps=setup.market.timestamps[bars],
        equity=np.maximum(equity, 0.0),
        close=close,
        position=position,
        leverage=leverage,
        fees=flat[:, Step.FEE],
        slippage=flat[:, Step.SLIPPAGE],
        funding=-flat[:, Step.FUNDING],
        fills=fills_of(fill_rows),
        benchmark=setup.initial_balance * close / close[0],
        trials=trials,
    )


def trades_frame(fill_rows: FloatArray, steps: FloatArray | None = None, start_bar: int = 0) -> pd.DataFrame:
    """The fills as a table: time, bar, side, quantity, price, fee, slippage, realised P&L, kind.

    With the account's ``steps`` (``(rows, N_STEP)``, row 0 deciding at ``start_bar``), an order that a stop
    sent (``risk.stop_loss``, ``trailing_stop``, ...) has that stop's name as its kind instead of ``order``.
    """
    kinds = [FILL_KINDS[int(k)] for k in fill_rows[:, Fill.KIND]]
    if steps is not None:
        decided = fill_rows[:, Fill.BAR].astype(np.int64) - 1 - start_bar  # an order fills the bar after
        for j in np.flatnonzero((decided >= 0) & (decided < steps.shape[0])):
            reason = int(steps[decided[j], Step.STOP_REASON])
            if kinds[j] == "order" and reason not in (StopReason.NONE, StopReason.HELD_FLAT):
                kinds[j] = STOP_REASONS[reason]
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(fill_rows[:, Fill.TIMESTAMP].astype(np.int64), unit="ms", utc=True),
            "bar": fill_rows[:, Fill.BAR].astype(np.int64),
            "side": np.where(fill_rows[:, Fill.QUANTITY] > 0.0, "buy", "sell"),
            "quantity": fill_rows[:, Fill.QUANTITY],
            "price": fill_rows[:, Fill.PRICE],
            "notional": np.abs(fill_rows[:, Fill.QUANTITY]) * fill_rows[:, Fill.PRICE],
            "fee": fill_rows[:, Fill.FEE],
            "slippage": fill_rows[:, Fill.SLIPPAGE],
            "realized_pnl": fill_rows[:, Fill.REALIZED_PNL],
            "equity_before": fill_rows[:, Fill.EQUITY_BEFORE],
            "kind": kinds,
        }
    )
    frame["position_after"] = np.cumsum(frame["quantity"].to_numpy())
    return frame


def steps_frame(setup: BacktestSetup, steps: FloatArray, points: int) -> pd.DataFrame:
    """Bar-by-bar positions, equity and costs (funding received positive), with the gate's flags, the stop
    that fired and what ended the run."""
    rows = steps[: points - 1]
    bars = np.arange(setup.start_bar + 1, setup.start_bar + points)
    wanted = rows[:, Step.WANTED]
    return pd.DataFrame(
        {
            "time": pd.to_datetime(setup.market.timestamps[bars], unit="ms", utc=True),
            "bar": bars,
            "position": rows[:, Step.POSITION],
            "mark_close": rows[:, Step.VALUE_CLOSE],
            "equity": rows[:, Step.EQUITY],
            "fee": rows[:, Step.FEE],
            "slippage": rows[:, Step.SLIPPAGE],
            "funding": rows[:, Step.FUNDING],
            "traded_notional": rows[:, Step.TRADED_NOTIONAL],
            "wanted_position": wanted,
            "risk_flags": [",".join(flag_names(int(f))) for f in rows[:, Step.RISK_FLAGS]],
            "stop": [STOP_REASONS[int(r)] if r else "" for r in rows[:, Step.STOP_REASON]],
            "event": [EVENTS[int(e)] if e else "" for e in rows[:, Step.EVENT]],
        }
    )
