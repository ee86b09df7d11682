"""The synthetic market: schema, consistency, determinism, span independence and its statistics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from asterrl.data.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, DataKind, Market, SeriesKey
from asterrl.data.sources.base import MarketDataSource
from asterrl.data.sources.synthetic import SyntheticConfig, SyntheticMarket, SyntheticPath
from asterrl.errors import ConfigError, SourceError

M = 60_000
H = 60 * M
DAY = 24 * H
ORIGIN = SyntheticConfig().origin_ms  # 2020-01-01 00:00 UTC, a Wednesday
FAR = ORIGIN + 100 * 365 * DAY
LATER = (ORIGIN + 400 * DAY) / 1000  # a clock long after the spans used below


def key(kind: DataKind, interval: str | None = "1h", symbol: str = "BTCUSDT") -> SeriesKey:
    return SeriesKey(kind, Market.PERP, symbol, interval)


def market(seed: int = 0, clock_s: float = LATER, **params: object) -> SyntheticMarket:
    return SyntheticMarket(SyntheticConfig(**params), seed=seed, clock=lambda: clock_s)  # type: ignore[arg-type]


def test_frames_follow_the_canonical_schema() -> None:
    src = market()
    assert isinstance(src, MarketDataSource) and src.name == "synthetic"
    start, end = ORIGIN + 5 * DAY, ORIGIN + 8 * DAY
    for kind, interval in ((DataKind.OHLCV, "1h"), (DataKind.MARK, "1h"), (DataKind.FUNDING, None)):
        frame = src.fetch(key(kind, interval), start, end)
        assert tuple(frame.columns) == REQUIRED_COLUMNS[kind] + OPTIONAL_COLUMNS[kind]
        assert frame["timestamp"].dtype == np.int64
        assert all(frame[c].dtype == np.float64 for c in frame.columns if c not in ("timestamp", "trades"))
        assert frame.attrs["source"] == "synthetic"
        step = 8 * H if kind is DataKind.FUNDING else H
        assert frame["timestamp"].tolist() == list(range(start, end, step))
    assert src.fetch(key(DataKind.OHLCV), start, end)["trades"].dtype == np.int64


def test_bars_are_internally_consistent() -> None:
    path = market(seed=3).path("ETHUSDT", "5m", ORIGIN, ORIGIN + 30 * DAY)
    b, m = path.bars, path.mark
    assert len(b) == 30 * 288
    assert (b["low"] <= b[["open", "close"]].min(axis=1)).all()
    assert (b["high"] >= b[["open", "close"]].max(axis=1)).all()
    assert (b["volume"] > 0).all() and (b["trades"] > 0).all()
    assert ((b["taker_buy_volume"] >= 0) & (b["taker_buy_volume"] <= b["volume"])).all()
    assert (b["quote_volume"] >= b["low"] * b["volume"]).all()
    assert (b["quote_volume"] <= b["high"] * b["volume"]).all()
    assert (m["mark_low"] <= m[["mark_open", "mark_close"]].min(axis=1)).all()
    assert (m["mark_high"] >= m[["mark_open", "mark_close"]].max(axis=1)).all()
    assert float(b["open"].iloc[0]) == pytest.approx(2_000.0, rel=1e-12)  # the configured origin price


def test_seeded_and_deterministic() -> None:
    span = (key(DataKind.OHLCV), ORIGIN, ORIGIN + 10 * DAY)
    first = market(seed=7).fetch(*span)
    pd.testing.assert_frame_equal(first, market(seed=7).fetch(*span), check_exact=True)
    assert not first["close"].equals(market(seed=8).fetch(*span)["close"])
    other_symbol = market(seed=7).fetch(key(DataKind.OHLCV, symbol="SOLUSDT"), ORIGIN, ORIGIN + 10 * DAY)
    assert not np.allclose(np.diff(np.log(first["close"])), np.diff(np.log(other_symbol["close"])))


@pytest.mark.parametrize(
    ("kind", "interval"), [(DataKind.OHLCV, "15m"), (DataKind.MARK, "1h"), (DataKind.FUNDING, None)]
)
def test_a_span_equals_its_two_halves(kind: DataKind, interval: str | None) -> None:
    src = market(seed=2)
    a, b, c = ORIGIN + 3 * DAY + 7 * M, ORIGIN + 9 * DAY + 13 * M + 5, ORIGIN + 21 * DAY
    whole = src.fetch(key(kind, interval), a, c)
    parts = [src.fetch(key(kind, interval), a, b), src.fetch(key(kind, interval), b, c)]
    halves = pd.concat(parts, ignore_index=True)
    pd.testing.assert_frame_equal(whole, halves, check_exact=True)
    assert len(whole) > 0


def test_coarse_bars_aggregate_the_fine_ones() -> None:
    src = market(seed=4)
    fine = src.path("BTCUSDT", "5m", ORIGIN, ORIGIN + 2 * DAY).bars
    coarse = src.path("BTCUSDT", "1h", ORIGIN, ORIGIN + 2 * DAY).bars
    groups = fine.groupby(fine["timestamp"] // H * H)
    expected = pd.DataFrame(
        {
            "timestamp": groups["timestamp"].first().index.to_numpy(),
            "open": groups["open"].first().to_numpy(),
            "high": groups["high"].max().to_numpy(),
            "low": groups["low"].min().to_numpy(),
            "close": groups["close"].last().to_numpy(),
            "volume": groups["volume"].sum().to_numpy(),
            "quote_volume": groups["quote_volume"].sum().to_numpy(),
            "trades": groups["trades"].sum().to_numpy(),
            "taker_buy_volume": groups["taker_buy_volume"].sum().to_numpy(),
        }
    )
    pd.testing.assert_frame_equal(coarse, expected, rtol=1e-12)


def test_weekly_bars_open_on_mondays() -> None:
    frame = market().fetch(key(DataKind.OHLCV, "1w"), ORIGIN, ORIGIN + 60 * DAY)
    days = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    assert days.iloc[0] == pd.Timestamp("2020-01-06", tz="UTC")  # the first Monday after the origin
    assert (days.dt.day_of_week == 0).all() and len(frame) == 8


def test_only_closed_bars_and_past_settlements_are_served() -> None:
    src = market(clock_s=(ORIGIN + 10 * H + 30 * M) / 1000)
    bars = src.fetch(key(DataKind.OHLCV), ORIGIN, FAR)
    assert bars["timestamp"].tolist() == [ORIGIN + k * H for k in range(10)]  # 10:00 bar still open
    at_settlement = market(clock_s=(ORIGIN + 16 * H) / 1000)
    assert at_settlement.fetch(key(DataKind.FUNDING, None), 0, FAR)["timestamp"].tolist() == [
        ORIGIN + 8 * H,
        ORIGIN + 16 * H,
    ]
    assert len(src.fetch(key(DataKind.OHLCV), 0, ORIGIN)) == 0  # nothing before the origin


@pytest.mark.parametrize(
    ("premium", "interval_h", "expected"),
    [
        (0.0003, 8, 0.0001),  # P + clamp(I - P = -0.0002) = 0.0001
        (0.0020, 8, 0.0015),  # clamp(-0.0019) = -0.0005
        (0.0020, 4, 0.00075),  # the same per 8 h, times 4/8
        (-0.0010, 8, -0.0005),  # clamp(0.0011) = +0.0005
        (0.0500, 8, 0.03),  # 0.0495 capped at 3 %
    ],
)
def test_funding_follows_the_venue_formula(premium: float, interval_h: int, expected: float) -> None:
    src = market(premium_mean=premium, premium_sd=0.0, funding_interval_h=interval_h)
    frame = src.fetch(key(DataKind.FUNDING, None), ORIGIN, ORIGIN + 2 * DAY)
    step = interval_h * H
    assert frame["timestamp"].tolist() == list(range(ORIGIN + step, ORIGIN + 2 * DAY, step))
    np.testing.assert_allclose(frame["funding_rate"], expected, rtol=1e-12)


def test_unknown_symbol_and_bad_interval_are_one_line_errors() -> None:
    with pytest.raises(
        SourceError, match=r"^synthetic: unknown symbol DOGEUSDT; listed in synthetic\.symbols:"
    ):
        market().fetch(key(DataKind.OHLCV, symbol="DOGEUSDT"), ORIGIN, ORIGIN + DAY)
    with pytest.raises(SourceError, match=r"interval 1m is not a multiple of synthetic\.base_interval 5m"):
        market(base_interval="5m").fetch(key(DataKind.OHLCV, "1m"), ORIGIN, ORIGIN + DAY)
    with pytest.raises(ConfigError, match="same, non-zero length"):
        market(regime_vols=[0.5], regime_durations_h=[1.0, 2.0])


# -- statistics over two years of 1-minute steps ---------------------------------------------------------

VOLS = (0.5, 1.5)
STAYS_H = (48.0, 24.0)
JUMPS_PER_DAY = 2.0
JUMP_STD = 0.02
YEARS = 2
DT = M / (365 * DAY)  # one step in years


@pytest.fixture(scope="module")
def long_path() -> SyntheticPath:
    src = market(
        seed=5,
        clock_s=(ORIGIN + (YEARS * 365 + 1) * DAY) / 1000,
        regime_vols=list(VOLS),
        regime_durations_h=list(STAYS_H),
        jump_rate_per_day=JUMPS_PER_DAY,
        jump_std=JUMP_STD,
    )
    return src.path("BTCUSDT", "1m", ORIGIN, ORIGIN + YEARS * 365 * DAY)


def test_regimes_occupy_time_in_proportion_to_their_stays(long_path: SyntheticPath) -> None:
    # Two regimes, each left for the other: the time share of regime k is d_k / (d_0 + d_1) = 2/3 and 1/3.
    # Alternating exponential stays of 48 h and 24 h over T = 17 520 h give a share with standard deviation
    # sqrt(2 d0^2 d1^2 / ((d0 + d1)^3 T)) = 0.02; allow 3.5 of them.
    share = float(np.mean(long_path.regime == 0))
    assert share == pytest.approx(2 / 3, abs=0.07)


def test_each_regime_has_its_configured_volatility(long_path: SyntheticPath) -> None:
    bars = long_path.bars
    log_ret = np.log(bars["close"].to_numpy() / bars["open"].to_numpy())
    for k, vol in enumerate(VOLS):
        quiet = (long_path.regime == k) & (long_path.jumps == 0)
        realised = log_ret[quiet].std() / math.sqrt(DT)
        assert realised == pytest.approx(vol, rel=0.01)  # n > 300 000: sampling error of the std ~0.1 %
    ratio = bars["volume"][long_path.regime == 1].mean() / bars["volume"][long_path.regime == 0].mean()
    assert ratio == pytest.approx(VOLS[1] / VOLS[0], rel=0.03)  # volume elasticity 1


def test_jumps_arrive_at_the_configured_rate_and_size(long_path: SyntheticPath) -> None:
    n_jumps = int(long_path.jumps.sum())
    expected = JUMPS_PER_DAY * 365 * YEARS  # 1460, Poisson standard deviation 38
    assert abs(n_jumps - expected) < 4 * math.sqrt(expected)
    bars = long_path.bars
    jump_ret = np.log(bars["close"].to_numpy() / bars["open"].to_numpy())[long_path.jumps == 1]
    # a jump step's move is the jump plus at most a 1.5-vol diffusion step (sd 0.002): sd ~ 0.0201
    assert jump_ret.std() == pytest.approx(math.hypot(JUMP_STD, 1.5 * math.sqrt(DT)), rel=0.1)


def test_high_and_low_follow_the_brownian_bridge_extremes(long_path: SyntheticPath) -> None:
    # For a bridge from 0 to b with variance s^2, P(max > m) = exp(-2 m (m - b) / s^2): that probability,
    # evaluated at the drawn maximum, is uniform on (0, 1). Likewise for the minimum.
    bars = long_path.bars
    quiet = long_path.jumps == 0
    o, h, lo, c = (np.log(bars[col].to_numpy()[quiet]) for col in ("open", "high", "low", "close"))
    var = (np.asarray(VOLS)[long_path.regime[quiet]]) ** 2 * DT
    b, top, bottom = c - o, h - o, lo - o
    for u in (np.exp(-2 * top * (top - b) / var), np.exp(-2 * bottom * (bottom - b) / var)):
        assert u.mean() == pytest.approx(0.5, abs=0.005)
        assert np.quantile(u, [0.1, 0.5, 0.9]) == pytest.approx([0.1, 0.5, 0.9], abs=0.005)


def test_mark_tracks_the_last_price_with_the_configured_basis(long_path: SyntheticPath) -> None:
    basis = long_path.mark["mark_close"].to_numpy() / long_path.bars["close"].to_numpy() - 1.0
    assert basis.std() == pytest.approx(2.0e-4, rel=0.05)  # mark_basis_bps = 2
    assert abs(basis.mean()) < 2e-5


def test_seeds_give_independent_paths_not_shifted_copies() -> None:
    """Each draw is a hash of (key, counter); a key linear in the seed made seed s + 16 replay seed s one
    base step later. Every pair of seeds here must give unrelated returns, at every small shift."""
    span = (key(DataKind.OHLCV, "1m"), ORIGIN, ORIGIN + 2 * DAY)
    returns = {s: np.diff(np.log(market(seed=s).fetch(*span)["close"].to_numpy())) for s in (0, 1, 16, 32)}
    for a in returns:
        assert np.unique(returns[a]).shape[0] == returns[a].shape[0]  # every step a new draw
        for b in returns:
            if a >= b:
                continue
            for shift in range(0, 4):
                x, y = returns[a][shift:], returns[b][: returns[b].shape[0] - shift]
                assert abs(np.corrcoef(x, y)[0, 1]) < 0.1, (a, b, shift)
                x, y = returns[b][shift:], returns[a][: returns[a].shape[0] - shift]
                assert abs(np.corrcoef(x, y)[0, 1]) < 0.1, (a, b, shift)
