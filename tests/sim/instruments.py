"""Instruments for the market-model tests: the bundled BTCUSDT, and made-up symbols with chosen rules."""

from __future__ import annotations

import math

from asterrl.data.instruments import load_instrument
from asterrl.sim.instrument import Instrument, MarginTier

#: One open tier: 1 % maintenance, no maintenance amount, up to 50x.
FLAT_TIER = (MarginTier(0.0, math.inf, 0.01, 0.0, 50.0),)


def btcusdt() -> Instrument:
    """The bundled BTCUSDT (tick 0.1, lot 0.001, min notional 5, Binance's BTCUSDT tiers)."""
    return load_instrument("BTCUSDT")


def made_up(
    tick: float = 0.1,
    step: float = 0.001,
    min_notional: float = 5.0,
    tiers: tuple[MarginTier, ...] = FLAT_TIER,
    symbol: str = "TESTUSDT",
    min_qty: float | None = None,
    liquidation_fee: float = 0.025,
) -> Instrument:
    """An instrument with the given rules (``min_qty`` defaults to one lot, the maximum qty is large)."""
    return Instrument(
        symbol=symbol,
        tick_size=tick,
        step_size=step,
        min_qty=step if min_qty is None else min_qty,
        max_qty=1e12,
        min_notional=min_notional,
        brackets=tiers,
        liquidation_fee=liquidation_fee,
    )
