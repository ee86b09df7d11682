"""What a report says about a backtest: headline metrics with bootstrap confidence intervals, the
overfitting statistics, VaR, trading and cost figures, and the Monte Carlo runs, as typed rows that the
Markdown table, the CSV and the HTML page all print."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from asterrl.backtest import montecarlo as mc
from asterrl.backtest.result import BacktestResult
from asterrl.backtest.stats import pathwise
from asterrl.backtest.stats.bootstrap import bootstrap_confidence_intervals, optimal_block_length
from asterrl.backtest.stats.pbo import OverfittingReport, probability_of_backtest_overfitting
from asterrl.backtest.stats.probabilistic import (
    deflated_sharpe_ratio,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
)
from asterrl.backtest.stats.sharpe import sharpe_standard_error, time_aggregated_sharpe
from asterrl.errors import ConfigError
from asterrl.risk.var import VaRMethod, value_at_risk

#: Display format of each kind of number.
FORMATS = {
    "pct": "{:+.2%}",
    "pct_abs": "{:.2%}",
    "ratio": "{:.2f}",
    "prob": "{:.3f}",
    "count": "{:,.0f}",
    "usdt": "{:,.2f}",
    "days": "{:,.0f}",
}


@dataclass(frozen=True)
class ReportConfig:
    """Settings of a backtest report (checked when built).

    :param title: heading; default ``"<name> on <symbol>"``.
    :param confidence: coverage of the bootstrap intervals.
    :param bootstrap_samples: stationary-bootstrap resamples behind the intervals.
    :param var_level: VaR/CVaR confidence.
    :param psr_confidence: confidence of the minimum track-record length.
    :param pbo_splits: CSCV blocks (even), reduced when the backtest is short.
    :param rolling_window: bars of the rolling Sharpe; default about 30 days.
    :param montecarlo: Monte Carlo settings.
    :param cost_multipliers: cost-stress multipliers.
    :param html_max_points: points per series drawn in the HTML page (min–max thinned for display only).
    :param seed: seed of the bootstrap intervals.
    """

    title: str | None = None
    confidence: float = 0.95
    bootstrap_samples: int = 1000
    var_level: float = 0.99
    psr_confidence: float = 0.95
    pbo_splits: int = 16
    rolling_window: int | None = None
    montecarlo: mc.MonteCarloConfig = field(default_factory=lambda: mc.MonteCarloConfig(n_paths=500))
    cost_multipliers: tuple[float, ...] = (1.0, 2.0, 3.0)
    html_max_points: int = 4000
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("confidence", "var_level", "psr_confidence"):
            if not 0.0 < getattr(self, key) < 1.0:
                raise ConfigError(f"report.{key} must be in (0, 1), got {getattr(self, key)}")
        if self.bootstrap_samples < 10:
            raise ConfigError(f"report.bootstrap_samples must be >= 10, got {self.bootstrap_samples}")
        if self.pbo_splits < 2 or self.pbo_splits % 2:
            raise ConfigError(f"report.pbo_splits must be an even number >= 2, got {self.pbo_splits}")
        if self.rolling_window is not None and self.rolling_window < 2:
            raise ConfigError(f"report.rolling_window must be >= 2 bars, got {self.rolling_window}")
        if self.html_max_points < 100:
            raise ConfigError(f"report.html_max_points must be >= 100, got {self.html_max_points}")


@dataclass(frozen=True)
class MetricRow:
    """One line of the metrics table: ``value`` with an optional interval ``[low, high]``."""

    group: str
    key: str
    label: str
    value: float
    kind: str
    low: float | None = None
    high: float | None = None

    def formatted(self) -> tuple[str, str]:
        """(value, interval) as text; ``-`` for a missing or non-finite number."""
        fmt = FORMATS[self.kind]

        def show(x: float | None) -> str:
            return fmt.format(x) if x is not None and math.isfinite(x) else "-"

        interval = "" if self.low is None or self.high is None else f"[{show(self.low)}, {show(self.high)}]"
        return show(self.value), interval


@dataclass(frozen=True)
class ReportAnalysis:
    """The rows of the metrics table and the Monte Carlo runs of one result."""

    rows: list[MetricRow]
    bootstrap: mc.MonteCarloResult
    trade_reshuffle: mc.MonteCarloResult | None
    cost_stress: dict[float, mc.MonteCarloResult]
    overfitting: OverfittingReport | None


_HEADLINE_LABELS = {
    "total_return": ("net return", "pct"),
    "annualised_return": ("annualised return (CAGR)", "pct"),
    "annualised_volatility": ("annualised volatility", "pct_abs"),
    "sharpe": ("Sharpe (annualised)", "ratio"),
    "sortino": ("Sortino (annualised)", "ratio"),
    "max_drawdown": ("max drawdown", "pct_abs"),
    "calmar": ("Calmar", "ratio"),
}


def analyse(result: BacktestResult, config: ReportConfig | None = None) -> ReportAnalysis:
    """Compute every number the report shows for ``result``."""
    cfg = config or ReportConfig()
    r = result.returns()
    bpy = result.bars_per_year
    block = optimal_block_length(r).stationary
    stats = {k: pathwise.row_statistic(k, bpy) for k in _HEADLINE_LABELS}
    cis = bootstrap_confidence_intervals(r, stats, cfg.confidence, cfg.bootstrap_samples, block, cfg.seed)
    rows = [
        MetricRow("performance", k, label, ci.estimate, kind, ci.low, ci.high)
        for k, (label, kind) in _HEADLINE_LABELS.items()
        for ci in [cis[k]]
    ]
    overfit_rows, pbo = _overfitting_rows(result, cfg)
    rows += overfit_rows
    rows += _risk_rows(r, cfg)
    rows += _trading_rows(result)
    mc_cfg = (
        cfg.montecarlo if cfg.montecarlo.mean_block is not None else replace(cfg.montecarlo, mean_block=block)
    )
    boot = mc.bootstrap_returns(r, bpy, mc_cfg)
    trades = result.fills.trade_returns()
    years = result.steps / bpy
    reshuffle = mc.reshuffle_trades(trades, trades.size / years, mc_cfg) if trades.size >= 2 else None
    costs = result.cost_returns()
    paid = costs["fees"] + costs["slippage"]
    stress = mc.stress_costs(r, paid, bpy, cfg.cost_multipliers, mc_cfg) if np.any(paid > 0.0) else {}
    rows += _montecarlo_rows(boot, reshuffle, stress)
    return ReportAnalysis(rows, boot, reshuffle, stress, pbo)


def _overfitting_rows(
    result: BacktestResult, cfg: ReportConfig
) -> tuple[list[MetricRow], OverfittingReport | None]:
    r = result.returns()
    bpy = result.bars_per_year
    est = sharpe_standard_error(r, "hac")
    sr_year, se_year = est.annualised(bpy)
    g = "overfitting"
    rows = [
        MetricRow(
            g,
            "sharpe_se",
            "Sharpe ± std error (HAC; Lo 2002)",
            sr_year,
            "ratio",
            sr_year - se_year,
            sr_year + se_year,
        ),
        MetricRow(
            g,
            "sharpe_lo",
            "Sharpe annualised for autocorrelation (Lo 2002)",
            time_aggregated_sharpe(r, bpy),
            "ratio",
        ),
        MetricRow(
            g,
            "psr",
            "P(Sharpe > 0) — PSR",
            probabilistic_sharpe_ratio(est.sharpe, 0.0, r.size, est.skewness, est.kurtosis),
            "prob",
        ),
        MetricRow(
            g,
            "min_track_record_days",
            f"min track record for PSR {cfg.psr_confidence:.0%}, days",
            minimum_track_record_length(est.sharpe, 0.0, est.skewness, est.kurtosis, cfg.psr_confidence)
            / bpy
            * 365.0,
            "days",
        ),
    ]
    pbo = None
    if result.trials is not None:
        t = result.trials
        dsr = deflated_sharpe_ratio(
            est.sharpe, r.size, t.n_trials, t.sharpe_variance, est.skewness, est.kurtosis
        )
        rows += [
            MetricRow(g, "n_trials", "trials behind the result", float(t.n_trials), "count"),
            MetricRow(
                g,
                "dsr_benchmark",
                "expected best Sharpe of the trials by luck",
                dsr.benchmark * math.sqrt(bpy),
                "ratio",
            ),
            MetricRow(g, "dsr", "deflated Sharpe ratio (P(survives the search))", dsr.probability, "prob"),
        ]
        if t.returns is not None and t.n_trials >= 2:
            splits = cfg.pbo_splits
            while splits > 2 and t.returns.shape[0] // splits < 2:
                splits -= 2
            pbo = probability_of_backtest_overfitting(t.returns, splits)
            rows.append(
                MetricRow(
                    g, "pbo", f"probability of backtest overfitting (CSCV, S={splits})", pbo.pbo, "prob"
                )
            )
    return rows, pbo


def _risk_rows(r: np.ndarray, cfg: ReportConfig) -> list[MetricRow]:
    rows = []
    methods: tuple[VaRMethod, ...] = ("historical", "cornish_fisher", "filtered_historical")
    for method in methods:
        v = value_at_risk(r, cfg.var_level, method)
        name = method.replace("_", " ")
        if method == "filtered_historical":  # scaled by the EWMA volatility after the last bar: ~0 if flat
            name += ", at the last bar's volatility"
        rows.append(
            MetricRow("risk", f"var_{method}", f"1-bar VaR {cfg.var_level:.0%} ({name})", v.var, "pct_abs")
        )
        rows.append(
            MetricRow("risk", f"cvar_{method}", f"1-bar CVaR {cfg.var_level:.0%} ({name})", v.cvar, "pct_abs")
        )
    return rows


def _trading_rows(result: BacktestResult) -> list[MetricRow]:
    f = result.fills
    pnl = f.round_trips().pnl
    wins, losses = float(pnl[pnl > 0].sum()), float(-pnl[pnl < 0].sum())
    exposure = result.exposure()
    g = "trading"
    return [
        MetricRow(g, "fills", "fills", float(len(f)), "count"),
        MetricRow(g, "round_trips", "closed round trips", float(pnl.size), "count"),
        MetricRow(
            g, "win_rate", "winning round trips", float(np.mean(pnl > 0)) if pnl.size else math.nan, "pct_abs"
        ),
        MetricRow(
            g,
            "profit_factor",
            "profit factor (round trips)",
            wins / losses if losses > 0 else math.inf,
            "ratio",
        ),
        MetricRow(g, "time_in_market", "time in market", float(np.mean(result.position != 0.0)), "pct_abs"),
        MetricRow(
            g,
            "mean_exposure",
            "mean |exposure| (notional / equity)",
            float(np.mean(np.abs(exposure))),
            "ratio",
        ),
        MetricRow(g, "max_leverage", "max leverage", float(np.max(result.leverage)), "ratio"),
        MetricRow(g, "fees", "fees paid, USDT", float(result.fees.sum()), "usdt"),
        MetricRow(g, "slippage", "slippage paid, USDT", float(result.slippage.sum()), "usdt"),
        MetricRow(
            g, "funding", "funding paid, USDT (negative: received)", float(result.funding.sum()), "usdt"
        ),
    ]


def _spread_row(key: str, label: str, values: np.ndarray, kind: str) -> MetricRow:
    """Median of ``values`` with their 5 % and 95 % quantiles as the interval."""
    p5, p50, p95 = (float(v) for v in np.quantile(values, (0.05, 0.5, 0.95)))
    return MetricRow("montecarlo", key, label + ", median [5 %, 95 %]", p50, kind, p5, p95)


def _montecarlo_rows(
    boot: mc.MonteCarloResult, reshuffle: mc.MonteCarloResult | None, stress: dict[float, mc.MonteCarloResult]
) -> list[MetricRow]:
    g = "montecarlo"
    rows = []
    for name, res in (("bootstrap", boot), ("reshuffle", reshuffle)):
        if res is None:
            continue
        how = "block bootstrap" if name == "bootstrap" else "round trips reshuffled"
        rows.append(_spread_row(f"{name}_final", f"net return ({how})", res.final_return, "pct"))
        rows.append(_spread_row(f"{name}_dd", f"max drawdown ({how})", res.max_drawdown, "pct_abs"))
        rows.append(MetricRow(g, f"{name}_ruin", f"P(ruin) ({how})", res.probability_of_ruin, "prob"))
        rows += [
            MetricRow(g, f"{name}_dd_{lvl:g}", f"P(max drawdown >= {lvl:.0%}) ({how})", p, "prob")
            for lvl, p in res.drawdown_probability.items()
        ]
    for k, res in stress.items():
        rows.append(_spread_row(f"stress_{k:g}", f"net return with costs x{k:g}", res.final_return, "pct"))
    return rows
