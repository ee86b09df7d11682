"""The comparison report: one metric table (markdown and CSV) and PNG equity and drawdown curves.

Beside return, risk and cost figures, the table gives each agent's average and peak leverage, its costs
split into fees, slippage (spread plus impact) and funding, its fills and round trips, and why its episode
ended; the curves mark where an agent was stopped by a risk limit or liquidated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from asterrl.backtest.metrics import drawdown
from asterrl.files import atomic_path, atomic_write
from experiments.training.evaluation import Evaluation

_COLUMNS = {
    "net_return": ("net return", "{:+.2%}"),
    "sharpe": ("Sharpe", "{:.2f}"),
    "sortino": ("Sortino", "{:.2f}"),
    "max_drawdown": ("max drawdown", "{:.2%}"),
    "mean_leverage": ("avg leverage", "{:.2f}x"),
    "peak_leverage": ("peak leverage", "{:.2f}x"),
    "turnover": ("turnover", "{:.1f}"),
    "fees_paid": ("fees (USDT)", "{:.2f}"),
    "slippage_paid": ("spread+impact (USDT)", "{:.2f}"),
    "funding_paid": ("funding (USDT)", "{:.2f}"),
    "total_costs": ("total costs (USDT)", "{:.2f}"),
    "time_flat": ("time flat", "{:.1%}"),
    "fills": ("fills", "{:.0f}"),
    "round_trips": ("round trips", "{:.0f}"),
}


def metric_table(evaluations: Sequence[tuple[str, Evaluation]]) -> pd.DataFrame:
    """One row per run (name): the trading metrics and exposure figures (raw numbers), the bars measured
    and why the episode ended."""
    rows = {
        name: {
            **e.metrics.as_dict(),
            **e.exposure.as_dict(),
            "bars": float(e.trace.steps),
            "end": e.end.reason,
            "stopped_at_step": float(e.end.step) if e.end.stopped_early else float("nan"),
        }
        for name, e in evaluations
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def markdown_table(table: pd.DataFrame) -> str:
    """The metric table as a GitHub markdown table, formatted per metric."""
    header = "| agent | " + " | ".join(label for label, _ in _COLUMNS.values()) + " | bars | end |"
    rule = "|---|" + "---:|" * (len(_COLUMNS) + 1) + "---|"
    lines = [header, rule]
    for name, row in table.iterrows():
        cells = [fmt.format(row[key]) for key, (_, fmt) in _COLUMNS.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {int(row['bars'])} | {row['end']} |")
    return "\n".join(lines)


def plot_curves(evaluations: Sequence[tuple[str, Evaluation]], out_dir: Path) -> tuple[Path, Path]:
    """``equity.png`` (equity over initial equity) and ``drawdown.png`` (fraction of peak) of every run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / "equity.png", out_dir / "drawdown.png")
    for path, kind in zip(paths, ("equity", "drawdown"), strict=True):
        fig, ax = plt.subplots(figsize=(10, 5), dpi=100)
        for name, e in evaluations:
            when = pd.to_datetime(e.trace.timestamps, unit="ms", utc=True)
            curve = e.trace.equity / e.trace.equity[0] if kind == "equity" else -drawdown(e.trace.equity)
            (line,) = ax.plot(when, curve, label=name, linewidth=1.0)
            if e.end.stopped_early:  # mark where a risk limit or a liquidation stopped the agent
                at = slice(e.end.step, e.end.step + 1)
                ax.plot(when[at], curve[at], marker="X", markersize=9, color=line.get_color())
                ax.annotate(e.end.reason, (float(mdates.date2num(when[at])[0]), float(curve[at][0])),
                            fontsize=7, xytext=(4, 4), textcoords="offset points",
                            color=line.get_color())  # fmt: skip
        ax.set_title("Equity (x initial)" if kind == "equity" else "Drawdown (fraction of peak)")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.autofmt_xdate()
        fig.tight_layout()
        with atomic_path(path) as temporary:
            fig.savefig(temporary)
        plt.close(fig)
    return paths


def write_report(
    evaluations: Sequence[tuple[str, Evaluation]], out_dir: Path, title: str, notes: Sequence[str] = ()
) -> Path:
    """``report.md`` + ``metrics.csv`` + the two PNGs in ``out_dir``; returns the markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = metric_table(evaluations)
    atomic_write(out_dir / "metrics.csv", table.to_csv(index_label="agent"))
    equity_png, drawdown_png = plot_curves(evaluations, out_dir)
    best = table["sharpe"].idxmax() if not table.empty else "-"
    text = [
        f"# {title}",
        "",
        *notes,
        "",
        "## Metrics",
        "",
        markdown_table(table),
        "",
        f"Highest Sharpe: **{best}**. Ratios annualised by the bar interval; leverage is position notional "
        "over equity at each bar's close (the average counts flat bars as 0); turnover is traded notional "
        "over mean equity; spread+impact is what fills paid against the reference price; funding is paid "
        "minus received; fills are steps with a fill, round trips positions closed (to flat or reversed); "
        "end says why an agent's episode ended (an X on the curves marks an agent stopped early, flat "
        "from there to the end).",
        "",
        "## Equity",
        "",
        f"![equity]({equity_png.name})",
        "",
        "## Drawdown",
        "",
        f"![drawdown]({drawdown_png.name})",
        "",
    ]
    return atomic_write(out_dir / "report.md", "\n".join(text))


def equity_points(e: Evaluation, max_points: int = 2000) -> list[tuple[int, float]]:
    """(step, equity over initial) pairs, thinned to at most ``max_points`` (for TensorBoard)."""
    n = e.trace.equity.shape[0]
    idx = np.unique(np.linspace(0, n - 1, min(n, max_points)).astype(np.int64))
    return [(int(i), float(e.trace.equity[i] / e.trace.equity[0])) for i in idx]
