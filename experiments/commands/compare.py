"""``asterrl compare [--retrain] [key=value ...]``: every agent on the same test bars, data and costs."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asterrl.sim.instrument import Instrument
from experiments.hydra_cli import CommandParser, Summary, command_parser, parse, run_command
from experiments.schema import AsterRLConfig

DESCRIPTION = """\
Compare every agent of experiment.agents on the same bars of the test split (experiment.test_split), with
the same data, market model and risk limits.

Learning agents (PPO on RLlib, the SB3 baseline) are evaluated from the best checkpoint (--use final for
the last one) of a finished run of the same config and data in the experiment folder, for each of
experiment.seeds; a missing run is trained first (--retrain, or experiment.retrain=true, trains afresh).
Rule agents and buy-and-hold are computed on the bars. An agent stopped by a risk limit or liquidated stays
flat to the end of the split; the report says why each agent's episode ended and marks stops on the curves.

Writes into the experiment folder: report/ (report.md, metrics.csv, equity.png, drawdown.png) and a
TensorBoard run per agent under tensorboard/compare/ (run names match the run folders); each trained run's
training and validation curves are under tensorboard/<run>/."""


def _parser() -> CommandParser:
    parser = command_parser("asterrl compare", DESCRIPTION)
    parser.add_argument("--retrain", action="store_true", help="train every learning agent afresh")
    parser.add_argument(
        "--use", choices=("best", "final"), default="best", help="checkpoint of each learning agent's run"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def run(argv: Sequence[str]) -> int:
    invocation = parse(_parser(), argv)
    args = invocation.args
    if args.retrain:
        invocation.overrides.append("experiment.retrain=true")
    if args.no_progress:
        invocation.overrides.append("train.progress=false")
    overrides = list(invocation.overrides)

    def job(cfg: AsterRLConfig) -> Summary:
        report = compare(cfg, overrides, use=args.use, show_progress=cfg.train.progress)
        print(f"report:       {report}")
        print(f"tensorboard:  tensorboard --logdir {report.parent.parent / 'tensorboard'}")
        return {"report": str(report)}

    return run_command(invocation, job)


def compare(
    base: AsterRLConfig, overrides: Sequence[str] = (), use: str = "best", show_progress: bool = True
) -> Path:
    """Run the comparison of ``base`` (composed from ``overrides``); returns the report's path."""
    from agents.config import PPOConfig
    from agents.policy import Policy
    from agents.registry import build_rule_agent
    from asterrl.provenance import run_record
    from experiments.config import load_config, to_yaml
    from experiments.training.checkpoints import load_policy, read_info, resolve_checkpoint
    from experiments.training.environment import action_mapping, evaluation_core, prepare_market, split_span
    from experiments.training.evaluation import Evaluation, evaluate_policy
    from experiments.training.report import equity_points, write_report
    from experiments.training.run import train
    from experiments.training.rundir import experiment_dir, write_json, write_text
    from experiments.training.tensorboard import RunWriter

    configs = {option: load_config([*overrides, f"agent={option}"]) for option in base.experiment.agents}
    split = base.experiment.test_split
    market = prepare_market(base, show_progress=show_progress)
    root = experiment_dir(base)
    test_core = evaluation_core(base, market, split)
    rule_core = evaluation_core(base, market, split, action_type="continuous")
    results: list[tuple[str, Evaluation]] = []
    compared: list[tuple[str, str, Any, Evaluation]] = []  # (run, agent kind, config, evaluation): the trials
    reused: list[str] = []
    for cfg in configs.values():
        agent = cfg.agent_config()
        policy: Policy
        if not isinstance(agent, PPOConfig):
            policy = build_rule_agent(agent, action_mapping(rule_core)).prepare(market.bars)
            results.append((agent.name, evaluate_policy(policy, rule_core, base.seed)))
            compared.append((agent.name, agent.name, agent, results[-1][1]))
            continue
        for seed in base.experiment.seeds:
            run_cfg = dataclasses.replace(cfg, seed=seed)
            run_dir = None if base.experiment.retrain else reusable_run(run_cfg, market.data_hash)
            if run_dir is None:
                run_dir = train(run_cfg, run_market=market, show_progress=show_progress).paths.run_dir
            else:
                reused.append(run_dir.name)
            checkpoint = resolve_checkpoint(run_dir, use)
            policy = load_policy(checkpoint, read_info(checkpoint))
            results.append((run_dir.name, evaluate_policy(policy, test_core, seed)))
            compared.append((run_dir.name, agent.name, agent, results[-1][1]))
    board = root / "tensorboard" / "compare"
    for name, evaluation in results:
        shutil.rmtree(board / name, ignore_errors=True)  # this comparison's points only, never twice
        with RunWriter(board, name) as writer:
            writer.trading(evaluation.metrics, 0, evaluation.trace.actions, evaluation.n_actions)
            for step, value in equity_points(evaluation):
                writer.scalar("trading/equity", value, step)
            if evaluation.end.stopped_early:
                writer.text("trading/end", f"{evaluation.end.reason} at step {evaluation.end.step}")
    first, last = split_span(base, market.bars, split)
    notes = [
        f"Data: {market.market.key.label()} from {market.market.source}, "
        f"data hash `{market.data_hash[:16]}`; instrument {_instrument_line(market.instrument)}.",
        f"Split: `{split}`, bars {first} .. {last} "
        f"({_day(market.bars, first)} .. {_day(market.bars, last)}): every agent is measured over the "
        "same bars, same market model and risk limits; an agent stopped by "
        "a risk limit or a liquidation stays flat to the end of the split.",
        "Learning agents act on the env's discrete levels (their checkpoints: "
        f"`{use}`); rule agents and buy-and-hold on continuous targets.",
    ]
    if reused:
        notes.append(f"Reused finished runs of the same config and data: {', '.join(reused)} (--retrain).")
    from experiments.backtesting.compare_stats import compare_survival

    report_dir = root / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    notes += compare_survival(compared, base, market.instrument.symbol, report_dir)
    path = write_report(results, report_dir, f"asterrl compare — {base.experiment.name}", notes)
    write_text(report_dir / "config.yaml", to_yaml(base))
    record = run_record(
        base.seed,
        market.data_hash,
        {"runs": [name for name, _ in results], "instrument": market.instrument.to_dict()},
    )
    write_json(report_dir / "run.json", record)
    return path


def _instrument_line(instrument: Instrument) -> str:
    """The instrument's rules in one line for the report."""
    return (
        f"{instrument.symbol} (tick {instrument.tick_size:g}, lot {instrument.step_size:g}, "
        f"min notional {instrument.min_notional:g} USDT, max leverage {instrument.max_leverage:g}x)"
    )


def reusable_run(cfg: AsterRLConfig, data_hash: str) -> Path | None:
    """A finished run of ``cfg``'s agent and seed in the experiment folder, trained with the same config
    (how it ran aside) on the same data; the plain name first, then ``-2``, ``-3``..."""
    from experiments.training.rundir import (
        REUSE_IGNORED,
        config_differences,
        experiment_dir,
        read_run_json,
        run_name,
    )

    root = experiment_dir(cfg)
    base = run_name(cfg.agent_config().name, cfg.seed)
    if not root.is_dir():
        return None
    candidates = sorted(
        (p for p in root.iterdir() if p.name == base or p.name.startswith(f"{base}-")),
        key=lambda p: (len(p.name), p.name),
    )
    for run_dir in candidates:
        record = read_run_json(run_dir)
        if record.get("status") != "complete" or record.get("data_hash") != data_hash:
            continue
        if not config_differences(cfg, run_dir, ignore=REUSE_IGNORED):
            return run_dir
    return None


def _day(bars: object, row: int) -> str:
    import pandas as pd

    assert isinstance(bars, pd.DataFrame)
    return str(pd.Timestamp(int(bars["timestamp"].iloc[row]), unit="ms", tz="UTC").date())
