"""The one evaluation path: any ``Policy`` on one deterministic episode over a split, same env, same costs.

``evaluate_policy`` steps the batched env with one account from the split's first decision bar to its end,
records what every step did (``EpisodeTrace``) and computes the trading metrics. PPO (RLlib and SB3), the
rule agents and buy-and-hold all go through it, so their figures are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.policy import DecisionContext, Policy
from asterrl.backtest.metrics import EpisodeTrace, TradingMetrics, bars_per_year, trading_metrics
from envs.core import EnvCore
from envs.vector_env import AsterPerpVectorEnv


@dataclass(frozen=True)
class Evaluation:
    """An evaluated episode: the step-by-step trace, its metrics and the action space size."""

    agent: str
    trace: EpisodeTrace
    metrics: TradingMetrics
    n_actions: int | None


def evaluate_policy(policy: Policy, core: EnvCore, seed: int = 0) -> Evaluation:
    """Run ``policy`` over one episode of ``core`` (build it with ``evaluation_core``) and measure it.

    :param seed: seeds the env's reset and the policy (a stochastic policy then repeats exactly).
    """
    env = AsterPerpVectorEnv(num_envs=1, core=core)
    stamps = core.data.timestamps
    obs, info = env.reset(seed=seed)
    policy.seed(seed)
    policy.reset()
    bars = np.asarray(info["bar"], dtype=np.int64)
    equity = [float(info["equity"][0])]
    times = [int(stamps[bars[0]])]
    fees: list[float] = []
    funding: list[float] = []
    notional: list[float] = []
    position: list[float] = []
    actions: list[np.ndarray] = []
    max_steps = core.data.n_bars
    for _ in range(max_steps):
        action = policy.act(obs, DecisionContext(bars, stamps[bars]))
        actions.append(np.asarray(action, dtype=np.float64).reshape(-1))
        obs, _, terminated, truncated, info = env.step(action)
        bars = np.asarray(info["bar"], dtype=np.int64)
        equity.append(float(info["equity"][0]))
        times.append(int(info["timestamp"][0]))
        fees.append(float(info["fee"][0]))
        funding.append(float(info["funding"][0]))
        notional.append(float(info["traded_notional"][0]))
        position.append(float(info["position"][0]))
        if terminated[0] or truncated[0]:
            break
    trace = EpisodeTrace(
        equity=np.asarray(equity),
        timestamps=np.asarray(times, dtype=np.int64),
        fees=np.asarray(fees),
        funding=np.asarray(funding),
        traded_notional=np.asarray(notional),
        position=np.asarray(position),
        actions=np.concatenate(actions) if actions else np.zeros(0),
    )
    n_actions = len(core.config.action_levels) if core.config.action_type == "discrete" else None
    metrics = trading_metrics(trace, bars_per_year(core.data.interval_ms))
    return Evaluation(policy.name, trace, metrics, n_actions)
