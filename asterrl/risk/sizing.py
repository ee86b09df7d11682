"""Position sizing as pure functions returning target fractions of equity (signed position notional over
equity: 1.0 = fully invested long, -0.5 = half short). The risk gate applies them later; nothing here
places or clips orders.

* Volatility targeting: ``fraction = signal * target_vol / forecast_vol``, capped at ``max_leverage``.
* Kelly (1956), "A New Interpretation of Information Rate": for a bet won with probability ``p`` paying
  ``b`` per unit staked and losing the stake, the growth-optimal stake is ``f* = p - (1 - p) / b``.
* Continuous-time Kelly (Merton 1969; Thorp 2006, "The Kelly criterion in blackjack, sports betting and
  the stock market", §7): ``f* = (mu - r) / sigma^2`` for per-bar mean excess return ``mu`` and variance
  ``sigma^2``.
* Fractional Kelly: a fraction ``c`` of ``f*`` (half Kelly keeps about 3/4 of the growth rate with half
  the volatility), capped; estimated edges can be shrunk to a lower confidence bound first, since the
  plug-in ``f*`` overbets when the mean is estimated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from asterrl.errors import ConfigError, DataError
from asterrl.risk.var import RISKMETRICS_DECAY, ewma_variance

FloatArray = npt.NDArray[np.float64]


def volatility_target(
    signal: npt.ArrayLike,
    volatility: npt.ArrayLike,
    target_volatility: float,
    max_leverage: float,
) -> FloatArray:
    """Target fractions ``signal * target_volatility / volatility`` clipped to ``[-max_leverage,
    max_leverage]``; 0 where the volatility is not positive and finite.

    :param signal: desired direction and conviction per bar, typically in [-1, 1].
    :param volatility: volatility forecast per bar, annualised (same unit as the target).
    :param target_volatility: annualised volatility aimed at (0.2 = 20 %/year).
    :param max_leverage: cap on the absolute fraction.
    """
    if not target_volatility > 0.0:
        raise ConfigError(f"sizing.target_volatility must be > 0, got {target_volatility}")
    if not max_leverage > 0.0:
        raise ConfigError(f"sizing.max_leverage must be > 0, got {max_leverage}")
    s, v = np.broadcast_arrays(np.asarray(signal, dtype=np.float64), np.asarray(volatility, dtype=np.float64))
    ok = np.isfinite(v) & (v > 0.0) & np.isfinite(s)
    raw = np.where(ok, s * target_volatility / np.where(ok, v, 1.0), 0.0)
    return np.clip(raw, -max_leverage, max_leverage)


def ewma_volatility_forecast(
    returns: npt.ArrayLike, bars_per_year: float, decay: float = RISKMETRICS_DECAY
) -> FloatArray:
    """Annualised EWMA volatility known at each bar (``n + 1`` values; entry ``t`` from returns before
    ``t``), the input :func:`volatility_target` expects."""
    if not bars_per_year > 0.0:
        raise ConfigError(f"bars_per_year must be > 0, got {bars_per_year}")
    return np.sqrt(ewma_variance(returns, decay) * bars_per_year)


def kelly_binary(win_probability: float, win_loss_ratio: float) -> float:
    """Growth-optimal stake of a bet won with ``win_probability`` paying ``win_loss_ratio`` times the
    stake and otherwise losing it: ``p - (1 - p) / b`` (negative: take the other side)."""
    if not 0.0 <= win_probability <= 1.0:
        raise DataError(f"win probability must be in [0, 1], got {win_probability}")
    if not win_loss_ratio > 0.0:
        raise DataError(f"win/loss ratio must be > 0, got {win_loss_ratio}")
    return win_probability - (1.0 - win_probability) / win_loss_ratio


def kelly_continuous(mean_return: float, variance: float, risk_free: float = 0.0) -> float:
    """Growth-optimal fraction ``(mean_return - risk_free) / variance`` (per-bar units on both sides)."""
    if not variance > 0.0:
        raise DataError(f"return variance must be > 0, got {variance}")
    return (mean_return - risk_free) / variance


def fractional_kelly(full_kelly: float, fraction: float, max_leverage: float) -> float:
    """``fraction`` of the full Kelly stake, clipped to ``[-max_leverage, max_leverage]``."""
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"sizing.kelly_fraction must be in (0, 1], got {fraction}")
    if not max_leverage > 0.0:
        raise ConfigError(f"sizing.max_leverage must be > 0, got {max_leverage}")
    return float(np.clip(full_kelly * fraction, -max_leverage, max_leverage))


@dataclass(frozen=True, slots=True)
class KellySizing:
    """A Kelly target from an estimated edge.

    :param target: the fraction to hold (signed), after shrinkage, the Kelly fraction and the cap.
    :param full_kelly: growth-optimal fraction of the (shrunk) estimated edge.
    :param edge: the edge used: per-bar mean return, or the win probability for trades.
    :param capped: whether the cap bound the target.
    """

    target: float
    full_kelly: float
    edge: float
    capped: bool


def kelly_from_returns(
    returns: npt.ArrayLike,
    fraction: float = 0.5,
    max_leverage: float = 1.0,
    confidence: float | None = None,
) -> KellySizing:
    """Fractional Kelly from per-bar returns of a unit position: ``mu / sigma^2`` with the sample mean
    (shrunk towards 0 by ``z_confidence`` standard errors when ``confidence`` is given, and 0 if that
    crosses 0) and the sample variance (``ddof=1``)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < 2 or not np.all(np.isfinite(r)):
        raise DataError("returns must be a finite 1-D series of at least 2 values")
    mu, var = float(r.mean()), float(r.var(ddof=1))
    if confidence is not None:
        if not 0.5 <= confidence < 1.0:
            raise ConfigError(f"sizing.confidence must be in [0.5, 1), got {confidence}")
        margin = float(norm.ppf(confidence)) * math.sqrt(var / r.size)
        mu = math.copysign(max(abs(mu) - margin, 0.0), mu)
    full = kelly_continuous(mu, var) if var > 0.0 else 0.0
    target = fractional_kelly(full, fraction, max_leverage)
    return KellySizing(target, full, mu, abs(full * fraction) > max_leverage)


def kelly_from_trades(
    trade_returns: npt.ArrayLike, fraction: float = 0.5, max_leverage: float = 1.0
) -> KellySizing:
    """Fractional Kelly position from closed trades' returns, each the trade's P&L over equity for a
    position of 1x equity: with ``p`` the share of winners, ``W`` and ``L`` the mean win and mean loss,
    scaling the position by ``f`` maximises ``p ln(1 + f W) + (1 - p) ln(1 - f L)`` at
    ``f* = kelly_binary(p, W / L) / L`` (the binary stake is the equity put at risk, ``f L``).
    0 when there is no loss or no win to estimate them."""
    r = np.asarray(trade_returns, dtype=np.float64)
    if r.ndim != 1 or r.size < 1 or not np.all(np.isfinite(r)):
        raise DataError("trade returns must be a finite 1-D series of at least 1 value")
    wins, losses = r[r > 0.0], r[r < 0.0]
    p = wins.size / r.size
    if wins.size == 0 or losses.size == 0:
        return KellySizing(0.0, 0.0, p, False)
    mean_win, mean_loss = float(wins.mean()), float(-losses.mean())
    full = kelly_binary(p, mean_win / mean_loss) / mean_loss
    target = fractional_kelly(full, fraction, max_leverage)
    return KellySizing(target, full, p, abs(full * fraction) > max_leverage)
