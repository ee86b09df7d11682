"""The self-contained HTML report: one file, the charts drawn by a small inline canvas script with a shared
zoomable time axis, the data embedded as JSON (min–max thinned for display only), no external resource."""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from asterrl.backtest.montecarlo import MonteCarloResult
from asterrl.backtest.report.analysis import MetricRow
from asterrl.backtest.report.series import ReportSeries, minmax_thin

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def _numbers(values: npt.ArrayLike, digits: int = 6) -> list[float | None]:
    """JSON-ready numbers rounded to ``digits`` significant digits; NaN/inf become null."""
    a = np.asarray(values, dtype=np.float64)
    return [None if not math.isfinite(v) else float(f"{v:.{digits}g}") for v in a.tolist()]


def _seconds(ms: npt.ArrayLike, t0: int) -> list[int]:
    return [int(v) for v in ((np.asarray(ms, dtype=np.int64) - t0) // 1000).tolist()]


def _chart(
    cid: str,
    title: str,
    x_ms: IntArray,
    series: list[tuple[str, FloatArray]],
    t0: int,
    max_points: int,
    y_format: str = "num",
    **extra: Any,
) -> dict[str, Any]:
    x, ys = minmax_thin(x_ms, [y for _, y in series], max_points)
    xs = _seconds(x, t0)
    out = []
    for i, ((name, _), y) in enumerate(zip(series, ys, strict=True)):
        out.append(
            {"name": name, "kind": "line", "color": _COLOURS[i % len(_COLOURS)], "x": xs, "y": _numbers(y)}
        )
    return {"id": cid, "title": title, "yFormat": y_format, "series": out, **extra}


def _markers(name: str, when: IntArray, price: FloatArray, t0: int, most: int, up: bool) -> dict[str, Any]:
    keep = (
        np.arange(when.size)
        if when.size <= most
        else np.unique(np.linspace(0, when.size - 1, most).astype(int))
    )
    colour = "#2ca02c" if up else "#d62728"
    return {
        "name": name,
        "kind": "markers",
        "marker": "up" if up else "down",
        "color": colour,
        "x": _seconds(when[keep], t0),
        "y": _numbers(price[keep]),
    }


def chart_specs(s: ReportSeries, fan: MonteCarloResult, max_points: int) -> list[dict[str, Any]]:
    """The charts of the page, in order, as the JSON the script draws."""
    t0 = int(s.time_ms[0])
    t, steps = s.time_ms, s.time_ms[1:]
    eq = [("strategy", s.equity)] + ([("benchmark", s.benchmark)] if s.benchmark is not None else [])
    price = _chart("c-trades", "Fills on the price", t, [("close", s.close)], t0, max_points)
    price["series"] += [
        _markers("buys", s.buy_time_ms, s.buy_price, t0, max_points // 2, True),
        _markers("sells", s.sell_time_ms, s.sell_price, t0, max_points // 2, False),
    ]
    under = _chart(
        "c-underwater", "Underwater", t, [("drawdown", -s.drawdown)], t0, max_points, "pct", zero=True
    )
    under["series"][0]["fill"] = True
    under["series"][0]["color"] = "#d62728"
    return [
        _chart("c-equity", "Equity (x initial)", t, eq, t0, max_points, "mult"),
        under,
        _chart(
            "c-rolling",
            f"Rolling Sharpe ({s.rolling_window} bars, annualised)",
            t,
            [("rolling Sharpe", s.rolling_sharpe)],
            t0,
            max_points,
            "num",
            zero=True,
        ),
        price,
        _chart(
            "c-exposure",
            "Exposure and leverage",
            steps,
            [("exposure", s.exposure), ("leverage", s.leverage)],
            t0,
            max_points,
            "num",
            zero=True,
        ),
        _chart(
            "c-costs", "Cumulative costs (USDT)", t, list(s.cumulative_costs.items()), t0, max_points, "num"
        ),
        _fan_chart(s, fan, t0),
    ]


def _fan_chart(s: ReportSeries, fan: MonteCarloResult, t0: int) -> dict[str, Any]:
    f = fan.fan
    xs = _seconds(s.time_ms[np.minimum(f.steps, s.time_ms.size - 1)], t0)
    n = len(f.quantiles)
    series: list[dict[str, Any]] = [
        {
            "name": f"{f.quantiles[i]:.0%}–{f.quantiles[n - 1 - i]:.0%}",
            "kind": "band",
            "color": "#1f77b4",
            "alpha": 0.15 + 0.15 * i,
            "x": xs,
            "y0": _numbers(f.equity[i]),
            "y1": _numbers(f.equity[n - 1 - i]),
        }
        for i in range(n // 2)
    ]
    if n % 2:
        series.append(
            {"name": "median", "kind": "line", "color": "#1f77b4", "x": xs, "y": _numbers(f.equity[n // 2])}
        )
    obs = _seconds(s.time_ms[f.steps], t0)
    series.append(
        {"name": "observed", "kind": "line", "color": "#222222", "x": obs, "y": _numbers(s.equity[f.steps])}
    )
    return {
        "id": "c-fan",
        "title": f"Monte Carlo fan ({fan.n_paths} block-bootstrap paths)",
        "yFormat": "mult",
        "series": series,
    }


def _metrics_html(rows: list[MetricRow]) -> str:
    out, group = ["<table><tr><th>metric</th><th>value</th><th>interval</th></tr>"], None
    for row in rows:
        if row.group != group:
            group = row.group
            out.append(f'<tr><th colspan="3">{html.escape(group)}</th></tr>')
        value, interval = row.formatted()
        out.append(f"<tr><td>{html.escape(row.label)}</td><td>{value}</td><td>{interval}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _heatmap_html(monthly: pd.DataFrame) -> str:
    m = monthly.to_numpy(dtype=float)
    lim = float(np.nanmax(np.abs(m))) if np.isfinite(m).any() else 1.0
    head = "".join(f"<th>{n}</th>" for n in _MONTHS)
    rows = [f'<table class="heat"><tr><th>year</th>{head}</tr>']
    for year, values in zip(monthly.index, m, strict=True):
        cells = []
        for v in values:
            if not math.isfinite(v):
                cells.append("<td></td>")
                continue
            k = min(abs(v) / lim, 1.0) if lim > 0 else 0.0
            rgb = (
                (255, int(255 - 150 * k), int(255 - 150 * k))
                if v < 0
                else (int(255 - 150 * k), 255, int(255 - 150 * k))
            )
            cells.append(f'<td style="background:rgb{rgb}">{v:+.1%}</td>')
        rows.append(f"<tr><td>{year}</td>{''.join(cells)}</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def render_html(
    title: str,
    notes: list[str],
    rows: list[MetricRow],
    s: ReportSeries,
    fan: MonteCarloResult,
    max_points: int,
    extra_html: str = "",
) -> str:
    """The whole page as one string (``extra_html``: sections placed after the metrics table)."""
    assets = resources.files("asterrl.backtest.report") / "assets"
    script = (assets / "report.js").read_text(encoding="utf-8")
    style = (assets / "report.css").read_text(encoding="utf-8")
    charts = chart_specs(s, fan, max_points)
    payload = json.dumps(
        {"t0_ms": int(s.time_ms[0]), "charts": charts}, separators=(",", ":"), allow_nan=False
    )
    payload = payload.replace("</", "<\\/")
    chart_divs = "\n".join(
        f'<h2>{html.escape(c["title"])}</h2><div class="chart" id="{c["id"]}"></div>' for c in charts
    )
    note_html = "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{style}</style></head>
<body>
<h1>{html.escape(title)}</h1>
{note_html}
<h2>Metrics</h2>
{_metrics_html(rows)}
{extra_html}
<h2>Monthly returns</h2>
{_heatmap_html(s.monthly)}
<p class="note">Charts: wheel to zoom, drag to pan, double-click to reset; all time axes move together.
Series are min–max thinned to {max_points} points for display. <button id="reset-zoom">reset zoom</button></p>
{chart_divs}
<script type="application/json" id="report-data">{payload}</script>
<script>{script}</script>
</body></html>
"""
