"""The one report of a backtest (used by backtest, walk-forward and compare): a metrics table with bootstrap
confidence intervals and the overfitting statistics, equity and underwater curves, monthly returns, rolling
Sharpe, fills on the price, exposure and leverage, costs and a Monte Carlo fan chart, written as Markdown
with PNG figures, a CSV of the metrics, and one self-contained HTML page.

Files are written to a temporary folder beside ``out_dir`` and moved into place at the end, so a failure
leaves no half-written report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from asterrl.backtest.report.analysis import MetricRow, ReportAnalysis, ReportConfig, analyse
from asterrl.backtest.report.figures import FIGURES, write_figures
from asterrl.backtest.report.html import render_html
from asterrl.backtest.report.series import ReportSeries, report_series
from asterrl.backtest.result import BacktestResult
from asterrl.files import atomic_directory, atomic_write

__all__ = [
    "MetricRow",
    "ReportAnalysis",
    "ReportConfig",
    "ReportPaths",
    "ReportSeries",
    "analyse",
    "markdown_report",
    "report_series",
    "write_report",
]


@dataclass(frozen=True)
class ReportPaths:
    """Where the report was written."""

    directory: Path
    markdown: Path
    html: Path
    metrics_csv: Path
    figures: dict[str, Path]


def metrics_frame(rows: Sequence[MetricRow]) -> pd.DataFrame:
    """The metric rows as a frame (one row per metric: group, label, value, low, high)."""
    return pd.DataFrame(
        [
            {
                "group": r.group,
                "metric": r.key,
                "label": r.label,
                "value": r.value,
                "low": r.low,
                "high": r.high,
            }
            for r in rows
        ]
    ).set_index("metric")


def markdown_report(title: str, notes: Sequence[str], rows: Sequence[MetricRow], confidence: float) -> str:
    """The Markdown page: notes, the metric table, then every figure."""
    lines = [f"# {title}", "", *notes, "", "## Metrics", ""]
    lines += [f"Intervals: {confidence:.0%} stationary-bootstrap percentile intervals unless stated.", ""]
    lines += ["| group | metric | value | interval |", "|---|---|---:|---|"]
    for r in rows:
        value, interval = r.formatted()
        lines.append(f"| {r.group} | {r.label} | {value} | {interval} |")
    lines.append("")
    for name, fig_title in FIGURES.items():
        lines += [f"## {fig_title}", "", f"![{fig_title}]({name})", ""]
    return "\n".join(lines)


def _notes(result: BacktestResult, analysis: ReportAnalysis) -> list[str]:
    start, end = (pd.Timestamp(int(result.timestamps[i]), unit="ms", tz="UTC") for i in (0, -1))
    trials = "1 (no search recorded)" if result.trials is None else str(result.trials.n_trials)
    return [
        f"{result.symbol}, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, {result.steps:,} bars "
        f"({result.bars_per_year:,.0f} bars per year), initial equity {result.equity[0]:,.2f} USDT.",
        f"Trials behind this result: {trials}. Bootstrap mean block length "
        f"{analysis.bootstrap.mean_block or 0:.1f} bars (Politis–White).",
    ]


def write_report(
    result: BacktestResult, out_dir: Path | str, config: ReportConfig | None = None
) -> ReportPaths:
    """Write ``report.md``, ``report.html``, ``metrics.csv`` and the PNG figures of ``result`` into
    ``out_dir`` (replacing a previous report there) and return their paths."""
    cfg = config or ReportConfig()
    out = Path(out_dir)
    analysis = analyse(result, cfg)
    series = report_series(result, cfg.rolling_window)
    title = cfg.title or f"{result.name} on {result.symbol}"
    notes = _notes(result, analysis)
    with atomic_directory(out) as staging:
        atomic_write(staging / "metrics.csv", metrics_frame(analysis.rows).to_csv())
        atomic_write(staging / "report.md", markdown_report(title, notes, analysis.rows, cfg.confidence))
        page = render_html(title, notes, analysis.rows, series, analysis.bootstrap, cfg.html_max_points)
        atomic_write(staging / "report.html", page)
        write_figures(series, analysis.bootstrap, staging)
    return ReportPaths(
        out, out / "report.md", out / "report.html", out / "metrics.csv", {n: out / n for n in FIGURES}
    )
