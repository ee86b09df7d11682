"""Writing a backtest: trades, positions, equity and costs as CSV, the report, the survival row, and the
one-screen summary the command prints. Everything goes into a staging folder that replaces the output
folder at the end, so an interrupted run leaves the previous output whole."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from asterrl.backtest.metrics import max_drawdown, sharpe_ratio, sortino_ratio
from asterrl.backtest.montecarlo import MonteCarloConfig
from asterrl.backtest.report import ReportConfig, ReportSection, write_report
from asterrl.backtest.result import BacktestResult, TrialSet
from asterrl.backtest.survival import Survival, survival, survival_frame
from asterrl.backtest.trials import study_name
from asterrl.files import atomic_directory, atomic_write, atomic_write_json
from asterrl.sim.instrument import Instrument
from experiments.backtesting.run import Backtested, record_and_trials
from experiments.config import to_yaml
from experiments.training.rundir import experiment_dir


@dataclass(frozen=True)
class Written:
    """Where a backtest was written and what it says."""

    directory: Path
    report_html: Path
    report_md: Path
    survival: Survival
    summary: list[str]

    @property
    def files_line(self) -> str:
        """The command's last line: the output folder and the tables in it."""
        names = sorted(p.name for p in self.directory.iterdir() if p.suffix in (".csv", ".json", ".yaml"))
        return f"files:  {self.directory}  ({' '.join(names)})"


def default_out(cfg: Any, name: str, symbol: str, result: BacktestResult, folder: str = "backtests") -> Path:
    """``<experiment dir>/<folder>/<name>-<symbol>-<interval>-<first day>_<last day>``."""
    first, last = (pd.Timestamp(int(result.timestamps[i]), unit="ms", tz="UTC").date() for i in (0, -1))
    root = experiment_dir(cfg) / folder
    safe = "".join(
        ch if ch.isalnum() or ch in "._-+" else "_" for ch in f"{name}-{symbol}-{cfg.data.interval}"
    )
    return root / f"{safe}-{first}_{last}"


def write_backtest(
    cfg: Any,
    out: Path,
    result: BacktestResult,
    tables: dict[str, pd.DataFrame],
    sections: list[ReportSection],
    notes: list[str],
    trials: TrialSet | None,
    study: str,
    instrument: Instrument | None,
) -> Written:
    """Write the output folder (replacing it) and return its paths and summary."""
    b = cfg.backtest
    result = _with_trials(result, trials)
    alive = survival(result.name, result.returns(), result.bars_per_year, trials, samples=b.bootstrap_samples,
                     seed=cfg.seed)  # fmt: skip
    section = ReportSection(
        "Does it survive the search?", "survival",
        (f"Trials recorded in study {study}: {alive.trials}. The result survives when its deflated Sharpe "
         "ratio is at least 0.95 and, where measured, its PBO is below 0.5.",),
        survival_frame([alive]),
    )  # fmt: skip
    report_cfg = ReportConfig(
        title=f"{result.name} on {result.symbol}", bootstrap_samples=b.bootstrap_samples,
        montecarlo=MonteCarloConfig(n_paths=b.montecarlo_paths, seed=cfg.seed), seed=cfg.seed,
    )  # fmt: skip
    per_symbol = tables.get("symbols")
    fills = int(per_symbol["fills"].sum()) if per_symbol is not None else len(result.fills)
    trips = (
        (int(per_symbol["round_trips"].sum()), int(per_symbol["round_trips_won"].sum()))
        if per_symbol is not None
        else None
    )
    if out.exists():  # the same policy, symbol and span as an earlier run: say so, never silently
        notes = [*notes, "this run replaced the earlier output in its folder (backtest.out=DIR keeps both)"]
    summary = summary_lines(result, alive, study, instrument, notes, fills, trips)
    with atomic_directory(out) as staging:
        for name, table in tables.items():
            atomic_write(staging / f"{name}.csv", table.to_csv(index=table.index.name is not None))
        atomic_write(staging / "config.yaml", to_yaml(cfg))
        atomic_write_json(staging / "summary.json", _summary_json(result, alive, study), sort_keys=True)
        paths = write_report(result, staging / "report", report_cfg, [section, *sections])
        atomic_write(staging / "summary.txt", "\n".join(summary) + "\n")
    report = out / "report"
    return Written(out, report / paths.html.name, report / paths.markdown.name, alive, summary)


def _with_trials(result: BacktestResult, trials: TrialSet | None) -> BacktestResult:
    return dataclasses.replace(result, trials=trials)


def summary_lines(
    result: BacktestResult,
    alive: Survival,
    study: str,
    instrument: Instrument | None,
    notes: list[str],
    fills: int | None = None,
    round_trips: tuple[int, int] | None = None,
) -> list[str]:
    """The one-screen summary (``fills`` and ``round_trips`` (closed, won): the counts when the result holds
    no fills itself, a portfolio's)."""
    r = result.returns()
    first, last = (pd.Timestamp(int(result.timestamps[i]), unit="ms", tz="UTC") for i in (0, -1))
    bench = result.benchmark
    pnl = result.fills.round_trips().pnl
    closed, won = round_trips if round_trips is not None else (pnl.size, int(np.count_nonzero(pnl > 0.0)))
    fees, slip, funding = float(result.fees.sum()), float(result.slippage.sum()), float(result.funding.sum())
    lines = [
        f"{result.name} on {result.symbol}: {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC, "
        f"{result.steps:,} bars",
    ]
    if instrument is not None:
        lines.append(
            f"  instrument    tick {instrument.tick_size:g}, lot {instrument.step_size:g}, min notional "
            f"{instrument.min_notional:g} USDT, max leverage {instrument.max_leverage:g}x"
        )
    net = result.equity[-1] / result.equity[0] - 1.0
    bench_text = f"   (buy and hold {bench[-1] / bench[0] - 1.0:+.2%})" if bench is not None else ""
    lines += [
        f"  net return    {net:+.2%}   final equity {result.equity[-1]:,.2f} USDT{bench_text}",
        f"  Sharpe        {sharpe_ratio(r, result.bars_per_year):.2f}  [95% CI {alive.sharpe_low:.2f}, "
        f"{alive.sharpe_high:.2f}]   Sortino {sortino_ratio(r, result.bars_per_year):.2f}   "
        f"max drawdown {max_drawdown(result.equity):.2%}",
        f"  trading       {len(result.fills) if fills is None else fills} fills, {closed} round trips"
        + (f" ({won / closed:.0%} won)" if closed else "")
        + f", in the market {np.mean(result.position != 0.0):.0%} of bars, max leverage "
        f"{float(result.leverage.max()):.2f}x",
        f"  costs         fees {fees:,.2f}  slippage {slip:,.2f}  funding paid {funding:,.2f} USDT",
        f"  trials        {alive.trials} in {study}: PSR {_p(alive.psr)}, DSR {_p(alive.dsr)}, PBO "
        f"{_p(alive.pbo)} -> {'survives' if alive.survives else 'does not survive'} the search",
    ]
    lines += [f"  note          {n}" for n in notes]
    return lines


def _p(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.3f}"


def _summary_json(result: BacktestResult, alive: Survival, study: str) -> dict[str, Any]:
    r = result.returns()
    return {
        "name": result.name,
        "symbol": result.symbol,
        "first_ms": int(result.timestamps[0]),
        "last_ms": int(result.timestamps[-1]),
        "bars": result.steps,
        "net_return": float(result.equity[-1] / result.equity[0] - 1.0),
        "sharpe": sharpe_ratio(r, result.bars_per_year),
        "max_drawdown": max_drawdown(result.equity),
        "fills": len(result.fills),
        "fees": float(result.fees.sum()),
        "slippage": float(result.slippage.sum()),
        "funding_paid": float(result.funding.sum()),
        "study": study,
        "survival": {
            k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in alive.as_row().items()
        },
    }


def compose(overrides: list[str]) -> tuple[Any, Callable[[str], Any]]:
    """The typed config of ``overrides`` (a checkpoint's run config when ``backtest.checkpoint=`` is given)
    and the data section of another symbol (the same overrides with ``data.symbol`` replaced)."""
    from experiments.backtesting.checkpoints import checkpoint_config
    from experiments.config import load_config

    given = [o.split("=", 1)[1] for o in overrides if o.startswith("backtest.checkpoint=")]
    if given and given[-1]:
        rest = [o for o in overrides if not o.startswith("backtest.checkpoint=")]
        cfg = checkpoint_config(Path(given[-1]).expanduser(), rest)
    else:
        cfg = load_config(overrides)
    return cfg, lambda symbol: load_config([*overrides, f"data.symbol={symbol}"]).data


def finish(cfg: Any, done: Backtested, folder: str) -> Written:
    """Record the run's trials and write its output folder (``backtest.out``, else under ``folder``)."""
    interval = cfg.data.interval
    root = experiment_dir(cfg) / "trials"
    trials = record_and_trials(cfg, done, interval, root)
    r = done.result
    out = (
        Path(cfg.backtest.out).expanduser()
        if cfg.backtest.out
        else default_out(cfg, done.kind, r.symbol, r, folder)
    )
    instrument = done.setup.instrument if done.setup is not None else None
    study = study_name(done.kind, r.symbol, interval)
    return write_backtest(cfg, out, r, done.tables, done.sections, done.notes, trials, study, instrument)
