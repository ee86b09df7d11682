"""The one report of a backtest (used by backtest, walk-forward and compare): a metrics table with bootstrap
confidence intervals and the overfitting statistics, equity and underwater curves, monthly returns, rolling
Sharpe, fills on the price, exposure and leverage, costs and a Monte Carlo fan chart, written as Markdown
with PNG figures, a CSV of the metrics, and one self-contained HTML page.

Files are written to a temporary folder beside ``out_dir`` and moved into place at the end, so a failure
leaves no half-written report.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import numpy as np
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
    "ReportSection",
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


@dataclass(frozen=True)
class ReportSection:
    """An extra section of a report (a walk-forward's folds, a search's trials, a portfolio's symbols),
    shown after the metrics table: paragraphs, a table and a PNG figure.

    :param title: heading.
    :param notes: paragraphs (plain text).
    :param table: a table, written as Markdown, HTML and ``<name>.csv``.
    :param figure: PNG bytes, written as ``<name>.png`` and embedded in the HTML page.
    :param name: file stem of the table and figure.
    """

    title: str
    name: str
    notes: tuple[str, ...] = ()
    table: pd.DataFrame | None = None
    figure: bytes | None = field(default=None, repr=False)

    def markdown(self) -> list[str]:
        lines = [f"## {self.title}", "", *self.notes, ""]
        if self.table is not None:
            lines += [*markdown_table(self.table), ""]
        if self.figure is not None:
            lines += [f"![{self.title}]({self.name}.png)", ""]
        return lines

    def html(self) -> str:
        parts = [f"<h2>{escape(self.title)}</h2>"]
        parts += [f'<p class="note">{escape(n)}</p>' for n in self.notes]
        if self.table is not None:
            parts.append(self.table.to_html(float_format=lambda v: f"{v:.4g}", na_rep="-", classes="metrics"))
        if self.figure is not None:
            data = base64.b64encode(self.figure).decode()
            parts.append(f'<img alt="{escape(self.title)}" src="data:image/png;base64,{data}">')
        return "\n".join(parts)


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


def markdown_table(frame: pd.DataFrame) -> list[str]:
    """A frame (its index included) as Markdown table lines; floats to 4 significant digits, a missing
    value as ``-`` and a flag as ``yes``/``no``."""

    def cell(value: object) -> str:
        if isinstance(value, bool | np.bool_):
            return "yes" if value else "no"
        if isinstance(value, float):
            return "-" if math.isnan(value) else f"{value:.4g}"
        return str(value).replace("|", "\\|")

    names = [str(frame.index.name or ""), *map(str, frame.columns)]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for index, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        lines.append("| " + " | ".join(cell(v) for v in (index, *row)) + " |")
    return lines


def markdown_report(
    title: str,
    notes: Sequence[str],
    rows: Sequence[MetricRow],
    confidence: float,
    extra: Sequence[str] = (),
) -> str:
    """The Markdown page: notes, the metric table, ``extra`` lines, then every figure."""
    lines = [f"# {title}", "", *notes, "", "## Metrics", ""]
    lines += [f"Intervals: {confidence:.0%} stationary-bootstrap percentile intervals unless stated.", ""]
    lines += ["| group | metric | value | interval |", "|---|---|---:|---|"]
    for r in rows:
        value, interval = r.formatted()
        lines.append(f"| {r.group} | {r.label} | {value} | {interval} |")
    lines.append("")
    lines += extra
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
    result: BacktestResult,
    out_dir: Path | str,
    config: ReportConfig | None = None,
    sections: Sequence[ReportSection] = (),
) -> ReportPaths:
    """Write ``report.md``, ``report.html``, ``metrics.csv`` and the PNG figures of ``result`` into
    ``out_dir`` (replacing a previous report there) and return their paths; ``sections`` follow the
    metrics table."""
    cfg = config or ReportConfig()
    out = Path(out_dir)
    analysis = analyse(result, cfg)
    series = report_series(result, cfg.rolling_window)
    title = cfg.title or f"{result.name} on {result.symbol}"
    notes = _notes(result, analysis)
    with atomic_directory(out) as staging:
        atomic_write(staging / "metrics.csv", metrics_frame(analysis.rows).to_csv())
        extra_md = [line for sec in sections for line in sec.markdown()]
        atomic_write(
            staging / "report.md", markdown_report(title, notes, analysis.rows, cfg.confidence, extra_md)
        )
        extra_html = "\n".join(sec.html() for sec in sections)
        page = render_html(
            title, notes, analysis.rows, series, analysis.bootstrap, cfg.html_max_points, extra_html
        )
        for sec in sections:
            if sec.table is not None:
                atomic_write(staging / f"{sec.name}.csv", sec.table.to_csv())
            if sec.figure is not None:
                atomic_write(staging / f"{sec.name}.png", sec.figure)
        atomic_write(staging / "report.html", page)
        write_figures(series, analysis.bootstrap, staging)
    return ReportPaths(
        out, out / "report.md", out / "report.html", out / "metrics.csv", {n: out / n for n in FIGURES}
    )
