"""The execution planner: legs worked out by hand, slicing, prices in the band, invariants over draws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asterrl.live.execution import ExecutionConfig, Leg, OrderSpec, Quote, mean_volume, order_for, plan_legs
from asterrl.sim.instrument import Instrument, MarginTier

BTC = Instrument("BTCUSDT", 0.1, 0.001, 0.001, 1000.0, 5.0, (MarginTier(0.0, math.inf, 0.004, 0.0, 125.0),))
NO_SLICING = ExecutionConfig(max_volume_share=math.inf)


def _legs(
    current: float, target: float, cfg: ExecutionConfig = NO_SLICING, volume: float = 0.0
) -> list[tuple]:
    return [(leg.side, leg.qty, leg.reduce_only) for leg in plan_legs(current, target, BTC, volume, cfg)]


def test_legs_worked_out_by_hand() -> None:
    assert _legs(2.0, -1.0) == [("SELL", 2.0, True), ("SELL", 1.0, False)]  # flip: close, then open
    assert _legs(-0.5, 1.25) == [("BUY", 0.5, True), ("BUY", 1.25, False)]
    assert _legs(1.0, 3.0) == [("BUY", 2.0, False)]
    assert _legs(3.0, 1.0) == [("SELL", 2.0, True)]
    assert _legs(1.0, 0.0) == [("SELL", 1.0, True)]
    assert _legs(0.0, -0.2) == [("SELL", 0.2, False)]
    assert _legs(0.7, 0.7) == []
    assert _legs(0.0, 0.0004) == []  # below the minimum quantity: no order
    assert _legs(0.1234567, 0.0) == [("SELL", 0.1234567, True)]  # closing takes the whole position
    assert _legs(0.0, 1.23456) == [("BUY", 1.234, False)]  # rounded down to the lot step


def test_legs_larger_than_a_share_of_recent_volume_are_sliced() -> None:
    cfg = ExecutionConfig(max_volume_share=0.05)
    assert _legs(0.0, 12.0, cfg, volume=100.0) == [
        ("BUY", 5.0, False),
        ("BUY", 5.0, False),
        ("BUY", 2.0, False),
    ]
    legs = plan_legs(4.0, -7.0, BTC, 100.0, cfg)
    assert [(leg.index, leg.qty, leg.reduce_only) for leg in legs] == [
        (0, 4.0, True),
        (1, 5.0, False),
        (2, 2.0, False),
    ]
    assert mean_volume([1.0, 2.0, 3.0, 6.0], 3) == pytest.approx(11.0 / 3.0)


def test_limit_first_then_reprice_then_ioc_within_the_band() -> None:
    cfg = ExecutionConfig(price_band_bps=20.0, max_reprices=2)
    buy = Leg(0, "BUY", 0.5, False)
    quote = Quote(mark=30_000.0, bid=29_999.9, ask=30_000.0)
    first = order_for(buy, 0, 0.5, quote, BTC, cfg)
    assert first == OrderSpec(0, 0, "BUY", "LIMIT", 0.5, 29_999.9, "GTX", False)
    again = order_for(buy, 2, 0.3, Quote(30_100.0, 30_099.0, 30_099.5), BTC, cfg)
    assert again is not None and again.price == 30_099.0 and again.qty == 0.3 and again.time_in_force == "GTX"
    ioc = order_for(buy, 3, 0.3, quote, BTC, cfg)
    assert ioc == OrderSpec(0, 3, "BUY", "LIMIT", 0.3, 30_060.0, "IOC", False)  # mark * 1.002
    assert order_for(buy, 4, 0.3, quote, BTC, cfg) is None
    sell = Leg(1, "SELL", 0.5, True)
    far = order_for(
        sell, 0, 0.5, Quote(30_000.0, 29_000.0, 31_000.0), BTC, cfg
    )  # a wide book: the band rules
    assert far is not None and far.price == 30_060.0 and far.reduce_only
    assert order_for(sell, 3, 0.5, quote, BTC, cfg) == OrderSpec(
        1, 3, "SELL", "LIMIT", 0.5, 29_940.0, "IOC", True
    )
    cancel_final = ExecutionConfig(final="cancel", max_reprices=0)
    assert order_for(sell, 1, 0.5, quote, BTC, cancel_final) is None
    market = ExecutionConfig(style="market")
    assert order_for(sell, 0, 0.5, quote, BTC, market) == OrderSpec(
        1, 0, "SELL", "MARKET", 0.5, None, None, True
    )
    assert order_for(sell, 1, 0.5, quote, BTC, market) is None


def test_invariants_over_random_draws() -> None:
    rng = np.random.default_rng(3)
    cfg = ExecutionConfig(max_volume_share=0.05, price_band_bps=15.0)
    for _ in range(3000):
        current = float(np.round(rng.normal(0.0, 2.0), 3)) if rng.random() < 0.8 else 0.0
        target = float(np.round(rng.normal(0.0, 2.0), 3)) if rng.random() < 0.8 else 0.0
        legs = plan_legs(current, target, BTC, float(rng.uniform(1.0, 200.0)), cfg)
        position = current
        for leg in legs:
            after = position + leg.sign * leg.qty
            if leg.reduce_only:  # a reduce-only leg shrinks the position and never flips it
                assert abs(after) < abs(position) + 1e-12 and after * position >= -1e-12
            position = after
        if abs(target - current) >= BTC.min_qty:
            assert position == pytest.approx(target, abs=BTC.step_size)
        mark = float(rng.uniform(1000.0, 90_000.0))
        spread = mark * float(rng.uniform(0.0, 0.01))
        quote = Quote(mark, mark - spread, mark + spread)
        for leg in legs:
            for attempt in range(cfg.max_reprices + 2):
                spec = order_for(leg, attempt, leg.qty, quote, BTC, cfg)
                assert spec is not None and spec.price is not None
                assert abs(spec.price / mark - 1.0) <= 15e-4 + BTC.tick_size / mark
                assert round(spec.price / BTC.tick_size, 6) % 1 == 0  # on the tick grid
                if spec.time_in_force == "GTX":  # a post-only order never crosses the book
                    assert spec.price < quote.ask if leg.sign > 0 else spec.price > quote.bid
