"""The comparison report: one metric table (markdown and CSV) and PNG equity and drawdown curves."""

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
    "turnover": ("turnover", "{:.1f}"),
    "fees_paid": ("fees (USDT)", "{:.2f}"),
    "funding_paid": ("funding (USDT)", "{:.2f}"),
    "time_flat": ("time flat", "{:.1%}"),
    "trade_count": ("trades", "{:.0f}"),
}


def metric_table(evaluations: Sequence[tuple[str, Evaluation]]) -> pd.DataFrame:
    """One row per run (name), one column per trading metric (raw numbers)."""
    rows = {name: {**e.metrics.as_dict(), "bars": float(e.trace.steps)} for name, e in evaluations}
    return pd.DataFrame.from_dict(rows, orient="index")


def markdown_table(table: pd.DataFrame) -> str:
    """The metric table as a GitHub markdown table, formatted per metric."""
    header = "| agent | " + " | ".join(label for label, _ in _COLUMNS.values()) + " | bars |"
    rule = "|---|" + "---:|" * (len(_COLUMNS) + 1)
    lines = [header, rule]
    for name, row in table.iterrows():
        cells = [fmt.format(row[key]) for key, (_, fmt) in _COLUMNS.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {int(row['bars'])} |")
    return "\n".join(lines)


def plot_curves(evaluations: Sequence[tuple[str, Evaluation]], out_dir: Path) -> tuple[Path, Path]:
    """``equity.png`` (equity over initial equity) and ``drawdown.png`` (fraction of peak) of every run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / "equity.png", out_dir / "drawdown.png")
    for path, kind in zip(paths, ("equity", "drawdown"), strict=True):
        fig, ax = plt.subplots(figsize=(10, 5), dpi=100)
        for name, e in evaluations:
            when = pd.to_datetime(e.trace.timestamps, unit="ms", utc=True)
            curve = e.trace.equity / e.trace.equity[0] if kind == "equity" else -drawdown(e.trace.equity)
            ax.plot(when, curve, label=name, linewidth=1.0)
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
        f"Highest Sharpe: **{best}**. Ratios annualised by the bar interval; turnover is traded notional "
        "over mean equity; funding is paid minus received.",
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
