"""A three-trade backtest worked by hand: every fill price, fee, slippage and funding payment, and the equity.

Ten hourly bars of a made-up symbol (tick 0.01, lot 0.001), taker fee 0.05 %, a fixed half-spread of
10 bps and no impact, max leverage 2 (so a target of 0.5 of the scale is 1x equity). Funding settles at
the close of bar 2 (+0.01 %), bar 5 (-0.02 %) and bar 8 (+0.03 %). The policy goes long at bar 1's open,
flat at bar 3's, short at bar 4's, flat at bar 6's, long at bar 7's and flat at bar 9's open.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from asterrl.backtest.engine import ActionRule, BacktestSetup, backtest_policy, backtest_targets
from asterrl.risk.limits import RiskLimits
from asterrl.sim.config import CostConfig, MarketModelConfig
from asterrl.sim.market_arrays import MarketArrays
from tests.sim.frames import HOUR, T0, bars
from tests.sim.instruments import made_up

OPEN = [100, 100, 102, 104, 103, 101, 98, 98, 99, 101]
HIGH = [100, 103, 105, 104, 103, 101, 99, 99, 101, 102]
LOW = [100, 99, 101, 103, 100, 97, 97, 97, 98, 100]
CLOSE = [100, 102, 104, 103, 101, 98, 98, 99, 100, 101]
#: Target at each decision bar 0..8, fraction of the position scale (2x): 0.5 = 1x equity.
TARGETS = [0.5, 0.5, 0.0, -0.5, -0.5, 0.0, 0.5, 0.5, 0.0]
TAKER, HALF_SPREAD = 0.0005, 0.001


def _setup() -> BacktestSetup:
    funding = pd.DataFrame(
        {
            "timestamp": [T0 + 3 * HOUR, T0 + 6 * HOUR, T0 + 9 * HOUR],
            "funding_rate": [0.0001, -0.0002, 0.0003],
        }
    )
    costs = CostConfig(taker_fee=TAKER, half_spread_bps=10.0, impact_k=0.0, participation_cap=1.0)
    market = MarketArrays.from_frames(bars(OPEN, HIGH, LOW, CLOSE), funding, None, costs)
    risk = RiskLimits(max_leverage=2.0, max_daily_loss=0.5)
    return BacktestSetup("TESTUSDT", market, made_up(tick=0.01), MarketModelConfig(costs), risk,
                         ActionRule(deadband=0.05), 10_000.0, 0, 9)  # fmt: skip


def _lots(qty: float) -> float:
    """Rounded towards zero to the 0.001 lot."""
    return math.floor(qty * 1000.0 + 1e-9) / 1000.0


def _expected() -> dict[str, list[float]]:
    """The run worked out by hand, step by step."""
    wallet, equity = 10_000.0, []
    fills: dict[str, list[float]] = {"qty": [], "price": [], "fee": [], "slippage": [], "pnl": []}

    def fill(qty: float, price: float, reference: float, entry: float | None) -> None:
        nonlocal wallet
        fee = abs(qty) * price * TAKER
        realised = -qty * (price - entry) if entry is not None else 0.0  # closing: closed qty x move
        wallet += realised - fee
        values = (qty, price, fee, abs(qty) * abs(price - reference), realised - fee)
        for key, value in zip(fills, values, strict=True):
            fills[key].append(value)

    # Trade 1: decision 0 wants 0.5 x 2 x 10,000 / 100 = 100 BTC; buys at bar 1's open 100 + 10 bps = 100.10
    fill(100.0, 100.10, 100.0, None)
    equity += [wallet + 100.0 * (102 - 100.10)]  # bar 1 close 102 (decision 1 is within the deadband)
    wallet += -100.0 * 104 * 0.0001  # bar 2: longs pay 0.01 % of 100 x 104 = 1.04 USDT
    equity += [wallet + 100.0 * (104 - 100.10)]
    fill(-100.0, 103.89, 104.0, 100.10)  # decision 2 flat: sells at 104 - 10 bps = 103.896, tick down: 103.89
    equity += [wallet]  # bar 3, flat
    # Trade 2: decision 3 wants -0.5 x 2 x equity / 103 (lot-rounded); sells at 103 - 10 bps -> 102.89
    short = _lots(equity[-1] / 103.0)
    fill(-short, 102.89, 103.0, None)
    equity += [wallet - short * (101 - 102.89)]  # bar 4 close 101 (decision 4 within the deadband)
    wallet += -short * 98 * 0.0002  # bar 5: rate -0.02 %, shorts pay short x 98 x 0.0002
    equity += [wallet - short * (98 - 102.89)]
    fill(short, 98.10, 98.0, 102.89)  # decision 5 flat: buys at 98 + 10 bps = 98.098, tick up: 98.10
    equity += [wallet]  # bar 6, flat
    # Trade 3: decision 6 wants 0.5 x 2 x equity / 98; buys at bar 7's open 98 -> 98.10
    long = _lots(equity[-1] / 98.0)
    fill(long, 98.10, 98.0, None)
    equity += [wallet + long * (99 - 98.10)]  # bar 7
    wallet += -long * 100 * 0.0003  # bar 8: longs pay 0.03 % of long x 100
    equity += [wallet + long * (100 - 98.10)]
    fill(-long, 100.89, 101.0, 98.10)  # decision 8 flat: sells at 101 - 10 bps = 100.899, tick down: 100.89
    equity += [wallet]  # bar 9
    funding = [0.0, 100.0 * 104 * 0.0001, 0.0, 0.0, short * 98 * 0.0002, 0.0, 0.0, long * 100 * 0.0003, 0.0]
    return {"equity": [10_000.0, *equity], "funding_paid": funding, **fills}


def test_three_trades_worked_by_hand() -> None:
    setup = _setup()
    expected = _expected()
    result, _ = backtest_targets(setup, TARGETS, "three_trades")
    np.testing.assert_allclose(result.equity, expected["equity"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.funding, expected["funding_paid"], rtol=0, atol=1e-12)
    f = result.fills
    np.testing.assert_allclose(f.quantity, expected["qty"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(f.price, expected["price"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(f.fee, expected["fee"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(f.slippage, expected["slippage"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(f.realized_pnl, expected["pnl"], rtol=0, atol=1e-9)
    assert f.timestamp.tolist() == [T0 + b * HOUR for b in (1, 3, 4, 6, 7, 9)]
    trips = f.round_trips()
    pnl = np.asarray(expected["pnl"])
    np.testing.assert_allclose(trips.pnl, pnl[0::2] + pnl[1::2], rtol=0, atol=1e-9)
    assert result.fees.sum() == pytest.approx(sum(expected["fee"]), abs=1e-9)
    assert result.slippage.sum() == pytest.approx(sum(expected["slippage"]), abs=1e-9)
    # the long earned, the short earned, the last long earned less than its costs and funding
    assert trips.pnl[0] > 0 and trips.pnl[1] > 0
    # the same policy deciding bar by bar gives the same run
    stepped, _ = backtest_policy(setup, lambda t, obs: TARGETS[t], "three_trades")
    np.testing.assert_array_equal(stepped.equity, result.equity)
