"""``asterrl train [-m] [key=value ...]``: train the configured PPO agent (RLlib, or SB3: agent=sb3_ppo)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import OmegaConf

from experiments.hydra_cli import CommandParser, Summary, command_parser, parse, run_command, sweep_axes
from experiments.schema import AsterRLConfig
from hydra_plugins.asterrl_ray_tune.results import Cell

if TYPE_CHECKING:
    from experiments.training.run import TrainResult

DESCRIPTION = """\
Train the configured PPO agent: Ray RLlib by default, the Stable-Baselines3 baseline with agent=sb3_ppo.

One run: asterrl train composes conf/config.yaml with the overrides and trains for train.iterations
iterations, evaluating on the validation split every train.eval_every iterations (checkpoints/best keeps
the best by train.best_metric) and checkpointing every train.checkpoint_every (train.keep_last kept).
Ctrl-C stops after the current iteration with a checkpoint; train.resume=<run or checkpoint folder>
continues a run up to train.iterations in total.

A sweep: asterrl train -m agent.lr=1e-4,3e-4 seed=0,1 runs one job per combination, each its own run and
TensorBoard run in the same experiment, and prints a results table (also <hydra.sweep.dir>/results.csv).
hydra/sweeper=ray_tune runs the same grid as Ray Tune trials, on the cluster at ray.address=auto (or
ray://host:10001) or on a local Ray of ray.num_cpus CPUs, with hydra.sweeper.max_concurrent_trials and
hydra.sweeper.resources_per_trial.cpu / .gpu."""


def _parser() -> CommandParser:
    parser = command_parser("asterrl train", DESCRIPTION)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run(argv: Sequence[str]) -> int:
    invocation = parse(_parser(), argv)
    if invocation.args.no_progress:
        invocation.overrides.append("train.progress=false")
    swept = list(sweep_axes(invocation.overrides)[0]) if invocation.args.multirun else []

    def job(cfg: AsterRLConfig) -> Summary:
        from experiments.training.run import train

        tag = ",".join(f"{key}={OmegaConf.select(OmegaConf.structured(cfg), key)}" for key in swept)
        return summary(train(cfg, tag=tag))

    return run_command(invocation, job, after=_print_result, around=shared_ray)


@contextlib.contextmanager
def shared_ray(configs: list[AsterRLConfig]) -> Iterator[object]:
    """One local Ray for every RLlib job of a sweep run one after the other (each job would otherwise
    start and stop its own)."""
    rllib = [c for c in configs if getattr(c.agent, "framework", None) == "rllib"]
    if not rllib:
        yield None
        return
    from experiments.training.ray_session import ray_session

    with ray_session(rllib[0].ray):
        yield None


def summary(result: TrainResult) -> dict[str, Cell]:
    """A run's place and final evaluation metrics: one row of a sweep's results table."""
    row: dict[str, Cell] = {
        "run_dir": str(result.paths.run_dir),
        "checkpoint": str(result.checkpoint),
        "best": str(result.best) if result.best else None,
        "env_steps": int(result.env_steps),
    }
    if result.evaluation is not None:
        row.update(result.evaluation.metrics.as_dict())
    return row


def _print_result(row: Summary) -> None:
    if row is None:
        return
    print(f"run:          {row['run_dir']}")
    print(f"checkpoint:   {row['checkpoint']}")
    if row.get("best"):
        print(f"best:         {row['best']}")
    print(f"env steps:    {row['env_steps']}")
    if "net_return" in row:
        ret, sharpe, drawdown = (float(row[k] or 0.0) for k in ("net_return", "sharpe", "max_drawdown"))
        print(f"evaluation:   net return {ret:+.2%}, Sharpe {sharpe:.2f}, max drawdown {drawdown:.2%}")
    print(f"tensorboard:  tensorboard --logdir {Path(str(row['run_dir'])).parent / 'tensorboard'}")
