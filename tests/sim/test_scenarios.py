"""Hand-worked scenarios: every expected number below is worked out from the exchange's rules by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from asterrl.risk import RiskLimits
from asterrl.risk.gate import FLAG_DRAWDOWN_BREACH
from asterrl.sim import CostConfig, LimitOrderConfig, MarketArrays, MarketModelConfig
from asterrl.sim.layout import Market
from asterrl.sim.simulator import PerpSimulator
from tests.sim.frames import HOUR, T0, bars, flat_bars
from tests.sim.instruments import btcusdt, made_up

NO_LIMITS = RiskLimits(max_leverage=50.0, max_drawdown=math.inf, max_daily_loss=math.inf)
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
    data = MarketArrays.from_frames(frame, costs=costs)
    sim = PerpSimulator(data, btcusdt(), config, NO_LIMITS, 10_000.0, start_bar=2)
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


def _funding_market() -> MarketArrays:
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
    return MarketArrays.from_frames(frame, funding=funding, mark=mark)


def test_short_receives_and_pays_funding_over_8h_and_4h_intervals() -> None:
    data = _funding_market()
    sim = PerpSimulator(data, btcusdt(), MarketModelConfig(costs=FREE), NO_LIMITS, 10_000.0, start_bar=0)
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
    sim = PerpSimulator(data, btcusdt(), MarketModelConfig(costs=FREE), NO_LIMITS, 10_000.0, start_bar=7)
    r = sim.step(-1.0)
    assert r["fill_qty"] == -1.0
    assert r["funding"] == 0.0
    # Hours to the next settlement seen at bar 7's close (08:00): 16:00 is 8h away; at bar 15's close
    # (16:00) the next is 20:00, 4h away; after the last (20:00) the 4h grid is extended: 24:00.
    hours = data.series(Market.HOURS_TO_FUNDING)
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
    # A 25x leverage limit leaves the ~20x position alone (the gate would trim a position above it).
    limits = RiskLimits(max_leverage=25.0, max_drawdown=math.inf, max_daily_loss=math.inf)
    data = MarketArrays.from_frames(frame, mark=mark)
    sim = PerpSimulator(data, btcusdt(), MarketModelConfig(costs=FREE), limits, 1_000.0)
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
    limits = RiskLimits(max_leverage=20.5, max_drawdown=math.inf, max_daily_loss=math.inf)
    sim = PerpSimulator(
        MarketArrays.from_frames(frame), btcusdt(), MarketModelConfig(costs=FREE), limits, 1_000.0
    )
    assert sim.step(0.5)["fill_qty"] == 0.5
    r = sim.step(0.5)
    assert r["liquidated"] == 1.0
    assert r["fill_price"] == 37_000.0
    assert r["liquidation_fee"] == 0.0
    assert r["shortfall"] == pytest.approx(500.0)
    assert r["equity"] == 0.0


def test_order_below_min_notional_is_rejected_but_reduce_only_is_not() -> None:
    data = MarketArrays.from_frames(flat_bars(2_000.0, 8))
    inst = made_up(tick=0.01, step=0.001, min_notional=5.0)
    sim = PerpSimulator(data, inst, MarketModelConfig(costs=FREE), NO_LIMITS, 1_000.0)
    r = sim.step(0.0029)  # rounded down to 0.002 BTC: 0.002 * 2000 (mark) = 4 USDT < 5 -> rejected
    assert r["rejected"] == 1.0
    assert r["fill_qty"] == 0.0
    assert sim.position == 0.0
    r = sim.step(0.0037)  # 0.003 BTC: 6 USDT >= 5 -> filled
    assert r["rejected"] == 0.0
    assert r["fill_qty"] == pytest.approx(0.003)
    r = sim.step(0.001)  # sell 0.002 BTC (4 USDT) only reduces: sent reduce-only, exempt, filled
    assert r["rejected"] == 0.0
    assert r["fill_qty"] == pytest.approx(-0.002)
    assert sim.position == pytest.approx(0.001)
    r = sim.step(-0.001)  # a flip is not reduce-only: 0.002 BTC = 4 USDT -> rejected
    assert r["rejected"] == 1.0
    assert sim.position == pytest.approx(0.001)


def test_a_reduction_sent_without_reduce_only_must_meet_the_min_notional() -> None:
    data = MarketArrays.from_frames(flat_bars(2_000.0, 8))
    inst = made_up(tick=0.01, step=0.001, min_notional=5.0)
    config = MarketModelConfig(costs=FREE, reduce_only_exits=False)
    sim = PerpSimulator(data, inst, config, NO_LIMITS, 1_000.0)
    assert sim.step(0.003)["fill_qty"] == pytest.approx(0.003)  # 6 USDT
    r = sim.step(0.001)  # a plain sell of 0.002 BTC = 4 USDT < 5: the exchange rejects it
    assert (r["rejected"], r["fill_qty"]) == (1.0, 0.0)
    r = sim.step(0.0)  # the whole 0.003 BTC = 6 USDT passes
    assert r["fill_qty"] == pytest.approx(-0.003)


def test_min_notional_values_a_market_order_at_mark_and_a_limit_order_at_its_price() -> None:
    # Last price 2000, mark 2600: 0.002 BTC is 4 USDT at the last price but 5.2 USDT at the mark.
    frame = flat_bars(2_000.0, 8)
    mark = frame[["timestamp"]].assign(
        mark_open=2_600.0, mark_high=2_600.0, mark_low=2_600.0, mark_close=2_600.0
    )
    inst = made_up(tick=0.01, step=0.001, min_notional=5.0)
    limits = RiskLimits(max_leverage=50.0, max_drawdown=math.inf, max_daily_loss=math.inf, price_band=0.5)
    sim = PerpSimulator(
        MarketArrays.from_frames(frame, mark=mark), inst, MarketModelConfig(costs=FREE), limits, 1_000.0
    )
    r = sim.step(0.002)  # market: 0.002 * 2600 = 5.2 >= 5, accepted
    assert r["fill_qty"] == pytest.approx(0.002)
    r = sim.step(0.004, limit_price=2_000.0)  # limit: 0.002 * 2000 = 4 < 5, rejected
    assert (r["rejected"], r["fill_qty"]) == (1.0, 0.0)


def _long_into_a_drop(bar2_open: float) -> PerpSimulator:
    """Long 0.5 BTC at 40000 bought at bar 1's open (taker fee 7.00 USDT, no spread or impact), a 10 %
    drawdown limit; bar 2 opens at ``bar2_open``, trades down to 37000 and closes there."""
    frame = bars(
        opens=[40000, 40000, bar2_open, 37100, 37100],
        highs=[40000, 40000, bar2_open, 37100, 37100],
        lows=[40000, 40000, 37000, 37100, 37100],
        closes=[40000, 40000, 37000, 37100, 37100],
    )
    costs = CostConfig(half_spread_bps=0.0, impact_k=0.0, participation_cap=1.0)
    limits = RiskLimits(max_leverage=3.0, max_drawdown=0.10, max_daily_loss=math.inf)
    data = MarketArrays.from_frames(frame, costs=costs)
    sim = PerpSimulator(data, btcusdt(), MarketModelConfig(costs=costs), limits)
    r = sim.step(0.5)
    assert (r["fee"], r["equity"]) == (pytest.approx(7.0), pytest.approx(9_993.0))
    return sim


def test_drawdown_limit_is_held_inside_the_bar_by_a_stop_at_its_price() -> None:
    # Long 0.5 BTC at 40000 (taker fee 7.00 USDT, no spread or impact): equity 9993, peak 10000.
    # The 10 % drawdown limit is reached at equity 9000: 9993 + 0.5 * (p - 40000) = 9000 -> p = 38014.
    # Bar 2 trades down to 37000 and closes there; the stop sells at 38014, fee 0.5 * 38014 * 0.00035.
    sim = _long_into_a_drop(40_000.0)
    r = sim.step(0.5)
    assert int(r["risk_flags"]) & FLAG_DRAWDOWN_BREACH
    assert (r["stop_filled"], r["terminated"], r["position"]) == (1.0, 1.0, 0.0)
    assert r["fill_price"] == pytest.approx(38_014.0)
    assert r["fee"] == pytest.approx(0.5 * 38_014.0 * 0.00035)  # 6.65245
    assert r["equity"] == pytest.approx(9_993.0 - 993.0 - 6.65245)
    # Realised drawdown 10.0665 %: the limit overshot by the exit fee only.
    assert r["loss_overshoot"] == pytest.approx(6.65245 / 10_000.0)
    assert sim.done and sim.halted


def test_a_gap_through_the_drawdown_stop_flattens_at_the_open_at_market() -> None:
    # As above, but bar 2 opens at 37000: equity at the open 9993 - 1500 = 8493 is already past the limit,
    # so the gate halts and flattens at that open (fee 0.5 * 37000 * 0.00035 = 6.475).
    sim = _long_into_a_drop(37_000.0)
    r = sim.step(0.5, limit_price=40_000.0)  # the agent's limit order is ignored: a halt sells at market
    assert int(r["risk_flags"]) & FLAG_DRAWDOWN_BREACH
    assert (r["position"], r["fill_price"], r["stop_filled"]) == (0.0, 37_000.0, 0.0)
    assert r["equity"] == pytest.approx(9_993.0 - 1_500.0 - 6.475)
    assert r["loss_overshoot"] == pytest.approx((10_000.0 - 8_486.525) / 10_000.0 - 0.10)


def test_a_resting_limit_order_fills_only_through_its_price_and_a_marketable_one_as_taker() -> None:
    frame = bars(
        opens=[100.0, 100.0, 100.0, 100.6, 100.7],
        highs=[100.0, 100.2, 101.0, 100.9, 100.7],
        lows=[100.0, 99.0, 99.8, 100.3, 100.7],
        closes=[100.0, 100.0, 100.4, 100.7, 100.7],
    )
    costs = CostConfig(maker_fee=0.0001, taker_fee=0.00035, half_spread_bps=0.0, impact_k=0.0)
    config = MarketModelConfig(costs=costs)
    data = MarketArrays.from_frames(frame, costs=costs)
    sim = PerpSimulator(data, made_up(tick=0.01, step=0.001), config, NO_LIMITS, 10_000.0)
    # Buy 10 at 99.5: bar 1 opens at 100 (the ask, above the limit: it rests) and trades down to 99.0,
    # 0.5 through the limit, beyond the 20 bps queue depth (0.199): all 10 fill at 99.5 as maker.
    r = sim.step(10.0, limit_price=99.5)
    assert (r["fill_qty"], r["fill_price"], r["maker_qty"]) == (
        pytest.approx(10.0),
        99.5,
        pytest.approx(10.0),
    )
    assert r["fee"] == pytest.approx(0.0995)  # 10 * 99.5 * 0.0001
    assert r["slippage"] == 0.0
    assert r["equity"] == pytest.approx(10_000.0 - 0.0995 + 10.0 * (100.0 - 99.5))
    # Sell at 101: bar 2's high only touches 101, it does not trade through it by a tick: nothing fills.
    r = sim.step(0.0, limit_price=101.0)
    assert (r["fill_qty"], r["fee"], r["position"], r["partial_fill"]) == (0.0, 0.0, pytest.approx(10.0), 1.0)
    # Sell at 100.5: bar 3 opens at 100.6, the bid already better than the limit: marketable, it fills at
    # once as a taker at the market price 100.6 (not capped: better than the limit).
    r = sim.step(0.0, limit_price=100.5)
    assert (r["fill_qty"], r["fill_price"], r["maker_qty"]) == (
        pytest.approx(-10.0),
        pytest.approx(100.6),
        0.0,
    )
    assert r["fee"] == pytest.approx(10.0 * 100.6 * 0.00035)  # 0.3521
    assert r["wallet_balance"] == pytest.approx(10_000.0 - 0.0995 + 10.0 * (100.6 - 99.5) - 0.3521)
    assert r["position"] == 0.0


def test_limit_prices_are_rounded_to_the_tick_in_the_traders_favour() -> None:
    highs = [100.0, 100.0, 100.2, 100.2, 100.0]
    frame = bars([100.0] * 5, highs, [100.0, 99.0, 100.0, 100.0, 100.0], [100.0] * 5)
    data = MarketArrays.from_frames(frame, costs=FREE)
    config = MarketModelConfig(costs=FREE, limit_orders=LimitOrderConfig(queue_depth_bps=0.0))  # no haircut
    sim = PerpSimulator(data, made_up(tick=0.01), config, NO_LIMITS)
    r = sim.step(1.0, limit_price=99.5049)  # a buy at 99.5049 is sent at 99.50, never above what was asked
    assert r["fill_price"] == pytest.approx(99.50, abs=1e-9)
    r = sim.step(0.0, limit_price=100.1901)  # a sell is sent at 100.20; bar 2's high 100.20 only touches it
    assert (r["fill_qty"], r["partial_fill"]) == (0.0, 1.0)
    r = sim.step(0.0, limit_price=100.1801)  # sent at 100.19: bar 3's high is one tick through, it fills
    assert (r["fill_qty"], r["fill_price"]) == (pytest.approx(-1.0), pytest.approx(100.19, abs=1e-9))


def test_hand_worked_partial_fill_of_a_marketable_limit_order() -> None:
    # Sigma at the decision bar: closes alternate 100 -> 101 -> 100 with a 2-bar window, so
    # sigma = sqrt(2) * ln(1.01). Half-spread 2 bps, impact k = 0.1, known volume 4e6 USDT a bar.
    frame = bars(
        opens=[100.0, 100.0, 100.0],
        highs=[101.0, 101.0, 100.2],
        lows=[100.0, 100.0, 100.0],
        closes=[100.0, 101.0, 100.0],
    )
    frame = pd.concat([frame, frame.iloc[[2]].assign(timestamp=T0 + 3 * HOUR)], ignore_index=True)
    frame.loc[1, ["open", "high", "low", "close"]] = [100.0, 101.0, 100.0, 101.0]
    costs = CostConfig(maker_fee=0.0001, taker_fee=0.00035, half_spread_bps=2.0, impact_k=0.1,
                       volatility_window=2, participation_cap=1.0)  # fmt: skip
    data = MarketArrays.from_frames(frame, costs=costs)
    sigma = math.sqrt(2.0) * math.log(1.01)
    assert data.series(Market.SIGMA)[2] == pytest.approx(sigma)
    sim = PerpSimulator(
        data, made_up(tick=0.01, step=0.001), MarketModelConfig(costs=costs), NO_LIMITS, 1e6, start_bar=2
    )
    # Buy 3000 with a limit of 100.05 against bar 3's open 100: the ask 100.02 is within the limit, so the
    # order is marketable. Impact reaches the limit at q with 0.0002 + 0.1 sigma sqrt(100 q / 4e6) = 0.0005:
    # q = 4e6 / 100 * (0.0003 / (0.1 sigma))^2 = 1818.0145 -> 1818.014 after the 0.001 lot, filled as taker
    # at (just) the limit. The other 1181.986 rest at 100.05; bar 3 trades down to 100.00, five ticks
    # through. The queue haircut fills the share 0.05 / (20 bps x 100.05) = 0.24988 of the resting part
    # (within 5 % of the bar's 40000 volume), as maker: floor(1181.986 x 0.24988) to the lot = 295.348.
    q = 4e6 / 100.0 * (0.0003 / (0.1 * sigma)) ** 2
    taker = math.floor(q * 1000.0) / 1000.0
    maker = math.floor((3_000.0 - taker) * 0.05 / (0.002 * 100.05) * 1000.0) / 1000.0
    assert (taker, maker) == (pytest.approx(1818.014), pytest.approx(295.348))
    r = sim.step(3_000.0, limit_price=100.05)
    assert r["fill_qty"] == pytest.approx(taker + maker)
    assert r["maker_qty"] == pytest.approx(maker)
    assert r["partial_fill"] == 1.0
    assert r["fee"] == pytest.approx(taker * 100.05 * 0.00035 + maker * 100.05 * 0.0001, rel=1e-6)
    assert r["slippage"] == pytest.approx(taker * 0.05, rel=1e-6)  # the taker part paid 100.05 vs open 100


def test_a_drifted_hold_is_trimmed_beyond_the_participation_cap() -> None:
    # Long 0.5 BTC at 40000 with 10000 USDT (2x). Bar 2 closes at 30000: equity 5000, leverage
    # 0.5 * 30000 / 5000 = 3x, beyond the 2x limit by more than the 5 % tolerance. The agent holds, yet at
    # bar 3's open a reduce-only trim brings it back: |q| <= 2 * 5000 / 30000 = 0.3333 -> sell 0.167
    # (rounded up to the lot, so the position lands within the limit), although the known volume
    # (0.01 BTC a bar, cap 10 % = 0.001 BTC) would hold a voluntary order back.
    frame = bars(
        opens=[40000, 40000, 40000, 30000, 30000],
        highs=[40000, 40000, 40000, 30000, 30000],
        lows=[40000, 40000, 30000, 30000, 30000],
        closes=[40000, 40000, 30000, 30000, 30000],
    )
    frame.loc[2:, "volume"] = 0.01
    costs = CostConfig(maker_fee=0.0, taker_fee=0.0, half_spread_bps=0.0, impact_k=0.0, participation_cap=0.1,
                       volume_window=1)  # fmt: skip
    limits = RiskLimits(max_leverage=2.0, max_drawdown=math.inf, max_daily_loss=math.inf)
    data = MarketArrays.from_frames(frame, costs=costs)
    sim = PerpSimulator(data, btcusdt(), MarketModelConfig(costs=costs), limits, 10_000.0)
    assert sim.step(0.5)["fill_qty"] == pytest.approx(0.5)
    r = sim.step(0.5)  # a hold at 2x sends no order; the market pushes leverage to 3x by the close
    assert r["fill_qty"] == 0.0 and r["equity"] == pytest.approx(5_000.0)
    r = sim.step(0.5)  # the same hold: now a trim
    assert r["fill_qty"] == pytest.approx(-0.167)
    assert r["partial_fill"] == 0.0
    assert int(r["risk_flags"]) & 512  # FLAG_DRIFT_TRIM
    assert r["gate_leverage"] == pytest.approx(0.333 * 30_000.0 / 5_000.0)  # 1.998x
    r = sim.step(0.2)  # within the limit now, so an order is capped by the volume: 0.001 of 0.133 BTC
    assert r["fill_qty"] == pytest.approx(-0.001) and r["partial_fill"] == 1.0
