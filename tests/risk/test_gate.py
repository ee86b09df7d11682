"""The risk gate: each limit against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from asterrl.errors import ConfigError
from asterrl.risk import GateDecision, RiskGate, RiskLimits, leverage_capped_qty, trimmed_position
from asterrl.risk.gate import (
    FLAG_DAILY_LOSS_BREACH,
    FLAG_DRAWDOWN_BREACH,
    FLAG_LEVERAGE_CLIPPED,
    FLAG_ORDER_CLIPPED,
    FLAG_ORDER_RATE,
    FLAG_POSITION_CLIPPED,
    FLAG_PRICE_BAND,
    FLAG_STALE_DATA,
)

BASE = {"current_qty": 0.0, "price": 40_000.0, "equity": 10_000.0, "peak_equity": 10_000.0}


def gate(**limits: float) -> RiskGate:
    return RiskGate(RiskLimits(**limits))


def test_leverage_clip_counts_the_orders_own_costs() -> None:
    # From flat, 1 BTC wanted at 40000 with 10000 USDT, 20 USDT cost per BTC traded, 3x limit:
    # |q| * 40000 <= 3 * (10000 - 20 |q|)  ->  |q| <= 30000 / 40060 = 0.748876...
    d = gate(max_leverage=3.0).check(**BASE, target_qty=1.0, day_start_equity=10_000.0, unit_cost=20.0)
    assert d.target_qty == pytest.approx(30_000.0 / 40_060.0)
    assert d.flags == FLAG_LEVERAGE_CLIPPED
    leverage_after = d.target_qty * 40_000.0 / (10_000.0 - 20.0 * d.target_qty)
    assert leverage_after == pytest.approx(3.0)


def test_leverage_clip_on_a_flip_and_on_an_increase() -> None:
    g = gate(max_leverage=2.0)
    # Flip from long 0.2 to short: cost on 0.2 + |q|: |q| * 40000 <= 2 * (10000 - 10 * (0.2 + |q|)).
    d = g.check(**{**BASE, "current_qty": 0.2}, target_qty=-1.0, day_start_equity=10_000.0, unit_cost=10.0)
    assert d.target_qty == pytest.approx(-(2.0 * (10_000.0 - 2.0)) / 40_020.0)
    # Increase from long 0.2: cost on |q| - 0.2: |q| * 40000 <= 2 * (10000 - 10 * (|q| - 0.2)).
    d = g.check(**{**BASE, "current_qty": 0.2}, target_qty=1.0, day_start_equity=10_000.0, unit_cost=10.0)
    assert d.target_qty == pytest.approx(2.0 * (10_000.0 + 2.0) / 40_020.0)
    # A wanted position within the limit passes untouched.
    d = g.check(**BASE, target_qty=0.3, day_start_equity=10_000.0, unit_cost=10.0)
    assert (d.target_qty, d.flags) == (0.3, 0)


def test_position_and_order_notional_caps() -> None:
    g = gate(max_leverage=10.0, max_position_notional=20_000.0, max_order_notional=8_000.0)
    d = g.check(**BASE, target_qty=-1.0, day_start_equity=10_000.0)
    # 1 BTC = 40000 USDT: position cap 0.5 BTC, then the order cap 8000 / 40000 = 0.2 BTC.
    assert d.target_qty == pytest.approx(-0.2)
    assert d.flags == FLAG_POSITION_CLIPPED | FLAG_ORDER_CLIPPED


def test_drawdown_and_daily_loss_breaches_flatten() -> None:
    g = gate(max_drawdown=0.25, max_daily_loss=0.1)
    state = {**BASE, "current_qty": 0.1}
    # 7400 is 26 % under a 10000 peak (and 7.5 % under an 8000 day start): drawdown only.
    d = g.check(**{**state, "equity": 7_400.0}, target_qty=0.1, day_start_equity=8_000.0)
    assert (d.target_qty, d.flags, d.halt) == (0.0, FLAG_DRAWDOWN_BREACH, True)
    # 8900 is 11 % under a 10000 day start but only 11 % under the peak: daily loss only.
    d = g.check(**{**state, "equity": 8_900.0}, target_qty=0.1, day_start_equity=10_000.0)
    assert (d.target_qty, d.flags) == (0.0, FLAG_DAILY_LOSS_BREACH)
    assert d.reasons() == ["daily_loss_breach"]
    # 9100: 9 % down on the day, within both limits.
    d = g.check(**{**state, "equity": 9_100.0}, target_qty=0.1, day_start_equity=10_000.0)
    assert (d.target_qty, d.flags) == (0.1, 0)


def test_live_checks_reject_the_order() -> None:
    g = gate(max_orders_per_minute=5, max_data_age_ms=2_000.0, price_band=0.02)
    common = {**BASE, "current_qty": 0.1, "target_qty": 0.2, "day_start_equity": 10_000.0}
    assert g.check(**common, data_age_ms=2_001.0).flags == FLAG_STALE_DATA
    assert g.check(**common, orders_last_minute=5).flags == FLAG_ORDER_RATE
    d = g.check(**common, price_deviation=0.021)
    assert (d.target_qty, d.flags, d.rejected) == (0.1, FLAG_PRICE_BAND, True)
    assert g.check(**common, data_age_ms=2_000.0, orders_last_minute=4, price_deviation=0.02).flags == 0


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ConfigError):
        RiskLimits(max_leverage=0.0).validate()
    with pytest.raises(ConfigError):
        RiskLimits(max_drawdown=1.5).validate()
    assert RiskLimits(max_order_notional=math.inf).to_manifest()["max_order_notional"] is None


def test_a_hold_passes_and_an_order_trims_a_position_beyond_the_limit() -> None:
    g = gate(max_leverage=2.0, max_order_notional=4_000.0)
    # Long 0.75 BTC at 40000 with 10000 USDT is 3x: holding it sends no order and passes unchanged.
    state = {**BASE, "current_qty": 0.75, "day_start_equity": 10_000.0}
    assert g.check(**state, target_qty=0.75) == GateDecision(0.75, 0)
    # Any order must end within 2x: even a wish to add is cut to 2 * 10000 / 40000 = 0.5 BTC, and the
    # 4000 USDT order cap (0.1 BTC) does not keep the position above it (the forced part must happen).
    d = g.check(**state, target_qty=1.0)
    assert d.target_qty == pytest.approx(0.5)
    assert d.flags == FLAG_LEVERAGE_CLIPPED | FLAG_ORDER_CLIPPED
    assert trimmed_position(0.75, 40_000.0, 10_000.0, 0.0, RiskLimits(max_leverage=2.0).to_array()) == 0.5


def test_a_reduction_whose_cost_outweighs_its_notional_is_not_forced_flat() -> None:
    # Leverage 50, 900 USDT cost per BTC at 40000: 50 * 900 > 40000, so |q| (40000 - 45000) <= ... holds
    # for any reduction the equity can pay; 0.1 BTC (4000 USDT, 0.4x) is kept, not flattened.
    assert leverage_capped_qty(0.1, 0.1, 40_000.0, 10_000.0, 900.0, 50.0) == 0.1
    assert leverage_capped_qty(0.1, 0.05, 40_000.0, 10_000.0, 900.0, 50.0) == 0.05
