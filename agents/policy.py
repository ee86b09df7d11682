"""The ``Policy`` protocol: every agent (RLlib PPO, SB3 PPO, rule-based, buy-and-hold) acts through it.

A policy maps a batch of observations (one row per account, the env's flat float32 layout) to a batch of
actions in the env's action space. Rule agents also read the ``DecisionContext``: the decision bar of each
account, so that they can look up indicator values computed once over the market's bars. The evaluation
loop, the backtester and the live bridge call only ``act``, ``reset`` and ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from asterrl.errors import ConfigError
from asterrl.sim.instrument import Instrument

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """What the caller knows about each account at its decision, beyond the observation.

    :param bars: decision bar ``t`` of each account (its close has been seen), an index into the bars the
        policy was prepared on; shape ``(n_accounts,)``.
    :param timestamps: open time of each decision bar, ms UTC; shape ``(n_accounts,)``.
    """

    bars: IntArray
    timestamps: IntArray


@runtime_checkable
class Policy(Protocol):
    """A trading policy over a batch of accounts."""

    #: Short name used for run directories and TensorBoard runs (``ppo``, ``grid``, ...).
    name: str

    def act(
        self, observations: npt.NDArray[np.float32], context: DecisionContext | None = None
    ) -> npt.NDArray[np.float64] | npt.NDArray[np.int64]:
        """Actions for a batch of observations, shape ``(n_accounts,)`` (discrete) or ``(n_accounts, 1)``
        (continuous). Deterministic for evaluation: the same inputs and seed give the same actions."""
        ...

    def reset(self, mask: npt.NDArray[np.bool_] | None = None) -> None:
        """Forget per-episode state (recurrent state) of the accounts in ``mask`` (all when ``None``)."""
        ...

    def seed(self, seed: int) -> None:
        """Seed every random draw the policy makes."""
        ...


@dataclass(frozen=True, slots=True)
class ActionMapping:
    """Turns a target position (fraction of the env's position scale, in [-1, 1]) into an env action.

    :param action_type: ``discrete`` (index of the nearest of ``levels``) or ``continuous`` (the target).
    :param levels: the env's discrete target levels (``env.action_levels``), fractions in [-1, 1].
    :param position_scale: leverage that a target of 1.0 means (``risk.max_leverage``, the one leverage).
    :param instrument: the env's instrument (the same object the env, the sim and the gate read), so a
        rule never works below the symbol's tick; ``None`` when the agent runs outside an env.
    """

    action_type: str = "discrete"
    levels: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0)
    position_scale: float = 1.0
    instrument: Instrument | None = None

    def __post_init__(self) -> None:
        if self.action_type not in ("discrete", "continuous"):
            raise ConfigError(f"action_type={self.action_type!r}; expected discrete or continuous")
        if self.action_type == "discrete" and not self.levels:
            raise ConfigError("discrete actions need at least one level")
        if not self.position_scale > 0.0:
            raise ConfigError("position_scale must be > 0")

    def to_actions(self, targets: FloatArray) -> npt.NDArray[np.float64] | npt.NDArray[np.int64]:
        """Env actions for target fractions (NaN counts as flat); ties go to the smaller position."""
        clean = np.clip(np.nan_to_num(np.asarray(targets, dtype=np.float64), nan=0.0), -1.0, 1.0)
        if self.action_type == "continuous":
            return clean.reshape(-1, 1)
        levels = np.asarray(self.levels, dtype=np.float64)
        # Distance to every level, ties broken towards the level of smaller absolute size.
        distance = np.abs(clean[:, None] - levels[None, :]) + 1e-12 * np.abs(levels)[None, :]
        return np.argmin(distance, axis=1).astype(np.int64)

    def to_targets(self, actions: npt.NDArray[np.float64] | npt.NDArray[np.int64]) -> FloatArray:
        """Target fractions of env actions (the inverse of ``to_actions`` on the levels)."""
        if self.action_type == "continuous":
            return np.clip(np.asarray(actions, dtype=np.float64).reshape(-1), -1.0, 1.0)
        return np.asarray(self.levels, dtype=np.float64)[np.asarray(actions, dtype=np.int64).reshape(-1)]
