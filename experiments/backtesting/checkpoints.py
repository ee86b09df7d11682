"""A trained checkpoint as a ``Policy`` and the run config it was trained with (the data, features, env and
costs that make its observations), through the training package's checkpoint checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.policy import Policy
from asterrl.errors import ConfigError


def checkpoint_config(checkpoint: Path, overrides: list[str]) -> Any:
    """The typed config of the run ``checkpoint`` belongs to, with ``overrides`` (``key=value``) on top."""
    from experiments.training.checkpoints import CHECKPOINT_INFO, read_info, run_dir_of
    from experiments.training.rundir import load_run_config

    if not checkpoint.is_dir():
        raise ConfigError(f"backtest.checkpoint={checkpoint}: not a folder (use <run>/checkpoints/final)")
    if not (checkpoint / CHECKPOINT_INFO).exists():
        raise ConfigError(
            f"backtest.checkpoint={checkpoint} is not an asterrl checkpoint (no {CHECKPOINT_INFO})"
        )
    info = read_info(checkpoint)
    cfg = load_run_config(run_dir_of(checkpoint, info), info.agent_schema, overrides)
    cfg.backtest.checkpoint = str(checkpoint)
    return cfg.validate()


def load_checkpoint_policy(checkpoint: Path) -> Policy:
    """The checkpoint's trained network as a deterministic ``Policy`` (SB3 or RLlib, from its info),
    verified before it loads."""
    from experiments.training.checkpoints import CHECKPOINT_INFO, load_policy, read_info

    if not (checkpoint / CHECKPOINT_INFO).exists():
        raise ConfigError(
            f"backtest.checkpoint={checkpoint} is not an asterrl checkpoint (no {CHECKPOINT_INFO})"
        )
    return load_policy(checkpoint, read_info(checkpoint))
