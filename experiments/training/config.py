"""Structured configs of the ``train``, ``ray`` and ``experiment`` sections (validated on load)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from asterrl.errors import ConfigError
from experiments.suggest import did_you_mean

#: Validation metrics that can pick ``checkpoints/best``, each with whether higher is better.
BEST_METRICS: dict[str, bool] = {
    "sharpe": True,
    "sortino": True,
    "net_return": True,
    "max_drawdown": False,
}

#: The agents ``asterrl compare`` runs by default (options of the ``agent`` config group).
DEFAULT_COMPARE_AGENTS = ["ppo", "sb3_ppo", "buy_and_hold", "grid", "vol_trend", "hybrid", "demark"]


@dataclass
class TrainConfig:
    """How long a training run lasts, how it is checkpointed and evaluated.

    :param iterations: PPO iterations (each collects ``agent.train_batch_size`` env steps).
    :param checkpoint_every: save a checkpoint every this many iterations (and at the end); 0: end only.
    :param keep_last: periodic checkpoints kept, newest first (0 keeps all); ``best`` and ``final`` are
        always kept.
    :param eval_every: evaluate on ``eval_split`` every this many iterations (and at the end); 0: end only.
    :param eval_split: split of the periodic evaluations (the test split is kept for ``evaluate`` and
        ``compare``).
    :param best_metric: metric of the ``eval_split`` evaluations that picks ``checkpoints/best`` (one of
        ``BEST_METRICS``: sharpe, sortino, net_return, max_drawdown); empty: no best checkpoint.
    :param eval_train_window: also evaluate, at the same iterations, on the last bars of the training split
        (as many as ``eval_split`` holds), so that TensorBoard shows the training and the validation
        curves side by side (``<run>/train`` and ``<run>/validation``).
    :param resume: a checkpoint folder, or a run folder (its newest checkpoint), to continue from: the
        iteration count, optimizer, random streams and TensorBoard steps continue, and the run trains up to
        ``iterations`` in total (``null``: start afresh).
    :param progress: show a progress bar with an ETA.
    :param min_coverage: the progress bar warns when, once the finished episodes have stepped through as
        many bars as the training split's twice, they have visited less than this share of its bars (a sign
        that episodes repeat instead of sampling the whole split); 0 switches the warning off.
    """

    iterations: int = 500
    checkpoint_every: int = 50
    keep_last: int = 2
    eval_every: int = 50
    eval_split: str = "validation"
    best_metric: str = "sharpe"
    eval_train_window: bool = True
    resume: str | None = None
    progress: bool = True
    min_coverage: float = 0.5

    def validate(self) -> TrainConfig:
        if self.iterations < 1:
            raise ConfigError("train.iterations must be >= 1")
        for key in ("checkpoint_every", "eval_every", "keep_last"):
            if getattr(self, key) < 0:
                raise ConfigError(f"train.{key} must be >= 0")
        if self.best_metric and self.best_metric not in BEST_METRICS:
            raise ConfigError(
                f"train.best_metric={self.best_metric!r}{did_you_mean(self.best_metric, list(BEST_METRICS))}"
                "; "
                f"expected one of {', '.join(BEST_METRICS)} (or empty for no best checkpoint)"
            )
        if not 0.0 <= self.min_coverage <= 1.0:
            raise ConfigError("train.min_coverage must lie in [0, 1] (a share of the training split's bars)")
        return self


@dataclass
class RayConfig:
    """Where RLlib runs.

    :param address: address of an existing Ray cluster (``ray://host:10001`` or ``auto``); ``null`` starts
        a local Ray with ``num_cpus`` CPUs, its temporary files in a short folder under ``/tmp``.
    :param num_cpus: CPUs of the local Ray; ``null``: every core of the machine.
    :param node_ip_address: IP the local Ray node binds to.
    """

    address: str | None = None
    num_cpus: int | None = None
    node_ip_address: str = "127.0.0.1"

    def validate(self) -> RayConfig:
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ConfigError("ray.num_cpus must be >= 1 (or null for every core)")
        return self

    def local_cpus(self) -> int:
        return self.num_cpus or os.cpu_count() or 1


@dataclass
class ExperimentConfig:
    """Where an experiment's runs live and what ``compare`` and ``evaluate`` run.

    :param name: experiment name: one folder and one TensorBoard root per experiment (runs on the
        synthetic market go to ``<name>-synthetic``, so they never mix with runs on real data).
    :param root: folder holding every experiment.
    :param retrain: ``compare`` trains every learning agent afresh instead of reusing a finished run of the
        same config and data.
    :param test_split: split of ``evaluate`` and ``compare`` (a name in ``env.splits``).
    :param agents: ``agent`` config options ``compare`` runs, all on the same split and costs.
    :param seeds: seeds ``compare`` trains and evaluates each learning agent with.
    """

    name: str = "default"
    root: str = "~/.asterrl/runs"
    test_split: str = "test"
    agents: list[str] = field(default_factory=lambda: list(DEFAULT_COMPARE_AGENTS))
    seeds: list[int] = field(default_factory=lambda: [0])
    retrain: bool = False

    def validate(self) -> ExperimentConfig:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ConfigError(f"experiment.name={self.name!r} must be a plain folder name")
        if not self.agents or not self.seeds:
            raise ConfigError("experiment.agents and experiment.seeds must not be empty")
        return self


def experiment_folder(root: str, name: str, source: str) -> Path:
    """``<root>/<name>``, ``~`` expanded; ``<root>/<name>-synthetic`` for runs on the synthetic market, so
    that synthetic and real-data runs never share an experiment folder."""
    suffix = "-synthetic" if str(source).lower().endswith("synthetic") else ""
    return Path(root).expanduser() / f"{name}{suffix}"
