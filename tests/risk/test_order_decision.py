"""Issue 11's repros, worked out by hand: the gate holds between orders, inside the bar and against bad input.

Each test names the defect it pins. Unless a test says otherwise: no spread, impact or volume cap, taker
fee 3.5 bps, a made-up instrument (tick 0.01, lot 0.001, min notional 5, one 1 % maintenance tier up to 50x).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

import envs
from asterrl.errors import ConfigError
from asterrl.risk import RiskGate, RiskLimits
from asterrl.risk.gate import (
    FLAG_BAD_INPUT,
    FLAG_BAD_STATE,
    FLAG_DAILY_LOSS_BREACH,
    FLAG_DRAWDOWN_BREACH,
    FLAG_DRIFT_TRIM,
    FLAG_ORDER_RATE,
    FLAG_PRICE_BAND,
    FLAG_STALE_DATA,
)
from asterrl.sim import CostConfig, MarketArrays, MarketModelConfig
from asterrl.sim.instrument import Instrument, MarginTier
from asterrl.sim.simulator import PerpSimulator
from tests.sim.frames import HOUR, T0, bars, flat_bars
from tests.sim.instruments import FLAT_TIER, btcusdt, made_up

FEES_ONLY = {"costs": {"maker_fee": 0.0001, "taker_fee": 0.00035, "half_spread_bps": 0.0, "impact_k": 0.0,
                       "participation_cap": 1.0}}  # fmt: skip
FREE = {"costs": {"maker_fee": 0.0, "taker_fee": 0.0, "half_spread_bps": 0.0, "impact_k": 0.0,
                  "participation_cap": 1.0}}  # fmt: skip
OFF = {"max_drawdown": math.inf, "max_daily_loss": math.inf}
STATE = {"current_qty": 0.0, "mark_price": 100.0, "equity": 10_000.0, "peak_equity": 10_000.0,
         "day_start_equity": 10_000.0}  # fmt: skip


def _env(frame: Any, risk: RiskLimits, inst: Instrument | None = None, **overrides: Any) -> envs.AsterPerpEnv:
    settings: dict[str, Any] = {"window": 1, "episode_length": 0, "split_fractions": [0.9, 0.05, 0.05],
                                "market": FREE, **overrides}  # fmt: skip
    return envs.AsterPerpEnv(data=frame, instrument=inst or made_up(tick=0.01), risk=risk, **settings)


def test_rounding_never_takes_an_order_past_the_order_cap() -> None:
    # Flat bars at 40734.8, cap 2000 USDT, continuous actions [1, 1, 1, 1, -1]. The cap is 0.0490978 BTC,
    # rounded down to the 0.001 lot: every order is 0.049 BTC = 1996.0052 USDT, the reducing sell too
    # (before: the position was rounded towards zero, and the sell grew to 0.05 BTC = 2036.74 USDT).
    risk = RiskLimits(max_leverage=3.0, max_order_notional=2_000.0, **OFF)
    env = _env(flat_bars(40_734.8, 40), risk, btcusdt(), action_type="continuous", deadband=0.0)
    env.reset(options={"start_bar": 1})
    for action in (1.0, 1.0, 1.0, 1.0, -1.0):
        info = env.step(np.array([action], dtype=np.float32))[4]
        assert info["traded_notional"] == pytest.approx(0.049 * 40_734.8)
        assert info["traded_notional"] <= 2_000.0 and info["orders"] == 1.0
    assert info["position"] == pytest.approx(0.147)
    # The live bridge's entry to the same decision: from 0.196 BTC towards -0.7365, sell 0.049.
    gate = RiskGate(risk, btcusdt())
    decision = gate.decide(current_qty=0.196, target_qty=-0.7365, mark_price=40_734.8, equity=10_000.0,
                           peak_equity=10_000.0, day_start_equity=10_000.0)  # fmt: skip
    assert decision.order_qty == pytest.approx(-0.049)


@pytest.mark.parametrize("order_type", ["market", "limit"])
def test_a_halts_flatten_is_a_reduce_only_market_order_whatever_the_order_type(order_type: str) -> None:
    # Price 100; bar 64 opens at 80 with a low of 40; 2x limit counting the buy's fee, 10 % drawdown limit,
    # actions [1, 1, 1, 0] (levels 4, 4, 4, 2) from start bar 60. The buy at bar 61's open: |q| 100 <=
    # 2 (10000 - 0.035 |q|) -> 199.86 units, fee 6.9951. At bar 64's open equity is 9993.0049 -
    # 199.86 * 20 = 5995.8049, 40 % under the 10000 peak: the flatten sells 199.86 at 80 at market (fee
    # 5.59608) -> 5990.20882, in both runs. The limit run's sell at the agent's price (100) would not have
    # filled, and the long would have been liquidated at the low.
    frame = flat_bars(100.0, 100)
    frame.loc[64, ["open", "high", "low", "close"]] = [80.0, 80.0, 40.0, 60.0]
    frame.loc[65:, ["open", "high", "low", "close"]] = 60.0
    risk = RiskLimits(max_leverage=2.0, max_drawdown=0.10, max_daily_loss=math.inf)
    env = _env(frame, risk, market=FEES_ONLY, order_type=order_type)
    env.reset(options={"start_bar": 60})
    for action in (4, 4, 4):
        info = env.step(action)[4]
    assert info["position"] == 199.86 and info["equity"] == pytest.approx(10_000.0 - 6.9951)
    _, _, terminated, _, info = env.step(2)
    assert terminated and int(info["risk_flags"]) & FLAG_DRAWDOWN_BREACH
    assert (info["position"], info["fill_price"], info["liquidated"]) == (0.0, 80.0, 0.0)
    assert info["fee"] == pytest.approx(5.59608)
    assert info["equity"] == pytest.approx(5_990.20882)


def test_a_held_position_that_drifts_past_the_leverage_limit_is_trimmed_despite_the_hold_rule() -> None:
    # 2x limit, 5 % tolerance, min_hold_bars 10. Long 200 at 100 (2x of 10000, no costs); bar 3 closes at
    # 95: equity 9000, leverage 200 * 95 / 9000 = 2.11 > 2.1. The agent may not trade (held 1 bar of 10),
    # yet at bar 4's open the position is cut to 2 * 9000 / 95 = 189.4737 -> 189.473 (the sell rounded up).
    p = [100.0, 100.0, 100.0, 95.0, *[95.0] * 26]
    opens = [100.0, *p[:-1]]  # each bar opens at the previous close
    env = _env(bars(opens, p, p, p), RiskLimits(max_leverage=2.0, **OFF), min_hold_bars=10, deadband=0.0)
    env.reset(options={"start_bar": 1})
    assert env.step(4)[4]["position"] == 200.0
    info = env.step(2)[4]  # wants flat: held back by the hold rule; leverage 2.11 at the close
    assert (info["position"], info["fill_qty"]) == (200.0, 0.0)
    info = env.step(2)[4]
    assert int(info["risk_flags"]) & FLAG_DRIFT_TRIM
    assert info["position"] == pytest.approx(189.473)
    assert info["forced_qty"] == pytest.approx(10.527)
    assert info["gate_leverage"] == pytest.approx(189.473 * 95.0 / 9_000.0) and info["gate_leverage"] <= 2.0


def test_a_position_that_drifts_past_its_notional_cap_is_trimmed() -> None:
    # Cap 15000 USDT: long 150 at 100; bar 3 closes at 110 (16500 > 15750 = cap + 5 %): trimmed at bar 4's
    # open to 15000 / 110 = 136.3636 -> 136.363 (a 13.637 sell, rounded up).
    p = [100.0, 100.0, 100.0, 110.0, *[110.0] * 26]
    opens = [100.0, *p[:-1]]  # each bar opens at the previous close
    risk = RiskLimits(max_leverage=3.0, max_position_notional=15_000.0, **OFF)
    env = _env(bars(opens, p, p, p), risk, action_type="continuous", deadband=0.0)
    env.reset(options={"start_bar": 1})
    assert env.step(np.array([0.5], dtype=np.float32))[4]["position"] == 150.0  # 0.5 x 3 x 10000 / 100
    env.step(np.array([0.5], dtype=np.float32))  # 1.5 x 10000 / 100 = 150 again: a hold
    info = env.step(np.array([0.5 * 110.0 / 100.0 * 10_000.0 / 11_500.0], dtype=np.float32))[4]
    assert info["position"] == pytest.approx(136.363)
    assert abs(info["position"]) * 110.0 <= 15_000.0


@pytest.mark.parametrize(("slippage", "fill"), [(False, 95.0), (True, 95.0)])
def test_loss_limits_hold_inside_a_crash_bar(slippage: bool, fill: float) -> None:
    # Long 200 at 100 (2x of 10000, no fees), 10 % drawdown limit; bar 2 opens at 100 and crashes to 50
    # (-50 % inside the bar) before closing at 55. The stop sits where equity reaches 9000:
    # 10000 + 200 (p - 100) = 9000 -> p = 95, and sells there. With a 0.5 bp half-spread the entry is
    # 100.005 -> 100.01 (ticks up), the stop 10000 + 199.96 (p - 100.01) = 9000 -> p = 95.0090 and its sell
    # 95.0090 (1 - 0.00005) = 95.00425 -> 95.00.
    # Held to the close, the loss would have been 200 * 45 = 90 % of the account.
    frame = bars([100.0, 100.0, 100.0, 55.0], [100.0, 100.0, 100.0, 55.0], [100.0, 100.0, 50.0, 55.0],
                 [100.0, 100.0, 55.0, 55.0])  # fmt: skip
    costs = CostConfig(maker_fee=0.0, taker_fee=0.0, half_spread_bps=0.5 if slippage else 0.0, impact_k=0.0)
    limits = RiskLimits(max_leverage=2.0, max_drawdown=0.10, max_daily_loss=math.inf)
    config = MarketModelConfig(costs=costs, stop_slippage=slippage)
    sim = PerpSimulator(MarketArrays.from_frames(frame, costs=costs), made_up(tick=0.01), config, limits)
    first = sim.step(200.0)
    # With the spread the 2x clip counts the buy's own cost: 200 * 100.01 / (10000 - 200 * 0.01) > 2, so
    # 2 * 10000 / (100 + 2 * 0.01) = 199.96 units.
    qty = 200.0 if not slippage else 199.96
    assert (first["fill_price"], first["position"]) == ((100.0, qty) if not slippage else (100.01, qty))
    r = sim.step(200.0)
    assert (r["stop_filled"], r["position"], r["fill_price"]) == (1.0, 0.0, pytest.approx(fill))
    assert r["equity"] == pytest.approx(10_000.0 + qty * (fill - first["fill_price"]))
    assert r["loss_overshoot"] == pytest.approx((10_000.0 - r["equity"]) / 10_000.0 - 0.10)
    assert r["loss_overshoot"] < 0.0003


def test_a_short_is_stopped_inside_a_spike() -> None:
    # Short 2x XRP-like: -40000 at 0.5 with 10000 USDT; bar 2 spikes to +75 % (0.875) inside the bar. The
    # 10 % drawdown stop buys back at 10000 - 40000 (p - 0.5) = 9000 -> p = 0.525.
    p = [0.5, 0.5, 0.5, 0.6]
    frame = bars(p, [0.5, 0.5, 0.875, 0.6], p, [0.5, 0.5, 0.6, 0.6], quote_volume=1e9)
    free = CostConfig(maker_fee=0.0, taker_fee=0.0, half_spread_bps=0.0, impact_k=0.0)
    limits = RiskLimits(max_leverage=2.0, max_drawdown=0.10, max_daily_loss=math.inf)
    xrp = made_up(tick=0.0001, step=0.1)
    sim = PerpSimulator(
        MarketArrays.from_frames(frame, costs=free), xrp, MarketModelConfig(costs=free), limits
    )
    assert sim.step(-40_000.0)["position"] == -40_000.0
    r = sim.step(-40_000.0)
    assert (r["stop_filled"], r["fill_price"]) == (1.0, pytest.approx(0.525))
    assert r["equity"] == pytest.approx(9_000.0)


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"target_qty": math.nan}, FLAG_BAD_INPUT),
        ({"target_qty": math.inf}, FLAG_BAD_INPUT),
        ({"equity": math.nan}, FLAG_BAD_STATE),
        ({"current_qty": math.nan}, FLAG_BAD_STATE),
        ({"peak_equity": math.nan}, FLAG_BAD_STATE),  # not "loss limits off"
        ({"day_start_equity": math.nan}, FLAG_BAD_STATE),
        ({"data_age_ms": math.nan}, FLAG_BAD_STATE),
        ({"data_age_ms": -1.0}, FLAG_BAD_STATE),
        ({"orders_last_minute": math.nan}, FLAG_BAD_STATE),
        ({"orders_last_minute": -1.0}, FLAG_BAD_STATE),
        ({"price_deviation": -0.01}, FLAG_BAD_STATE),
        ({"price_deviation": math.nan}, FLAG_BAD_STATE),
        ({"mark_price": -100.0}, FLAG_BAD_STATE),  # before: a buy
        ({"mark_price": 0.0}, FLAG_BAD_STATE),  # before: ZeroDivisionError
        ({"equity": "10000"}, FLAG_BAD_STATE),
        ({"target_qty": None}, FLAG_BAD_INPUT),
    ],
)
def test_bad_input_is_refused_never_turned_into_a_trade(
    change: dict[str, Any], flag: int, caplog: pytest.LogCaptureFixture
) -> None:
    gate = RiskGate(RiskLimits(max_leverage=3.0), made_up(tick=0.01))
    decision = gate.decide(**{**STATE, "target_qty": 100.0, **change})
    assert decision.order_qty == 0.0 and decision.forced_qty == 0.0
    assert decision.flags & flag and decision.rejected and decision.halt
    assert "refused an order on bad input" in caplog.text


def test_a_bad_target_does_not_switch_the_loss_limits_off() -> None:
    gate = RiskGate(RiskLimits(max_leverage=3.0, max_drawdown=0.1), made_up(tick=0.01))
    decision = gate.decide(**{**STATE, "current_qty": 50.0, "equity": 8_000.0, "target_qty": math.nan})
    assert decision.order_qty == -50.0 and decision.forced_qty == 50.0  # the breach still flattens
    assert decision.flags & FLAG_BAD_INPUT and decision.flags & FLAG_DRAWDOWN_BREACH


@pytest.mark.parametrize("action", [math.nan, math.inf, -math.inf, 7, -1, 2.5])
def test_an_unusable_discrete_action_opens_nothing(action: float) -> None:
    env = _env(flat_bars(100.0, 20), RiskLimits(max_leverage=3.0, **OFF))
    env.reset(options={"start_bar": 1})
    info = env.step(action)[4]  # before: NaN or +inf became level 0, a full short
    assert (info["fill_qty"], info["position"]) == (0.0, 0.0)
    assert int(info["risk_flags"]) & FLAG_BAD_INPUT and info["rejected"] == 1.0


@pytest.mark.parametrize("action", [math.nan, 1.5, -1.01])
def test_an_unusable_continuous_action_opens_nothing(action: float) -> None:
    env = _env(flat_bars(100.0, 20), RiskLimits(max_leverage=3.0, **OFF), action_type="continuous")
    env.reset(options={"start_bar": 1})
    info = env.step(np.array([action]))[4]
    assert (info["fill_qty"], int(info["risk_flags"]) & FLAG_BAD_INPUT) == (0.0, FLAG_BAD_INPUT)


def test_stale_data_blocks_opening_but_never_a_reduction() -> None:
    # Orders leave 1 s after each close (decision_latency_ms), the limit allows 0.5 s.
    risk = RiskLimits(max_leverage=3.0, max_data_age_ms=500.0, **OFF)
    env = _env(flat_bars(100.0, 20), risk, decision_latency_ms=1_000.0)
    env.reset(options={"start_bar": 1})
    info = env.step(4)[4]
    assert (info["position"], info["rejected"]) == (0.0, 1.0) and int(info["risk_flags"]) & FLAG_STALE_DATA
    fresh = _env(flat_bars(100.0, 20), RiskLimits(max_leverage=3.0, **OFF))
    fresh.reset(options={"start_bar": 1})
    assert fresh.step(4)[4]["position"] == 300.0
    # A position opened with fresh data is closed under stale data: reductions always pass.
    sim_risk = RiskLimits(max_leverage=3.0, max_data_age_ms=500.0, **OFF)
    gate = RiskGate(sim_risk, made_up(tick=0.01))
    closing = gate.decide(**{**STATE, "current_qty": 300.0, "target_qty": 0.0, "data_age_ms": 60_000.0})
    assert closing.order_qty == -300.0 and not closing.flags & FLAG_STALE_DATA


def test_a_gap_in_the_bars_makes_the_next_order_stale() -> None:
    # Bars at 00:00-04:00, then 08:00 onwards: an order at the 08:00 open uses data 4 h old (limit: 1 h).
    hours = np.array([0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17], dtype=np.int64)
    p = [100.0] * hours.shape[0]
    frame = bars(p, p, p, p).assign(timestamp=T0 + HOUR * hours)
    env = _env(frame, RiskLimits(max_leverage=3.0, max_data_age_ms=3_600_000.0, **OFF))
    env.reset(options={"start_bar": 4})
    assert int(env.step(4)[4]["risk_flags"]) & FLAG_STALE_DATA  # bar 5 = 08:00
    assert env.step(4)[4]["position"] == 300.0  # bar 6 = 09:00: fresh again


def test_the_price_band_rejects_a_market_order_priced_beyond_it() -> None:
    # Half-spread 2 bps: a market buy is expected 2 bps from the mark, beyond a 1 bp band.
    costs = {"costs": {**FREE["costs"], "half_spread_bps": 2.0}}
    env = _env(flat_bars(100.0, 20), RiskLimits(max_leverage=3.0, price_band=1e-4, **OFF), market=costs)
    env.reset(options={"start_bar": 1})
    info = env.step(4)[4]
    assert info["position"] == 0.0 and int(info["risk_flags"]) & FLAG_PRICE_BAND
    wide = _env(flat_bars(100.0, 20), RiskLimits(max_leverage=3.0, price_band=3e-4, **OFF), market=costs)
    wide.reset(options={"start_bar": 1})
    assert wide.step(4)[4]["position"] > 0.0


def test_the_order_rate_limits_voluntary_orders_but_never_a_forced_exit() -> None:
    # Market orders may carry 10 units at most (MARKET_LOT_SIZE), one order a minute: a 300-unit target
    # gets one 10-unit order per bar. A forced exit of 95 units still goes, as ten orders.
    inst = Instrument("LOTUSDT", 0.01, 0.001, 0.001, 1e6, 5.0, FLAT_TIER, market_max_qty=10.0)
    risk = RiskLimits(max_leverage=3.0, max_orders_per_minute=1, **OFF)
    env = _env(flat_bars(100.0, 20), risk, inst)
    env.reset(options={"start_bar": 1})
    info = env.step(4)[4]
    assert (info["position"], info["orders"]) == (10.0, 1.0) and int(info["risk_flags"]) & FLAG_ORDER_RATE
    gate = RiskGate(risk, inst)
    trim = gate.decide(**{**STATE, "current_qty": 395.0, "target_qty": 395.0})  # 3.95x: trimmed to 3x
    assert trim.forced_qty == 95.0 and trim.n_orders == 10 and trim.order_qty == -95.0


def test_the_env_and_the_live_entry_take_the_same_decision() -> None:
    """``RiskGate.decide`` is the function the env's step calls: the same state, the same order."""
    import asterrl.sim.account as account
    from asterrl.risk import order_decision

    assert account.decide_order is order_decision.decide_order
    inst = made_up(tick=0.01, step=0.001, min_notional=5.0)
    risk = RiskLimits(max_leverage=3.0, max_order_notional=2_000.0, max_position_notional=20_000.0, **OFF)
    gate = RiskGate(risk, inst)
    free = CostConfig(maker_fee=0.0, taker_fee=0.0, half_spread_bps=0.0, impact_k=0.0, participation_cap=1.0)
    rng = np.random.default_rng(0)
    for target in rng.uniform(-400.0, 400.0, 40):
        sim = PerpSimulator(MarketArrays.from_frames(flat_bars(100.0, 4), costs=free), inst,
                            MarketModelConfig(costs=free), risk)  # fmt: skip
        sim.step(float(rng.uniform(-150.0, 150.0)))
        state = {"current_qty": sim.position, "mark_price": 100.0, "equity": sim.equity,
                 "peak_equity": sim.peak_equity, "day_start_equity": 10_000.0}  # fmt: skip
        decided = gate.decide(**state, target_qty=float(target))
        assert sim.step(float(target))["fill_qty"] == pytest.approx(decided.order_qty, abs=1e-12)


@pytest.mark.parametrize(
    ("limits", "key"),
    [
        ({"max_leverage": 200.0}, "risk.max_leverage=200.0 must lie in"),
        ({"max_leverage": 126.0}, "risk.max_leverage"),
        ({"max_drawdown": -math.inf}, "risk.max_drawdown"),
        ({"max_order_notional": 4.0}, "risk.max_order_notional=4 USDT is below BTCUSDT's minimum"),
        ({"max_orders_per_minute": 0.5}, "risk.max_orders_per_minute"),
        ({"max_leverage": True}, "risk.max_leverage must be a number, got True"),
        ({"max_leverage": "3"}, "risk.max_leverage must be a number, got '3'"),
        ({"max_leverage": None}, "risk.max_leverage must be a number, got None"),
        ({"price_band": math.nan}, "risk.price_band must be a number"),
    ],
)
def test_bad_risk_configs_are_refused_in_one_line(limits: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RiskLimits(**limits).validate(btcusdt())
    assert key in str(caught.value) and "\n" not in str(caught.value)


def test_max_leverage_above_the_instruments_maximum_is_refused() -> None:
    tiers = (MarginTier(0.0, math.inf, 0.02, 0.0, 20.0),)
    with pytest.raises(ConfigError, match=r"risk\.max_leverage=25 exceeds TESTUSDT's maximum leverage 20"):
        RiskLimits(max_leverage=25.0).validate(made_up(tiers=tiers))


@pytest.mark.shared_data
def test_the_xrp_spike_of_13_july_2023_costs_a_2x_short_its_drawdown_limit_not_half_the_account(
    shared_data: Any,
) -> None:
    # Before: a 10 % drawdown limit let a 2x short lose 51.7 % as XRP rose 0.47 -> 0.96 in three hours.
    from asterrl.data.instruments import load_instrument

    lo = pd.Timestamp("2023-07-12", tz="UTC").value // 1_000_000
    frames = []
    for folder, name in (("perp_ohlcv", "XRPUSDT_1h"), ("perp_funding", "XRPUSDT_funding"),
                         ("perp_mark", "XRPUSDT_mark_1h")):  # fmt: skip
        frame = pd.read_csv(shared_data / folder / f"{name}.csv.gz")
        frames.append(frame[(frame["timestamp"] >= lo) & (frame["timestamp"] < lo + 3 * 86_400_000)])
    bars_, funding, mark = (f.reset_index(drop=True) for f in frames)
    data = MarketArrays.from_frames(bars_, funding, mark)
    limits = RiskLimits(max_leverage=2.0, max_drawdown=0.10, max_daily_loss=math.inf)
    spike = int(np.flatnonzero(bars_["timestamp"] == lo + 39 * HOUR)[0])  # 2023-07-13 15:00
    sim = PerpSimulator(data, load_instrument("XRPUSDT"), MarketModelConfig(), limits, start_bar=spike - 2)
    sim.step(-2.0 * 10_000.0 / bars_["close"][spike - 2])  # short about 2x at the 14:00 open
    wallet, qty, entry, peak = sim.wallet, sim.position, sim.entry_price, sim.peak_equity
    # The stop: wallet + qty (p - entry) = 0.9 peak, on the mark; filled on last-trade prices.
    trigger = entry + (0.9 * peak - wallet) / qty
    r = sim.step(qty)
    assert r["stop_filled"] == 1.0 and r["position"] == 0.0 and sim.halted
    assert bars_["high"][spike] > 0.64 and trigger < 0.50  # the stop sat far below the spike's top
    # 10 % plus the exit's costs on about 2x notional: fee 3.5 bps + spread and impact, some 0.1 pp.
    assert 0.10 < (peak - r["equity"]) / peak < 0.1015


def test_tiny_live_limits_stop_every_opening_order_in_the_env() -> None:
    # Before: with the rate, staleness and band limits at 1e-9, 60 of 60 orders filled (the env passed 0s).
    with pytest.raises(ConfigError, match="max_orders_per_minute"):
        RiskLimits(max_orders_per_minute=1e-9).validate()
    for tiny in ({"max_data_age_ms": 1e-9}, {"price_band": 1e-9}):
        costs = {"costs": {**FREE["costs"], "half_spread_bps": 0.5}}
        env = _env(flat_bars(100.0, 80), RiskLimits(max_leverage=3.0, **OFF, **tiny), market=costs)
        env.reset(options={"start_bar": 1})
        fills = [env.step(int(a))[4]["fill_qty"] for a in np.random.default_rng(0).integers(0, 5, 60)]
        assert fills == [0.0] * 60


@pytest.mark.parametrize(
    ("loss_limits", "flag"),
    [
        ({"max_drawdown": 0.10, "max_daily_loss": math.inf}, FLAG_DRAWDOWN_BREACH),
        ({"max_drawdown": math.inf, "max_daily_loss": 0.10}, FLAG_DAILY_LOSS_BREACH),
    ],
)
def test_a_stop_filled_better_than_its_trigger_still_names_its_limit(
    loss_limits: dict[str, float], flag: int
) -> None:
    # Long 200 at 100 with 10000 USDT (2x, no costs), a 10 % loss limit: the stop triggers where the mark
    # reaches 10000 + 200 (p - 100) = 9000 -> p = 95. Bar 2's mark trades down to 90, but its last-trade
    # low is 96 (basis 1 at the open): the stop fills at 96, equity 9200, 2 pp inside the limit. The step
    # still reports which limit stopped the account (before: no breach flag, so a run's end read "halted").
    last = bars(
        [100.0, 100.0, 100.0, 96.0], [100.0] * 4, [100.0, 100.0, 96.0, 96.0], [100.0, 100.0, 96.0, 96.0]
    )
    mark = pd.DataFrame({"timestamp": last["timestamp"], "mark_open": last["open"], "mark_high": last["high"],
                         "mark_low": [100.0, 100.0, 90.0, 96.0], "mark_close": last["close"]})  # fmt: skip
    free = CostConfig(maker_fee=0.0, taker_fee=0.0, half_spread_bps=0.0, impact_k=0.0, participation_cap=1.0)
    limits = RiskLimits(max_leverage=2.0, **loss_limits)
    sim = PerpSimulator(MarketArrays.from_frames(last, mark=mark, costs=free), made_up(tick=0.01),
                        MarketModelConfig(costs=free), limits)  # fmt: skip
    assert sim.step(200.0)["position"] == 200.0
    r = sim.step(200.0)
    assert (r["stop_filled"], r["position"], r["fill_price"], r["terminated"]) == (1.0, 0.0, 96.0, 1.0)
    assert r["equity"] == pytest.approx(9_200.0)
    assert r["loss_overshoot"] == pytest.approx(-0.02)
    assert int(r["risk_flags"]) & flag
