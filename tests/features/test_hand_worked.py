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
    # Bars 0-4 rise 10..14. Bar 5 closes at 9 < close[1] = 11 after bar 4 closed above bar 0 (14 > 10): a
    # bearish price flip starts a buy setup. Bars 5-15 fall by 0.5 to 4 (setup bars 1..11), bars 16-21 stay
    # at 4. Lows are close - 0.1, highs close + 0.1, except bar 10 (setup bar 6) whose low wicks to 4.0.
    close = [10, 11, 12, 13, 14, 9, 8.5, 8, 7.5, 7, 6.5, 6, 5.5, 5, 4.5] + [4] * 7
    low = [c - 0.1 for c in close]
    low[10] = 4.0
    high = [c + 0.1 for c in close]
    return _inputs(close, low, high)


def _mirror(market: MarketInputs) -> MarketInputs:
    """Prices reflected around 50: highs become lows; every buy rule becomes the sell rule."""
    return _inputs(list(50 - market.close), list(50 - market.high), list(50 - market.low))


def _columns(market: MarketInputs, name: str, **params: float) -> dict[str, np.ndarray]:
    spec = FeatureSpec.create(name, params)
    return {column.removeprefix(spec.prefix).lstrip("_"): v for column, v, _ in spec.compute(market)}


def test_td_sequential_setup_runs_past_nine_and_is_perfected_on_a_later_bar() -> None:
    td = _columns(_td_market(), "td_sequential")
    head = [NAN] * 4
    # Bar 4 cannot start a setup (no bar 4 earlier to flip against). Bars 5-13 count 1..9 and the run goes on
    # while closes stay below the close 4 bars back: bar 14 (4.5 < 6.5) 10, 15 (4 < 6) 11, 16 (4 < 5.5) 12,
    # 17 (4 < 5) 13, 18 (4 < 4.5) 14; bar 19 (4 = 4) ends it. No restart at 1 after 9.
    np.testing.assert_array_equal(td["buy_setup"], head + [0] + list(range(1, 15)) + [0] * 3)
    np.testing.assert_array_equal(td["sell_setup"], head + [0] * 18)
    # Perfection needs a low <= min(low of setup bar 6 = bar 10: 4.0, of bar 7 = bar 11: 5.9) = 4.0. Bars 8
    # and 9 (bars 12, 13: lows 5.4, 4.9) fall short, bar 14 (4.4) too; bar 15's low 3.9 perfects it.
    np.testing.assert_array_equal(td["perfection"], head + [0] * 11 + [1] + [0] * 6)
    # Countdown from bar 13 (close <= low two bars back): 13 (5 <= 5.9), 14 (4.5 <= 5.4), 15 (4 <= 4.9),
    # 16 (4 <= 4.4) count 1-4; from bar 17 the flat closes 4 sit above the lows 3.9 two bars back.
    np.testing.assert_array_equal(td["buy_countdown"], head + [0] * 9 + [1, 2, 3, 4] + [4] * 5)
    np.testing.assert_array_equal(td["sell_countdown"], head + [0] * 18)
    # TDST resistance: the highest high of setup bars 1-9 (bars 5-13), bar 5's 9.1, known from bar 13.
    np.testing.assert_array_equal(td["tdst_resistance"], head + [NAN] * 9 + [9.1] * 9)
    assert np.isnan(td["tdst_support"]).all()


def test_td_combo_counts_from_setup_bar_one() -> None:
    combo = _columns(_td_market(), "td_combo")
    # Replayed at bar 13 from setup bar 1 (bar 5): bars 5-10 each close <= the low two bars back, make a
    # lower low, close below the previous close and the previous counted close -> 6 counts. Bar 11 fails
    # (low 5.9 is not below bar 10's 4.0), bar 12 too (5.5 > low 4.0 of bar 10). Bar 13 (5 <= 5.9, 4.9 <
    # 5.4, 5 < 5.5, 5 < 6.5) -> 7, bar 14 -> 8, bar 15 -> 9; flat bars make no lower low.
    np.testing.assert_array_equal(combo["buy_countdown"], [NAN] * 4 + [0] * 9 + [7, 8] + [9] * 7)
    np.testing.assert_array_equal(combo["sell_countdown"], [NAN] * 4 + [0] * 18)


def test_td_sell_side_mirrors_the_buy_side() -> None:
    market = _td_market()
    buy = _columns(market, "td_sequential")
    sell = _columns(_mirror(market), "td_sequential")
    np.testing.assert_array_equal(sell["sell_setup"], buy["buy_setup"])
    np.testing.assert_array_equal(sell["buy_setup"], buy["sell_setup"])
    np.testing.assert_array_equal(sell["perfection"], -buy["perfection"])
    np.testing.assert_array_equal(sell["sell_countdown"], buy["buy_countdown"])
    np.testing.assert_allclose(sell["tdst_support"], 50 - buy["tdst_resistance"])
    combo_buy = _columns(market, "td_combo")
    combo_sell = _columns(_mirror(market), "td_combo")
    np.testing.assert_array_equal(combo_sell["sell_countdown"], combo_buy["buy_countdown"])


def test_td_perfection_waits_until_the_setup_is_cancelled() -> None:
    # The setup of _td_market, but bar 14 rallies to 9.5 (above the setup's highest high 9.1): the setup is
    # cancelled unperfected, so bar 15's low 3.9 no longer perfects anything.
    market = _td_market()
    close = list(market.close)
    high = list(market.high)
    low = list(market.low)
    close[14], high[14], low[14] = 9.5, 9.6, 9.4
    td = _columns(_inputs(close, low, high), "td_sequential")
    np.testing.assert_array_equal(td["perfection"][4:], [0] * 18)
    # The same close above the high also cancels the countdown (1 at bar 13, 0 from bar 14).
    np.testing.assert_array_equal(td["buy_countdown"][4:], [0] * 9 + [1] + [0] * 8)


def test_td_countdown_runs_on_through_an_extended_setup() -> None:
    # A steady fall of 0.2 per bar after a flip: one setup counting 1..23 on bars 5-27 (no new setup at its
    # 18th bar), so the countdown started at bar 13 is never restarted: bars 13-24 count 1..12 (each close
    # is 0.4 below the close two bars back, 0.3 below that bar's low), bar 25 is 13 (its low 4.1 - 0.1 is
    # below bar 20's close, countdown bar 8) and bars 26-27 are 0 after it.
    close = [10, 11, 12, 13, 14] + [9 - 0.2 * k for k in range(23)]
    low = [c - 0.1 for c in close]
    high = [c + 0.1 for c in close]
    td = _columns(_inputs(close, low, high), "td_sequential")
    np.testing.assert_array_equal(td["buy_setup"][4:], [0, *range(1, 24)])
    np.testing.assert_array_equal(td["buy_countdown"][4:], [0] * 9 + list(range(1, 14)) + [0, 0])
    # TD Combo: bars 5-12 replayed at bar 13 (8 counts) plus bar 13 itself -> 9, then 10..13 at bars
    # 14-17, reset after 13.
    combo = _columns(_inputs(close, low, high), "td_combo")
    np.testing.assert_array_equal(combo["buy_countdown"][4:], [0] * 9 + [9, 10, 11, 12, 13] + [0] * 10)


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
