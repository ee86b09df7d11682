"""``asterrl compare [key=value ...]``: every agent on the same test split, same data, same costs.

Trains the learning agents (PPO on RLlib and the SB3 baseline, for each of ``experiment.seeds``), prepares
every rule agent and buy-and-hold, evaluates all of them with the one evaluation path on
``experiment.test_split``, and writes into the experiment folder: a TensorBoard run per agent (and seed)
under ``tensorboard/compare/`` and ``report/`` (report.md, metrics.csv, equity.png, drawdown.png).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asterrl.errors import ConfigError
from asterrl.sim.instrument import Instrument
from experiments.cli import split_overrides
from experiments.config import load_config


def run(argv: Sequence[str]) -> int:
    options, overrides = split_overrides(argv)
    if any(o in ("-h", "--help") for o in options):
        print(__doc__)
        return 0
    if options:
        raise ConfigError(f"unknown option(s) {' '.join(options)}")
    report = compare(overrides)
    print(f"report:       {report}")
    print(f"tensorboard:  tensorboard --logdir {report.parent.parent / 'tensorboard'}")
    return 0


def compare(overrides: list[str], show_progress: bool = True) -> Path:
    """Run the comparison for the config composed from ``overrides``; returns the report's path."""
    from agents.config import PPOConfig, validate_agent
    from agents.policy import Policy
    from agents.registry import build_rule_agent
    from experiments.training.environment import action_mapping, evaluation_core, prepare_market, split_span
    from experiments.training.evaluation import Evaluation, evaluate_policy
    from experiments.training.report import equity_points, write_report
    from experiments.training.run import train
    from experiments.training.rundir import RunPaths, experiment_dir, record_run
    from experiments.training.tensorboard import RunWriter

    base = load_config(overrides)
    base.experiment.validate()
    split = base.experiment.test_split
    market = prepare_market(base, show_progress=show_progress)
    root = experiment_dir(base)
    test_core = evaluation_core(base, market, split)
    rule_core = evaluation_core(base, market, split, action_type="continuous")
    results: list[tuple[str, Evaluation]] = []
    compared: list[tuple[str, str, Any, Evaluation]] = []  # (run, agent kind, config, evaluation): the trials
    for option in base.experiment.agents:
        cfg = load_config([*overrides, f"agent={option}"])
        agent = validate_agent(cfg.agent)
        for seed in base.experiment.seeds if isinstance(agent, PPOConfig) else [base.seed]:
            run_cfg = dataclasses.replace(cfg, seed=seed)
            policy: Policy
            if isinstance(agent, PPOConfig):
                trained = train(run_cfg, run_market=market, show_progress=show_progress)
                policy = _load_policy(trained.checkpoint, agent)
                core = test_core
            else:
                core = rule_core
                policy = build_rule_agent(agent, action_mapping(core)).prepare(market.bars)
            evaluation = evaluate_policy(policy, core, seed)
            name = f"{agent.name}-s{seed}"
            results.append((name, evaluation))
            compared.append((name, agent.name, agent, evaluation))
            with RunWriter(root / "tensorboard" / "compare", name) as writer:
                writer.trading(evaluation.metrics, 0, evaluation.trace.actions, evaluation.n_actions)
                for step, value in equity_points(evaluation):
                    writer.scalar("trading/equity", value, step)
    first, last = split_span(base, market.bars, split)
    report_dir = root / "report"
    record_run(
        RunPaths(root, "report"),
        base,
        base.seed,
        market.data_hash,
        {"agents": list(base.experiment.agents), "instrument": market.instrument.to_dict()},
    )
    notes = [
        f"Data: {market.market.key.label()} from {market.market.source}, "
        f"data hash `{market.data_hash[:16]}`; instrument {_instrument_line(market.instrument)}.",
        f"Split: `{split}`, bars {first} .. {last} ({_day(market, first)} .. {_day(market, last)}), "
        "one episode over the whole split, same market model and risk limits for every agent.",
        "Learning agents act on the env's discrete levels; rule agents and buy-and-hold on continuous "
        "targets.",
    ]
    from experiments.backtesting.compare_stats import compare_survival

    report_dir.mkdir(parents=True, exist_ok=True)
    notes += compare_survival(compared, base, market.instrument.symbol, report_dir)
    return write_report(results, report_dir, f"asterrl compare — {base.experiment.name}", notes)


def _instrument_line(instrument: Instrument) -> str:
    """The instrument's rules in one line for the report."""
    return (
        f"{instrument.symbol} (tick {instrument.tick_size:g}, lot {instrument.step_size:g}, "
        f"min notional {instrument.min_notional:g} USDT, max leverage {instrument.max_leverage:g}x)"
    )


def _load_policy(checkpoint: Path, agent: Any) -> Any:
    if agent.framework == "sb3":
        from agents.sb3.ppo import SB3Policy

        return SB3Policy.load(checkpoint, agent.name)
    from agents.rllib.policy import RLlibPolicy

    return RLlibPolicy.load(checkpoint, agent.name)


def _day(market: Any, row: int) -> str:
    import pandas as pd

    return str(pd.Timestamp(int(market.bars["timestamp"].iloc[row]), unit="ms", tz="UTC").date())
