"""The typed result of one backtest (or one env rollout), as the report, the Monte Carlo and the overfitting
statistics read it. The backtester fills it; nothing here runs a strategy.

Layout, as in the env's evaluation trace: ``T`` steps (bars); point arrays hold ``T + 1`` values (the
start, then after each step), step arrays hold ``T`` (what happened during the step, or what was held
after it). Money is USDT, quantities base asset, times ms UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from asterrl.errors import DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _float(name: str, values: npt.ArrayLike, size: int | None) -> FloatArray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or (size is not None and a.size != size):
        want = "1-D" if size is None else f"{size} values"
        raise DataError(f"backtest result: {name} must be {want}, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise DataError(f"backtest result: {name} contains NaN or infinite values")
    return a


@dataclass(frozen=True)
class Fills:
    """Every fill, in time order (arrays of one length).

    :param timestamp: time of the fill, ms UTC (the open of the bar after the decision).
    :param quantity: signed quantity, base asset (buy > 0).
    :param price: fill price including slippage, USDT.
    :param fee: fee paid, USDT.
    :param slippage: slippage paid against the reference price, USDT.
    :param realized_pnl: P&L the fill realised, net of its own fee and slippage, USDT: a reducing fill
        realises ``closed quantity * (price - average entry)``; an opening or increasing fill realises only
        minus its costs. Funding is not in it (it is in ``BacktestResult.funding``).
    :param equity_before: account equity just before the fill, USDT.

    The position starts flat and is the running sum of ``quantity``.
    """

    timestamp: IntArray
    quantity: FloatArray
    price: FloatArray
    fee: FloatArray
    slippage: FloatArray
    realized_pnl: FloatArray
    equity_before: FloatArray

    def __post_init__(self) -> None:
        ts = np.asarray(self.timestamp, dtype=np.int64)
        object.__setattr__(self, "timestamp", ts)
        for name in ("quantity", "price", "fee", "slippage", "realized_pnl", "equity_before"):
            object.__setattr__(self, name, _float(f"fills.{name}", getattr(self, name), ts.size))
        if ts.ndim != 1 or np.any(np.diff(ts) < 0):
            raise DataError("backtest result: fills.timestamp must be a 1-D series in time order")
        if np.any(self.price <= 0.0) or np.any(self.equity_before <= 0.0):
            raise DataError("backtest result: fills.price and fills.equity_before must be > 0")

    @classmethod
    def empty(cls) -> Fills:
        z = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), z, z, z, z, z, z)

    def __len__(self) -> int:
        return int(self.timestamp.size)

    def round_trips(self) -> RoundTrips:
        """The closed round trips: a trip opens when the position leaves 0 and closes on the fill that
        brings it back to 0 or flips its sign (a flip opens the next trip; its realised P&L belongs to the
        trip it closes). A trip still open at the end is left out."""
        pos = np.cumsum(self.quantity)
        before = pos - self.quantity
        flat = np.abs(pos) <= 1e-12 * np.maximum(np.abs(before), 1.0)
        closes = (before != 0.0) & (flat | (np.sign(pos) != np.sign(before)))
        entry, exit_, pnl, eq0 = [], [], [], []
        start, acc = -1, 0.0
        for i in range(len(self)):
            if start < 0:
                start, acc = i, 0.0
            acc += float(self.realized_pnl[i])
            if closes[i]:
                entry.append(int(self.timestamp[start]))
                exit_.append(int(self.timestamp[i]))
                pnl.append(acc)
                eq0.append(float(self.equity_before[start]))
                start = -1 if flat[i] else i
                acc = 0.0
        return RoundTrips(
            np.asarray(entry, dtype=np.int64),
            np.asarray(exit_, dtype=np.int64),
            np.asarray(pnl),
            np.asarray(eq0),
        )

    def trade_returns(self) -> FloatArray:
        """Return of each closed round trip (its P&L over the equity before its first fill), the trade list
        that :func:`asterrl.backtest.montecarlo.reshuffle_trades` reorders."""
        return self.round_trips().returns


@dataclass(frozen=True)
class RoundTrips:
    """Closed round trips: open and close times (ms UTC), P&L net of fees and slippage (USDT) and the
    equity before the opening fill (USDT)."""

    entry_ms: IntArray
    exit_ms: IntArray
    pnl: FloatArray
    equity_before: FloatArray

    @property
    def returns(self) -> FloatArray:
        return self.pnl / self.equity_before if self.pnl.size else np.zeros(0)


@dataclass(frozen=True)
class TrialSet:
    """The search that produced the result, for the deflated Sharpe ratio and the PBO.

    :param n_trials: configurations tried, this one included.
    :param sharpe_variance: variance of the trials' per-bar Sharpe ratios.
    :param returns: optional ``(T, n_trials)`` per-bar returns of every trial on the same bars (CSCV).
    """

    n_trials: int
    sharpe_variance: float
    returns: FloatArray | None = None

    def __post_init__(self) -> None:
        if self.n_trials < 1:
            raise DataError(f"backtest result: trials.n_trials must be >= 1, got {self.n_trials}")
        if not self.sharpe_variance >= 0.0:
            raise DataError(
                f"backtest result: trials.sharpe_variance must be >= 0, got {self.sharpe_variance}"
            )
        if self.returns is not None:
            m = np.asarray(self.returns, dtype=np.float64)
            if m.ndim != 2 or m.shape[1] != self.n_trials:
                raise DataError(
                    f"backtest result: trials.returns must be (bars, {self.n_trials}), got {m.shape}"
                )
            object.__setattr__(self, "returns", m)


@dataclass(frozen=True)
class BacktestResult:
    """One backtest, bar by bar.

    :param name: the strategy or agent, as shown in reports.
    :param symbol: the traded symbol (e.g. ``BTCUSDT``).
    :param bars_per_year: bars in a year at the bar interval (annualises every ratio).
    :param timestamps: ``T + 1`` points, ms UTC: the bar open time each equity point is marked at.
    :param equity: ``T + 1`` account equity, USDT (positive; the last may be 0 after a wipe-out).
    :param close: ``T + 1`` price the points are marked at, USDT (mark or last close).
    :param position: ``T`` signed position held after each step, base asset.
    :param leverage: ``T`` gross position notional over equity after each step.
    :param fees: ``T`` fees paid in each step, USDT (>= 0).
    :param slippage: ``T`` slippage paid in each step, USDT (>= 0).
    :param funding: ``T`` funding paid in each step, USDT (negative when received).
    :param fills: every fill.
    :param benchmark: optional ``T + 1`` equity of a benchmark (e.g. buy and hold), any unit.
    :param trials: optional search behind the result.
    """

    name: str
    symbol: str
    bars_per_year: float
    timestamps: IntArray
    equity: FloatArray
    close: FloatArray
    position: FloatArray
    leverage: FloatArray
    fees: FloatArray
    slippage: FloatArray
    funding: FloatArray
    fills: Fills = field(default_factory=Fills.empty)
    benchmark: FloatArray | None = None
    trials: TrialSet | None = None

    def __post_init__(self) -> None:
        ts = np.asarray(self.timestamps, dtype=np.int64)
        object.__setattr__(self, "timestamps", ts)
        if ts.ndim != 1 or ts.size < 3:
            raise DataError(f"backtest result: timestamps must hold at least 3 points, got shape {ts.shape}")
        if np.any(np.diff(ts) <= 0):
            raise DataError("backtest result: timestamps must be strictly increasing")
        if not self.bars_per_year > 0.0:
            raise DataError(f"backtest result: bars_per_year must be > 0, got {self.bars_per_year}")
        points, steps = ts.size, ts.size - 1
        for name, size in (("equity", points), ("close", points)):
            object.__setattr__(self, name, _float(name, getattr(self, name), size))
        for name in ("position", "leverage", "fees", "slippage", "funding"):
            object.__setattr__(self, name, _float(name, getattr(self, name), steps))
        if np.any(self.equity[:-1] <= 0.0) or self.equity[-1] < 0.0:
            raise DataError(
                "backtest result: equity must stay > 0 (the last point may be 0 after a wipe-out)"
            )
        if np.any(self.close <= 0.0):
            raise DataError("backtest result: close prices must be > 0")
        if np.any(self.fees < 0.0) or np.any(self.slippage < 0.0) or np.any(self.leverage < 0.0):
            raise DataError("backtest result: fees, slippage and leverage must be >= 0")
        if self.benchmark is not None:
            b = _float("benchmark", self.benchmark, points)
            if np.any(b <= 0.0):
                raise DataError("backtest result: benchmark equity must be > 0")
            object.__setattr__(self, "benchmark", b)
        if (
            self.trials is not None
            and self.trials.returns is not None
            and self.trials.returns.shape[0] != steps
        ):
            raise DataError(f"backtest result: trials.returns must have {steps} bars like the result")

    @property
    def steps(self) -> int:
        return int(self.timestamps.size - 1)

    def returns(self) -> FloatArray:
        """``T`` per-bar simple returns of equity."""
        return self.equity[1:] / self.equity[:-1] - 1.0

    def cost_returns(self) -> dict[str, FloatArray]:
        """Each cost per bar as a fraction of the equity at the bar's start (positive = paid)."""
        start = self.equity[:-1]
        return {"fees": self.fees / start, "slippage": self.slippage / start, "funding": self.funding / start}

    def exposure(self) -> FloatArray:
        """``T`` signed position notional over equity after each step (0 where equity is 0)."""
        eq = self.equity[1:]
        return np.where(eq > 0.0, self.position * self.close[1:] / np.where(eq > 0.0, eq, 1.0), 0.0)
