"""The report's PNG figures (matplotlib, Agg backend), one file per chart, from :class:`ReportSeries`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from asterrl.backtest.montecarlo import MonteCarloResult
from asterrl.backtest.report.series import ReportSeries, minmax_thin
from asterrl.files import atomic_path

#: Most fill markers drawn on the price chart (evenly thinned beyond).
MAX_MARKERS = 5000
#: Most points per line in a PNG (min–max thinned; a 1000-pixel-wide figure shows no more).
MAX_LINE_POINTS = 4000
_MS_PER_DAY = 86_400_000.0

#: Figure file name -> title, in report order.
FIGURES = {
    "equity.png": "Equity (x initial)",
    "underwater.png": "Underwater (drawdown from peak)",
    "monthly_returns.png": "Monthly returns",
    "rolling_sharpe.png": "Rolling Sharpe (annualised)",
    "trades.png": "Fills on the price",
    "exposure.png": "Exposure and leverage",
    "costs.png": "Cumulative costs (USDT)",
    "montecarlo.png": "Monte Carlo fan (block bootstrap of returns)",
}


def _days(ms: np.ndarray) -> np.ndarray:
    """ms UTC -> matplotlib date numbers (days since 1970-01-01, its default epoch)."""
    return np.asarray(ms, dtype=np.float64) / _MS_PER_DAY


def _thinned(ms: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    x, out = minmax_thin(ms, list(ys), MAX_LINE_POINTS)
    return _days(x), out


def _thin(n: int, most: int) -> np.ndarray:
    return np.arange(n) if n <= most else np.unique(np.linspace(0, n - 1, most).astype(np.int64))


def write_figures(s: ReportSeries, fan: MonteCarloResult, out_dir: Path) -> dict[str, Path]:
    """Write every figure into ``out_dir``; returns file name -> path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import matplotlib.ticker as mticker

    def equity(ax: Any) -> None:
        x, (y,) = _thinned(s.time_ms, s.equity)
        ax.plot(x, y, lw=1.0, label="strategy")
        if s.benchmark is not None:
            xb, (yb,) = _thinned(s.time_ms, s.benchmark)
            ax.plot(xb, yb, lw=1.0, label="benchmark", color="grey")
        ax.legend(loc="best", fontsize=8)

    def underwater(ax: Any) -> None:
        x, (y,) = _thinned(s.time_ms, -s.drawdown)
        ax.fill_between(x, y, 0.0, color="tab:red", alpha=0.5, lw=0)
        ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0))

    def monthly(ax: Any) -> None:
        m = s.monthly.to_numpy(dtype=float)
        lim = float(np.nanmax(np.abs(m))) if np.isfinite(m).any() else 1.0
        im = ax.imshow(m, cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_xticks(range(12), ["J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"])
        ax.set_yticks(range(len(s.monthly.index)), [str(y) for y in s.monthly.index])
        for (i, j), v in np.ndenumerate(m):
            if np.isfinite(v):
                ax.text(j, i, f"{v:+.1%}", ha="center", va="center", fontsize=7)
        plt.colorbar(im, ax=ax, format=mticker.PercentFormatter(1.0))

    def rolling(ax: Any) -> None:
        x, (y,) = _thinned(s.time_ms, s.rolling_sharpe)
        ax.plot(x, y, lw=0.8)
        ax.axhline(0.0, color="black", lw=0.5)
        ax.set_ylabel(f"{s.rolling_window}-bar window")

    def trades(ax: Any) -> None:
        x, (y,) = _thinned(s.time_ms, s.close)
        ax.plot(x, y, lw=0.7, color="black")
        for when, price, marker, colour in (
            (s.buy_time_ms, s.buy_price, "^", "tab:green"),
            (s.sell_time_ms, s.sell_price, "v", "tab:red"),
        ):
            keep = _thin(when.size, MAX_MARKERS // 2)
            ax.scatter(_days(when[keep]), price[keep], marker=marker, s=12, color=colour, zorder=3)

    def exposure(ax: Any) -> None:
        x, (e, lev) = _thinned(s.time_ms[1:], s.exposure, s.leverage)
        ax.plot(x, e, lw=0.8, label="exposure (signed notional / equity)")
        ax.plot(x, lev, lw=0.8, label="leverage (gross notional / equity)")
        ax.legend(loc="best", fontsize=8)

    def costs(ax: Any) -> None:
        names = list(s.cumulative_costs)
        x, ys = _thinned(s.time_ms, *(s.cumulative_costs[n] for n in names))
        for name, y in zip(names, ys, strict=True):
            ax.plot(x, y, lw=1.0, label=name)
        ax.legend(loc="best", fontsize=8)

    def fan_chart(ax: Any) -> None:
        f = fan.fan
        when = _days(s.time_ms[np.minimum(f.steps, s.time_ms.size - 1)])
        n = len(f.quantiles)
        for i in range(n // 2):
            band = f"{f.quantiles[i]:.0%}–{f.quantiles[n - 1 - i]:.0%}"
            ax.fill_between(
                when,
                f.equity[i],
                f.equity[n - 1 - i],
                alpha=0.2 + 0.2 * i,
                color="tab:blue",
                lw=0,
                label=band,
            )
        if n % 2:
            ax.plot(when, f.equity[n // 2], color="tab:blue", lw=1.0, label="median")
        x, (y,) = _thinned(s.time_ms, s.equity)
        ax.plot(x, y, color="black", lw=0.8, label="observed")
        ax.legend(loc="best", fontsize=8)

    draw: dict[str, Callable[[Any], None]] = {
        "equity.png": equity,
        "underwater.png": underwater,
        "monthly_returns.png": monthly,
        "rolling_sharpe.png": rolling,
        "trades.png": trades,
        "exposure.png": exposure,
        "costs.png": costs,
        "montecarlo.png": fan_chart,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, title in FIGURES.items():
        height = max(3.0, 0.35 * len(s.monthly.index) + 1.5) if name == "monthly_returns.png" else 4.0
        fig, ax = plt.subplots(figsize=(10, height), dpi=100)
        draw[name](ax)
        ax.set_title(title)
        if name != "monthly_returns.png":
            ax.grid(True, alpha=0.3)
            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        fig.tight_layout()
        with atomic_path(out_dir / name) as temporary:
            fig.savefig(temporary, format="png")
        plt.close(fig)
        paths[name] = out_dir / name
    return paths
