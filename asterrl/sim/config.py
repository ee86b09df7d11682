"""Configuration of the perp market model: trading costs and the limit-order fill model.

Every dataclass here is a Hydra structured config (plain field types, defaults for every field), validated
by ``validate()``. What belongs to the symbol (tick, lot step, notional limits, margin tiers, liquidation
fee) is not configured here: it is the ``Instrument`` (``asterrl.sim.instrument``), selected by
``data.symbol``. The account's leverage is ``risk.max_leverage`` (one leverage, see ``asterrl.risk.limits``).
Fee defaults are Aster's base tier: maker 0.01 % / taker 0.035 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from asterrl.config_values import check_bool, check_int, check_number
from asterrl.sim.instrument import Instrument
from asterrl.sim.layout import N_SIM_PARAMS, Param


@dataclass
class CostConfig:
    """Trading costs of one order: fees, spread and market impact.

    :param maker_fee: fee of a resting limit order that fills, fraction of notional (0.0001 = 0.01 %).
    :param taker_fee: fee of a market order, a marketable limit order or a stop, fraction of notional.
    :param half_spread_bps: half the bid-ask spread paid by a market order, in bps of price; ``None``
        estimates it per bar from highs, lows and closes (Abdi-Ranaldo), averaged over ``estimate_window``.
    :param impact_k: coefficient k of the square-root impact ``k * sigma * sqrt(order / known volume)``,
        where the volume is the mean USDT volume of the ``volume_window`` bars up to the decision close
        (the fill bar's own volume is not known when the order is sent at its open).
    :param participation_cap: largest fraction of that known mean base volume a market order takes; the
        rest of the order is not filled (a partial fill).
    :param volatility_window: bars in the rolling standard deviation of log returns (sigma, per bar).
    :param estimate_window: bars averaged by the spread estimator when ``half_spread_bps`` is ``None``.
    :param volume_window: bars in the trailing mean volume that impact and the participation cap use.
    :param min_half_spread_bps: floor of the estimated half-spread, in bps.
    """

    maker_fee: float = 0.0001
    taker_fee: float = 0.00035
    half_spread_bps: float | None = 0.5
    impact_k: float = 0.1
    participation_cap: float = 0.1
    volatility_window: int = 24
    estimate_window: int = 24
    volume_window: int = 24
    min_half_spread_bps: float = 0.1

    def validate(self, where: str = "env.market.costs") -> CostConfig:
        """Raise one-line ``ConfigError`` naming the key of a bad value; return ``self``."""
        check_number(f"{where}.maker_fee", self.maker_fee, 0.0, 0.1)
        check_number(f"{where}.taker_fee", self.taker_fee, 0.0, 0.1)
        if self.half_spread_bps is not None:
            check_number(f"{where}.half_spread_bps", self.half_spread_bps, 0.0, 1000.0)
        check_number(f"{where}.impact_k", self.impact_k, 0.0, 100.0)
        check_number(f"{where}.participation_cap", self.participation_cap, 0.0, 1.0, True, True)
        check_int(f"{where}.volatility_window", self.volatility_window, 2)
        check_int(f"{where}.estimate_window", self.estimate_window, 1)
        check_int(f"{where}.volume_window", self.volume_window, 1)
        check_number(f"{where}.min_half_spread_bps", self.min_half_spread_bps, 0.0, 1000.0)
        return self


@dataclass
class LimitOrderConfig:
    """How a one-bar limit order fills (``env.order_type=limit``).

    A limit order is marketable when it reaches the modelled touch at the fill bar's open (the ask
    ``open * (1 + half_spread)`` for a buy, the bid for a sell): that part fills at once as a taker, at the
    market-order price (half-spread and impact) capped at the limit, and only as far as the impact stays
    within the limit. The rest rests at the limit for the bar, behind the queue already there, and fills
    as a maker only if the bar trades through the limit by at least one tick (a buy needs
    ``low <= limit - tick``: the queue at the limit price itself may never be reached).

    The queue/adverse-selection haircut: the resting order fills in proportion to how far the bar trades
    through its price, ``min(1, penetration / (queue_depth_bps * limit))`` of it, all of it once the bar
    trades ``queue_depth_bps`` through. A shallow touch (the price dips to the limit and turns) fills
    little; a run through it (the price keeps going against the order) fills it all -- so resting fills
    concentrate where they are adversely selected, as on a real book. Any fill is also capped at
    ``volume_share`` of the fill bar's base volume.

    :param volume_share: largest share of the fill bar's base volume a resting order may take.
    :param queue_depth_bps: how far beyond the limit (bps of its price) the bar must trade for the whole
        resting order to fill.
    """

    volume_share: float = 0.05
    queue_depth_bps: float = 20.0

    def validate(self, where: str = "env.market.limit_orders") -> LimitOrderConfig:
        """Raise one-line ``ConfigError`` naming the key of a bad value; return ``self``."""
        check_number(f"{where}.volume_share", self.volume_share, 0.0, 1.0, True, True)
        check_number(f"{where}.queue_depth_bps", self.queue_depth_bps, 0.0, 10_000.0)
        return self


@dataclass
class MarketModelConfig:
    """Everything the market model needs besides the data and the instrument.

    :param costs: fees, spread and impact.
    :param limit_orders: the resting-order fill model.
    :param reduce_only_exits: send orders that only shrink the position reduce-only, so they are exempt
        from the minimum notional as on the exchange; ``false`` sends them as plain orders, which the
        minimum notional can then reject. Forced exits (risk trims, halts, stops) are always reduce-only.
    :param stop_slippage: in-bar loss stops (stop-market orders) pay half-spread and impact on top of the
        trigger price; ``false`` fills them at the trigger (or the gap open).
    """

    costs: CostConfig = field(default_factory=CostConfig)
    limit_orders: LimitOrderConfig = field(default_factory=LimitOrderConfig)
    reduce_only_exits: bool = True
    stop_slippage: bool = True

    def validate(self, where: str = "env.market") -> MarketModelConfig:
        """Validate every part; return ``self`` so calls chain."""
        self.costs.validate(f"{where}.costs")
        self.limit_orders.validate(f"{where}.limit_orders")
        check_bool(f"{where}.reduce_only_exits", self.reduce_only_exits)
        check_bool(f"{where}.stop_slippage", self.stop_slippage)
        return self

    def to_params(self, instrument: Instrument) -> npt.NDArray[np.float64]:
        """The constants as the float64 array the kernels read (slots ``asterrl.sim.layout.Param``)."""
        self.validate()
        out = np.zeros(N_SIM_PARAMS, dtype=np.float64)
        out[Param.MAKER_FEE] = self.costs.maker_fee
        out[Param.TAKER_FEE] = self.costs.taker_fee
        out[Param.IMPACT_K] = self.costs.impact_k
        out[Param.PARTICIPATION] = self.costs.participation_cap
        hs = self.costs.half_spread_bps
        out[Param.HALF_SPREAD] = -1.0 if hs is None else hs * 1e-4
        out[Param.TICK] = instrument.tick_size
        out[Param.STEP] = instrument.step_size
        out[Param.MARKET_STEP] = instrument.market_step_size
        out[Param.MIN_QTY] = instrument.min_qty
        out[Param.MAX_QTY] = instrument.max_qty
        out[Param.MARKET_MAX_QTY] = instrument.market_max_qty
        out[Param.MIN_NOTIONAL] = instrument.min_notional
        out[Param.MAX_NOTIONAL] = instrument.max_notional
        out[Param.LIQUIDATION_FEE] = instrument.liquidation_fee
        out[Param.REDUCE_ONLY_EXITS] = 1.0 if self.reduce_only_exits else 0.0
        out[Param.LIMIT_VOLUME_SHARE] = self.limit_orders.volume_share
        out[Param.LIMIT_QUEUE_DEPTH] = self.limit_orders.queue_depth_bps * 1e-4
        out[Param.STOP_SLIPPAGE] = 1.0 if self.stop_slippage else 0.0
        return out
