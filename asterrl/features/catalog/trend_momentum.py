"""Registry entries for returns, trend and momentum indicators. Each entry binds a kernel to its parameters,
outputs and warm-up."""

from __future__ import annotations

import numpy as np

from asterrl.features.inputs import MarketInputs
from asterrl.features.kernels import momentum, rolling, trend
from asterrl.features.registry import FeatureDef, Params, register


def _i(params: Params, key: str) -> int:
    return int(params[key])


def _f(params: Params, key: str) -> float:
    return float(params[key])


def _price_average(name: str, summary: str, kernel: object, lag: int) -> None:
    def compute(data: MarketInputs, p: Params) -> tuple[np.ndarray, ...]:
        return (kernel(data.close, _i(p, "period")),)  # type: ignore[operator]

    register(
        FeatureDef(
            name, "trend", summary, {"period": 20}, ("value",), compute,
            lambda p: lag * (_i(p, "period") - 1), price_outputs=frozenset({"value"}),
        )
    )  # fmt: skip


# --- returns --------------------------------------------------------------------------------------------
register(
    FeatureDef(
        "log_return",
        "momentum",
        "ln(close_t / close_{t-lag})",
        {"lag": 1},
        ("value",),
        lambda d, p: (rolling.log_returns(d.close, _i(p, "lag")),),
        lambda p: _i(p, "lag"),
    )
)

# --- trend ----------------------------------------------------------------------------------------------
_price_average("sma", "simple moving average of close, USDT", rolling.sma, 1)
_price_average("ema", "exponential moving average of close (SMA seed), USDT", rolling.ema, 1)
_price_average("wma", "linearly weighted moving average of close, USDT", rolling.wma, 1)
_price_average("dema", "double EMA of close, USDT", trend.dema, 2)
_price_average("tema", "triple EMA of close, USDT", trend.tema, 3)
register(
    FeatureDef(
        "kama",
        "trend",
        "Kaufman adaptive moving average of close, USDT",
        {"period": 10, "fast": 2, "slow": 30},
        ("value",),
        lambda d, p: (trend.kama(d.close, _i(p, "period"), _i(p, "fast"), _i(p, "slow")),),
        lambda p: _i(p, "period"),
        price_outputs=frozenset({"value"}),
    )
)
register(
    FeatureDef(
        "macd",
        "trend",
        "MACD line, signal and histogram, USDT",
        {"fast": 12, "slow": 26, "signal": 9},
        ("line", "signal", "hist"),
        lambda d, p: trend.macd(d.close, _i(p, "fast"), _i(p, "slow"), _i(p, "signal")),
        lambda p: max(_i(p, "fast"), _i(p, "slow")) + _i(p, "signal") - 2,
    )
)
register(
    FeatureDef(
        "adx",
        "trend",
        "ADX with +DI and -DI (Wilder), points",
        {"period": 14},
        ("adx", "plus_di", "minus_di"),
        lambda d, p: (lambda r: (r[2], r[0], r[1]))(trend.dmi(d.high, d.low, d.close, _i(p, "period"))),
        lambda p: 2 * _i(p, "period") - 1,
        minimums={"period": 2},
    )
)
register(
    FeatureDef(
        "aroon",
        "trend",
        "Aroon up, down and oscillator, points",
        {"period": 25},
        ("up", "down", "osc"),
        lambda d, p: trend.aroon(d.high, d.low, _i(p, "period")),
        lambda p: _i(p, "period"),
    )
)
register(
    FeatureDef(
        "psar",
        "trend",
        "Parabolic SAR stop level, USDT",
        {"acceleration": 0.02, "maximum": 0.2},
        ("value",),
        lambda d, p: (trend.parabolic_sar(d.high, d.low, _f(p, "acceleration"), _f(p, "maximum")),),
        lambda p: 1,
        price_outputs=frozenset({"value"}),
    )
)
register(
    FeatureDef(
        "ichimoku",
        "trend",
        "Ichimoku tenkan, kijun and cloud spans A/B at bar t, USDT",
        {"tenkan": 9, "kijun": 26, "senkou": 52, "displacement": 26},
        ("tenkan", "kijun", "span_a", "span_b"),
        lambda d, p: trend.ichimoku(
            d.high, d.low, _i(p, "tenkan"), _i(p, "kijun"), _i(p, "senkou"), _i(p, "displacement")
        ),
        lambda p: max(_i(p, "tenkan"), _i(p, "kijun"), _i(p, "senkou")) - 1 + _i(p, "displacement"),
        price_outputs=frozenset({"tenkan", "kijun", "span_a", "span_b"}),
        minimums={"displacement": 0},
    )
)
register(
    FeatureDef(
        "supertrend",
        "trend",
        "SuperTrend line (USDT) and direction (+1/-1)",
        {"period": 10, "multiplier": 3.0},
        ("line", "direction"),
        lambda d, p: trend.supertrend(d.high, d.low, d.close, _i(p, "period"), _f(p, "multiplier")),
        lambda p: _i(p, "period"),
        price_outputs=frozenset({"line"}),
    )
)

# --- momentum -------------------------------------------------------------------------------------------
register(
    FeatureDef(
        "rsi",
        "momentum",
        "Wilder RSI, points",
        {"period": 14},
        ("value",),
        lambda d, p: (momentum.rsi(d.close, _i(p, "period")),),
        lambda p: _i(p, "period"),
    )
)
register(
    FeatureDef(
        "stoch",
        "momentum",
        "slow stochastic %K and %D, points",
        {"k_period": 14, "k_smooth": 3, "d_period": 3},
        ("k", "d"),
        lambda d, p: momentum.stochastic(
            d.high, d.low, d.close, _i(p, "k_period"), _i(p, "k_smooth"), _i(p, "d_period")
        ),
        lambda p: _i(p, "k_period") + _i(p, "k_smooth") + _i(p, "d_period") - 3,
    )
)
register(
    FeatureDef(
        "stochrsi",
        "momentum",
        "stochastic RSI %K and %D, points",
        {"rsi_period": 14, "k_period": 14, "d_period": 3},
        ("k", "d"),
        lambda d, p: momentum.stochastic_rsi(
            d.close, _i(p, "rsi_period"), _i(p, "k_period"), _i(p, "d_period")
        ),
        lambda p: _i(p, "rsi_period") + _i(p, "k_period") + _i(p, "d_period") - 2,
    )
)
register(
    FeatureDef(
        "willr",
        "momentum",
        "Williams %R, points (-100..0)",
        {"period": 14},
        ("value",),
        lambda d, p: (momentum.williams_r(d.high, d.low, d.close, _i(p, "period")),),
        lambda p: _i(p, "period") - 1,
    )
)
register(
    FeatureDef(
        "cci",
        "momentum",
        "Commodity Channel Index",
        {"period": 20},
        ("value",),
        lambda d, p: (momentum.cci(d.high, d.low, d.close, _i(p, "period")),),
        lambda p: _i(p, "period") - 1,
    )
)
register(
    FeatureDef(
        "roc",
        "momentum",
        "rate of change, percent",
        {"period": 10},
        ("value",),
        lambda d, p: (momentum.rate_of_change(d.close, _i(p, "period")),),
        lambda p: _i(p, "period"),
    )
)
register(
    FeatureDef(
        "mom",
        "momentum",
        "momentum close_t - close_{t-period}, USDT",
        {"period": 10},
        ("value",),
        lambda d, p: (momentum.momentum(d.close, _i(p, "period")),),
        lambda p: _i(p, "period"),
    )
)
register(
    FeatureDef(
        "trix",
        "momentum",
        "TRIX: 1-bar change of the triple EMA, percent",
        {"period": 30},
        ("value",),
        lambda d, p: (momentum.trix(d.close, _i(p, "period")),),
        lambda p: 3 * (_i(p, "period") - 1) + 1,
    )
)
register(
    FeatureDef(
        "ultosc",
        "momentum",
        "Ultimate Oscillator, points",
        {"short": 7, "medium": 14, "long": 28},
        ("value",),
        lambda d, p: (
            momentum.ultimate_oscillator(
                d.high, d.low, d.close, _i(p, "short"), _i(p, "medium"), _i(p, "long")
            ),
        ),
        lambda p: max(_i(p, "short"), _i(p, "medium"), _i(p, "long")),
    )
)
register(
    FeatureDef(
        "mfi",
        "momentum",
        "Money Flow Index, points",
        {"period": 14},
        ("value",),
        lambda d, p: (momentum.money_flow_index(d.high, d.low, d.close, d.volume, _i(p, "period")),),
        lambda p: _i(p, "period"),
    )
)
