"""Registry entries for market-structure features: microstructure from bars, funding, calendar time and
cross-asset relations to a reference symbol."""

from __future__ import annotations

import numpy as np

from asterrl.features.inputs import Input, MarketInputs
from asterrl.features.kernels import context, microstructure
from asterrl.features.registry import FeatureDef, Params, register


def _i(params: Params, key: str) -> int:
    return int(params[key])


def _funding(data: MarketInputs, p: Params) -> tuple[np.ndarray, ...]:
    assert data.funding_timestamp is not None and data.funding_rate is not None
    return context.funding_features(
        data.close_time, data.funding_timestamp, data.funding_rate, _i(p, "mean_count")
    )


def _reference(data: MarketInputs) -> np.ndarray:
    assert data.reference_close is not None
    return data.reference_close


# --- microstructure -------------------------------------------------------------------------------------
register(
    FeatureDef(
        "amihud",
        "microstructure",
        "Amihud illiquidity, |log return| per million USDT traded",
        {"window": 24},
        ("value",),
        lambda d, p: (microstructure.amihud_illiquidity(d.close, d.volume, _i(p, "window")),),
        lambda p: _i(p, "window"),
    )
)
register(
    FeatureDef(
        "roll_spread",
        "microstructure",
        "Roll spread estimate, fraction of price",
        {"window": 24},
        ("value",),
        lambda d, p: (microstructure.roll_spread(d.close, _i(p, "window")),),
        lambda p: _i(p, "window") + 1,
    )
)
register(
    FeatureDef(
        "corwin_schultz",
        "microstructure",
        "Corwin-Schultz high-low spread, fraction of price",
        {"window": 24},
        ("value",),
        lambda d, p: (microstructure.corwin_schultz_spread(d.high, d.low, _i(p, "window")),),
        lambda p: _i(p, "window"),
    )
)
register(
    FeatureDef(
        "kyle_lambda",
        "microstructure",
        "Kyle's lambda proxy, log return per million USDT signed flow",
        {"window": 48},
        ("value",),
        lambda d, p: (microstructure.kyle_lambda(d.close, d.volume, _i(p, "window")),),
        lambda p: _i(p, "window"),
        minimums={"window": 2},
    )
)


def _taker(data: MarketInputs, p: Params) -> tuple[np.ndarray, ...]:
    assert data.taker_buy_volume is not None
    return (microstructure.taker_imbalance(data.volume, data.taker_buy_volume, _i(p, "window")),)


register(
    FeatureDef(
        "taker_imbalance",
        "microstructure",
        "mean (taker buy - taker sell) / volume (-1..1)",
        {"window": 24},
        ("value",),
        _taker,
        lambda p: _i(p, "window") - 1,
        requires=frozenset({Input.TAKER_BUY_VOLUME}),
    )
)

# --- funding --------------------------------------------------------------------------------------------
register(
    FeatureDef(
        "funding",
        "funding",
        "last settled funding rate (decimal), mean of the last mean_count rates, hours to next settlement",
        {"mean_count": 21},
        ("rate", "mean", "hours_to_next"),
        _funding,
        lambda p: 0,
        requires=frozenset({Input.FUNDING}),
        may_be_undefined=frozenset({"rate", "mean", "hours_to_next"}),
    )
)

# --- time -----------------------------------------------------------------------------------------------
register(
    FeatureDef(
        "hour_of_day",
        "time",
        "sin/cos of the UTC hour of the bar's open",
        {},
        ("sin", "cos"),
        lambda d, p: context.hour_of_day(d.timestamp),
        lambda p: 0,
    )
)
register(
    FeatureDef(
        "day_of_week",
        "time",
        "sin/cos of the UTC weekday (Monday = 0) of the bar's open",
        {},
        ("sin", "cos"),
        lambda d, p: context.day_of_week(d.timestamp),
        lambda p: 0,
    )
)

# --- cross-asset ----------------------------------------------------------------------------------------
register(
    FeatureDef(
        "ref_correlation",
        "cross_asset",
        "correlation and beta of 1-bar returns to the reference symbol",
        {"window": 72},
        ("corr", "beta"),
        lambda d, p: context.correlation_beta(d.close, _reference(d), _i(p, "window")),
        lambda p: _i(p, "window"),
        requires=frozenset({Input.REFERENCE}),
        minimums={"window": 2},
    )
)
register(
    FeatureDef(
        "relative_strength",
        "cross_asset",
        "log return minus the reference's over the window",
        {"window": 24},
        ("value",),
        lambda d, p: (context.relative_strength(d.close, _reference(d), _i(p, "window")),),
        lambda p: _i(p, "window"),
        requires=frozenset({Input.REFERENCE}),
    )
)
