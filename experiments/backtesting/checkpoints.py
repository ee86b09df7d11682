"""A trained checkpoint as a ``Policy`` and the run config it was trained with (the data, features, env and
costs that make its observations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.policy import Policy
from asterrl.errors import ConfigError


def checkpoint_config(checkpoint: Path, overrides: list[str]) -> Any:
    """The typed config of the run ``checkpoint`` belongs to, with ``overrides`` (``key=value``) on top."""
    from experiments.training.run import load_run_config

    if not checkpoint.is_dir():
        raise ConfigError(f"backtest.checkpoint={checkpoint}: not a folder (use <run>/checkpoints/final)")
    cfg, _ = load_run_config(checkpoint, overrides)
    cfg.backtest.checkpoint = str(checkpoint)
    return cfg.validate()


def load_checkpoint_policy(checkpoint: Path) -> Policy:
    """The checkpoint's trained network as a deterministic ``Policy`` (SB3 or RLlib, from its info)."""
    import json

    from experiments.training.run import CHECKPOINT_INFO

    info_path = checkpoint / CHECKPOINT_INFO
    if not info_path.exists():
        raise ConfigError(
            f"backtest.checkpoint={checkpoint} is not an asterrl checkpoint (no {CHECKPOINT_INFO})"
        )
    info = json.loads(info_path.read_text())
    if info.get("framework") == "sb3":
        from agents.sb3.ppo import SB3Policy

        return SB3Policy.load(checkpoint, info["agent"])
    from agents.rllib.policy import RLlibPolicy

    return RLlibPolicy.load(checkpoint, info["agent"])
