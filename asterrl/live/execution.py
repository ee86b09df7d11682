"""Execution: the change of position the gate allowed, turned into legs and the orders that work them.

Legs: a change that only shrinks the position is one reduce-only leg; one that grows it is an opening leg;
one that crosses zero is, with limit orders, a reduce-only leg closing the position and an opening leg,
and with market orders one plain order, as the training env fills it (one fill, one impact). A leg larger than
``max_volume_share`` of the recent mean bar volume is sliced into children no larger than that, each its
own leg, worked one after another.

Orders of a leg (``style=limit``, limit first): attempt 0 rests at the passive touch (best bid for a buy,
best ask for a sell; the mark when no book is known), post-only (``GTX``) where it does not cross, never
further than ``price_band_bps`` from the mark. Unfilled after ``reprice_after_s``, it is cancelled and the
rest re-priced at the new touch (attempts 1 .. ``max_reprices``); after the last re-price what remains goes
as an IOC limit at the band's edge (``final=ioc``) or is left to the next decision (``final=cancel``).
``style=market`` sends each leg as one market order, as the training env assumes. Every reducing leg is
reduce-only. The planner is pure arithmetic: the bridge sends what it returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from asterrl.errors import ConfigError
from asterrl.sim.instrument import Instrument

STYLES = ("limit", "market")
FINALS = ("ioc", "cancel")


@dataclass
class ExecutionConfig:
    """How orders are worked (``deploy.execution``).

    :param style: ``limit`` (limit first, then re-price, then IOC) or ``market`` (one market order per leg).
    :param post_only: send passive limit orders as ``GTX`` (refused by the exchange if they would cross).
    :param price_band_bps: farthest a limit price may lie from the mark, bps (within ``risk.price_band``).
    :param reprice_after_s: seconds a passive order rests before it is cancelled and re-priced.
    :param max_reprices: passive re-prices of a leg before the final step.
    :param final: after the last re-price: ``ioc`` (cross, within the band) or ``cancel`` (leave it).
    :param max_volume_share: largest share of the recent mean bar volume one order may take (``.inf``: no
        slicing).
    :param volume_bars: bars in that recent mean volume.
    """

    style: str = "limit"
    post_only: bool = True
    price_band_bps: float = 20.0
    reprice_after_s: float = 15.0
    max_reprices: int = 2
    final: str = "ioc"
    max_volume_share: float = 0.05
    volume_bars: int = 24

    def validate(self, where: str = "deploy.execution") -> ExecutionConfig:
        if self.style not in STYLES:
            raise ConfigError(f"{where}.style={self.style!r}; expected one of {', '.join(STYLES)}")
        if self.final not in FINALS:
            raise ConfigError(f"{where}.final={self.final!r}; expected one of {', '.join(FINALS)}")
        if not (0.0 < self.price_band_bps < 10_000.0):
            raise ConfigError(f"{where}.price_band_bps must lie in (0, 10000), got {self.price_band_bps}")
        if not (self.reprice_after_s > 0.0 and math.isfinite(self.reprice_after_s)):
            raise ConfigError(f"{where}.reprice_after_s must be a finite number of seconds > 0")
        if self.max_reprices < 0 or self.volume_bars < 1:
            raise ConfigError(f"{where}.max_reprices must be >= 0 and volume_bars >= 1")
        if not self.max_volume_share > 0.0:
            raise ConfigError(f"{where}.max_volume_share must be > 0 (.inf: no slicing)")
        return self


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg of a decision: ``qty`` (base asset, > 0) bought or sold, reduce-only when it shrinks;
    ``market`` legs (the gate's forced exits) go at market whatever the execution style."""

    index: int
    side: str
    qty: float
    reduce_only: bool
    market: bool = False

    @property
    def sign(self) -> int:
        return 1 if self.side == "BUY" else -1


@dataclass(frozen=True, slots=True)
class Quote:
    """Prices the planner works from, USDT: the mark, the best bid and ask, and the last trade price
    (``nan`` when unknown)."""

    mark: float
    bid: float = math.nan
    ask: float = math.nan
    last: float = math.nan


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """An order to send for a leg's attempt (``price``/``time_in_force`` ``None`` for a market order)."""

    leg: int
    attempt: int
    side: str
    type: str
    qty: float
    price: float | None
    time_in_force: str | None
    reduce_only: bool


def _side(sign: float) -> str:
    return "BUY" if sign > 0 else "SELL"


def _down_to_grid(qty: float, instrument: Instrument) -> float:
    """``qty`` (>= 0) rounded down to the lot step, forgiving float noise of a billionth of a step (a
    difference of two grid values, 0.595 - 0.594, must stay one step, not fall to zero)."""
    return abs(instrument.round_qty(qty + instrument.step_size * 1e-9))


def _slices(qty: float, child: float, instrument: Instrument) -> list[float]:
    """``qty`` cut into pieces of at most ``child`` on the lot grid (the last holds the rest)."""
    if not math.isfinite(child) or qty <= child:
        return [qty]
    n = math.ceil(qty / child - 1e-9)
    out = [child] * (n - 1)
    rest = _down_to_grid(qty - child * (n - 1), instrument)
    if rest > 0:
        out.append(rest)
    return out


def plan_legs(
    current_qty: float,
    target_qty: float,
    instrument: Instrument,
    mean_volume: float,
    cfg: ExecutionConfig,
) -> list[Leg]:
    """The legs moving the position from ``current_qty`` to ``target_qty`` (base asset, on the lot grid).

    :param mean_volume: mean base volume of the recent bars (slicing), base asset.
    """
    legs: list[tuple[float, float, bool]] = []  # (sign, qty, reduce_only)
    flip = current_qty != 0.0 and target_qty * current_qty < 0.0
    if flip and cfg.style == "market":
        legs.append((math.copysign(1.0, target_qty), abs(target_qty - current_qty), False))
    elif current_qty != 0.0 and (flip or target_qty == 0.0):
        legs.append((-math.copysign(1.0, current_qty), abs(current_qty), True))
        if target_qty != 0.0:
            legs.append((math.copysign(1.0, target_qty), abs(target_qty), False))
    elif abs(target_qty) < abs(current_qty):
        legs.append((-math.copysign(1.0, current_qty), abs(current_qty) - abs(target_qty), True))
    elif target_qty != current_qty:
        legs.append((math.copysign(1.0, target_qty), abs(target_qty) - abs(current_qty), False))
    child = cfg.max_volume_share * mean_volume if mean_volume > 0.0 else math.inf
    child = _down_to_grid(child, instrument) if math.isfinite(child) else child
    if child <= 0.0:
        child = max(instrument.min_qty, instrument.step_size)
    out: list[Leg] = []
    for sign, qty, reduce_only in legs:
        size = _down_to_grid(qty, instrument)
        if reduce_only and abs(qty - abs(current_qty)) < instrument.step_size / 2:
            size = abs(current_qty)  # closing: exactly the position, whatever its grid
        for piece in _slices(size, child, instrument):
            if piece <= 0.0 or (piece < instrument.min_qty and not (reduce_only and piece == size)):
                continue
            out.append(Leg(len(out), _side(sign), piece, reduce_only))
    return out


def order_for(leg: Leg, attempt: int, remaining: float, quote: Quote, instrument: Instrument,
              cfg: ExecutionConfig) -> OrderSpec | None:  # fmt: skip
    """The order of ``attempt`` for what remains of ``leg``; ``None`` when the leg is done.

    Attempts ``0 .. max_reprices`` rest passively; the next is the IOC at the band's edge (``final=ioc``).
    A market style leg has one attempt. Prices lie on the tick grid, within ``price_band_bps`` of the mark.
    """
    if remaining <= 0.0 or not (quote.mark > 0.0 and math.isfinite(quote.mark)):
        return None
    if cfg.style == "market" or leg.market:
        return None if attempt > 0 else OrderSpec(leg.index, 0, leg.side, "MARKET", remaining, None, None,
                                                  leg.reduce_only)  # fmt: skip
    band = cfg.price_band_bps * 1e-4
    sign = leg.sign
    if attempt <= cfg.max_reprices:
        touch = quote.bid if sign > 0 else quote.ask
        if not (touch > 0.0 and math.isfinite(touch)):
            touch = quote.mark
        edge = quote.mark * (1.0 - sign * band)  # the passive side of the band
        price = max(touch, edge) if sign > 0 else min(touch, edge)
        price = instrument.round_price(price, sign)
        other = quote.ask if sign > 0 else quote.bid
        crosses = math.isfinite(other) and (price >= other if sign > 0 else price <= other)
        tif = "GTX" if cfg.post_only and not crosses else "GTC"
        return OrderSpec(leg.index, attempt, leg.side, "LIMIT", remaining, price, tif, leg.reduce_only)
    if attempt == cfg.max_reprices + 1 and cfg.final == "ioc":
        price = instrument.round_price(quote.mark * (1.0 + sign * band), sign)
        return OrderSpec(leg.index, attempt, leg.side, "LIMIT", remaining, price, "IOC", leg.reduce_only)
    return None


def legs_for_order(
    current_qty: float,
    order_qty: float,
    forced_qty: float,
    n_orders: int,
    instrument: Instrument,
    mean_volume: float,
    cfg: ExecutionConfig,
) -> list[Leg]:
    """The legs carrying the gate's order; a leg larger than the gate's per-order size (``n_orders`` > 1)
    is cut. With limit orders the forced part goes first (reduce-only, at market), then the rest as
    ``plan_legs`` lays it out; with market orders the whole order is laid out at once (the forced part
    fills within it, as the market model fills ``forced + voluntary`` in one go)."""
    if order_qty == 0.0:
        return []
    sign = math.copysign(1.0, order_qty)
    legs: list[Leg] = []
    if cfg.style == "market":
        forced_qty = 0.0
    if forced_qty > 0.0:
        legs.append(Leg(0, _side(sign), forced_qty, True, market=True))
    start = current_qty + sign * forced_qty
    for leg in plan_legs(start, current_qty + order_qty, instrument, mean_volume, cfg):
        legs.append(Leg(len(legs), leg.side, leg.qty, leg.reduce_only))
    if n_orders <= 1:
        return legs
    size = abs(order_qty)
    child = math.ceil(size / n_orders / instrument.step_size - 1e-9) * instrument.step_size
    out: list[Leg] = []
    for leg in legs:
        for piece in _slices(leg.qty, child, instrument):
            out.append(Leg(len(out), leg.side, piece, leg.reduce_only, leg.market))
    return out


def reprice_due(sent_ms: int, now_ms: int, cfg: ExecutionConfig) -> bool:
    """Whether a resting passive order has waited ``reprice_after_s``."""
    return now_ms - sent_ms >= cfg.reprice_after_s * 1000.0


def mean_volume(volumes: list[float] | tuple[float, ...], bars: int) -> float:
    """Mean of the last ``bars`` volumes (0 when none)."""
    recent = [v for v in volumes[-bars:] if math.isfinite(v)]
    return sum(recent) / len(recent) if recent else 0.0
