"""Hand-worked scenarios: every expected number below is worked out from the exchange's rules by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from asterrl.risk import RiskLimits
from asterrl.risk.gate import FLAG_DRAWDOWN_BREACH
from asterrl.sim import (
    CostConfig,
    ExchangeFilters,
    MarginConfig,
    MarketData,
    MarketModelConfig,
    PerpSimulator,
    layout,
)
from tests.sim.frames import HOUR, T0, bars, flat_bars

NO_LIMITS = RiskLimits(max_leverage=100.0, max_drawdown=math.inf, max_daily_loss=math.inf)
FREE = CostConfig(maker_fee=0.0, taker_fee=0.0, half_spread_bps=0.0, impact_k=0.0, participation_cap=1.0)


def test_long_with_fees_and_slippage() -> None:
    # Closes 40000 -> 40400 -> 40000 -> 40400: log returns +r, -r, +r with r = ln(1.01), so over a
    # 2-bar window sigma = sqrt(((r-0)^2 + (-r-0)^2) / 1) = sqrt(2) * ln(1.01) at every decision bar.
    frame = bars(
        opens=[40000, 40000, 40400, 40010, 40390, 40400],
        highs=[40100, 40500, 40500, 40500, 40500, 40500],
        lows=[39900, 39900, 39900, 39900, 39900, 39900],
        closes=[40000, 40400, 40000, 40400, 40000, 40400],
    )
    costs = CostConfig(half_spread_bps=2.0, impact_k=0.5, volatility_window=2, participation_cap=1.0)
    config = MarketModelConfig(costs=costs)
    sim = PerpSimulator(MarketData.from_frames(frame, costs=costs), config, NO_LIMITS, 10_000.0, start_bar=2)
    sigma = math.sqrt(2.0) * math.log(1.01)

    # Buy 0.5 BTC at bar 3's open 40010: impact = 0.5 * sigma * sqrt(0.5 * 40010 / 4e6) = 4.9758e-4,
    # plus half-spread 2e-4 -> 40010 * 1.00069758 = 40037.91, rounded up to the 0.1 tick = 40038.0.
    impact = 0.5 * sigma * math.sqrt(20_005.0 / 4e6)
    assert 40010 * (1 + 2e-4 + impact) == pytest.approx(40037.910125, abs=1e-6)
    r = sim.step(0.5)
    assert r["fill_qty"] == pytest.approx(0.5)
    assert r["fill_price"] == pytest.approx(40038.0)
    assert r["fee"] == pytest.approx(0.5 * 40038.0 * 0.00035)  # 7.00665 taker fee
    assert r["slippage"] == pytest.approx(0.5 * 28.0)  # 14.0 = 0.5 * (40038.0 - 40010)
    # Valued at bar 3's close 40400: uPnL 0.5 * (40400 - 40038) = 181; wallet 10000 - 7.00665.
    assert r["wallet_balance"] == pytest.approx(9_992.99335)
    assert r["unrealised_pnl"] == pytest.approx(181.0)
    assert r["equity"] == pytest.approx(10_173.99335)

    # Sell it at bar 4's open 40390: impact = 0.5 * sigma * sqrt(20195 / 4e6) = 4.99936e-4,
    # 40390 * (1 - 2e-4 - 4.99936e-4) = 40361.7296 -> rounded down to 40361.7.
    r = sim.step(0.0)
    assert r["fill_price"] == pytest.approx(40361.7)
    exit_fee = 0.5 * 40361.7 * 0.00035  # 7.0632975
    assert r["fee"] == pytest.approx(exit_fee)
    assert r["slippage"] == pytest.approx(0.5 * (40390 - 40361.7))  # 14.15
    realised = 0.5 * (40361.7 - 40038.0)  # 161.85
    assert r["wallet_balance"] == pytest.approx(10_000 - 7.00665 + realised - exit_fee)
    assert r["equity"] == pytest.approx(r["wallet_balance"])
    assert r["position"] == 0.0


def _funding_market() -> MarketData:
    # 24 flat 1h bars at 30000 (last price); mark close 30010 everywhere but bars 7, 15 and 19, whose
    # closes coincide with the settlements at 08:00 (8h), 16:00 (8h) and 20:00 (then every 4h).
    frame = flat_bars(30_000.0, 24)
    mark = pd.DataFrame(
        {
            "timestamp": frame["timestamp"],
            "mark_open": 30_010.0,
            "mark_high": 30_010.0,
            "mark_low": 30_010.0,
            "mark_close": 30_010.0,
        }
    )
    mark.loc[7, "mark_close"] = 30_100.0
    mark.loc[15, "mark_close"] = 29_900.0
    mark.loc[19, "mark_close"] = 30_200.0
    funding = pd.DataFrame(
        {"timestamp": [T0 + 8 * HOUR, T0 + 16 * HOUR, T0 + 20 * HOUR], "funding_rate": [1e-4, -2e-4, 3e-4]}
    )
    return MarketData.from_frames(frame, funding=funding, mark=mark)


def test_short_receives_and_pays_funding_over_8h_and_4h_intervals() -> None:
    data = _funding_market()
    sim = PerpSimulator(data, MarketModelConfig(costs=FREE), NO_LIMITS, 10_000.0, start_bar=0)
    payments = {}
    first = sim.step(-1.0)  # short 1 BTC at bar 1's open 30000 (no costs)
    assert first["fill_price"] == 30_000.0
    while not sim.done:
        r = sim.step(-1.0)
        if r["funding"] != 0.0:
            payments[int(r["bar"])] = r["funding"]
    # Positive rate: longs pay shorts, so the short receives notional(mark) * rate.
    # 08:00 settles at bar 7's close: +1 * 30100 * 1e-4 = +3.01 received.
    # 16:00 at bar 15's close, rate -2e-4: the short pays 29900 * 2e-4 = 5.98.
    # 20:00 (a 4h interval) at bar 19's close: +30200 * 3e-4 = +9.06 received.
    assert payments.keys() == {7, 15, 19}
    assert payments[7] == pytest.approx(3.01)
    assert payments[15] == pytest.approx(-5.98)
    assert payments[19] == pytest.approx(9.06)
    assert sim.wallet == pytest.approx(10_000.0 + 3.01 - 5.98 + 9.06)
    # At each close the short is valued at the mark close: the last bar's mark 30010 -> uPnL -10.
    assert sim.equity == pytest.approx(sim.wallet - 10.0)


def test_order_filled_after_a_settlement_does_not_pay_it() -> None:
    data = _funding_market()
    # Decide at bar 7's close (08:00): the order fills at bar 8's open, after the 08:00 settlement.
    sim = PerpSimulator(data, MarketModelConfig(costs=FREE), NO_LIMITS, 10_000.0, start_bar=7)
    r = sim.step(-1.0)
    assert r["fill_qty"] == -1.0
    assert r["funding"] == 0.0
    # Hours to the next settlement seen at bar 7's close (08:00): 16:00 is 8h away; at bar 15's close
    # (16:00) the next is 20:00, 4h away; after the last (20:00) the 4h grid is extended: 24:00.
    hours = data.series(layout.M_HOURS_TO_FUNDING)
    assert (hours[7], hours[15], hours[19], hours[21]) == (8.0, 4.0, 4.0, 2.0)


def test_liquidation_on_a_mark_wick() -> None:
    # Long 0.499 BTC at 40000 with 1000 USDT (~20x). Maintenance 0.4 % below 50k notional, cum 0:
    # liquidation price p = (0.499 * 40000 - 1000) / (0.499 * (1 - 0.004)) = 18960 / 0.497004 = 38148.59.
    frame = bars(
        opens=[40000, 40000, 39950, 39900],
        highs=[40000, 40050, 40000, 40000],
        lows=[40000, 39900, 39000, 39800],
        closes=[40000, 39950, 39900, 39900],
    )
    mark = frame[["timestamp"]].assign(
        mark_open=frame["open"], mark_high=frame["high"], mark_low=frame["low"], mark_close=frame["close"]
    )
    mark.loc[2, "mark_low"] = 38_000.0  # the mark wicks below the liquidation price; last trades only 39000
    # Leverage limits of 25x leave the ~20x position alone (the gate would trim a position above them).
    config = MarketModelConfig(costs=FREE, margin=MarginConfig(leverage=25.0))
    limits = RiskLimits(max_leverage=25.0, max_drawdown=math.inf, max_daily_loss=math.inf)
    sim = PerpSimulator(MarketData.from_frames(frame, mark=mark), config, limits, 1_000.0)
    r = sim.step(0.4995)
    assert r["fill_qty"] == pytest.approx(0.499)  # 0.4995 rounded down to the 0.001 lot
    r = sim.step(0.499)
    liquidation = (0.499 * 40000 - 1000) / (0.499 * (1 - 0.004))
    assert r["liquidated"] == 1.0
    assert r["terminated"] == 1.0
    assert r["fill_price"] == pytest.approx(liquidation)
    # At the liquidation price the margin balance equals maintenance: 0.004 * 0.499 * p. The fee
    # (2.5 % of notional) exceeds it, so the whole remainder is booked as fee and the wallet ends at 0.
    assert r["liquidation_fee"] == pytest.approx(0.004 * 0.499 * liquidation)
    assert r["wallet_balance"] == 0.0
    assert r["shortfall"] == 0.0
    assert r["equity"] == 0.0
    assert sim.done


def test_liquidation_through_a_gap_records_the_shortfall() -> None:
    # Long 0.5 BTC at 40000 with 1000 USDT; bar 2 opens at 37000, below the 38152.61 liquidation price:
    # the position closes at the open, 0.5 * (37000 - 40000) = -1500, leaving a 500 USDT shortfall.
    frame = bars(
        opens=[40000, 40000, 37000, 37000],
        highs=[40000, 40000, 37100, 37000],
        lows=[40000, 40000, 36900, 37000],
        closes=[40000, 40000, 37000, 37000],
    )
    config = MarketModelConfig(costs=FREE, margin=MarginConfig(leverage=20.0))
    limits = RiskLimits(max_leverage=20.5, max_drawdown=math.inf, max_daily_loss=math.inf)
    sim = PerpSimulator(MarketData.from_frames(frame), config, limits, 1_000.0)
    assert sim.step(0.5)["fill_qty"] == 0.5
    r = sim.step(0.5)
    assert r["liquidated"] == 1.0
    assert r["fill_price"] == 37_000.0
    assert r["liquidation_fee"] == 0.0
    assert r["shortfall"] == pytest.approx(500.0)
    assert r["equity"] == 0.0


def test_order_below_min_notional_is_rejected_but_reduce_only_is_not() -> None:
    data = MarketData.from_frames(flat_bars(2_000.0, 8))
    filters = ExchangeFilters(tick_size=0.01, step_size=0.001, min_notional=5.0)
    sim = PerpSimulator(data, MarketModelConfig(costs=FREE, filters=filters), NO_LIMITS, 1_000.0)
    r = sim.step(0.0029)  # rounded down to 0.002 BTC: 0.002 * 2000 = 4 USDT < 5 -> rejected
    assert r["rejected"] == 1.0
    assert r["fill_qty"] == 0.0
    assert sim.position == 0.0
    r = sim.step(0.0037)  # 0.003 BTC: 6 USDT >= 5 -> filled
    assert r["rejected"] == 0.0
    assert r["fill_qty"] == pytest.approx(0.003)
    r = sim.step(0.001)  # sell 0.002 BTC (4 USDT) only reduces the position: exempt, filled
    assert r["rejected"] == 0.0
    assert r["fill_qty"] == pytest.approx(-0.002)
    assert sim.position == pytest.approx(0.001)
    r = sim.step(-0.001)  # a flip is not reduce-only: 0.002 BTC = 4 USDT -> rejected
    assert r["rejected"] == 1.0
    assert sim.position == pytest.approx(0.001)


def test_drawdown_breach_flattens_at_the_next_open_and_ends() -> None:
    # Long 0.5 BTC at 40000 (taker fee 7.00 USDT, no spread or impact). Bar 2 closes at 37000:
    # equity 10000 - 7 - 1500 = 8493, 15.07 % under the 10000 peak, beyond the 10 % limit.
    frame = bars(
        opens=[40000, 40000, 40000, 37100, 37100],
        highs=[40000, 40000, 40000, 37100, 37100],
        lows=[40000, 40000, 37000, 37100, 37100],
        closes=[40000, 40000, 37000, 37100, 37100],
    )
    costs = CostConfig(half_spread_bps=0.0, impact_k=0.0, participation_cap=1.0)
    limits = RiskLimits(max_leverage=3.0, max_drawdown=0.10, max_daily_loss=math.inf)
    sim = PerpSimulator(MarketData.from_frames(frame, costs=costs), MarketModelConfig(costs=costs), limits)
    r = sim.step(0.5)
    assert r["fee"] == pytest.approx(7.0)
    assert r["equity"] == pytest.approx(9_993.0)
    r = sim.step(0.5)
    # Flattened at bar 3's open 37100: realised 0.5 * (37100 - 40000) = -1450, fee 0.5 * 37100 * 0.00035.
    assert int(r["risk_flags"]) & FLAG_DRAWDOWN_BREACH
    assert r["terminated"] == 1.0
    assert r["position"] == 0.0
    assert r["fill_price"] == 37_100.0
    assert r["fee"] == pytest.approx(6.4925)
    assert r["wallet_balance"] == pytest.approx(10_000 - 7.0 - 1_450.0 - 6.4925)
    assert r["equity"] == pytest.approx(8_536.5075)
    assert sim.done


def test_limit_orders_fill_only_when_the_bar_trades_through_with_the_maker_fee() -> None:
    frame = bars(
        opens=[100.0, 100.0, 100.0, 100.6, 100.7],
        highs=[100.0, 100.2, 101.0, 100.9, 100.7],
        lows=[100.0, 99.0, 99.8, 100.3, 100.7],
        closes=[100.0, 100.0, 100.4, 100.7, 100.7],
    )
    costs = CostConfig(maker_fee=0.0001, taker_fee=0.00035, half_spread_bps=0.0, impact_k=0.0)
    filters = ExchangeFilters(tick_size=0.01, step_size=0.001, min_notional=5.0)
    config = MarketModelConfig(costs=costs, filters=filters)
    sim = PerpSimulator(MarketData.from_frames(frame, costs=costs), config, NO_LIMITS, 10_000.0)
    # Buy 10 at 99.5: bar 1 opens at 100 (above the limit, not marketable) and trades down to 99.0, through
    # the limit: filled at 99.5 with the maker fee 10 * 99.5 * 0.0001 = 0.0995, no slippage.
    r = sim.step(10.0, limit_price=99.5)
    assert (r["fill_qty"], r["fill_price"]) == (pytest.approx(10.0), 99.5)
    assert r["fee"] == pytest.approx(0.0995)
    assert r["slippage"] == 0.0
    assert r["equity"] == pytest.approx(10_000.0 - 0.0995 + 10.0 * (100.0 - 99.5))
    # Sell at 101: bar 2's high only touches 101, it does not trade through it: nothing fills.
    r = sim.step(0.0, limit_price=101.0)
    assert (r["fill_qty"], r["fee"], r["position"]) == (0.0, 0.0, pytest.approx(10.0))
    # Sell at 100.5: bar 3 opens at 100.6, already better than the limit, so the order is marketable and
    # fills like a market order at the open (capped at the limit): 100.6 with the taker fee.
    r = sim.step(0.0, limit_price=100.5)
    assert (r["fill_qty"], r["fill_price"]) == (pytest.approx(-10.0), pytest.approx(100.6))
    assert r["fee"] == pytest.approx(10.0 * 100.6 * 0.00035)  # 0.3521
    assert r["wallet_balance"] == pytest.approx(10_000.0 - 0.0995 + 10.0 * (100.6 - 99.5) - 0.3521)
    assert r["position"] == 0.0


def test_the_forced_part_of_a_capped_order_fills_beyond_the_participation_cap() -> None:
    # Long 0.5 BTC at 40000 with 10000 USDT (2x). Bar 2 closes at 30000: equity 5000 - 0 costs, leverage
    # 0.5 * 30000 / 5000 = 3x, above the 2x limit. Bars 3-4 trade only 0.01 BTC (cap 10 % = 0.001 BTC), yet
    # the order back within 2x goes through: 0.5 * 30000 / (5000 - 0) -> |q| <= 2 * 5000 / 30000 = 0.3333.
    frame = bars(
        opens=[40000, 40000, 40000, 30000, 30000],
        highs=[40000, 40000, 40000, 30000, 30000],
        lows=[40000, 40000, 30000, 30000, 30000],
        closes=[40000, 40000, 30000, 30000, 30000],
    )
    frame.loc[3:, "volume"] = 0.01
    costs = CostConfig(maker_fee=0.0, taker_fee=0.0, half_spread_bps=0.0, impact_k=0.0, participation_cap=0.1)
    limits = RiskLimits(max_leverage=2.0, max_drawdown=math.inf, max_daily_loss=math.inf)
    sim = PerpSimulator(
        MarketData.from_frames(frame, costs=costs), MarketModelConfig(costs=costs), limits, 10_000.0
    )
    assert sim.step(0.5)["fill_qty"] == pytest.approx(0.5)
    r = sim.step(0.5)  # a hold sends no order: the market pushed leverage to 3x
    assert r["fill_qty"] == 0.0 and r["equity"] == pytest.approx(5_000.0)
    r = sim.step(0.45)  # wants 0.45 (2.7x): the gate asks 0.333 and all of the 0.167 cut fills
    assert r["fill_qty"] == pytest.approx(-0.167)  # 0.3333 rounded down to the lot: 0.333
    assert r["partial_fill"] == 0.0
    assert r["gate_leverage"] == pytest.approx(0.333 * 30_000.0 / 5_000.0)  # 1.998x
    r = sim.step(0.2)  # within the limit now, so an order is capped by the volume: 0.001 of 0.133 BTC
    assert r["fill_qty"] == pytest.approx(-0.001) and r["partial_fill"] == 1.0
