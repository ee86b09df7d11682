"""``asterrl evaluate checkpoint=PATH [key=value ...]``: evaluate a trained checkpoint on the test split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from asterrl.errors import ConfigError
from experiments.hydra_cli import CommandParser, command_parser, parse, show
from experiments.training.evaluation import Evaluation

DESCRIPTION = """\
Evaluate a trained checkpoint on the test split (experiment.test_split), with the same env and costs it was
trained with, and write the trading metrics to <run>/eval/<split>-<checkpoint>.json and to the TensorBoard
run <run>/<split> (once per checkpoint and split: evaluating again writes no second point).

checkpoint=PATH is a run folder (its checkpoints/best, or the one --use names) or a checkpoint folder
(checkpoints/final, checkpoints/iter_000100, ...). The run's config.yaml supplies the config; key=value
overrides apply on top, e.g. experiment.test_split=validation or env.market.costs.taker_fee=0.0005.

examples:
  asterrl evaluate checkpoint=~/.asterrl/runs/default/ppo-s0
  asterrl evaluate checkpoint=~/.asterrl/runs/default/ppo-s0 --use final experiment.test_split=validation"""


def _parser() -> CommandParser:
    parser = command_parser("asterrl evaluate", DESCRIPTION)
    parser.add_argument(
        "--use",
        choices=("best", "final"),
        default="best",
        help="checkpoint of a run folder to evaluate (default: best; final when the run kept no best)",
    )
    return parser


@dataclass(frozen=True)
class CheckpointEvaluation:
    """An evaluated checkpoint and where its figures were written."""

    checkpoint: Path
    agent: str
    split: str
    evaluation: Evaluation
    path: Path
    tensorboard_written: bool

    @property
    def metrics(self) -> dict[str, float]:
        return self.evaluation.metrics.as_dict()


def run(argv: Sequence[str]) -> int:
    invocation = parse(_parser(), argv)
    given = [o.split("=", 1)[1] for o in invocation.overrides if o.startswith("checkpoint=")]
    invocation.overrides = [o for o in invocation.overrides if not o.startswith("checkpoint=")]
    if not given:
        raise ConfigError(
            "asterrl evaluate needs checkpoint=PATH (a run folder, or a checkpoints/<name> folder of a run)"
        )
    args, overrides = invocation.args, list(invocation.overrides)
    target = Path(given[-1]).expanduser()

    def config() -> DictConfig:
        from experiments.training.checkpoints import read_info, resolve_checkpoint, run_dir_of
        from experiments.training.rundir import load_run_config

        checkpoint = resolve_checkpoint(target, args.use)
        info = read_info(checkpoint)
        cfg = load_run_config(run_dir_of(checkpoint, info), info.agent_schema, overrides)
        return OmegaConf.structured(cfg)

    if args.cfg or args.info:
        return show(args, overrides, config)
    if args.multirun:
        raise ConfigError(
            "asterrl evaluate takes one checkpoint: -m does not apply (see asterrl evaluate --help)"
        )
    _print(evaluate_checkpoint(target, overrides, use=args.use))
    return 0


def evaluate_checkpoint(
    target: Path, overrides: Sequence[str] = (), use: str = "best"
) -> CheckpointEvaluation:
    """Evaluate the checkpoint at ``target`` (a checkpoint or a run folder) on ``experiment.test_split``."""
    from experiments.training.checkpoints import (
        check_interface,
        load_policy,
        read_info,
        resolve_checkpoint,
        run_dir_of,
    )
    from experiments.training.environment import evaluation_core, policy_interface, prepare_market
    from experiments.training.evaluation import evaluate_policy
    from experiments.training.rundir import load_run_config, write_json
    from experiments.training.tensorboard import TRADING_TAGS, RunWriter, has_point

    checkpoint = resolve_checkpoint(target, use)
    info = read_info(checkpoint)
    run_dir = run_dir_of(checkpoint, info)
    cfg = load_run_config(run_dir, info.agent_schema, list(overrides))
    split = cfg.experiment.test_split
    market = prepare_market(cfg, show_progress=False)
    core = evaluation_core(cfg, market, split)
    check_interface(info, checkpoint, policy_interface(core))
    policy = load_policy(checkpoint, info)
    evaluation = evaluate_policy(policy, core, cfg.seed)
    path = write_json(
        run_dir / "eval" / f"{split}-{checkpoint.name}.json",
        {
            "checkpoint": str(checkpoint),
            "iteration": info.iteration,
            "split": split,
            "seed": cfg.seed,
            "data_hash": market.data_hash,
            "instrument": market.instrument.to_dict(),
            "trained_on_data_hash": info.data_hash,
            "end": evaluation.end.reason,
            "metrics": evaluation.metrics.as_dict(),
            "exposure": evaluation.exposure.as_dict(),
        },
    )
    tensorboard = run_dir.parent / "tensorboard"
    name = f"{run_dir.name}/{split}"
    written = not has_point(tensorboard / name, TRADING_TAGS["net_return"], info.env_steps)
    if written:
        with RunWriter(tensorboard, name) as writer:
            writer.trading(evaluation.metrics, info.env_steps, evaluation.trace.actions, evaluation.n_actions)
    return CheckpointEvaluation(checkpoint, info.agent, split, evaluation, path, written)


def _print(result: CheckpointEvaluation) -> None:
    e = result.evaluation
    print(f"{result.agent} ({result.checkpoint}) on {result.split}, {e.trace.steps} bars, {e.end.reason}:")
    for key, value in {**result.metrics, **e.exposure.as_dict()}.items():
        print(f"  {key:<16}{value:.6g}")
    print(f"written: {result.path}")
    if not result.tensorboard_written:
        print("tensorboard: this checkpoint's evaluation on this split is there already (not written again)")
