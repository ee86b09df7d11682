"""The bridge's one call into ``asterrl.risk``: the order decision the env's step makes, for one order.

``LiveGate.decide`` prices the order the way the market model does at the fill bar's open (the worse of a
buy and a sell at market from the decision bar's spread, volatility and known volume, with
``asterrl.sim.fills.taker_price``; the taker fee on top), then calls ``RiskGate.decide`` — the typed entry
to ``decide_order``, the numba function the env's step calls — with the account's equity at the mark now,
its peak and day-start equity, the data's age and the orders of the last minute. The result is the order
to send: its signed size on the lot grid, the forced part (reduce-only at market), how many orders carry
it, the gate's flags.

The few lines pricing the order follow ``asterrl.sim.account._place_order`` (the env's step); the sim
exposes ``taker_price`` and ``limit_price_on_grid`` but not that combination, which would let both call it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from asterrl.live.market_view import BarInputs
from asterrl.risk.gate import HALT, flag_names
from asterrl.risk.limits import RiskLimits
from asterrl.risk.order_decision import RiskGate
from asterrl.sim.config import MarketModelConfig
from asterrl.sim.fills import limit_price_on_grid, taker_price
from asterrl.sim.instrument import Instrument
from asterrl.sim.layout import Param


@dataclass(frozen=True, slots=True)
class GatedOrder:
    """What the gate lets the bridge send.

    :param order_qty: signed quantity to send, base asset, on the lot grid (0: nothing).
    :param forced_qty: the unsigned part of it that must go reduce-only at market (a trim, a flatten).
    :param n_orders: orders carrying it (each within the order cap and the lot's maximum).
    :param flags: the gate's flag bits; ``reasons`` their names.
    :param halt: a loss limit fired (or an input was unusable): flatten and halt.
    :param rejected: a voluntary order was refused (limits, filters, bad input).
    :param limit_price: the limit price on the grid, 0 for market orders.
    """

    order_qty: float
    forced_qty: float
    n_orders: int
    flags: int
    halt: bool
    rejected: bool
    reasons: tuple[str, ...]
    limit_price: float = 0.0


class LiveGate:
    """The shared order decision with the costs of the market model the policy was trained under.

    :param limits: the hard limits (the artifact's, with the deployment's overrides).
    :param instrument: the symbol's rules.
    :param model: the market model (costs; reduce-only exits).
    """

    def __init__(self, limits: RiskLimits, instrument: Instrument, model: MarketModelConfig) -> None:
        self.gate = RiskGate(limits, instrument, model.reduce_only_exits)
        self.limits = limits
        self.instrument = instrument
        self.params = model.to_params(instrument)

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
        data_age_ms: float,
        orders_last_minute: float,
        limit_price: float = 0.0,
    ) -> GatedOrder:
        """The order moving ``current_qty`` towards ``target_qty`` (base asset) at the ``mark`` now.

        :param ref_price: the last trade price now (the fill bar's open), USDT.
        :param equity: wallet plus unrealised PnL at ``mark``, USDT.
        :param limit_price: a limit order's price (rounded to the tick in the trader's favour); 0: market.
        """
        wanted = abs(target_qty - current_qty) if math.isfinite(target_qty) else 0.0
        size = max(wanted, abs(current_qty))
        buy = taker_price(1.0, ref_price, size, bar.values, self.params, bar.row)
        sell = taker_price(-1.0, ref_price, size, bar.values, self.params, bar.row)
        taker = self.params[Param.TAKER_FEE]
        unit_cost = max(taker * buy + abs(buy - mark), taker * sell + abs(sell - mark))
        side = 1.0 if target_qty > current_qty else -1.0
        if limit_price > 0.0 and math.isfinite(limit_price):
            limit_price = limit_price_on_grid(limit_price, side, self.params[Param.TICK])
            deviation = abs(limit_price / mark - 1.0)
        else:
            limit_price = 0.0
            deviation = abs((buy if side > 0.0 else sell) / mark - 1.0)
        decision = self.gate.decide(
            current_qty=current_qty, target_qty=target_qty, mark_price=mark, equity=equity,
            peak_equity=peak_equity, day_start_equity=day_start_equity, unit_cost=unit_cost,
            data_age_ms=data_age_ms, orders_last_minute=orders_last_minute, price_deviation=deviation,
            limit_price=limit_price or None, cap_price=max(buy, mark, limit_price),
        )  # fmt: skip
        if (decision.order_qty > 0.0) != (side > 0.0):  # the gate turned the order around: no limit there
            limit_price = 0.0
        halt = bool(decision.flags & HALT) or decision.halt
        reasons = tuple(flag_names(decision.flags))
        return GatedOrder(decision.order_qty, decision.forced_qty, decision.n_orders, decision.flags, halt,
                          decision.rejected, reasons, limit_price)  # fmt: skip
