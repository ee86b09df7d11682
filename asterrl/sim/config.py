"""Configuration of the perp market model: fees, slippage, exchange filters, margin brackets.

Every dataclass here is a Hydra structured config (plain field types, defaults for every field) and is
validated by ``validate()``; ``MarketModelConfig.validate()`` runs them all. Defaults follow Aster's
BTCUSDT perpetual: maker 0.01 % / taker 0.035 %, tick 0.1 USDT, lot step 0.001 BTC, min notional 5 USDT,
Binance-style maintenance-margin brackets and a 2.5 % liquidation fee.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from asterrl.errors import ConfigError
from asterrl.sim import layout as L


@dataclass
class CostConfig:
    """Trading costs of one order: fees, spread and market impact.

    :param maker_fee: fee of a resting limit order that fills, fraction of notional (0.0001 = 0.01 %).
    :param taker_fee: fee of a market order or a marketable limit order, fraction of notional.
    :param half_spread_bps: half the bid-ask spread paid by a market order, in bps of price; ``None``
        estimates it per bar from highs, lows and closes (Abdi-Ranaldo), averaged over ``estimate_window``.
    :param impact_k: coefficient k of the square-root impact ``k * sigma * sqrt(order / bar notional)``.
    :param participation_cap: largest fraction of the fill bar's volume an order may take; the rest of
        the order is not filled (partial fill).
    :param volatility_window: bars in the rolling standard deviation of log returns (sigma, per bar).
    :param estimate_window: bars averaged by the spread estimator when ``half_spread_bps`` is ``None``.
    :param min_half_spread_bps: floor of the estimated half-spread, in bps.
    """

    maker_fee: float = 0.0001
    taker_fee: float = 0.00035
    half_spread_bps: float | None = 0.5
    impact_k: float = 0.1
    participation_cap: float = 0.1
    volatility_window: int = 24
    estimate_window: int = 24
    min_half_spread_bps: float = 0.1

    def validate(self) -> None:
        """Raise ``ConfigError`` on a negative fee, a cap outside (0, 1] or a non-positive window."""
        if not (0.0 <= self.maker_fee < 0.1 and 0.0 <= self.taker_fee < 0.1):
            raise ConfigError("fees must lie in [0, 0.1) (fractions of notional; rebates are not modelled)")
        if self.half_spread_bps is not None and not 0.0 <= self.half_spread_bps < 1000.0:
            raise ConfigError("half_spread_bps must lie in [0, 1000) or be null to estimate it from bars")
        if not 0.0 <= self.impact_k < 100.0:
            raise ConfigError("impact_k must lie in [0, 100)")
        if not 0.0 < self.participation_cap <= 1.0:
            raise ConfigError("participation_cap must lie in (0, 1]")
        if self.volatility_window < 2 or self.estimate_window < 1:
            raise ConfigError("volatility_window must be >= 2 and estimate_window >= 1")
        if self.min_half_spread_bps < 0.0:
            raise ConfigError("min_half_spread_bps must be >= 0")


@dataclass
class ExchangeFilters:
    """Symbol filters as the exchange applies them (``PRICE_FILTER``, ``LOT_SIZE``, ``MIN_NOTIONAL``).

    :param tick_size: price increment, USDT. Fill prices are rounded to it, against the trader.
    :param step_size: quantity increment, base asset. Target positions are rounded towards zero to it.
    :param min_notional: smallest order notional, USDT; smaller orders are rejected unless they only
        reduce the position (reduce-only orders are exempt, as on the exchange).
    """

    tick_size: float = 0.1
    step_size: float = 0.001
    min_notional: float = 5.0

    def validate(self) -> None:
        """Raise ``ConfigError`` unless tick and step are positive and min notional non-negative."""
        if not (self.tick_size > 0.0 and self.step_size > 0.0 and self.min_notional >= 0.0):
            raise ConfigError("tick_size and step_size must be > 0 and min_notional >= 0")


@dataclass
class MarginBracket:
    """One notional tier of the leverage bracket table (``/fapi/v3/leverageBracket``).

    :param notional_cap: upper notional bound of the tier, USDT (the floor is the previous tier's cap).
    :param maint_margin_rate: maintenance margin rate of the tier, fraction of notional.
    :param max_leverage: highest leverage allowed for a position in this tier.
    """

    notional_cap: float = math.inf
    maint_margin_rate: float = 0.004
    max_leverage: float = 125.0


def _btcusdt_brackets() -> list[MarginBracket]:
    return [
        MarginBracket(50_000.0, 0.004, 125.0),
        MarginBracket(250_000.0, 0.005, 100.0),
        MarginBracket(1_000_000.0, 0.01, 50.0),
        MarginBracket(10_000_000.0, 0.025, 20.0),
        MarginBracket(20_000_000.0, 0.05, 10.0),
        MarginBracket(50_000_000.0, 0.10, 5.0),
        MarginBracket(100_000_000.0, 0.125, 4.0),
        MarginBracket(200_000_000.0, 0.15, 3.0),
        MarginBracket(300_000_000.0, 0.25, 2.0),
        MarginBracket(math.inf, 0.5, 1.0),
    ]


@dataclass
class MarginConfig:
    """Cross-margin settings of one account.

    :param leverage: the account's leverage setting; initial margin = notional / leverage.
    :param brackets: maintenance tiers in ascending notional; the maintenance amount ``cum`` of each tier
        is derived so that maintenance margin is continuous in notional (as the exchange publishes it).
    :param liquidation_fee: fee booked on the notional closed by a liquidation, fraction (BTCUSDT 0.025).
    """

    leverage: float = 5.0
    brackets: list[MarginBracket] = field(default_factory=_btcusdt_brackets)
    liquidation_fee: float = 0.025

    def validate(self) -> None:
        """Raise ``ConfigError`` on a bad leverage, unordered tiers or rates outside [0, 1)."""
        if not 1.0 <= self.leverage <= 125.0:
            raise ConfigError("leverage must lie in [1, 125]")
        if not self.brackets:
            raise ConfigError("margin brackets must hold at least one tier")
        previous_cap, previous_rate = 0.0, 0.0
        for tier in self.brackets:
            if not tier.notional_cap > previous_cap:
                raise ConfigError("margin bracket caps must be strictly increasing")
            if not (previous_rate <= tier.maint_margin_rate < 1.0 and tier.max_leverage >= 1.0):
                raise ConfigError("maintenance rates must be non-decreasing in [0, 1) and max leverage >= 1")
            previous_cap, previous_rate = tier.notional_cap, tier.maint_margin_rate
        if not math.isinf(self.brackets[-1].notional_cap):
            raise ConfigError("the last margin bracket must be open-ended (notional_cap: .inf)")
        if not 0.0 <= self.liquidation_fee < 0.5:
            raise ConfigError("liquidation_fee must lie in [0, 0.5)")

    def bracket_table(self) -> npt.NDArray[np.float64]:
        """Tiers as a float64 array of rows ``(floor, cap, maint_margin_rate, cum, max_leverage)``.

        ``cum`` (USDT) makes maintenance margin ``notional * rate - cum`` continuous across tiers:
        ``cum_i = cum_{i-1} + floor_i * (rate_i - rate_{i-1})``.
        """
        table = np.zeros((len(self.brackets), 5), dtype=np.float64)
        floor, cum, previous_rate = 0.0, 0.0, self.brackets[0].maint_margin_rate
        for row, tier in enumerate(self.brackets):
            cum += floor * (tier.maint_margin_rate - previous_rate)
            table[row] = (floor, tier.notional_cap, tier.maint_margin_rate, cum, tier.max_leverage)
            floor, previous_rate = tier.notional_cap, tier.maint_margin_rate
        return table


@dataclass
class MarketModelConfig:
    """Everything the market model needs besides the data: costs, filters and margin."""

    costs: CostConfig = field(default_factory=CostConfig)
    filters: ExchangeFilters = field(default_factory=ExchangeFilters)
    margin: MarginConfig = field(default_factory=MarginConfig)

    def validate(self) -> MarketModelConfig:
        """Validate every part; return ``self`` so calls chain."""
        self.costs.validate()
        self.filters.validate()
        self.margin.validate()
        return self

    def to_params(self) -> npt.NDArray[np.float64]:
        """The constants as the float64 array the kernels read (slots ``asterrl.sim.layout.P_*``)."""
        self.validate()
        out = np.zeros(L.N_SIM_PARAMS, dtype=np.float64)
        out[L.P_MAKER_FEE] = self.costs.maker_fee
        out[L.P_TAKER_FEE] = self.costs.taker_fee
        out[L.P_IMPACT_K] = self.costs.impact_k
        out[L.P_PARTICIPATION] = self.costs.participation_cap
        out[L.P_TICK] = self.filters.tick_size
        out[L.P_STEP] = self.filters.step_size
        out[L.P_MIN_NOTIONAL] = self.filters.min_notional
        out[L.P_LIQUIDATION_FEE] = self.margin.liquidation_fee
        out[L.P_LEVERAGE] = self.margin.leverage
        hs = self.costs.half_spread_bps
        out[L.P_HALF_SPREAD] = -1.0 if hs is None else hs * 1e-4
        return out
