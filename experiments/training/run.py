"""One training run from a composed config: checks first, then the run folder, the loop, checkpoints, best.

Read top to bottom: check the agent and the checkpoint to resume from, prepare the market (data + fitted
features) and the envs, build the trainer (RLlib or SB3) and restore it; only then create the run folder
(``run.json`` says ``running``) or reopen the one being resumed. Each iteration logs the RL scalars and the
episodes' coverage; every ``train.eval_every`` iterations the policy is evaluated on ``train.eval_split``
(and on as many of the last training bars, for the overfitting gap), and the best validation figure so far
(``train.best_metric``) gets ``checkpoints/best``; every ``train.checkpoint_every`` iterations, at a new
best, at the end and at Ctrl-C a checkpoint is written, and retention keeps the newest ``train.keep_last``.

A resumed run continues the iteration count, env steps, optimizer, random streams and TensorBoard steps and
trains up to ``train.iterations`` in total. It continues in its own folder when it resumes that run's
newest checkpoint with the same config and data; otherwise it branches into a new folder, so no checkpoint
is ever written twice. Ctrl-C stops after the current iteration with a checkpoint (a second Ctrl-C stops at
once); a failure leaves the run marked ``failed`` (or removes a new run that saved nothing).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import torch
from tqdm import tqdm

from agents.config import AGENT_SCHEMAS, AgentConfig, PPOConfig
from asterrl.errors import ConfigError
from envs.core import EnvCore
from experiments.schema import AsterRLConfig
from experiments.training.checkpoints import (
    BEST,
    FINAL,
    CheckpointInfo,
    check_interface,
    check_kind,
    iteration_dir,
    latest_checkpoint,
    point_link,
    read_info,
    retain,
    run_dir_of,
    write_checkpoint,
)
from experiments.training.environment import (
    RunMarket,
    build_env_core,
    evaluation_core,
    policy_interface,
    prepare_market,
    train_window_start,
)
from experiments.training.evaluation import Evaluation, evaluate_policy
from experiments.training.progress import BestTracker, CoverageWatch, Postfix, StopRequest
from experiments.training.ray_session import ray_session
from experiments.training.rundir import (
    RunPaths,
    config_differences,
    create_run,
    experiment_dir,
    free_run,
    read_run_json,
    remove_run,
    run_name,
    update_run_json,
    write_json,
)
from experiments.training.tensorboard import RunWriter
from experiments.training.trainers import RLlibTrainer, SB3Trainer, Trainer, isolated_rng


@dataclass(frozen=True)
class TrainResult:
    """What a training run left behind.

    :param checkpoint: ``checkpoints/final`` of the finished run.
    :param best: ``checkpoints/best`` (``None`` without ``train.best_metric``).
    :param evaluation: the last evaluation on ``train.eval_split``.
    """

    paths: RunPaths
    checkpoint: Path
    best: Path | None
    iterations: int
    env_steps: int
    evaluation: Evaluation | None


@dataclass(frozen=True)
class RunCores:
    """The envs of a run: training, the evaluation split, and the training split for the train curve."""

    train: EnvCore
    evaluation: EnvCore
    train_window: EnvCore | None


@dataclass(frozen=True)
class ResumePoint:
    """The checkpoint a run continues from."""

    checkpoint: Path
    info: CheckpointInfo
    run_dir: Path


def schema_name(agent: AgentConfig) -> str:
    """Name of the agent's schema in ``AGENT_SCHEMAS`` (recorded with checkpoints)."""
    for name, cls in AGENT_SCHEMAS.items():
        if type(agent) is cls:
            return name
    raise ConfigError(f"unknown agent config type {type(agent).__name__}")


def ppo_agent(cfg: AsterRLConfig) -> PPOConfig:
    agent = cfg.agent_config()
    if not isinstance(agent, PPOConfig):
        raise ConfigError(f"agent={agent.name} is rule-based: nothing to train (try asterrl compare)")
    return agent


def train(
    cfg: AsterRLConfig, run_market: RunMarket | None = None, tag: str = "", show_progress: bool | None = None
) -> TrainResult:
    """Train the PPO agent of ``cfg`` (``agent.framework``: rllib or sb3) and return its run."""
    agent = ppo_agent(cfg)
    resume = resume_point(cfg, agent) if cfg.train.resume else None
    progress = cfg.train.progress if show_progress is None else show_progress
    market = run_market or prepare_market(cfg, show_progress=progress)
    autoreset = "next_step" if agent.framework == "rllib" else "same_step"
    cores = RunCores(
        build_env_core(cfg, market, "train", autoreset_mode=autoreset),
        evaluation_core(cfg, market, cfg.train.eval_split),
        evaluation_core(cfg, market, "train") if cfg.train.eval_train_window else None,
    )
    if resume is not None:
        check_interface(resume.info, resume.checkpoint, policy_interface(cores.train))
    paths, in_place = _target(cfg, agent, tag, resume, market.data_hash)
    torch.set_num_threads(agent.torch_threads)
    torch.manual_seed(cfg.seed)
    with _maybe_ray(cfg, agent):
        maker = RLlibTrainer if agent.framework == "rllib" else SB3Trainer
        trainer: Trainer = maker(agent, cores.train, cfg.seed)
        try:
            if resume is not None:
                trainer.restore(resume.checkpoint)
            return TrainingLoop(cfg, agent, market, paths, trainer, cores, resume, in_place).run(progress)
        finally:
            trainer.close()


def resume_point(cfg: AsterRLConfig, agent: PPOConfig) -> ResumePoint:
    """The checkpoint of ``train.resume`` (a checkpoint folder, or a run folder: its newest checkpoint),
    checked to be of this agent and to leave iterations to train."""
    assert cfg.train.resume
    given = Path(cfg.train.resume).expanduser()
    path = given if (given / "checkpoints").is_dir() is False else (latest_checkpoint(given) or given)
    try:
        info = read_info(path)
    except ConfigError as exc:
        raise ConfigError(f"train.resume={cfg.train.resume}: {exc}") from None
    check_kind(info, path, agent.name, agent.framework, schema_name(agent))
    if info.iteration >= cfg.train.iterations:
        raise ConfigError(
            f"train.resume={cfg.train.resume}: the checkpoint is at iteration {info.iteration}, "
            f"train.iterations={cfg.train.iterations}: raise train.iterations to train further"
        )
    return ResumePoint(path, info, run_dir_of(path, info))


def _target(
    cfg: AsterRLConfig, agent: PPOConfig, tag: str, resume: ResumePoint | None, data_hash: str
) -> tuple[RunPaths, bool]:
    """The run's folder (not created yet) and whether it is the resumed run's own folder."""
    root = experiment_dir(cfg)
    if resume is None:
        return free_run(root, run_name(agent.name, cfg.seed, tag)), False
    run_dir = resume.run_dir
    newest = latest_checkpoint(run_dir)
    same_run = newest is not None and newest.resolve() == resume.checkpoint.resolve()
    differences = config_differences(cfg, run_dir)
    if same_run and not differences and resume.info.data_hash == data_hash:
        return RunPaths(run_dir.parent, run_dir.name), True
    why = (
        "a newer checkpoint exists"
        if not same_run
        else f"the config differs ({', '.join(differences[:3])})"
        if differences
        else "the data differs"
    )
    paths = free_run(root, run_dir.name)
    print(f"resuming {resume.checkpoint} into a new run {paths.run_name}: {why}", flush=True)
    return paths, False


@contextlib.contextmanager
def _maybe_ray(cfg: AsterRLConfig, agent: PPOConfig) -> Iterator[None]:
    if agent.framework == "rllib":
        with ray_session(cfg.ray):
            yield
    else:
        yield


class TrainingLoop:
    """The iterations of one run, its checkpoints, evaluations and records (see the module docstring)."""

    def __init__(
        self,
        cfg: AsterRLConfig,
        agent: PPOConfig,
        market: RunMarket,
        paths: RunPaths,
        trainer: Trainer,
        cores: RunCores,
        resume: ResumePoint | None,
        in_place: bool,
    ) -> None:
        self.cfg, self.agent, self.market, self.paths, self.trainer = cfg, agent, market, paths, trainer
        self.cores, self.resume, self.in_place = cores, resume, in_place
        self.start = resume.info.iteration if resume else 0
        self.best = BestTracker(cfg.train.best_metric, resume.info.best if resume else None)
        self.saved: list[Path] = []
        self.interface = policy_interface(cores.train)
        self.purge_step = trainer.env_steps + 1 if in_place else None
        self.writers: dict[str, RunWriter] = {}

    def run(self, progress: bool) -> TrainResult:
        """Train from the start iteration to ``train.iterations``; the run's result."""
        previous = read_run_json(self.paths.run_dir) if self.in_place else {}
        cfg, trainer = self.cfg, self.trainer
        total: int = cfg.train.iterations
        watch = CoverageWatch(cfg.train.min_coverage, self.cores.train.coverage_range)
        watch.log = [row for row in previous.get("coverage", []) if row.get("iteration", 0) <= self.start]
        bar = tqdm(
            total=total,
            initial=self.start,
            desc=f"train {self.paths.run_name}",
            unit="iter",
            disable=not progress,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
            "[{elapsed}<{remaining}{postfix}]",
        )
        try:
            with StopRequest() as stop:  # from here on, Ctrl-C leaves a run marked, or no run at all
                self._open()
                evaluation = self._iterations(stop, watch, bar)
        except BaseException as exc:
            self._abandon(exc, previous)
            raise
        finally:
            bar.close()
            for writer in self.writers.values():
                writer.close()
        write_json(self.paths.run_dir / "eval" / f"{cfg.train.eval_split}.json", evaluation.metrics.as_dict())
        update_run_json(self.paths, {"status": "complete", "finished_utc": _now(), **watch.record()})
        best = self.paths.checkpoints / BEST
        return TrainResult(
            self.paths,
            self.paths.checkpoints / FINAL,
            best if best.exists() else None,
            total,
            trainer.env_steps,
            evaluation,
        )

    def _iterations(self, stop: StopRequest, watch: CoverageWatch, bar: tqdm[NoReturn]) -> Evaluation:
        """The loop: iterate, log, evaluate, checkpoint; stop after the iteration Ctrl-C came in."""
        cfg, trainer, total = self.cfg, self.trainer, self.cfg.train.iterations
        evaluation: Evaluation | None = None
        postfix = Postfix()
        for it in range(self.start + 1, total + 1):
            scalars = trainer.iterate()
            self._writer("").rl_scalars(scalars, trainer.env_steps)
            coverage = trainer.coverage().summary()
            self._writer("").coverage(coverage, trainer.env_steps)
            warning = watch.update(it, trainer.env_steps, coverage)
            if warning:
                bar.write(f"warning: {warning}")
            bar.set_postfix_str(postfix.text(scalars, coverage), refresh=False)
            bar.update(1)
            last = it == total
            improved = False
            if last or (cfg.train.eval_every and it % cfg.train.eval_every == 0):
                evaluation = self._evaluate()
                improved = self.best.improves(evaluation.metrics.as_dict(), it)
            every = cfg.train.checkpoint_every
            if last or improved or stop.requested or (every and it % every == 0):
                self._checkpoint(it, improved, last, watch)
            for writer in self.writers.values():
                writer.flush()
            if stop.requested and not last:
                bar.close()  # the bar's last state once, then the way to continue
                print(
                    f"interrupted after iteration {it} of {total}; continue with: asterrl train "
                    f"<the same overrides> train.resume={self.paths.run_dir}",
                    file=sys.stderr,
                    flush=True,
                )
                update_run_json(self.paths, {"status": "interrupted", **watch.record()})
                raise KeyboardInterrupt
        assert evaluation is not None  # the last iteration always evaluates
        return evaluation

    def _open(self) -> None:
        """Create the run folder, or mark the resumed one running again."""
        resumed = {
            "checkpoint": str(self.resume.checkpoint.resolve()),
            "iteration": self.start,
            "env_steps": self.trainer.env_steps,
            "at_utc": _now(),
        } if self.resume else None  # fmt: skip
        if self.in_place:
            record = read_run_json(self.paths.run_dir)
            resumes = [*record.get("resumes", []), resumed]
            update_run_json(self.paths, {"status": "running", "error": None, "resumes": resumes})
            return
        extra = {
            "agent": self.agent.name,
            "framework": self.agent.framework,
            "agent_schema": schema_name(self.agent),
            "observation_features": list(self.market.features.columns),
            "instrument": self.market.instrument.to_dict(),
            "resumed_from": resumed,
        }
        create_run(self.paths, self.cfg, self.market.data_hash, extra)

    def _writer(self, sub: str) -> RunWriter:
        """The TensorBoard writer of the run (``""``) or of one of its evaluation curves."""
        if sub not in self.writers:
            name = f"{self.paths.run_name}/{sub}" if sub else self.paths.run_name
            self.writers[sub] = RunWriter(self.paths.tensorboard_root, name, purge_step=self.purge_step)
        return self.writers[sub]

    def _evaluate(self) -> Evaluation:
        """Evaluate the current policy on the evaluation split and the end of the training split, without
        moving the training's random streams; log both under the same tags."""
        seed, steps, window = self.cfg.seed, self.trainer.env_steps, self.cores.train_window
        with isolated_rng():
            policy = self.trainer.policy()
            evaluation = evaluate_policy(policy, self.cores.evaluation, seed)
            curves = [(self.cfg.train.eval_split, evaluation)]
            if window is not None:
                start = train_window_start(window, evaluation.trace.steps)
                curves.append(("train", evaluate_policy(policy, window, seed, start_bar=start)))
        for sub, e in curves:
            self._writer(sub).trading(e.metrics, steps, e.trace.actions, e.n_actions)
        return evaluation

    def _checkpoint(self, it: int, improved: bool, last: bool, watch: CoverageWatch) -> Path:
        checkpoints = self.paths.checkpoints
        target = iteration_dir(checkpoints, it)
        info = CheckpointInfo(
            agent=self.agent.name,
            framework=self.agent.framework,
            agent_schema=schema_name(self.agent),
            iteration=it,
            env_steps=self.trainer.env_steps,
            seed=self.cfg.seed,
            run_dir=str(self.paths.run_dir.resolve()),
            data_hash=self.market.data_hash,
            interface=self.interface,
            best=self.best.best,
        )
        write_checkpoint(target, info, self.trainer.save)
        self.saved.append(target)
        if improved:
            point_link(checkpoints, BEST, target)
        if last:
            point_link(checkpoints, FINAL, target)
        retain(checkpoints, self.cfg.train.keep_last, [target])
        best = self.best.best
        update_run_json(
            self.paths,
            {
                "iterations_done": it,
                "env_steps": self.trainer.env_steps,
                "latest_checkpoint": target.name,
                "best": None
                if best is None
                else {**best.__dict__, "checkpoint": f"iter_{best.iteration:06d}"},
                **watch.record(),
            },
        )
        return target

    def _abandon(self, exc: BaseException, previous: dict[str, object]) -> None:
        """After a failure or an interrupt: a new run that saved nothing is removed; a resumed run that saved
        nothing gets its record back; otherwise the run is marked interrupted or failed."""
        interrupted = isinstance(exc, KeyboardInterrupt)
        if not self.saved:
            if not self.in_place:
                remove_run(self.paths)
            else:
                write_json(self.paths.run_dir / "run.json", dict(previous))
            return
        if read_run_json(self.paths.run_dir).get("status") == "interrupted":
            return
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        update_run_json(
            self.paths,
            {"status": "interrupted" if interrupted else "failed", "error": None if interrupted else text},
        )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
