"""Cross-asset limits of a portfolio of perpetuals under one account: per-symbol, gross and net exposure,
and a correlation-based limit on the portfolio's volatility.

``portfolio_notionals`` (numba) takes the signed position notional each symbol wants (USDT) and the account's
equity and returns what the limits allow, in this order:

1. each symbol within ``max_symbol_leverage`` x equity;
2. the net exposure (longs minus shorts) within ``max_net_leverage`` x equity, by shrinking the side in
   excess;
3. the gross exposure (longs plus shorts) within ``max_gross_leverage`` x equity, all scaled alike;
4. the portfolio's annualised volatility ``sqrt(w' C w) / equity`` within ``max_portfolio_volatility``,
   all scaled alike. ``C`` is the EWMA covariance of the symbols' per-bar returns known at the decision
   (``update_covariance``, zero-mean RiskMetrics recursion), so correlated positions add up and
   offsetting ones net out: the correlation-based limit.

Each symbol's order then passes the one risk gate (``RiskLimits``) like any other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import auto

import numpy as np
import numpy.typing as npt
from numba import njit

from asterrl.config_values import check_number
from asterrl.sim.layout import Slots

FloatArray = npt.NDArray[np.float64]

FLAG_SYMBOL_CLIPPED = 1
FLAG_NET_CLIPPED = 2
FLAG_GROSS_CLIPPED = 4
FLAG_VOLATILITY_CLIPPED = 8
PORTFOLIO_FLAG_NAMES = {1: "symbol_clipped", 2: "net_clipped", 4: "gross_clipped", 8: "volatility_clipped"}


class PortfolioLimit(Slots):
    """Slots of the float64 array ``PortfolioLimits.to_array`` gives the kernel."""

    MAX_SYMBOL_LEVERAGE = auto()
    MAX_NET_LEVERAGE = auto()
    MAX_GROSS_LEVERAGE = auto()
    MAX_PORTFOLIO_VOLATILITY = auto()
    COVARIANCE_DECAY = auto()


@dataclass
class PortfolioLimits:
    """Cross-asset limits (``backtest.portfolio``); ``.inf`` is off.

    :param max_symbol_leverage: largest |position notional| of one symbol over the account's equity.
    :param max_net_leverage: largest |sum of signed notionals| over equity.
    :param max_gross_leverage: largest sum of |notionals| over equity (each symbol's gate still holds
        ``risk.max_leverage`` on its own position).
    :param max_portfolio_volatility: largest annualised volatility of the portfolio's return, from the
        EWMA covariance of the symbols' returns (0.4 = 40 %/year).
    :param covariance_decay: decay of that EWMA covariance per bar (RiskMetrics: 0.94 for daily data).
    """

    max_symbol_leverage: float = math.inf
    max_net_leverage: float = math.inf
    max_gross_leverage: float = math.inf
    max_portfolio_volatility: float = math.inf
    covariance_decay: float = 0.97

    def validate(self, where: str = "backtest.portfolio") -> PortfolioLimits:
        for name in (
            "max_symbol_leverage",
            "max_net_leverage",
            "max_gross_leverage",
            "max_portfolio_volatility",
        ):
            check_number(
                f"{where}.{name}", getattr(self, name), 0.0, math.inf, low_open=True, high_closed=True
            )
        check_number(f"{where}.covariance_decay", self.covariance_decay, 0.0, 1.0, low_open=True)
        return self

    def to_array(self) -> FloatArray:
        return np.array([float(getattr(self, m.name.lower())) for m in PortfolioLimit], dtype=np.float64)


@njit(cache=True)
def update_covariance(covariance: FloatArray, returns: FloatArray, decay: float, first: bool) -> None:
    """Fold one bar's returns into the zero-mean EWMA covariance in place (``first``: seed with them)."""
    n = returns.shape[0]
    for a in range(n):
        for b in range(n):
            product = returns[a] * returns[b]
            covariance[a, b] = product if first else decay * covariance[a, b] + (1.0 - decay) * product


@njit(cache=True)
def portfolio_notionals(
    wanted: FloatArray,
    equity: float,
    covariance: FloatArray,
    bars_per_year: float,
    limits: FloatArray,
    out: FloatArray,
) -> int:
    """Write into ``out`` the signed notionals (USDT) the limits allow for ``wanted``; return the flags."""
    n = wanted.shape[0]
    flags = 0
    cap = limits[PortfolioLimit.MAX_SYMBOL_LEVERAGE] * equity
    for j in range(n):
        out[j] = wanted[j]
        if abs(out[j]) > cap:
            out[j] = math.copysign(cap, out[j])
            flags |= FLAG_SYMBOL_CLIPPED
    longs, shorts = 0.0, 0.0
    for j in range(n):
        if out[j] > 0.0:
            longs += out[j]
        else:
            shorts -= out[j]
    net_cap = limits[PortfolioLimit.MAX_NET_LEVERAGE] * equity
    if longs - shorts > net_cap or shorts - longs > net_cap:
        flags |= FLAG_NET_CLIPPED
        long_side = longs > shorts
        scale = (net_cap + shorts) / longs if long_side else (net_cap + longs) / shorts
        for j in range(n):
            if (out[j] > 0.0) == long_side and out[j] != 0.0:
                out[j] *= scale
        longs, shorts = (longs * scale, shorts) if long_side else (longs, shorts * scale)
    gross_cap = limits[PortfolioLimit.MAX_GROSS_LEVERAGE] * equity
    if longs + shorts > gross_cap:
        flags |= FLAG_GROSS_CLIPPED
        scale = gross_cap / (longs + shorts)
        for j in range(n):
            out[j] *= scale
    vol_cap = limits[PortfolioLimit.MAX_PORTFOLIO_VOLATILITY]
    if math.isfinite(vol_cap) and equity > 0.0:
        variance = 0.0
        for a in range(n):
            for b in range(n):
                variance += out[a] * covariance[a, b] * out[b]
        volatility = math.sqrt(max(variance, 0.0) * bars_per_year) / equity
        if volatility > vol_cap:
            flags |= FLAG_VOLATILITY_CLIPPED
            scale = vol_cap / volatility
            for j in range(n):
                out[j] *= scale
    return flags
