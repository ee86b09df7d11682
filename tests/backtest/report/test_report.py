"""The backtest report: derived series against hand-worked values and pandas, the metric table against
independent computations, the written files, a self-contained HTML page of bounded size, and atomicity."""

from __future__ import annotations

import math
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asterrl.backtest.metrics import max_drawdown
from asterrl.backtest.montecarlo import MonteCarloConfig
from asterrl.backtest.report import ReportConfig, ReportPaths, analyse, report_series, write_report
from asterrl.backtest.report.figures import FIGURES
from asterrl.backtest.report.series import minmax_thin, monthly_returns, rolling_sharpe
from asterrl.backtest.result import BacktestResult
from asterrl.backtest.stats import deflated_sharpe_ratio, kurtosis, sharpe_ratio, skewness
from asterrl.errors import ConfigError
from tests.backtest.results import BARS_PER_YEAR_1H, FAST_REPORT, signal_result, sma_signal


def test_minmax_thinning_keeps_extremes_and_order() -> None:
    rng = np.random.default_rng(1)
    x = np.arange(10_000, dtype=np.int64) * 1000
    y = np.cumsum(rng.standard_normal(10_000))
    y2 = np.where(np.arange(10_000) < 500, np.nan, -y)
    tx, (ty, ty2) = minmax_thin(x, [y, y2], 800)
    assert tx.size == ty.size <= 800 and np.all(np.diff(tx) >= 0)
    assert ty.max() == y.max() and ty.min() == y.min()
    assert np.nanmax(ty2) == np.nanmax(y2) and np.isnan(ty2[0])
    _, (small_y,) = minmax_thin(x[:50], [y[:50]], 800)
    np.testing.assert_array_equal(small_y, y[:50])


def test_rolling_sharpe_against_pandas() -> None:
    r = np.random.default_rng(2).normal(0.0002, 0.01, 500)
    s = pd.Series(r).rolling(48)
    expected = (s.mean() / s.std() * math.sqrt(8760.0)).to_numpy()
    np.testing.assert_allclose(rolling_sharpe(r, 48, 8760.0), expected, rtol=1e-8, equal_nan=True)


def test_monthly_returns_by_hand() -> None:
    """Equity 100 (1 Jan), 110 (31 Jan), 105 (1 Feb), 99 (28 Feb), 120 (1 Mar 2021): January 110/100 - 1 =
    +10 %, February 99/110 - 1 = -10 %, March 120/99 - 1 = +21.21 %."""
    days = pd.to_datetime(["2021-01-01", "2021-01-31", "2021-02-01", "2021-02-28", "2021-03-01"], utc=True)
    ms = days.as_unit("ms").asi8.astype(np.int64)
    table = monthly_returns(ms, [100.0, 110.0, 105.0, 99.0, 120.0])
    assert list(table.index) == [2021] and list(table.columns) == list(range(1, 13))
    np.testing.assert_allclose(table.loc[2021, [1, 2, 3]].to_numpy(dtype=float), [0.1, -0.1, 120 / 99 - 1])
    assert table.loc[2021, 4:].isna().all()


def test_metric_rows_against_independent_computations(result: BacktestResult) -> None:
    analysis = analyse(result, FAST_REPORT)
    rows = {r.key: r for r in analysis.rows}
    eq = result.equity
    assert rows["total_return"].value == pytest.approx(eq[-1] / eq[0] - 1)
    assert rows["max_drawdown"].value == pytest.approx(max_drawdown(eq))
    assert rows["sharpe"].value == pytest.approx(sharpe_ratio(result.returns()) * math.sqrt(BARS_PER_YEAR_1H))
    for key in ("total_return", "sharpe", "max_drawdown"):
        assert rows[key].low is not None and rows[key].high is not None
        assert rows[key].low <= rows[key].high
    assert result.trials is not None
    r = result.returns()
    dsr = deflated_sharpe_ratio(
        sharpe_ratio(r), r.size, 20, result.trials.sharpe_variance, skewness(r), kurtosis(r)
    )
    assert rows["dsr"].value == pytest.approx(dsr.probability)
    assert rows["n_trials"].value == 20 and 0.0 <= rows["pbo"].value <= 1.0
    assert rows["fees"].value == pytest.approx(result.fees.sum())
    assert rows["funding"].value == pytest.approx(result.funding.sum())
    assert rows["round_trips"].value == result.fills.round_trips().pnl.size
    assert analysis.trade_reshuffle is not None and set(analysis.cost_stress) == {1.0, 2.0, 3.0}


def test_write_report_files(result: BacktestResult, written: ReportPaths) -> None:
    paths = written
    for name in FIGURES:
        png = paths.figures[name]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    md = paths.markdown.read_text()
    assert "| performance | Sharpe (annualised) |" in md and "deflated Sharpe ratio" in md
    assert all(f"]({name})" in md for name in FIGURES)
    table = pd.read_csv(paths.metrics_csv, index_col="metric")
    assert table.loc["total_return", "value"] == pytest.approx(result.equity[-1] / result.equity[0] - 1)
    assert [p.name for p in paths.directory.parent.iterdir()] == ["report"]  # no staging folder left


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "data")]


def test_html_is_self_contained(written: ReportPaths) -> None:
    page = written.html.read_text()
    parser = _Links()
    parser.feed(page)
    assert not [u for u in parser.urls if re.match(r"^\s*(https?:)?//", u, re.IGNORECASE)]
    assert "link" not in parser.tags and "iframe" not in parser.tags
    assert not re.search(r"https?://", page)
    assert "window.asterrlReport" in page and 'id="report-data"' in page


def test_html_of_100k_bars_stays_small(tmp_path: Path) -> None:
    """100,000 hourly bars (about 11 years): the page stays under 3 MB (series thinned for display)."""
    n = 100_000
    rng = np.random.default_rng(3)
    close = 30_000.0 * np.exp(np.cumsum(0.006 * rng.standard_normal(n)))
    ts = 1_577_836_800_000 + np.arange(n, dtype=np.int64) * 3_600_000
    res = signal_result(ts, close, sma_signal(close))
    cfg = ReportConfig(bootstrap_samples=20, montecarlo=MonteCarloConfig(n_paths=20))
    from asterrl.backtest.report.html import render_html

    analysis = analyse(res, cfg)
    page = render_html("big", [], analysis.rows, report_series(res), analysis.bootstrap, cfg.html_max_points)
    assert len(page.encode()) < 3_000_000


def test_a_failed_write_leaves_the_previous_report(
    result: BacktestResult, written: ReportPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the table, the Markdown and the HTML are staged (injected: drawing the figures
    raises) leaves the previous report whole and no staging folder behind."""
    out = tmp_path / "report"
    shutil.copytree(written.directory, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def disk_full(*args: object, **kwargs: object) -> dict[str, Path]:
        raise OSError("No space left on device")

    monkeypatch.setattr("asterrl.backtest.report.write_figures", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_report(result, out, FAST_REPORT)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_report_config_is_checked_when_built() -> None:
    with pytest.raises(ConfigError, match=r"report\.confidence"):
        ReportConfig(confidence=1.0)
    with pytest.raises(ConfigError, match=r"report\.pbo_splits"):
        ReportConfig(pbo_splits=5)
