"""``backtest(cfg)``: the configured policy over the configured span, from data to the written report.

One symbol: a rule agent (``agent=...``), a parameter grid of it (``backtest.grid``), a signal file
(``backtest.signals``) or a trained checkpoint (``backtest.checkpoint``). Several (``backtest.symbols``):
one account, rule agent or signals per symbol. Every run is recorded as a trial of its study (agent kind,
symbol, interval) and reported beside the trials behind it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from agents.config import PPOConfig, validate_agent
from agents.rules.base import PriceSeries
from agents.rules.sweep import parameter_grid, sweep_targets
from asterrl.backtest.engine import (
    BacktestSetup,
    ObservationSource,
    backtest_policy,
    backtest_targets,
    run_targets,
    steps_frame,
    trades_frame,
)
from asterrl.backtest.engine.layout import EVENTS, Step, Total
from asterrl.backtest.engine.portfolio import (
    PortfolioSetup,
    portfolio_result,
    run_portfolio_targets,
    symbol_attribution,
)
from asterrl.backtest.engine.records import filled_steps
from asterrl.backtest.engine.sizing import sized_targets, sizing_label
from asterrl.backtest.report import ReportSection
from asterrl.backtest.result import BacktestResult, TrialSet
from asterrl.backtest.trials import TrialLog, study_name
from asterrl.backtest.walkforward import objective_values
from asterrl.data.config import DataConfig
from asterrl.data.market import MarketData, load_market
from asterrl.errors import ConfigError
from asterrl.risk.gate import FLAG_DAILY_LOSS_BREACH, FLAG_DRAWDOWN_BREACH
from asterrl.sim.layout import Market
from experiments.backtesting.policies import action_rule, policy_decider, rule_mapping, rule_targets
from experiments.backtesting.signals import read_signals, signal_targets

FloatArray = npt.NDArray[np.float64]
#: The loss limits that halt an account, by gate flag, and their config keys.
_LOSS_LIMITS = ((FLAG_DRAWDOWN_BREACH, "risk.max_drawdown"), (FLAG_DAILY_LOSS_BREACH, "risk.max_daily_loss"))
#: A symbol's data section (the command recomposes the config with ``data.symbol=<symbol>``).
DataFor = Callable[[str], DataConfig]


@dataclass
class Backtested:
    """A finished backtest, before it is written.

    :param result: the account's result (the best grid setting's for a grid).
    :param kind: the study its trials belong to (agent kind or ``signals-<file>``).
    :param params: the settings that make it a trial.
    :param setup: the single-symbol setup (``None`` for a portfolio).
    :param tables: extra CSV tables by file stem (trades, positions, ...).
    :param sections: extra report sections.
    :param notes: lines for the summary and the report.
    :param grid_returns: ``(steps, settings)`` returns of every grid setting, with their labels and params.
    """

    result: BacktestResult
    kind: str
    params: dict[str, Any]
    setup: BacktestSetup | None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sections: list[ReportSection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    grid_returns: FloatArray | None = None
    grid_labels: list[str] = field(default_factory=list)
    grid_params: list[dict[str, Any]] = field(default_factory=list)


def run_backtest(cfg: Any, data_for: DataFor | None = None, show_progress: bool = True) -> Backtested:
    """Backtest what ``cfg.backtest`` names (see the module docstring)."""
    b = cfg.backtest
    symbols = list(b.symbols) or [cfg.data.symbol]
    if len(symbols) > 1:
        if b.checkpoint:
            raise ConfigError("backtest.checkpoint trades one symbol: drop backtest.symbols")
        return _portfolio(
            cfg, symbols, data_for or (lambda s: dataclasses.replace(cfg.data, symbol=s)), show_progress
        )
    if b.checkpoint:
        return _checkpoint(cfg, show_progress)
    market = load_market(cfg.data, cfg.seed, show_progress=show_progress)
    setup = _setup(cfg, market)
    if b.signals:
        signals = read_signals(b.signals, ["target"])
        targets, clipped = signal_targets(signals, "target", setup.market.timestamps, setup.position_scale)
        kind = f"signals-{Path(b.signals).stem}"
        done = _single(
            cfg, setup, _sized(cfg, setup, targets), kind, {"signals": str(Path(b.signals).resolve())}
        )
        if clipped:
            done.notes.append(
                f"{clipped} bars of the signal asked more than risk.max_leverage: clipped to it"
            )
        return done
    agent = _rule_agent(cfg)
    if b.grid:
        return _grid(cfg, setup, market, agent)
    targets = _sized(cfg, setup, rule_targets(agent, market.bars, setup.position_scale, setup.instrument))
    return _single(cfg, setup, targets, agent.name, {"agent": dataclasses.asdict(agent)})


def _rule_agent(cfg: Any) -> Any:
    agent = validate_agent(cfg.agent)
    if isinstance(agent, PPOConfig):
        raise ConfigError(
            f"agent={agent.name} is a learning agent: backtest its trained checkpoint with "
            "backtest.checkpoint=PATH (<run>/checkpoints/final), or pick a rule agent (agent=vol_trend, "
            "grid, hybrid, demark, sma_cross)"
        )
    return agent


def _setup(cfg: Any, market: MarketData, rule_type: str | None = "continuous") -> BacktestSetup:
    env = cfg.env
    rule = action_rule(env, rule_type)
    b = cfg.backtest
    return BacktestSetup.from_market(market, env.market, cfg.risk, rule, env.initial_balance, b.start, b.end,
                                     env.decision_latency_ms)  # fmt: skip


def _sized(cfg: Any, setup: BacktestSetup, targets: FloatArray) -> FloatArray:
    close = setup.market.values[:, Market.CLOSE]
    if targets.ndim == 1:
        return sized_targets(targets, close, cfg.backtest.sizing, setup.position_scale, setup.bars_per_year)
    return np.column_stack([_sized(cfg, setup, targets[:, j]) for j in range(targets.shape[1])])


def _trial_params(cfg: Any, params: dict[str, Any]) -> dict[str, Any]:
    """A trial is the policy with its sizing and stops."""
    stops = {
        k: getattr(cfg.risk, k)
        for k in ("stop_loss", "stop_atr", "trailing_stop", "take_profit", "time_stop_bars")
    }
    return {**params, "sizing": dataclasses.asdict(cfg.backtest.sizing), "stops": stops}


def _single(
    cfg: Any, setup: BacktestSetup, sized: FloatArray, kind: str, params: dict[str, Any]
) -> Backtested:
    """Backtest one (already sized) target series over all bars."""
    result, run = backtest_targets(setup, sized[setup.start_bar : setup.end_bar], kind)
    assert run.steps is not None and run.fills is not None
    done = Backtested(result, kind, _trial_params(cfg, params), setup)
    _tables(done, setup, run.steps[:, 0], run.totals[0], run.fills)
    if cfg.backtest.sizing.method != "none":
        done.notes.append(f"Sizing: {sizing_label(cfg.backtest.sizing)}.")
    return done


def _tables(
    done: Backtested, setup: BacktestSetup, steps: FloatArray, totals: FloatArray, fills: FloatArray
) -> None:
    """The CSV tables of one account, and a note when its run ended early."""
    done.tables["trades"] = trades_frame(fills, steps, setup.start_bar)
    flat, points = filled_steps(setup, steps, totals)
    done.tables["positions"] = steps_frame(setup, flat, points)
    event = int(totals[Total.EVENT])
    if event:
        last = int(totals[Total.LAST_STEP])
        when = pd.Timestamp(int(setup.market.timestamps[setup.start_bar + last]), unit="ms", tz="UTC")
        flags = int(steps[last - 1, Step.RISK_FLAGS]) if last > 0 else 0
        limits = [
            f"{key}={getattr(setup.risk, key.split('.')[1]):g}" for bit, key in _LOSS_LIMITS if flags & bit
        ]
        why = ", ".join(limits) if limits else "risk.max_drawdown / risk.max_daily_loss / margin"
        done.notes.append(f"The account was {EVENTS[event].replace('_', ' ')} on {when:%Y-%m-%d %H:%M} UTC "
                          f"({why}): flat from there.")  # fmt: skip
    _account_tables(done)


def _account_tables(done: Backtested) -> None:
    """The account's equity (with buy and hold and the drawdown) and costs per bar."""
    r = done.result
    when = pd.to_datetime(r.timestamps, unit="ms", utc=True)
    done.tables["equity"] = pd.DataFrame(
        {
            "time": when,
            "equity": r.equity,
            "benchmark": r.benchmark,
            "drawdown": 1.0 - r.equity / np.maximum.accumulate(r.equity),
        }
    )
    done.tables["costs"] = pd.DataFrame(
        {"time": when[1:], "fees": r.fees, "slippage": r.slippage, "funding_paid": r.funding,
         "total": r.fees + r.slippage + r.funding}
    )  # fmt: skip


def _grid(cfg: Any, setup: BacktestSetup, market: MarketData, agent: Any) -> Backtested:
    b = cfg.backtest
    grid = parameter_grid(agent, b.grid)
    series = PriceSeries.from_bars(market.bars)
    matrix = _sized(
        cfg, setup, sweep_targets(grid, series, rule_mapping(setup.position_scale, setup.instrument))
    )
    run = run_targets(setup, matrix[setup.start_bar : setup.end_bar], record_equity=True)
    assert run.equity is not None
    scores = objective_values(run.equity, b.objective, setup.bars_per_year)
    best = int(np.argmax(scores))
    labels = [grid.label(j) for j in range(len(grid))]
    done = _single(cfg, setup, matrix[:, best], agent.name, {"agent": dataclasses.asdict(grid.configs[best])})
    e = run.equity
    returns = e[1:] / np.where(e[:-1] > 0.0, e[:-1], 1.0) - 1.0
    done.grid_returns, done.grid_labels = returns, labels
    done.grid_params = [{"agent": dataclasses.asdict(c)} for c in grid.configs]
    table = pd.DataFrame({"setting": labels, b.objective: scores, "net_return": e[-1] / e[0] - 1.0,
                          "fills": run.totals[:, Total.FILLS].astype(int)}).set_index("setting")  # fmt: skip
    table = table.sort_values(b.objective, ascending=False)
    done.tables["grid"] = table
    done.sections.append(ReportSection(
        f"Parameter grid: {len(grid)} settings", "grid",
        (f"Every setting backtested over the same bars in one pass; the best by {b.objective} is the result "
         "above "
         f"({labels[best]}). {grid.skipped} combinations were not valid settings. The 20 best:",),
        table.head(20),
    ))  # fmt: skip
    done.notes.append(f"Grid: {len(grid)} settings of {agent.name}; best by {b.objective}: {labels[best]}.")
    return done


def _checkpoint(cfg: Any, show_progress: bool) -> Backtested:
    """``cfg`` is the checkpoint's run config (with the command's overrides): its data, features and env."""
    from experiments.backtesting.checkpoints import load_checkpoint_policy
    from experiments.training.environment import prepare_market

    policy = load_checkpoint_policy(Path(cfg.backtest.checkpoint).expanduser())
    run_market = prepare_market(cfg, show_progress=show_progress)
    setup = _setup(cfg, run_market.market, None)
    observations = ObservationSource.from_matrix(run_market.features, cfg.env.window)
    notes = []
    if setup.start_bar < observations.first_bar:
        notes.append(f"Starts at bar {observations.first_bar}, the first with a full observation window.")
        setup = setup.with_span(observations.first_bar, setup.end_bar)
    decide = policy_decider(policy, setup.market.timestamps)
    result, acc = backtest_policy(setup, decide, policy.name, observations)
    done = Backtested(
        result, policy.name, {"checkpoint": str(Path(cfg.backtest.checkpoint).resolve())}, setup
    )
    _tables(done, setup, acc.steps[:, 0], acc.totals[0], acc.fill_rows)
    done.notes += notes
    return done


def _portfolio(cfg: Any, symbols: list[str], data_for: DataFor, show_progress: bool) -> Backtested:
    b = cfg.backtest
    markets = [load_market(data_for(s), cfg.seed, show_progress=show_progress) for s in symbols]
    env = cfg.env
    rule = action_rule(env, "continuous")
    setup = PortfolioSetup.from_markets(markets, env.market, cfg.risk, b.portfolio, rule, env.initial_balance,
                                        b.start, b.end, env.decision_latency_ms)  # fmt: skip
    params: dict[str, Any]
    if b.signals:
        signals = read_signals(b.signals, symbols)
        kind, params = f"signals-{Path(b.signals).stem}", {"signals": str(Path(b.signals).resolve())}
    else:
        agent = _rule_agent(cfg)
        kind, params = agent.name, {"agent": dataclasses.asdict(agent)}
    columns = []
    for leg, market in zip(setup.legs, markets, strict=True):
        if b.signals:
            targets, _ = signal_targets(signals, leg.symbol, leg.market.timestamps, leg.position_scale)
        else:
            rows = market.bars["timestamp"].isin(leg.market.timestamps).to_numpy()
            targets = rule_targets(
                agent, market.bars.loc[rows].reset_index(drop=True), leg.position_scale, leg.instrument
            )
        columns.append(_sized(cfg, leg, targets)[leg.start_bar : leg.end_bar])
    run = run_portfolio_targets(setup, np.column_stack(columns))
    result = portfolio_result(run, kind)
    done = Backtested(
        result,
        kind,
        _trial_params(cfg, {**params, "symbols": symbols, "portfolio": dataclasses.asdict(b.portfolio)}),
        None,
    )
    attribution = symbol_attribution(run)
    done.tables["symbols"] = attribution
    _account_tables(done)
    fills = run.fills
    points = run.equity.size
    for j, (symbol, leg) in enumerate(zip(symbols, setup.legs, strict=True)):
        done.tables[f"trades_{symbol}"] = trades_frame(
            fills[fills[:, 0] == j], run.steps[:, j], leg.start_bar
        )
        done.tables[f"positions_{symbol}"] = steps_frame(leg, run.steps[:, j], points)
    done.sections.append(ReportSection(
        "Symbols", "symbols",
        ("One account: its equity reallocated to the symbols in proportion to their targets at each "
         "decision; "
         "cross-asset limits and the account's loss limits on the whole. USDT per symbol:",),
        attribution,
    ))  # fmt: skip
    if run.halted_at is not None:
        done.notes.append(f"A loss limit of the account fired at step {run.halted_at}: flat from there.")
    if b.sizing.method != "none":
        done.notes.append(f"Sizing: {sizing_label(b.sizing)}.")
    return done


def record_and_trials(cfg: Any, done: Backtested, interval: str, root: Path) -> TrialSet | None:
    """Record the run (and every grid setting) in its study; the ``TrialSet`` behind the result."""
    symbol = done.result.symbol
    log = TrialLog(root, study_name(done.kind, symbol, interval))
    stamps = done.result.timestamps[1:]
    if cfg.backtest.record_trials:
        if done.grid_returns is not None:
            for label, params, column in zip(
                done.grid_labels, done.grid_params, done.grid_returns.T, strict=True
            ):
                log.record(label, _trial_params(cfg, params), stamps, column, "grid")
        else:
            log.record(done.kind, done.params, stamps, done.result.returns(), "backtest")
    trials = log.trial_set(stamps)
    if trials is None and done.grid_returns is not None:
        srs = done.grid_returns.mean(axis=0) / np.maximum(done.grid_returns.std(axis=0, ddof=1), 1e-300)
        trials = TrialSet(done.grid_returns.shape[1], float(np.var(srs, ddof=1)), done.grid_returns)
    return trials
