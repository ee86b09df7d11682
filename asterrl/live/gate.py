"""The bridge's one call into ``asterrl.risk``: the shared gate decides what a wanted position may become.

``LiveGate.decide`` prices the order's cost per unit the way the market model does (the worse of a buy and
a sell at market: half-spread and square-root impact from the decision bar's estimates, plus the taker
fee), passes the account's equity, peak and day-start equity, the data's age, the orders sent in the last
minute and the order price's distance from the mark to ``RiskGate`` (the same numba ``gate_target`` the
env steps through), and returns the allowed order on the lot grid. This module is the narrow interface
the bridge relies on; it is the place that follows the gate's Python entry as issue 11 reshapes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from asterrl.live.market_view import BarInputs
from asterrl.risk.gate import FLAG_NAMES, HALT, REJECTED, RiskGate
from asterrl.risk.limits import RiskLimits
from asterrl.sim.config import CostConfig
from asterrl.sim.instrument import Instrument
from asterrl.sim.kernels import market_fill_price


@dataclass(frozen=True, slots=True)
class GatedOrder:
    """What the gate allows.

    :param target_qty: the allowed position after the order, base asset, on the lot grid.
    :param flags: the gate's flag bits; ``reasons`` their names.
    :param halt: a loss limit fired: flatten and halt.
    :param rejected: the order was refused as a whole (rate, stale data, price band, bad input).
    """

    target_qty: float
    flags: int
    halt: bool
    rejected: bool
    reasons: tuple[str, ...]


class LiveGate:
    """The shared risk gate with the costs of the market model the policy was trained under.

    :param limits: the hard limits (the artifact's, with the deployment's overrides).
    :param instrument: the symbol's rules (lot step).
    :param costs: fees, half-spread setting and impact coefficient.
    """

    def __init__(self, limits: RiskLimits, instrument: Instrument, costs: CostConfig) -> None:
        self.gate = RiskGate(limits)
        self.limits = limits
        self.instrument = instrument
        self.costs = costs

    def unit_cost(
        self, ref_price: float, mark: float, size: float, bar: BarInputs, bar_notional: float
    ) -> float:
        """Expected fee plus slippage per unit traded at market, USDT per base unit (the worse side)."""
        half = bar.half_spread if self.costs.half_spread_bps is None else self.costs.half_spread_bps * 1e-4
        tick = self.instrument.tick_size
        notional = size * ref_price
        buy = market_fill_price(
            1.0, ref_price, half, self.costs.impact_k, bar.sigma, notional, bar_notional, tick
        )
        sell = market_fill_price(
            -1.0, ref_price, half, self.costs.impact_k, bar.sigma, notional, bar_notional, tick
        )
        taker = self.costs.taker_fee
        return max(taker * buy + abs(buy - mark), taker * sell + abs(sell - mark))

    def decide(
        self,
        *,
        current_qty: float,
        target_qty: float,
        mark: float,
        ref_price: float,
        equity: float,
        peak_equity: float,
        day_start_equity: float,
        bar: BarInputs,
        bar_notional: float,
        data_age_ms: float,
        orders_last_minute: float,
        price_deviation: float = 0.0,
    ) -> GatedOrder:
        """Gate ``target_qty`` (base asset) from ``current_qty`` at the ``mark`` (USDT)."""
        if not math.isfinite(target_qty):  # an action outside the action space: no order
            return GatedOrder(current_qty, 0, False, True, ("bad_action",))
        size = max(abs(target_qty - current_qty), abs(current_qty))
        cost = self.unit_cost(ref_price, mark, size, bar, bar_notional)
        decision = self.gate.check(
            current_qty=current_qty, target_qty=target_qty, price=mark, equity=equity,
            peak_equity=peak_equity, day_start_equity=day_start_equity, unit_cost=cost,
            data_age_ms=data_age_ms, orders_last_minute=orders_last_minute, price_deviation=price_deviation,
        )  # fmt: skip
        allowed = decision.target_qty
        order = self.instrument.round_qty(allowed - current_qty)
        reasons = tuple(name for bit, name in FLAG_NAMES.items() if decision.flags & bit)
        return GatedOrder(
            current_qty + order,
            decision.flags,
            bool(decision.flags & HALT),
            bool(decision.flags & REJECTED),
            reasons,
        )
