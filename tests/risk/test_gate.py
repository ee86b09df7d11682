"""The risk gate (``gate_target``): each limit against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from asterrl.errors import ConfigError
from asterrl.risk import RiskLimits, gate_target, leverage_capped_qty, trimmed_position
from asterrl.risk.gate import (
    FLAG_DAILY_LOSS_BREACH,
    FLAG_DRAWDOWN_BREACH,
    FLAG_DRIFT_TRIM,
    FLAG_LEVERAGE_CLIPPED,
    FLAG_ORDER_CLIPPED,
    FLAG_ORDER_RATE,
    FLAG_POSITION_CLIPPED,
    FLAG_PRICE_BAND,
    FLAG_STALE_DATA,
    flag_names,
)


def gate(
    limits: RiskLimits,
    target: float,
    current: float = 0.0,
    price: float = 40_000.0,
    equity: float = 10_000.0,
    unit_cost: float = 0.0,
    peak: float = 10_000.0,
    day_start: float = 10_000.0,
    age: float = 0.0,
    orders: float = 0.0,
    deviation: float = 0.0,
) -> tuple[float, float, int]:
    return gate_target(
        current,
        target,
        price,
        equity,
        unit_cost,
        peak,
        day_start,
        age,
        orders,
        deviation,
        limits.validate().to_array(),
    )


def test_leverage_clip_counts_the_orders_own_costs() -> None:
    # From flat, 1 BTC wanted at 40000 with 10000 USDT, 20 USDT cost per BTC traded, 3x limit:
    # |q| * 40000 <= 3 * (10000 - 20 |q|)  ->  |q| <= 30000 / 40060 = 0.748876...
    allowed, keep, flags = gate(RiskLimits(max_leverage=3.0), 1.0, unit_cost=20.0)
    assert allowed == pytest.approx(30_000.0 / 40_060.0)
    assert (keep, flags) == (0.0, FLAG_LEVERAGE_CLIPPED)
    assert allowed * 40_000.0 / (10_000.0 - 20.0 * allowed) == pytest.approx(3.0)


def test_leverage_clip_on_a_flip_and_on_an_increase() -> None:
    limits = RiskLimits(max_leverage=2.0)
    # Flip from long 0.2 to short: cost on 0.2 + |q|: |q| * 40000 <= 2 * (10000 - 10 * (0.2 + |q|)).
    allowed, _, _ = gate(limits, -1.0, current=0.2, unit_cost=10.0)
    assert allowed == pytest.approx(-(2.0 * (10_000.0 - 2.0)) / 40_020.0)
    # Increase from long 0.2: cost on |q| - 0.2: |q| * 40000 <= 2 * (10000 - 10 * (|q| - 0.2)).
    allowed, _, _ = gate(limits, 1.0, current=0.2, unit_cost=10.0)
    assert allowed == pytest.approx(2.0 * (10_000.0 + 2.0) / 40_020.0)
    # A wanted position within the limit passes untouched.
    assert gate(limits, 0.3, unit_cost=10.0) == (0.3, 0.0, 0)


def test_position_and_order_notional_caps() -> None:
    limits = RiskLimits(max_leverage=10.0, max_position_notional=20_000.0, max_order_notional=8_000.0)
    # 1 BTC = 40000 USDT: position cap 0.5 BTC, then the order cap 8000 / 40000 = 0.2 BTC.
    allowed, _, flags = gate(limits, -1.0)
    assert allowed == pytest.approx(-0.2)
    assert flags == FLAG_POSITION_CLIPPED | FLAG_ORDER_CLIPPED


def test_drawdown_and_daily_loss_breaches_flatten() -> None:
    limits = RiskLimits(max_drawdown=0.25, max_daily_loss=0.1)
    # 7400 is 26 % under a 10000 peak (and 7.5 % under an 8000 day start): drawdown only.
    assert gate(limits, 0.1, current=0.1, equity=7_400.0, day_start=8_000.0) == (
        0.0,
        0.0,
        FLAG_DRAWDOWN_BREACH,
    )
    # 8900 is 11 % under a 10000 day start but only 11 % under the peak: daily loss only.
    _, _, flags = gate(limits, 0.1, current=0.1, equity=8_900.0)
    assert flags == FLAG_DAILY_LOSS_BREACH and flag_names(flags) == ["daily_loss_breach"]
    # 9100: 9 % down on the day, within both limits.
    assert gate(limits, 0.1, current=0.1, equity=9_100.0) == (0.1, 0.1, 0)


def test_live_checks_reject_the_order_but_never_a_reduction_for_stale_data() -> None:
    limits = RiskLimits(max_orders_per_minute=5, max_data_age_ms=2_000.0, price_band=0.02)
    assert gate(limits, 0.2, current=0.1, age=2_001.0) == (0.1, 0.1, FLAG_STALE_DATA)
    assert gate(limits, 0.2, current=0.1, orders=5.0) == (0.1, 0.1, FLAG_ORDER_RATE)  # a 6th in a minute
    assert gate(limits, 0.2, current=0.1, deviation=0.021) == (0.1, 0.1, FLAG_PRICE_BAND)
    assert gate(limits, 0.2, current=0.1, age=2_000.0, orders=4.0, deviation=0.02) == (0.2, 0.1, 0)
    # Stale data never blocks an order that only reduces the position.
    assert gate(limits, 0.05, current=0.1, age=10_000.0) == (0.05, 0.1, 0)


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ConfigError):
        RiskLimits(max_leverage=0.0).validate()
    with pytest.raises(ConfigError):
        RiskLimits(max_drawdown=1.5).validate()
    assert RiskLimits(max_order_notional=math.inf).to_manifest()["max_order_notional"] is None


def test_a_hold_within_tolerance_passes_and_an_order_trims_a_position_beyond_the_limit() -> None:
    limits = RiskLimits(max_leverage=2.0, max_order_notional=4_000.0, drift_tolerance=0.6)
    # Long 0.75 BTC at 40000 with 10000 USDT is 3x, within 2x * (1 + 0.6): holding it sends no order.
    assert gate(limits, 0.75, current=0.75) == (0.75, 0.75, 0)
    # Any order must end within 2x: even a wish to add is cut to 2 * 10000 / 40000 = 0.5 BTC, and the
    # 4000 USDT order cap (0.1 BTC) does not keep the position above it (the forced part must happen).
    allowed, keep, flags = gate(limits, 1.0, current=0.75)
    assert (allowed, keep) == (pytest.approx(0.5), pytest.approx(0.5))
    assert flags == FLAG_LEVERAGE_CLIPPED | FLAG_ORDER_CLIPPED
    assert trimmed_position(0.75, 40_000.0, 10_000.0, 0.0, RiskLimits(max_leverage=2.0).to_array()) == 0.5


def test_a_hold_beyond_the_tolerance_is_trimmed() -> None:
    # 3x against a 2x limit with a 5 % tolerance: the hold becomes a trim back to 0.5 BTC.
    allowed, keep, flags = gate(RiskLimits(max_leverage=2.0), 0.75, current=0.75)
    assert (allowed, keep, flags) == (pytest.approx(0.5), pytest.approx(0.5), FLAG_DRIFT_TRIM)
    # 2.08x is within 2.1x: no trim.
    assert gate(RiskLimits(max_leverage=2.0), 0.52, current=0.52) == (0.52, 0.52, 0)
    # Position notional 1.76x its cap (an 87-bar XRPUSDT drift in the stress test) is trimmed too.
    limits = RiskLimits(max_leverage=5.0, max_position_notional=5_000.0)
    allowed, _, flags = gate(limits, 0.22, current=0.22)  # 8800 USDT
    assert (allowed, flags) == (pytest.approx(0.125), FLAG_DRIFT_TRIM)


def test_a_reduction_whose_cost_outweighs_its_notional_is_not_forced_flat() -> None:
    # Leverage 50, 900 USDT cost per BTC at 40000: 50 * 900 > 40000, so |q| (40000 - 45000) <= ... holds
    # for any reduction the equity can pay; 0.1 BTC (4000 USDT, 0.4x) is kept, not flattened.
    assert leverage_capped_qty(0.1, 0.1, 40_000.0, 10_000.0, 900.0, 50.0) == 0.1
    assert leverage_capped_qty(0.1, 0.05, 40_000.0, 10_000.0, 900.0, 50.0) == 0.05
