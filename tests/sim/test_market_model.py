"""Market-model building blocks against independent references (published brackets, closed forms)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

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
