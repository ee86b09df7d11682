"""Indicators TA-Lib lacks, checked against closed forms evaluated independently with numpy/scipy over
explicit windows (``sliding_window_view``), and the registry's declared warm-ups."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view as windows
from scipy import stats

from asterrl.features import FeatureDef, FeatureSpec, MarketInputs, iter_features

W = 24


def _columns(market: MarketInputs, name: str, **params: float) -> dict[str, np.ndarray]:
    spec = FeatureSpec.create(name, params)
    return {
        column.removeprefix(spec.prefix).lstrip("_") or "value": v for column, v, _ in spec.compute(market)
    }


def _tail(expected: np.ndarray, n: int) -> np.ndarray:
    """Right-align a per-window result with the bars (window ending at t → row t)."""
    return np.r_[np.full(n - expected.shape[0], np.nan), expected]


def _close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("definition", list(iter_features()), ids=lambda d: d.name)
def test_declared_warmup_is_the_first_fully_defined_bar(market: MarketInputs, definition: FeatureDef) -> None:
    spec = FeatureSpec.create(definition.name)
    for column, values, may_be_undefined in spec.compute(market):
        if may_be_undefined:
            assert np.isnan(values[: spec.warmup]).all(), column
            continue
        defined = ~np.isnan(values)
        assert defined[spec.warmup :].all(), f"{column} has NaN after its warm-up {spec.warmup}"
    if spec.warmup > 0:  # and the warm-up is tight: some column is still undefined one bar earlier
        assert any(np.isnan(v[spec.warmup - 1]) for _, v, _ in spec.compute(market)), spec.columns


def test_channels_and_bands(market: MarketInputs) -> None:
    n, h, lo, c = market.n_bars, market.high, market.low, market.close
    don = _columns(market, "donchian", period=20)
    _close(don["upper"], _tail(windows(h, 20).max(axis=1), n))
    _close(don["lower"], _tail(windows(lo, 20).min(axis=1), n))
    ich = _columns(market, "ichimoku")
    mid = lambda k: _tail((windows(h, k).max(axis=1) + windows(lo, k).min(axis=1)) / 2, n)  # noqa: E731
    _close(ich["tenkan"], mid(9))
    _close(ich["kijun"], mid(26))
    _close(ich["span_a"], np.r_[np.full(26, np.nan), ((mid(9) + mid(26)) / 2)[:-26]])
    _close(ich["span_b"], np.r_[np.full(26, np.nan), mid(52)[:-26]])
    bb = _columns(market, "bbands", period=20, width=2.0)
    sd = _tail(windows(c, 20).std(axis=1), n)
    mean = _tail(windows(c, 20).mean(axis=1), n)
    _close(bb["pctb"], (c - (mean - 2 * sd)) / (4 * sd), rtol=1e-7)
    _close(bb["bandwidth"], 4 * sd / mean, rtol=1e-7)


def test_keltner_is_ema_plus_atr_multiple(market: MarketInputs) -> None:
    talib = pytest.importorskip("talib")
    k = _columns(market, "keltner", period=20, atr_period=10, multiplier=2.0)
    ema = talib.EMA(market.close, 20)
    atr = talib.ATR(market.high, market.low, market.close, 10)
    _close(k["middle"], ema)
    _close(k["upper"], ema + 2.0 * atr)
    _close(k["lower"], ema - 2.0 * atr)


def test_volatility_estimators(market: MarketInputs) -> None:
    n, o, h, lo, c = market.n_bars, market.open, market.high, market.low, market.close
    r = np.log(c[1:] / c[:-1])
    _close(
        _columns(market, "realized_vol", window=W)["value"], _tail(np.sqrt((windows(r, W) ** 2).mean(1)), n)
    )
    hl = np.log(h / lo) ** 2
    park = np.sqrt(windows(hl, W).sum(1) / (4 * np.log(2) * W))
    _close(_columns(market, "parkinson_vol", window=W)["value"], _tail(park, n))
    gk_terms = 0.5 * hl - (2 * np.log(2) - 1) * np.log(c / o) ** 2
    _close(
        _columns(market, "garman_klass_vol", window=W)["value"],
        _tail(np.sqrt(windows(gk_terms, W).mean(1)), n),
    )
    gap = np.log(o[1:] / c[:-1])
    body = np.log(c[1:] / o[1:])
    rs = (np.log(h / c) * np.log(h / o) + np.log(lo / c) * np.log(lo / o))[1:]
    k = 0.34 / (1.34 + (W + 1) / (W - 1))
    yz = (
        windows(gap, W).var(1, ddof=1)
        + k * windows(body, W).var(1, ddof=1)
        + (1 - k) * windows(rs, W).mean(1)
    )
    _close(_columns(market, "yang_zhang_vol", window=W)["value"], _tail(np.sqrt(yz), n), rtol=1e-8)


def test_volume_features(market: MarketInputs) -> None:
    n, h, lo, c, v = market.n_bars, market.high, market.low, market.close, market.volume
    tp = (h + lo + c) / 3
    vwap = windows(tp * v, W).sum(1) / windows(v, W).sum(1)
    got = _columns(market, "vwap", window=W)
    _close(got["vwap"], _tail(vwap, n))
    _close(got["distance"], c / _tail(vwap, n) - 1, rtol=1e-8, atol=1e-12)
    z = (v[W - 1 :] - windows(v, W).mean(1)) / windows(v, W).std(1)
    _close(_columns(market, "volume_zscore", window=W)["value"], _tail(z, n), rtol=1e-8, atol=1e-10)
    clv = np.where(h > lo, ((c - lo) - (h - c)) / (h - lo), 0.0)
    cmf = windows(clv * v, 20).sum(1) / windows(v, 20).sum(1)
    _close(_columns(market, "cmf", window=20)["value"], _tail(cmf, n), rtol=1e-8, atol=1e-12)


def test_statistics(market: MarketInputs) -> None:
    n, c = market.n_bars, market.close
    r = np.log(c[1:] / c[:-1])
    moments = _columns(market, "return_moments", window=48)
    _close(moments["skew"], _tail(stats.skew(windows(r, 48), axis=1), n), rtol=1e-7, atol=1e-9)
    _close(moments["kurtosis"], _tail(stats.kurtosis(windows(r, 48), axis=1), n), rtol=1e-7, atol=1e-9)
    z = (c[19:] - windows(c, 20).mean(1)) / windows(c, 20).std(1)
    _close(_columns(market, "zscore", window=20)["value"], _tail(z, n), rtol=1e-7, atol=1e-9)
    ac = [np.corrcoef(w[1:], w[:-1])[0, 1] for w in windows(r, 49)]
    _close(
        _columns(market, "autocorr", window=48, lag=1)["value"], _tail(np.array(ac), n), rtol=1e-8, atol=1e-10
    )
    # Hurst: slope of log std of k-lag differences over the last 128 differences, lags 1, 2, 4, 8, 16.
    hurst = _columns(market, "hurst", window=128, max_lag=16)["value"]
    lp = np.log(c)
    for t in (200, 555, n - 1):
        lags = np.array([1, 2, 4, 8, 16])
        sds = [np.std(lp[t - 127 : t + 1] - lp[t - 127 - k : t + 1 - k]) for k in lags]
        assert hurst[t] == pytest.approx(np.polyfit(np.log(lags), np.log(sds), 1)[0], rel=1e-9)


def test_hurst_of_a_random_walk_and_of_a_trend() -> None:
    from asterrl.features.kernels.statistics import hurst_exponent

    walk = np.cumsum(np.random.default_rng(3).normal(size=20_000))
    assert np.nanmean(hurst_exponent(walk, 1000, 16)) == pytest.approx(0.5, abs=0.03)
    # A sine's k-lag differences grow linearly in k for small k: H -> 1.
    wave = np.sin(np.arange(3000) / 200.0)
    assert hurst_exponent(wave, 256, 16)[-1] == pytest.approx(1.0, abs=0.01)


def test_microstructure(market: MarketInputs) -> None:
    n, h, lo, c, v = market.n_bars, market.high, market.low, market.close, market.volume
    r = np.log(c[1:] / c[:-1])
    notional = (c * v)[1:]
    ratio = np.where(notional > 0, np.abs(r) / np.where(notional > 0, notional, 1) * 1e6, np.nan)
    amihud = np.array([np.nanmean(w) for w in windows(ratio, W)])
    _close(_columns(market, "amihud", window=W)["value"], _tail(amihud, n), rtol=1e-9)
    pairs = windows(r, W + 1)
    cov = np.array([np.mean(w[1:] * w[:-1]) - w[1:].mean() * w[:-1].mean() for w in pairs])
    roll = np.where(cov < 0, 2 * np.sqrt(np.abs(cov)), 0.0)
    _close(_columns(market, "roll_spread", window=W)["value"], _tail(roll, n), rtol=1e-6, atol=1e-12)
    b = np.log(h / lo) ** 2
    beta = b[1:] + b[:-1]
    gamma = np.log(np.maximum(h[1:], h[:-1]) / np.minimum(lo[1:], lo[:-1])) ** 2
    den = 3 - 2 * np.sqrt(2)
    alpha = (np.sqrt(2 * beta) - np.sqrt(beta)) / den - np.sqrt(gamma / den)
    spread = np.maximum(2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha)), 0)
    _close(_columns(market, "corwin_schultz", window=W)["value"], _tail(windows(spread, W).mean(1), n))
    q = np.sign(r) * notional / 1e6
    kyle = [np.polyfit(qw, rw, 1)[0] for qw, rw in zip(windows(q, 48), windows(r, 48), strict=True)]
    _close(_columns(market, "kyle_lambda", window=48)["value"], _tail(np.array(kyle), n), rtol=1e-6)
    assert market.taker_buy_volume is not None
    imb = np.where(v > 0, (2 * market.taker_buy_volume - v) / np.where(v > 0, v, 1), 0.0)
    _close(
        _columns(market, "taker_imbalance", window=W)["value"], _tail(windows(imb, W).mean(1), n), atol=1e-12
    )


def test_cross_asset_relative_strength(market: MarketInputs) -> None:
    assert market.reference_close is not None
    c, ref = market.close, market.reference_close
    expected = np.r_[np.full(W, np.nan), np.log(c[W:] / c[:-W]) - np.log(ref[W:] / ref[:-W])]
    _close(_columns(market, "relative_strength", window=W)["value"], expected)


def test_demarker(market: MarketInputs) -> None:
    n, h, lo = market.n_bars, market.high, market.low
    up = np.maximum(np.diff(h), 0)
    down = np.maximum(-np.diff(lo), 0)
    dem = windows(up, 14).mean(1) / (windows(up, 14).mean(1) + windows(down, 14).mean(1))
    _close(_columns(market, "demarker", period=14)["value"], _tail(dem, n))


def test_log_return(market: MarketInputs) -> None:
    c = market.close
    _close(_columns(market, "log_return", lag=3)["value"], np.r_[np.full(3, np.nan), np.log(c[3:] / c[:-3])])
