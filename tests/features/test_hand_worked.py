"""DeMark counts, SuperTrend, funding and calendar features against sequences worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from asterrl.features import FeatureSpec, MarketInputs

HOUR = 3_600_000
NAN = np.nan


def _inputs(close: list[float], low: list[float], high: list[float], **extra: object) -> MarketInputs:
    n = len(close)
    return MarketInputs(
        timestamp=1_704_067_200_000 + HOUR * np.arange(n),
        open=np.array(close),
        high=np.array(high),
        low=np.array(low),
        close=np.array(close),
        volume=np.ones(n),
        interval_ms=HOUR,
        **extra,  # type: ignore[arg-type]
    )


def _td_market() -> MarketInputs:
    # Bars 0-3 rise 10..13; bars 4-12 fall by 0.5 from 9 to 5 (a buy setup 1..9, each close below the close
    # four bars earlier); bars 13-27 are flat at 5 with low = close = 5.
    close = [10, 11, 12, 13, 9, 8.5, 8, 7.5, 7, 6.5, 6, 5.5, 5] + [5] * 15
    low = [c - 0.1 for c in close[:13]] + [5] * 15
    high = [c + 0.1 for c in close[:13]] + [5.2] * 15
    return _inputs(close, low, high)


def _columns(market: MarketInputs, name: str, **params: float) -> dict[str, np.ndarray]:
    spec = FeatureSpec.create(name, params)
    return {column.removeprefix(spec.prefix).lstrip("_"): v for column, v, _ in spec.compute(market)}


def test_td_sequential_setup_perfection_countdown_and_tdst() -> None:
    td = _columns(_td_market(), "td_sequential")
    head = [NAN] * 4
    # Setup: 1..9 on bars 4-12; bars 13-15 still close below the close 4 bars back (6.5, 6, 5.5 > 5); bar 16
    # closes equal to bar 12's close, which ends the run.
    np.testing.assert_array_equal(td["buy_setup"], head + list(range(1, 10)) + [1, 2, 3] + [0] * 12)
    np.testing.assert_array_equal(td["sell_setup"], head + [0] * 24)
    # Perfection at bar 12: min(low8, low9) = 4.9 <= min(low6, low7) = 5.9.
    np.testing.assert_array_equal(td["perfection"], head + [0] * 8 + [1] + [0] * 15)
    # Countdown (close <= low two bars back) from bar 12: bar 12 (5 <= 5.9) -> 1, bar 13 (5 <= 5.4) -> 2,
    # bar 14 fails (5 > 4.9), then every flat bar qualifies (5 <= 5): bar 20 is count 8 (close 5);
    # bar 25 would
    # be 13 and qualifies because its low 5 <= that close; bar 26 resets to 0.
    countdown = head + [0] * 8 + [1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0, 0]
    np.testing.assert_array_equal(td["buy_countdown"], countdown)
    np.testing.assert_array_equal(td["sell_countdown"], head + [0] * 24)
    # TDST resistance: the buy setup's highest high, bar 4's 9.1, known from bar 12.
    np.testing.assert_array_equal(td["tdst_resistance"], head + [NAN] * 8 + [9.1] * 16)
    assert np.isnan(td["tdst_support"]).all()


def test_td_combo_counts_from_setup_bar_one() -> None:
    combo = _columns(_td_market(), "td_combo")
    # Bars 4-12 each close <= low two back, make a lower low, close lower than the previous close and than the
    # previous counted close: 9 counts, all known when the setup completes at bar 12. Flat bars make no lower
    # low, so the count stays at 9.
    np.testing.assert_array_equal(combo["buy_countdown"], [NAN] * 4 + [0] * 8 + [9] * 16)
    np.testing.assert_array_equal(combo["sell_countdown"], [NAN] * 4 + [0] * 24)


def test_td_countdown_recycles_on_a_new_setup() -> None:
    # A steady fall of 0.5 per bar: setups complete at bars 12 and 21; each restarts the countdown.
    close = [10, 11, 12, 13] + [9 - 0.5 * k for k in range(20)]
    low = [c - 0.1 for c in close]
    high = [c + 0.1 for c in close]
    td = _columns(_inputs(close, low, high), "td_sequential")
    np.testing.assert_array_equal(td["buy_setup"][4:], list(range(1, 10)) * 2 + [1, 2])
    np.testing.assert_array_equal(td["buy_countdown"][4:], [0] * 8 + list(range(1, 10)) + [1, 2, 3])


def test_supertrend_with_one_bar_atr() -> None:
    # ATR(1) is the true range; bands are (H+L)/2 +- TR. Worked bar by bar in the module notes:
    # bar 1: TR 1, bands 11.5/9.5, starts down -> 11.5; bar 2: TR 2, upper stays 11.5, lower 10, close 12.4
    # breaks the upper band -> up at 10; bar 3: TR 1.6, lower 10.2 -> 10.2; bar 4: TR 2.2, close 9.5 < 10.2
    # -> down at the new upper band 12.2.
    market = _inputs([10, 10.5, 12.4, 11.2, 9.5], [9.5, 10, 11.5, 11.0, 9.0], [10.5, 11, 12.5, 12.6, 11.0])
    st = _columns(market, "supertrend", period=1, multiplier=1.0)
    np.testing.assert_allclose(st["line"], [NAN, 11.5, 10.0, 10.2, 12.2], rtol=1e-12)
    np.testing.assert_array_equal(st["direction"], [NAN, -1, 1, 1, -1])


def test_funding_uses_settlements_up_to_the_bar_close() -> None:
    base = 1_704_067_200_000
    flat = [100.0] * 10
    market = _inputs(
        flat, flat, flat, funding_timestamp=np.array([base + 2 * HOUR, base + 10 * HOUR]),
        funding_rate=np.array([1e-4, 3e-4]),
    )  # fmt: skip
    f = _columns(market, "funding", mean_count=21)
    # Bar k closes at base + (k+1) h: bar 0 sees no settlement; bars 1-8 see the first (next one 8 h after
    # it, assumed until a gap is observed); bar 9 closes exactly at the second settlement and sees it.
    np.testing.assert_array_equal(f["rate"], [NAN] + [1e-4] * 8 + [3e-4])
    np.testing.assert_allclose(f["mean"], [NAN] + [1e-4] * 8 + [2e-4], rtol=1e-12)
    np.testing.assert_array_equal(f["hours_to_next"], [NAN, 8, 7, 6, 5, 4, 3, 2, 1, 8])
    assert _columns(market, "funding", mean_count=1)["mean"][9] == 3e-4


def test_calendar_features() -> None:
    # 2024-01-01 00:00 UTC was a Monday; bars at 00:00, 06:00 and Wednesday 12:00.
    monday = 1_704_067_200_000
    stamps = [monday, monday + 6 * HOUR, monday + 60 * HOUR]
    market = MarketInputs(
        timestamp=np.array(stamps), open=np.ones(3), high=np.ones(3), low=np.ones(3), close=np.ones(3),
        volume=np.ones(3), interval_ms=HOUR,
    )  # fmt: skip
    hour = _columns(market, "hour_of_day")
    np.testing.assert_allclose(hour["sin"], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(hour["cos"], [1, 0, -1], atol=1e-12)
    week = _columns(market, "day_of_week")
    angle = np.array([0, 0.25, 2.5]) / 7 * 2 * np.pi
    np.testing.assert_allclose(week["sin"], np.sin(angle), atol=1e-12)
    np.testing.assert_allclose(week["cos"], np.cos(angle), atol=1e-12)


def test_bad_parameters_are_rejected_in_one_line() -> None:
    from asterrl.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown parameter"):
        FeatureSpec.create("rsi", {"length": 3})
    with pytest.raises(ConfigError, match="must be >= 1"):
        FeatureSpec.create("rsi", {"period": 0})
    with pytest.raises(ConfigError, match="unknown feature"):
        FeatureSpec.create("rsx")
