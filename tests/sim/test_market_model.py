"""Market-model building blocks against independent references (published brackets, closed forms)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from asterrl.errors import DataError
from asterrl.sim import CostConfig, MarketArrays
from asterrl.sim.kernels import (
    liquidation_price,
    maintenance_margin,
    round_price_adverse,
    round_qty_toward_zero,
)
from asterrl.sim.layout import Market
from tests.sim.frames import HOUR, T0, bars
from tests.sim.instruments import btcusdt


def test_bundled_btcusdt_tiers_are_continuous_as_the_published_cum_values_make_them() -> None:
    # Binance BTCUSDT leverageBracket "cum" values, tiers 1..10: each equals the previous plus the tier's
    # floor times the rise in rate, so maintenance margin is continuous in notional.
    table = btcusdt().bracket_table()
    cum = [0.0]
    for row in range(1, table.shape[0]):
        cum.append(cum[-1] + table[row, 0] * (table[row, 2] - table[row - 1, 2]))
    assert table[:, 3].tolist() == pytest.approx(cum)
    assert table[:, 3].tolist() == pytest.approx(
        [0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300, 100_016_300]
    )


def test_maintenance_margin_is_continuous_across_tiers() -> None:
    table = btcusdt().bracket_table()
    assert maintenance_margin(49_999.0, table) == pytest.approx(49_999.0 * 0.004)
    assert maintenance_margin(50_000.0, table) == pytest.approx(
        50_000.0 * 0.005 - 50.0
    )  # = 200 = 50k * 0.4 %
    assert maintenance_margin(300_000.0, table) == pytest.approx(300_000.0 * 0.01 - 1_300.0)


def test_liquidation_price_matches_the_isolated_closed_form_for_a_short() -> None:
    # ccxt's closed form: liq = wallet / (qty * (1 + mmr)) + entry / (1 + mmr) for a short of qty.
    table = btcusdt().bracket_table()
    expected = 2_000.0 / (0.5 * 1.004) + 40_000.0 / 1.004
    assert liquidation_price(2_000.0, -0.5, 40_000.0, table) == pytest.approx(expected)


def test_rounding_follows_the_exchange_filters() -> None:
    assert round_qty_toward_zero(0.3, 0.001) == pytest.approx(0.3)  # 0.3 / 0.001 = 299.99999... in floats
    assert round_qty_toward_zero(-0.0379, 0.001) == pytest.approx(-0.037)
    assert round_price_adverse(40_000.01, 1.0, 0.1) == pytest.approx(40_000.1)
    assert round_price_adverse(40_000.09, -1.0, 0.1) == pytest.approx(40_000.0)


def test_funding_maps_to_the_bar_whose_close_is_the_settlement_on_5m_bars() -> None:
    n = 12 * 9  # nine hours of 5m bars
    p = np.full(n, 100.0)
    frame = bars(p, p, p, p).assign(timestamp=T0 + 300_000 * np.arange(n, dtype=np.int64))
    funding = pd.DataFrame({"timestamp": [T0 + 8 * HOUR], "funding_rate": [2e-4]})
    data = MarketArrays.from_frames(frame, funding=funding)
    events = np.flatnonzero(data.series(Market.FUNDING_EVENT))
    assert events.tolist() == [95]  # bar 07:55 closes at 08:00
    assert data.series(Market.LAST_FUNDING_RATE)[94] == 0.0
    assert data.series(Market.LAST_FUNDING_RATE)[95] == 2e-4
    assert data.series(Market.HOURS_TO_FUNDING)[0] == pytest.approx(8.0 - 5.0 / 60.0)


def test_spread_estimate_is_the_abdi_ranaldo_formula() -> None:
    frame = bars(
        opens=[100.0, 101.0, 102.0],
        highs=[102.0, 103.0, 104.0],
        lows=[99.0, 100.0, 100.5],
        closes=[101.9, 101.5, 103.0],
    )
    data = MarketArrays.from_frames(frame, costs=CostConfig(estimate_window=1, min_half_spread_bps=0.0))
    # s^2 at bar 1 = 4 (c0 - eta0)(c0 - eta1), eta = (ln H + ln L) / 2.
    c0, eta0, eta1 = math.log(101.9), 0.5 * math.log(102.0 * 99.0), 0.5 * math.log(103.0 * 100.0)
    s2 = 4.0 * (c0 - eta0) * (c0 - eta1)
    assert s2 > 0.0
    assert data.series(Market.HALF_SPREAD)[1] == pytest.approx(0.5 * math.sqrt(s2))


def _five_minute_bars(n: int) -> pd.DataFrame:
    p = 100.0 + np.arange(n, dtype=np.float64)
    frame = bars(p, p + 0.5, p - 0.5, p + 0.25)
    return frame.assign(timestamp=T0 + 300_000 * np.arange(n, dtype=np.int64))


def test_hourly_mark_under_five_minute_bars_is_refused_in_one_line() -> None:
    frame = _five_minute_bars(24)
    hours = T0 + HOUR * np.arange(2, dtype=np.int64)
    mark = pd.DataFrame(
        {"timestamp": hours, "mark_open": 1.0, "mark_high": 1.0, "mark_low": 1.0, "mark_close": 1.0}
    )
    with pytest.raises(DataError, match="cannot value 5 min bars without looking ahead") as caught:
        MarketArrays.from_frames(frame, mark=mark)
    assert "\n" not in str(caught.value)


def test_one_minute_mark_under_five_minute_bars_is_aggregated_causally() -> None:
    # 1m mark rows: open = 1000 + minute, high = open + 2, low = open - 3, close = open + 1.
    frame = _five_minute_bars(3)
    minutes = np.arange(14, dtype=np.int64)  # bar 2 covered by 4 of its 5 minutes only
    base = 1_000.0 + minutes
    mark = pd.DataFrame(
        {
            "timestamp": T0 + 60_000 * minutes,
            "mark_open": base,
            "mark_high": base + 2.0,
            "mark_low": base - 3.0,
            "mark_close": base + 1.0,
        }
    )
    data = MarketArrays.from_frames(frame, mark=mark)
    value = data.values[:, Market.VALUE_OPEN : Market.VALUE_CLOSE + 1]
    # Bar 0 (00:00-00:05): minutes 0..4 -> open 1000, high 1006, low 997, close 1005 (the 00:04 close).
    assert value[0].tolist() == [1_000.0, 1_006.0, 997.0, 1_005.0]
    assert value[1].tolist() == [1_005.0, 1_011.0, 1_002.0, 1_010.0]
    # Bar 2 is covered only up to 00:14: no mark for it, last-trade prices value it (never a later mark).
    assert value[2].tolist() == frame.loc[2, ["open", "high", "low", "close"]].tolist()


def test_funding_after_a_gap_is_charged_at_the_first_close_after_the_settlement() -> None:
    # Bars at 00:00-05:00, then a gap to 09:00: the 08:00 settlement falls in the gap and is charged at
    # the close of the 09:00 bar (10:00), never at the 05:00 bar's close (06:00, before it happened).
    hours = np.array([0, 1, 2, 3, 4, 5, 9, 10], dtype=np.int64)
    p = [100.0] * hours.shape[0]
    frame = bars(p, p, p, p).assign(timestamp=T0 + HOUR * hours)
    funding = pd.DataFrame({"timestamp": [T0 + 8 * HOUR], "funding_rate": [3e-4]})
    data = MarketArrays.from_frames(frame, funding=funding, interval_ms=HOUR)
    assert np.flatnonzero(data.series(Market.FUNDING_EVENT)).tolist() == [6]
    assert data.series(Market.LAST_FUNDING_RATE)[5] == 0.0
    # The order at the 09:00 open is sent 3 h after the last close seen (06:00): that is its data age.
    assert data.series(Market.DATA_AGE_MS)[6] == 3 * HOUR
    assert data.series(Market.DATA_AGE_MS)[7] == 0.0


def test_the_first_bars_have_no_invented_return_in_their_volatility() -> None:
    closes = [100.0, 110.0, 99.0, 108.9]
    frame = bars(closes, [c * 1.02 for c in closes], [c * 0.98 for c in closes], closes)
    data = MarketArrays.from_frames(frame, costs=CostConfig(volatility_window=3))
    sigma = data.series(Market.SIGMA)
    r1, r2, r3 = math.log(1.1), math.log(0.9), math.log(1.1)
    # Bars 0 and 1 hold fewer than two returns: Parkinson's range estimate of the bar,
    # ln(1.02 / 0.98) / sqrt(4 ln 2).
    parkinson = math.log(1.02 / 0.98) / math.sqrt(4.0 * math.log(2.0))
    assert sigma[0] == pytest.approx(parkinson) and sigma[1] == pytest.approx(parkinson)
    assert sigma[2] == pytest.approx(np.std([r1, r2], ddof=1))  # not std([0, r1, r2])
    assert sigma[3] == pytest.approx(np.std([r1, r2, r3], ddof=1))


def test_costs_see_only_the_volume_known_at_the_decision() -> None:
    # Quote volume 1e6, 3e6, then a 1e9 spike on bar 2: a decision at bar 1's close knows only bars 0-1.
    frame = bars([100.0] * 3, [100.0] * 3, [100.0] * 3, [100.0] * 3)
    frame["quote_volume"] = [1e6, 3e6, 1e9]
    frame["volume"] = frame["quote_volume"] / 100.0
    data = MarketArrays.from_frames(frame, costs=CostConfig(volume_window=2))
    assert data.series(Market.KNOWN_NOTIONAL).tolist() == [1e6, 2e6, 5.015e8]
    assert data.series(Market.KNOWN_VOLUME)[1] == 2e4
