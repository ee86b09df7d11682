"""Backtest results for the report and Monte Carlo tests, built from the synthetic market and a moving-average
signal by plain bookkeeping (not the backtester, which does not exist yet): the target position is
``signal * equity / price`` traded at the next bar's open with a proportional fee and slippage."""

from __future__ import annotations

import numpy as np

from asterrl.backtest.montecarlo import MonteCarloConfig
from asterrl.backtest.report import ReportConfig
from asterrl.backtest.result import BacktestResult, Fills, TrialSet
from asterrl.data.sources.synthetic import SyntheticConfig, SyntheticMarket

HOUR_MS = 3_600_000
BARS_PER_YEAR_1H = 8760.0
#: A report configuration light enough for tests (few resamples and paths).
FAST_REPORT = ReportConfig(
    bootstrap_samples=100, montecarlo=MonteCarloConfig(n_paths=60), html_max_points=1000
)


def synthetic_close(n_bars: int, seed: int = 0, drift_annual: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(open time ms, close USDT) of ``n_bars`` hourly BTCUSDT bars of the synthetic market."""
    cfg = SyntheticConfig(base_interval="1h", drift_annual=drift_annual)
    market = SyntheticMarket(cfg, seed=seed)
    start = cfg.origin_ms
    bars = market.path("BTCUSDT", "1h", start, start + n_bars * HOUR_MS).bars
    return bars["timestamp"].to_numpy(np.int64), bars["close"].to_numpy(np.float64)


def sma_signal(close: np.ndarray, fast: int = 24, slow: int = 96) -> np.ndarray:
    """+1 when the fast simple moving average is above the slow one, else -1 (0 before the slow window)."""
    c = np.concatenate([[0.0], np.cumsum(close)])
    sig = np.zeros(close.size)
    for i in range(slow - 1, close.size):
        sig[i] = 1.0 if (c[i + 1] - c[i + 1 - fast]) / fast > (c[i + 1] - c[i + 1 - slow]) / slow else -1.0
    return sig


def signal_result(
    timestamps: np.ndarray,
    close: np.ndarray,
    signal: np.ndarray,
    fee_rate: float = 0.00035,
    slippage_rate: float = 0.0002,
    funding_rate_per_bar: float = 0.0,
    equity0: float = 10_000.0,
    name: str = "sma_cross",
    trials: TrialSet | None = None,
) -> BacktestResult:
    """Bookkeeping of a signal: the decision at bar t (close) fills at close t (the next bar's open in this
    gapless series) and is marked at each close; fees and slippage are proportional to traded notional."""
    n = close.size
    equity = np.empty(n)
    equity[0] = equity0
    pos = 0.0
    position, fees, slips, funding, lev = (np.zeros(n - 1) for _ in range(5))
    f_ts, f_qty, f_px, f_fee, f_slip, f_pnl, f_eq = ([] for _ in range(7))
    entry, cash = 0.0, equity0
    for t in range(n - 1):
        eq_before = cash + pos * close[t]
        target = signal[t] * eq_before / close[t]
        qty = target - pos
        if abs(qty) > 1e-12:
            fee, slip = abs(qty) * close[t] * fee_rate, abs(qty) * close[t] * slippage_rate
            realised = -fee - slip
            new_pos = pos + qty
            if pos != 0.0 and np.sign(qty) != np.sign(pos):  # reduces, closes or flips
                realised += min(abs(qty), abs(pos)) * np.sign(pos) * (close[t] - entry)
                if np.sign(new_pos) != np.sign(pos):
                    entry = close[t]
            elif new_pos != 0.0:  # opens or adds: average entry price
                entry = (entry * pos + close[t] * qty) / new_pos
            cash -= qty * close[t] + fee + slip
            pos = new_pos
            fees[t], slips[t] = fee, slip
            f_ts.append(int(timestamps[t])), f_qty.append(qty), f_px.append(close[t])
            f_fee.append(fee), f_slip.append(slip), f_pnl.append(realised), f_eq.append(eq_before)
        fund = pos * close[t + 1] * funding_rate_per_bar
        cash -= fund
        funding[t] = fund
        position[t] = pos
        equity[t + 1] = cash + pos * close[t + 1]
        lev[t] = abs(pos) * close[t + 1] / equity[t + 1]
    fills = Fills(
        np.asarray(f_ts, dtype=np.int64),
        np.asarray(f_qty),
        np.asarray(f_px),
        np.asarray(f_fee),
        np.asarray(f_slip),
        np.asarray(f_pnl),
        np.asarray(f_eq),
    )
    bench = equity0 * close / close[0]
    return BacktestResult(
        name,
        "BTCUSDT",
        BARS_PER_YEAR_1H,
        timestamps,
        equity,
        close,
        position,
        lev,
        fees,
        slips,
        funding,
        fills,
        bench,
        trials,
    )
