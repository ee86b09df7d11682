"""Registry entries for volatility, volume, rolling statistics and DeMark indicators. Each entry binds a
kernel to its parameters, outputs and warm-up."""

from __future__ import annotations

import numpy as np

from asterrl.features.inputs import MarketInputs
from asterrl.features.kernels import demark, rolling, statistics, volatility, volume
from asterrl.features.registry import FeatureDef, Params, register


def _i(params: Params, key: str) -> int:
    return int(params[key])


def _f(params: Params, key: str) -> float:
    return float(params[key])


# --- volatility -----------------------------------------------------------------------------------------
register(
    FeatureDef(
        "atr",
        "volatility",
        "average true range (Wilder), USDT",
        {"period": 14},
        ("value",),
        lambda d, p: (volatility.atr(d.high, d.low, d.close, _i(p, "period")),),
        lambda p: _i(p, "period"),
    )
)
register(
    FeatureDef(
        "natr",
        "volatility",
        "ATR / close, percent",
        {"period": 14},
        ("value",),
        lambda d, p: (volatility.natr(d.high, d.low, d.close, _i(p, "period")),),
        lambda p: _i(p, "period"),
    )
)
register(
    FeatureDef(
        "bbands",
        "volatility",
        "Bollinger bands (USDT), %B and width (fraction)",
        {"period": 20, "width": 2.0},
        ("upper", "middle", "lower", "pctb", "bandwidth"),
        lambda d, p: volatility.bollinger(d.close, _i(p, "period"), _f(p, "width")),
        lambda p: _i(p, "period") - 1,
        price_outputs=frozenset({"upper", "middle", "lower"}),
    )
)
register(
    FeatureDef(
        "keltner",
        "volatility",
        "Keltner channel EMA +- multiplier*ATR, USDT",
        {"period": 20, "atr_period": 10, "multiplier": 2.0},
        ("upper", "middle", "lower"),
        lambda d, p: volatility.keltner(
            d.high, d.low, d.close, _i(p, "period"), _i(p, "atr_period"), _f(p, "multiplier")
        ),
        lambda p: max(_i(p, "period") - 1, _i(p, "atr_period")),
        price_outputs=frozenset({"upper", "middle", "lower"}),
    )
)
register(
    FeatureDef(
        "donchian",
        "volatility",
        "Donchian channel (highest high, mid, lowest low), USDT",
        {"period": 20},
        ("upper", "middle", "lower"),
        lambda d, p: volatility.donchian(d.high, d.low, _i(p, "period")),
        lambda p: _i(p, "period") - 1,
        price_outputs=frozenset({"upper", "middle", "lower"}),
    )
)
register(
    FeatureDef(
        "realized_vol",
        "volatility",
        "RMS of 1-bar log returns, per bar",
        {"window": 24},
        ("value",),
        lambda d, p: (volatility.realized_volatility(d.close, _i(p, "window")),),
        lambda p: _i(p, "window"),
    )
)
register(
    FeatureDef(
        "parkinson_vol",
        "volatility",
        "Parkinson high-low volatility, per bar",
        {"window": 24},
        ("value",),
        lambda d, p: (volatility.parkinson(d.high, d.low, _i(p, "window")),),
        lambda p: _i(p, "window") - 1,
    )
)
register(
    FeatureDef(
        "garman_klass_vol",
        "volatility",
        "Garman-Klass OHLC volatility, per bar",
        {"window": 24},
        ("value",),
        lambda d, p: (volatility.garman_klass(d.open, d.high, d.low, d.close, _i(p, "window")),),
        lambda p: _i(p, "window") - 1,
    )
)
register(
    FeatureDef(
        "yang_zhang_vol",
        "volatility",
        "Yang-Zhang OHLC volatility, per bar",
        {"window": 24},
        ("value",),
        lambda d, p: (volatility.yang_zhang(d.open, d.high, d.low, d.close, _i(p, "window")),),
        lambda p: _i(p, "window"),
        minimums={"window": 2},
    )
)

# --- volume ---------------------------------------------------------------------------------------------
register(
    FeatureDef(
        "obv",
        "volume",
        "on-balance volume, base asset",
        {},
        ("value",),
        lambda d, p: (volume.on_balance_volume(d.close, d.volume),),
        lambda p: 0,
    )
)
register(
    FeatureDef(
        "ad",
        "volume",
        "accumulation/distribution line, base asset",
        {},
        ("value",),
        lambda d, p: (volume.accumulation_distribution(d.high, d.low, d.close, d.volume),),
        lambda p: 0,
    )
)
register(
    FeatureDef(
        "adosc",
        "volume",
        "Chaikin oscillator EMA(A/D, fast) - EMA(A/D, slow), base asset",
        {"fast": 3, "slow": 10},
        ("value",),
        lambda d, p: (
            volume.chaikin_oscillator(d.high, d.low, d.close, d.volume, _i(p, "fast"), _i(p, "slow")),
        ),
        lambda p: max(_i(p, "fast"), _i(p, "slow")) - 1,
    )
)
register(
    FeatureDef(
        "cmf",
        "volume",
        "Chaikin money flow (-1..1)",
        {"window": 20},
        ("value",),
        lambda d, p: (volume.chaikin_money_flow(d.high, d.low, d.close, d.volume, _i(p, "window")),),
        lambda p: _i(p, "window") - 1,
    )
)
register(
    FeatureDef(
        "vwap",
        "volume",
        "rolling VWAP of typical price (USDT) and close/vwap - 1",
        {"window": 24},
        ("vwap", "distance"),
        lambda d, p: volume.rolling_vwap(d.high, d.low, d.close, d.volume, _i(p, "window")),
        lambda p: _i(p, "window") - 1,
        price_outputs=frozenset({"vwap"}),
    )
)
register(
    FeatureDef(
        "volume_zscore",
        "volume",
        "z-score of volume over the window",
        {"window": 24},
        ("value",),
        lambda d, p: (volume.volume_zscore(d.volume, _i(p, "window")),),
        lambda p: _i(p, "window") - 1,
    )
)

# --- statistics -----------------------------------------------------------------------------------------
register(
    FeatureDef(
        "zscore",
        "statistics",
        "z-score of close over the window",
        {"window": 20},
        ("value",),
        lambda d, p: (rolling.rolling_zscore(d.close, _i(p, "window")),),
        lambda p: _i(p, "window") - 1,
    )
)
register(
    FeatureDef(
        "return_moments",
        "statistics",
        "skewness and excess kurtosis of 1-bar log returns",
        {"window": 48},
        ("skew", "kurtosis"),
        lambda d, p: statistics.rolling_moments(rolling.log_returns(d.close, 1), _i(p, "window")),
        lambda p: _i(p, "window"),
        minimums={"window": 2},
    )
)
register(
    FeatureDef(
        "hurst",
        "statistics",
        "Hurst exponent from lagged log-price differences",
        {"window": 128, "max_lag": 16},
        ("value",),
        lambda d, p: (statistics.hurst_exponent(np.log(d.close), _i(p, "window"), _i(p, "max_lag")),),
        lambda p: _i(p, "window") + (1 << (_i(p, "max_lag").bit_length() - 1)) - 1,
        minimums={"max_lag": 2},
    )
)
register(
    FeatureDef(
        "autocorr",
        "statistics",
        "autocorrelation of 1-bar log returns at a lag",
        {"window": 48, "lag": 1},
        ("value",),
        lambda d, p: (
            statistics.autocorrelation(rolling.log_returns(d.close, 1), _i(p, "window"), _i(p, "lag")),
        ),
        lambda p: _i(p, "window") + _i(p, "lag"),
        minimums={"window": 2},
    )
)


# --- DeMark ---------------------------------------------------------------------------------------------
def _td_pass(data: MarketInputs) -> tuple[np.ndarray, ...]:
    """One TD Sequential/Combo pass, shared by ``td_sequential`` and ``td_combo`` within a pipeline run."""
    return data.shared("td_sequential", lambda: demark.td_sequential(data.high, data.low, data.close))


_TDST = frozenset({"tdst_support", "tdst_resistance"})
register(
    FeatureDef(
        "td_sequential",
        "demark",
        "TD Sequential setup, perfection, countdown and TDST levels (USDT)",
        {},
        (
            "buy_setup",
            "sell_setup",
            "perfection",
            "buy_countdown",
            "sell_countdown",
            "tdst_support",
            "tdst_resistance",
        ),
        lambda d, p: _td_pass(d)[:7],
        lambda p: demark.SETUP_LOOKBACK,
        price_outputs=_TDST,
        may_be_undefined=_TDST,
    )
)
register(
    FeatureDef(
        "td_combo",
        "demark",
        "TD Combo buy and sell countdowns",
        {},
        ("buy_countdown", "sell_countdown"),
        lambda d, p: _td_pass(d)[7:],
        lambda p: demark.SETUP_LOOKBACK,
    )
)
register(
    FeatureDef(
        "demarker",
        "demark",
        "DeMarker oscillator (0..1)",
        {"period": 14},
        ("value",),
        lambda d, p: (demark.demarker(d.high, d.low, _i(p, "period")),),
        lambda p: _i(p, "period"),
    )
)
