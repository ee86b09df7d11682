"""One training run from a composed config: run directory, TensorBoard, progress bar, checkpoints, evaluation.

Read top to bottom: prepare the market (data + fitted features), create the run directory and record its
provenance, build the trainer (RLlib or SB3) on the training split, then iterate; every
``train.checkpoint_every`` iterations save a checkpoint, every ``train.eval_every`` evaluate the current
policy on ``train.eval_split`` with the shared evaluation path and log the trading metrics. After every
iteration the episodes' coverage of the training split (distinct starts, share of bars visited) goes to
TensorBoard (``coverage/*``) and ``run.json``; the progress bar warns when it stays below
``train.min_coverage``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from agents.config import AGENT_SCHEMAS, PPOConfig, validate_agent
from asterrl.errors import ConfigError
from asterrl.files import atomic_directory
from envs.coverage import CoverageSummary
from experiments.training.environment import RunMarket, build_env_core, evaluation_core, prepare_market
from experiments.training.evaluation import Evaluation, evaluate_policy
from experiments.training.ray_session import ray_session
from experiments.training.rundir import RunPaths, new_run, record_run, update_run_json, write_json
from experiments.training.tensorboard import RunWriter
from experiments.training.trainers import RLlibTrainer, SB3Trainer, Trainer

CHECKPOINT_INFO = "checkpoint.json"


@dataclass(frozen=True)
class TrainResult:
    """What a training run left behind."""

    paths: RunPaths
    checkpoint: Path
    iterations: int
    env_steps: int
    evaluation: Evaluation | None


def schema_name(agent: Any) -> str:
    """Name of the agent's schema in ``AGENT_SCHEMAS`` (recorded with checkpoints)."""
    for name, cls in AGENT_SCHEMAS.items():
        if type(agent) is cls:
            return name
    raise ConfigError(f"unknown agent config type {type(agent).__name__}")


@contextlib.contextmanager
def _maybe_ray(cfg: Any, agent: PPOConfig, run_dir: Path) -> Iterator[None]:
    if agent.framework == "rllib":
        with ray_session(cfg.ray, run_dir):
            yield
    else:
        yield


def train(
    cfg: Any, run_market: RunMarket | None = None, tag: str = "", show_progress: bool | None = None
) -> TrainResult:
    """Train the PPO agent of ``cfg`` (``agent.framework``: rllib or sb3) and return its run."""
    agent = validate_agent(cfg.agent)
    if not isinstance(agent, PPOConfig):
        raise ConfigError(f"agent={agent.name} is rule-based: nothing to train (try asterrl compare)")
    cfg.train.validate()
    cfg.ray.validate()
    cfg.experiment.validate()
    progress = cfg.train.progress if show_progress is None else show_progress
    market = run_market or prepare_market(cfg, show_progress=progress)
    paths = new_run(cfg, agent.name, cfg.seed, tag, reuse=bool(cfg.train.resume))
    record_run(
        paths,
        cfg,
        cfg.seed,
        market.data_hash,
        {
            "agent": agent.name,
            "framework": agent.framework,
            "agent_schema": schema_name(agent),
            "observation_features": list(market.features.columns),
            "instrument": market.instrument.to_dict(),
        },
    )
    torch.set_num_threads(agent.torch_threads)
    torch.manual_seed(cfg.seed)
    autoreset = "next_step" if agent.framework == "rllib" else "same_step"
    core = build_env_core(cfg, market, "train", autoreset_mode=autoreset)
    eval_core = evaluation_core(cfg, market, cfg.train.eval_split)
    iterations = cfg.train.iterations
    evaluation: Evaluation | None = None
    watch = CoverageWatch(cfg.train.min_coverage, core.coverage_range)
    with _maybe_ray(cfg, agent, paths.run_dir), RunWriter(paths.tensorboard_root, paths.run_name) as writer:
        trainer: Trainer = (RLlibTrainer if agent.framework == "rllib" else SB3Trainer)(
            agent, core, cfg.seed, cfg.train.resume
        )
        checkpoint = paths.checkpoints / "final"
        bar = tqdm(
            total=iterations,
            desc=f"train {paths.run_name}",
            unit="iter",
            disable=not progress,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
            "[{elapsed}<{remaining}{postfix}]",
        )
        try:
            for it in range(1, iterations + 1):
                scalars = trainer.iterate()
                writer.rl_scalars(scalars, trainer.env_steps)
                coverage = trainer.coverage().summary()
                writer.coverage(coverage, trainer.env_steps)
                warning = watch.update(it, trainer.env_steps, coverage)
                if warning:
                    bar.write(f"warning: {warning}")
                bar.set_postfix_str(_postfix(scalars, coverage), refresh=False)
                bar.update(1)
                last = it == iterations
                every = cfg.train.checkpoint_every
                if last or (every and it % every == 0):
                    target = paths.checkpoints / ("final" if last else f"iter_{it:06d}")
                    # Built in a staging folder and swapped in whole: a run killed mid-save leaves the
                    # previous checkpoint of that name intact.
                    with atomic_directory(target) as staging:
                        trainer.save(staging)
                        write_json(
                            staging / CHECKPOINT_INFO,
                            {
                                "agent": agent.name,
                                "framework": agent.framework,
                                "agent_schema": schema_name(agent),
                                "iteration": it,
                                "env_steps": trainer.env_steps,
                                "seed": cfg.seed,
                                "run_dir": str(paths.run_dir.resolve()),
                                "data_hash": market.data_hash,
                            },
                        )
                    checkpoint = target
                    update_run_json(paths, watch.record())
                if last or (cfg.train.eval_every and it % cfg.train.eval_every == 0):
                    evaluation = evaluate_policy(trainer.policy(), eval_core, cfg.seed)
                    writer.trading(
                        evaluation.metrics, trainer.env_steps, evaluation.trace.actions, evaluation.n_actions
                    )
                writer.flush()
        finally:
            bar.close()
            trainer.close()
            update_run_json(paths, watch.record())
    if evaluation is not None:
        write_json(paths.run_dir / "eval" / f"{cfg.train.eval_split}.json", evaluation.metrics.as_dict())
    return TrainResult(paths, checkpoint, iterations, trainer.env_steps, evaluation)


class CoverageWatch:
    """Keeps the per-iteration coverage log of a run and says when coverage stays too low.

    Once the run has taken enough env steps to step through the split's tradable bars twice (uniform starts
    then visit about 86 % of them), a visited share below ``threshold`` gives one warning.
    """

    def __init__(self, threshold: float, coverage_range: tuple[int, int, int]) -> None:
        lo, _, split_end = coverage_range
        self.threshold = threshold
        self.enough_steps = 2 * (split_end - lo + 1)
        self.log: list[dict[str, float]] = []
        self.warning: str | None = None

    def update(self, iteration: int, env_steps: int, coverage: CoverageSummary) -> str | None:
        """Log ``coverage``; return the warning the first time coverage is found too low, else ``None``."""
        self.log.append({"iteration": float(iteration), "env_steps": float(env_steps), **coverage.as_dict()})
        low = coverage.bars_visited_share < self.threshold
        if self.warning is None and self.threshold > 0.0 and env_steps >= self.enough_steps and low:
            self.warning = (
                f"after {env_steps} env steps the episodes have visited only "
                f"{coverage.bars_visited_share:.1%} of the training split's bars from "
                f"{coverage.distinct_starts} distinct starts (train.min_coverage={self.threshold:g}): "
                "episodes may be repeating the same window"
            )
            return self.warning
        return None

    def record(self) -> dict[str, object]:
        """What ``run.json`` keeps: the log and the warning, if any."""
        return {"coverage": self.log, "coverage_warning": self.warning}


def _postfix(scalars: dict[str, float], coverage: CoverageSummary | None = None) -> str:
    parts = []
    if "episode_return_mean" in scalars:
        parts.append(f"return={scalars['episode_return_mean']:+.3f}")
    if "env_steps_per_s" in scalars:
        parts.append(f"{scalars['env_steps_per_s']:.0f} steps/s")
    if coverage is not None and coverage.finished_episodes:
        parts.append(f"coverage={coverage.bars_visited_share:.0%}")
    return " ".join(parts)


def load_run_config(checkpoint: Path, overrides: list[str] | None = None) -> tuple[Any, dict[str, Any]]:
    """The typed config a checkpoint was trained with (``config.yaml`` of its run), plus ``overrides``,
    and the checkpoint's ``checkpoint.json``."""
    from experiments.schema import AsterRLConfig

    info_path = checkpoint / CHECKPOINT_INFO
    if not info_path.exists():
        raise ConfigError(f"{checkpoint} is not an asterrl checkpoint (no {CHECKPOINT_INFO})")
    info = json.loads(info_path.read_text())
    run_dir = Path(info["run_dir"])
    if not (run_dir / "config.yaml").exists():
        run_dir = checkpoint.resolve().parents[1]
    saved = OmegaConf.load(run_dir / "config.yaml")
    agent_schema = AGENT_SCHEMAS[info["agent_schema"]]
    base = OmegaConf.structured(AsterRLConfig)
    base.agent = OmegaConf.structured(agent_schema)
    try:
        merged = OmegaConf.merge(base, saved, OmegaConf.from_dotlist(list(overrides or [])))
        cfg = OmegaConf.to_object(merged)
    except Exception as exc:  # omegaconf raises several error types
        raise ConfigError(f"cannot use {run_dir / 'config.yaml'} with the given overrides: {exc}") from None
    return cfg, info
