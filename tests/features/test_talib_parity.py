"""Every indicator TA-Lib also computes matches TA-Lib on the shared BTCUSDT 1h bars to 1e-9 relative,
from the first bar where both are defined (the warm-ups are also checked to coincide).

Tolerance: ``|ours − talib| ≤ 1e-9·|talib| + 1e-12·max|talib|``. The tiny absolute floor (a millionth of
the relative budget at the series' scale) only matters where an oscillator crosses zero, where a relative
error is undefined.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from asterrl.features import FeatureSpec, MarketInputs

talib = pytest.importorskip("talib")

pytestmark = pytest.mark.shared_data

Ref = Callable[[dict[str, np.ndarray]], np.ndarray]

# (feature, params, output suffix or "" for single-output features, TA-Lib reference)
CASES: list[tuple[str, dict, str, Ref]] = [
    ("sma", {"period": 30}, "", lambda d: talib.SMA(d["close"], 30)),
    ("ema", {"period": 30}, "", lambda d: talib.EMA(d["close"], 30)),
    ("wma", {"period": 30}, "", lambda d: talib.WMA(d["close"], 30)),
    ("dema", {"period": 21}, "", lambda d: talib.DEMA(d["close"], 21)),
    ("tema", {"period": 21}, "", lambda d: talib.TEMA(d["close"], 21)),
    ("kama", {"period": 10}, "", lambda d: talib.KAMA(d["close"], 10)),
    ("macd", {}, "line", lambda d: talib.MACD(d["close"], 12, 26, 9)[0]),
    ("macd", {}, "signal", lambda d: talib.MACD(d["close"], 12, 26, 9)[1]),
    ("macd", {}, "hist", lambda d: talib.MACD(d["close"], 12, 26, 9)[2]),
    ("adx", {}, "adx", lambda d: talib.ADX(d["high"], d["low"], d["close"], 14)),
    ("adx", {}, "plus_di", lambda d: talib.PLUS_DI(d["high"], d["low"], d["close"], 14)),
    ("adx", {}, "minus_di", lambda d: talib.MINUS_DI(d["high"], d["low"], d["close"], 14)),
    ("aroon", {}, "up", lambda d: talib.AROON(d["high"], d["low"], 25)[1]),
    ("aroon", {}, "down", lambda d: talib.AROON(d["high"], d["low"], 25)[0]),
    ("aroon", {}, "osc", lambda d: talib.AROONOSC(d["high"], d["low"], 25)),
    ("psar", {}, "", lambda d: talib.SAR(d["high"], d["low"], 0.02, 0.2)),
    ("rsi", {}, "", lambda d: talib.RSI(d["close"], 14)),
    ("stoch", {}, "k", lambda d: talib.STOCH(d["high"], d["low"], d["close"], 14, 3, 0, 3, 0)[0]),
    ("stoch", {}, "d", lambda d: talib.STOCH(d["high"], d["low"], d["close"], 14, 3, 0, 3, 0)[1]),
    ("stochrsi", {}, "k", lambda d: talib.STOCHRSI(d["close"], 14, 14, 3, 0)[0]),
    ("stochrsi", {}, "d", lambda d: talib.STOCHRSI(d["close"], 14, 14, 3, 0)[1]),
    ("willr", {}, "", lambda d: talib.WILLR(d["high"], d["low"], d["close"], 14)),
    ("cci", {}, "", lambda d: talib.CCI(d["high"], d["low"], d["close"], 20)),
    ("roc", {}, "", lambda d: talib.ROC(d["close"], 10)),
    ("mom", {}, "", lambda d: talib.MOM(d["close"], 10)),
    ("trix", {}, "", lambda d: talib.TRIX(d["close"], 30)),
    ("ultosc", {}, "", lambda d: talib.ULTOSC(d["high"], d["low"], d["close"], 7, 14, 28)),
    ("mfi", {}, "", lambda d: talib.MFI(d["high"], d["low"], d["close"], d["volume"], 14)),
    ("atr", {}, "", lambda d: talib.ATR(d["high"], d["low"], d["close"], 14)),
    ("natr", {}, "", lambda d: talib.NATR(d["high"], d["low"], d["close"], 14)),
    ("bbands", {}, "upper", lambda d: talib.BBANDS(d["close"], 20, 2.0, 2.0, 0)[0]),
    ("bbands", {}, "middle", lambda d: talib.BBANDS(d["close"], 20, 2.0, 2.0, 0)[1]),
    ("bbands", {}, "lower", lambda d: talib.BBANDS(d["close"], 20, 2.0, 2.0, 0)[2]),
    ("obv", {}, "", lambda d: talib.OBV(d["close"], d["volume"])),
    ("ad", {}, "", lambda d: talib.AD(d["high"], d["low"], d["close"], d["volume"])),
    ("adosc", {}, "", lambda d: talib.ADOSC(d["high"], d["low"], d["close"], d["volume"], 3, 10)),
    # Cross-asset: TA-Lib's BETA(x, y) is the slope of y's returns on x's; CORREL of the return series (in
    # percent, which leaves a correlation unchanged and keeps TA-Lib's 1e-8 variance cut-off out of play).
    (
        "ref_correlation",
        {"window": 30},
        "corr",
        lambda d: talib.CORREL(100 * d["ret"], 100 * d["ref_ret"], 30),
    ),
    ("ref_correlation", {"window": 30}, "beta", lambda d: talib.BETA(d["reference"], d["close"], 30)),
]


@pytest.fixture(scope="module")
def btc_inputs(btc_bars: pd.DataFrame) -> MarketInputs:
    # The reference is the same market shifted by a day and rescaled: a different, aligned price path.
    reference = btc_bars[["timestamp"]].copy()
    shifted = np.roll(btc_bars["close"].to_numpy(float), 24)
    shifted[:24] = btc_bars["close"].to_numpy(float)[:24]
    reference["close"] = shifted * 0.5 + 1000.0
    return MarketInputs.from_frames(btc_bars, reference=reference)


@pytest.mark.parametrize(
    ("name", "params", "output", "reference"), CASES, ids=lambda v: v if isinstance(v, str) else ""
)
def test_matches_talib(
    btc_inputs: MarketInputs, name: str, params: dict, output: str, reference: Ref
) -> None:
    spec = FeatureSpec.create(name, params)
    columns = {column: values for column, values, _ in spec.compute(btc_inputs)}
    ours = columns[f"{spec.prefix}_{output}" if output else spec.prefix]
    assert btc_inputs.reference_close is not None
    data = {
        "open": btc_inputs.open,
        "high": btc_inputs.high,
        "low": btc_inputs.low,
        "close": btc_inputs.close,
        "volume": btc_inputs.volume,
        "reference": btc_inputs.reference_close,
        "ret": np.r_[np.nan, np.diff(btc_inputs.close) / btc_inputs.close[:-1]],
        "ref_ret": np.r_[np.nan, np.diff(btc_inputs.reference_close) / btc_inputs.reference_close[:-1]],
    }
    expected = np.asarray(reference(data), dtype=np.float64)
    first_ref = int(np.argmax(~np.isnan(expected)))
    start = int(np.argmax(~np.isnan(ours)))
    assert start <= spec.warmup
    # Same warm-up as TA-Lib, except that TA-Lib blanks stochastic %K until %D is defined.
    assert first_ref == (spec.warmup if output == "k" else start)
    start = first_ref
    assert not np.isnan(ours[start:]).any() and not np.isnan(expected[start:]).any()
    assert expected.shape[0] - start > 30_000
    tolerance = 1e-9 * np.abs(expected[start:]) + 1e-12 * np.abs(expected[start:]).max()
    error = np.abs(ours[start:] - expected[start:])
    bar = start + int(np.argmax(error - tolerance))
    assert (error <= tolerance).all(), (
        f"{spec.columns} vs TA-Lib at bar {bar}: {ours[bar]!r} != {expected[bar]!r}"
    )
