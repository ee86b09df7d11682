"""The typed backtest result: validation with one-line errors, round trips worked by hand, derived series."""

from __future__ import annotations

import numpy as np
import pytest

from asterrl.backtest.result import BacktestResult, Fills, TrialSet
from asterrl.errors import DataError
from tests.backtest.results import signal_result, sma_signal, synthetic_close

H = 3_600_000


def _fills() -> Fills:
    """Buy 1 @ 100 (fee 0.1), buy 1 @ 110 (fee 0.11): long 2 at an average 105. Sell 3 @ 120 (fee 0.36):
    closes 2 for (120 - 105) * 2 = 30 and flips short 1. Buy 1 @ 115 (fee 0.115): closes the short for 5.
    Buy 0.5 @ 116: a trip still open at the end."""
    return Fills(
        timestamp=np.array([1, 2, 3, 4, 5]) * H,
        quantity=np.array([1.0, 1.0, -3.0, 1.0, 0.5]),
        price=np.array([100.0, 110.0, 120.0, 115.0, 116.0]),
        fee=np.array([0.1, 0.11, 0.36, 0.115, 0.058]),
        slippage=np.zeros(5),
        realized_pnl=np.array([-0.1, -0.11, 30.0 - 0.36, 5.0 - 0.115, -0.058]),
        equity_before=np.array([1000.0, 999.9, 1009.79, 1029.43, 1034.315]),
    )


def test_round_trips_by_hand() -> None:
    """Trip 1 (fills 1-3): -0.1 - 0.11 + 29.64 = 29.43 on 1000 USDT; trip 2 (fills 3-4, opened by the
    flip): 4.885 on the 1009.79 USDT before the flip. The last fill's trip is open and left out."""
    trips = _fills().round_trips()
    np.testing.assert_array_equal(trips.entry_ms, [1 * H, 3 * H])
    np.testing.assert_array_equal(trips.exit_ms, [3 * H, 4 * H])
    np.testing.assert_allclose(trips.pnl, [29.43, 4.885])
    np.testing.assert_allclose(_fills().trade_returns(), [29.43 / 1000.0, 4.885 / 1009.79])


def test_round_trips_account_for_all_realised_pnl_of_a_flat_book() -> None:
    """A signal booked on the synthetic market (flipping long/short): the closed trips' P&L plus what the
    still-open trip has realised is all the realised P&L of the fills."""
    ts, close = synthetic_close(24 * 60, seed=1)
    res = signal_result(ts, close, sma_signal(close), funding_rate_per_bar=1e-5)
    trips = res.fills.round_trips()
    assert trips.pnl.size > 10
    pos = np.cumsum(res.fills.quantity)
    first_open = int(np.flatnonzero(np.sign(pos) != np.sign(pos[-1]))[-1]) + 1  # fill opening the last trip
    # a flip's realised P&L closes the previous trip; a fill from flat opens the new one with its costs
    open_from = first_open if pos[first_open - 1] == 0.0 else first_open + 1
    open_part = res.fills.realized_pnl[open_from:].sum()
    assert trips.pnl.sum() + open_part == pytest.approx(res.fills.realized_pnl.sum(), rel=1e-9)


def _result(**changes: object) -> BacktestResult:
    n = 10
    fields: dict[str, object] = {
        "name": "x",
        "symbol": "BTCUSDT",
        "bars_per_year": 8760.0,
        "timestamps": np.arange(n + 1) * H,
        "equity": np.linspace(1000.0, 1100.0, n + 1),
        "close": np.full(n + 1, 100.0),
        "position": np.full(n, 2.0),
        "leverage": np.full(n, 0.2),
        "fees": np.full(n, 0.1),
        "slippage": np.zeros(n),
        "funding": np.full(n, -0.05),
    }
    fields.update(changes)
    return BacktestResult(**fields)  # type: ignore[arg-type]


def test_derived_series() -> None:
    """Equity 1000 -> 1100 in 10 equal steps: the first return is 1 %; fees of 0.1 USDT are 0.01 % of the
    first bar's 1000 USDT; a 2-unit position at 100 on 1010 USDT is an exposure of 200 / 1010."""
    res = _result()
    assert res.steps == 10
    assert res.returns()[0] == pytest.approx(0.01)
    assert res.cost_returns()["fees"][0] == pytest.approx(1e-4)
    assert res.cost_returns()["funding"][0] == pytest.approx(-5e-5)
    assert res.exposure()[0] == pytest.approx(200.0 / 1010.0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"equity": np.ones(5)}, "equity must be 11 values"),
        ({"fees": np.full(10, np.nan)}, "fees contains NaN"),
        ({"timestamps": np.zeros(11, dtype=np.int64)}, "strictly increasing"),
        ({"fees": np.full(10, -1.0)}, "fees, slippage and leverage must be >= 0"),
        ({"bars_per_year": 0.0}, "bars_per_year must be > 0"),
        ({"benchmark": np.zeros(11)}, "benchmark equity must be > 0"),
        ({"trials": TrialSet(3, 0.1, np.zeros((9, 3)))}, r"trials\.returns must have 10 bars"),
    ],
)
def test_bad_results_fail_with_one_line_naming_the_field(changes: dict[str, object], message: str) -> None:
    with pytest.raises(DataError, match=message):
        _result(**changes)


def test_trial_set_checks_its_shape() -> None:
    with pytest.raises(DataError, match=r"trials\.n_trials"):
        TrialSet(0, 0.1)
    with pytest.raises(DataError, match=r"\(bars, 4\)"):
        TrialSet(4, 0.1, np.zeros((10, 3)))
