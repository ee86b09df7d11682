"""Position sizing on top of a target series: volatility targeting or (fractional) Kelly.

The policy's target (a fraction of the position scale, its sign the side and its size the conviction) is
rescaled bar by bar with what is known at that bar's close, then capped at the position scale
(``risk.max_leverage``): the risk gate clips whatever the sizing asks beyond the limits, as for any order.

* ``volatility``: leverage = target x scale x ``target_volatility`` / forecast volatility, the forecast
  being the annualised EWMA volatility of the close's returns up to the bar (``asterrl.risk.var``),
  seeded with the first return (no position in the first ``VOLATILITY_WARMUP`` bars).
* ``kelly``: leverage = ``kelly_fraction`` x mu / sigma^2 of the strategy's own per-bar returns at unit
  size (the target held over each bar) over the last ``kelly_window`` bars, times the target; no position
  while that edge is negative or not yet measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.config_values import check_int, check_number
from asterrl.errors import ConfigError
from asterrl.risk.sizing import volatility_target
from asterrl.risk.var import ewma_variance

FloatArray = npt.NDArray[np.float64]
METHODS = ("none", "volatility", "kelly")
#: Bars before the volatility forecast is used (it is seeded with the first return alone).
VOLATILITY_WARMUP = 30


@dataclass
class SizingConfig:
    """Sizing of target series (``backtest.sizing``).

    :param method: ``none``, ``volatility`` or ``kelly``.
    :param target_volatility: annualised volatility aimed at by ``volatility`` (0.3 = 30 %/year).
    :param volatility_decay: EWMA decay of the volatility forecast (RiskMetrics: 0.94).
    :param kelly_fraction: share of the full Kelly leverage (0.5 = half Kelly).
    :param kelly_window: bars of the strategy's unit returns behind the Kelly estimate.
    """

    method: str = "none"
    target_volatility: float = 0.3
    volatility_decay: float = 0.94
    kelly_fraction: float = 0.5
    kelly_window: int = 720

    def validate(self, where: str = "backtest.sizing") -> SizingConfig:
        if self.method not in METHODS:
            raise ConfigError(f"{where}.method={self.method!r}; expected one of {', '.join(METHODS)}")
        check_number(f"{where}.target_volatility", self.target_volatility, 0.0, 100.0, low_open=True)
        check_number(f"{where}.volatility_decay", self.volatility_decay, 0.0, 1.0, low_open=True)
        check_number(
            f"{where}.kelly_fraction", self.kelly_fraction, 0.0, 1.0, low_open=True, high_closed=True
        )
        check_int(f"{where}.kelly_window", self.kelly_window, 2)
        return self


def sized_targets(
    targets: npt.ArrayLike,
    close: npt.ArrayLike,
    config: SizingConfig,
    position_scale: float,
    bars_per_year: float,
) -> FloatArray:
    """``targets`` (one per bar, fractions of the position scale) resized by ``config``, in [-1, 1]."""
    f = np.asarray(targets, dtype=np.float64)
    c = np.asarray(close, dtype=np.float64)
    config.validate()
    if config.method == "none":
        return f.copy()
    if config.method == "volatility":
        returns = c[1:] / c[:-1] - 1.0
        variance = ewma_variance(returns, config.volatility_decay, initial=float(returns[0] ** 2))
        forecast = np.sqrt(variance[: f.size] * bars_per_year)
        forecast[:VOLATILITY_WARMUP] = np.nan  # no position until the forecast has seen some returns
        leverage = volatility_target(f, forecast, config.target_volatility, position_scale)
        return leverage / position_scale
    unit = np.full(f.size, np.nan)  # bar 0 has no return
    unit[1:] = f[:-1] * (c[1:] / c[:-1] - 1.0)  # the target held over each bar, at unit size
    window = pd.Series(unit).rolling(config.kelly_window, min_periods=config.kelly_window)
    mean, var = window.mean().to_numpy(), window.var(ddof=1).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        kelly = np.where(var > 0.0, config.kelly_fraction * mean / var, 0.0)
    kelly = np.clip(np.nan_to_num(kelly, nan=0.0), 0.0, position_scale)  # never flip a losing strategy
    out = np.clip(kelly * f, -position_scale, position_scale) / position_scale
    return np.where(np.isfinite(out), out, 0.0)


def sizing_label(config: SizingConfig) -> str:
    """A short description for reports."""
    if config.method == "volatility":
        return f"volatility target {config.target_volatility:.0%}/yr (EWMA decay {config.volatility_decay:g})"
    if config.method == "kelly":
        return f"{config.kelly_fraction:g} Kelly over {config.kelly_window} bars"
    return "as the policy sizes it"
