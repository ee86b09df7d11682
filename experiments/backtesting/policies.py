"""Policies as the backtester takes them: a rule agent as its target series, any ``Policy`` (a trained
checkpoint) as a decision per bar on the env's observation, and the env's config as the action rule.

A rule agent's targets are computed once over all loaded bars (its kernels are causal, so the warm-up before
the span is used and nothing after a bar changes its target); the backtest then reads the span's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from agents.policy import ActionMapping, DecisionContext, Policy
from agents.registry import build_rule_agent
from asterrl.backtest.engine import ActionRule, BacktestSetup, Decide
from asterrl.sim.instrument import Instrument
from envs.config import EnvConfig
from envs.core import EnvCore
from envs.layout import EnvParam


def action_rule(env: EnvConfig, action_type: str | None = None) -> ActionRule:
    """The env's action rule (``action_type`` overrides ``env.action_type``: rule agents and signals act
    on continuous targets)."""
    return ActionRule(
        action_type or env.action_type,
        tuple(float(x) for x in env.action_levels),
        env.deadband,
        env.min_hold_bars,
        env.order_type,
        env.limit_offset_bps,
    )


def setup_from_core(core: EnvCore) -> BacktestSetup:
    """The backtest of one evaluation episode of ``core`` (``episode_length=0``, no random start): the same
    market arrays, instrument, costs, limits, action rule and bars."""
    return BacktestSetup(
        core.instrument.symbol,
        core.data,
        core.instrument,
        core.config.market,
        core.risk,
        action_rule(core.config),
        core.config.initial_balance,
        int(core.env_params[EnvParam.START_LO]),
        int(core.env_params[EnvParam.SPLIT_END]),
    )


def rule_mapping(position_scale: float, instrument: Instrument) -> ActionMapping:
    """The continuous action mapping rule agents size their targets with."""
    return ActionMapping("continuous", (), position_scale, instrument)


def rule_targets(
    agent: Any, bars: pd.DataFrame, position_scale: float, instrument: Instrument
) -> npt.NDArray[np.float64]:
    """Target of a rule agent config at every bar of ``bars`` (fractions of the position scale)."""
    agent_policy = build_rule_agent(agent, rule_mapping(position_scale, instrument)).prepare(bars)
    return np.asarray(agent_policy.targets, dtype=np.float64)


def policy_decider(
    policy: Policy,
    timestamps: npt.NDArray[np.int64],
    format_obs: Callable[[npt.NDArray[np.float32]], Any] | None = None,
) -> Decide:
    """A ``Policy`` as a per-bar decision: one account, its decision bar in the ``DecisionContext``."""
    policy.reset()

    def decide(t: int, obs: npt.NDArray[np.float32] | None) -> float:
        batch = np.zeros((1, 0), dtype=np.float32) if obs is None else obs.reshape(1, -1)
        bars = np.array([t], dtype=np.int64)
        action = policy.act(
            format_obs(batch) if format_obs else batch, DecisionContext(bars, timestamps[bars])
        )
        return float(np.asarray(action, dtype=np.float64).reshape(-1)[0])

    return decide
