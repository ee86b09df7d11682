"""The one evaluation path: any ``Policy`` on one deterministic episode over a split, same env, same costs.

``evaluate_policy`` steps the batched env with one account from the split's first decision bar (or a given
start bar) to the split's end, records what every step did (``EpisodeTrace``) and computes the trading
metrics. PPO (RLlib and SB3), the rule agents and buy-and-hold all go through it, so their figures are
comparable: every agent is measured over the same bars. An account stopped by a risk limit or a
liquidation stays flat from there to the end of the split (its equity unchanged), and the evaluation says
why and where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.policy import DecisionContext, Policy
from asterrl.backtest.metrics import EpisodeTrace, TradingMetrics, bars_per_year, trading_metrics
from asterrl.sim import layout as L
from envs.core import EnvCore
from envs.vector_env import AsterPerpVectorEnv
from experiments.training.exposure import EpisodeEnd, Exposure, FloatArray, end_reason, exposure


@dataclass(frozen=True)
class Evaluation:
    """An evaluated episode: the step-by-step trace, its metrics, how it ended and what it cost.

    :param slippage: spread and impact paid at each step, USDT.
    :param leverage: ``|position| x valuation close / equity`` after each step.
    """

    agent: str
    trace: EpisodeTrace
    metrics: TradingMetrics
    n_actions: int | None
    end: EpisodeEnd
    slippage: FloatArray
    leverage: FloatArray

    @property
    def exposure(self) -> Exposure:
        t = self.trace
        closed_within = np.zeros(t.steps, dtype=np.bool_)
        stop = self.end.step - 1  # the step that breached a limit or was liquidated
        if self.end.stopped_early and stop >= 0:
            flat_before = stop == 0 or t.position[stop - 1] == 0.0
            closed_within[stop] = flat_before and t.traded_notional[stop] > 0.0 and t.position[stop] == 0.0
        return exposure(
            self.leverage, t.fees, self.slippage, t.funding, t.traded_notional, t.position, closed_within
        )


def evaluate_policy(policy: Policy, core: EnvCore, seed: int = 0, start_bar: int | None = None) -> Evaluation:
    """Run ``policy`` over one episode of ``core`` (build it with ``evaluation_core``) and measure it.

    :param seed: seeds the env's reset and the policy (a stochastic policy then repeats exactly).
    :param start_bar: first decision bar (default: the split's first); the episode runs to the split's end.
    """
    env = AsterPerpVectorEnv(num_envs=1, core=core)
    stamps = core.data.timestamps
    value_close = core.data.values[:, L.Market.VALUE_CLOSE]
    split_end = core.coverage_range[2]
    options = {"start_bar": start_bar} if start_bar is not None else None
    obs, info = env.reset(seed=seed, options=options)
    policy.seed(seed)
    policy.reset()
    bars = np.asarray(info["bar"], dtype=np.int64)
    columns: dict[str, list[float]] = {
        k: [] for k in ("fee", "funding", "traded_notional", "position", "slippage", "leverage")
    }
    equity = [float(info["equity"][0])]
    times = [int(stamps[bars[0]])]
    actions: list[np.ndarray] = []
    end = EpisodeEnd("ran to the end", 0, times[0])
    for _ in range(core.data.n_bars):
        action = policy.act(obs, DecisionContext(bars, stamps[bars]))
        actions.append(np.asarray(action, dtype=np.float64).reshape(-1))
        obs, _, terminated, truncated, info = env.step(action)
        bars = np.asarray(info["bar"], dtype=np.int64)
        equity.append(float(info["equity"][0]))
        times.append(int(info["timestamp"][0]))
        position = float(info["position"][0])
        for key in ("fee", "funding", "traded_notional", "slippage"):
            columns[key].append(float(info[key][0]))
        columns["position"].append(position)
        columns["leverage"].append(
            abs(position) * value_close[bars[0]] / equity[-1] if equity[-1] > 0 else 0.0
        )
        if terminated[0] or truncated[0]:
            reason = end_reason(
                bool(terminated[0]), bool(info["liquidated"][0]), int(info["risk_flags"][0]), equity[-1]
            )
            end = EpisodeEnd(reason, len(equity) - 1, times[-1])
            break
    _stay_flat_to_the_end(int(bars[0]), split_end, stamps, equity, times, columns)
    trace = EpisodeTrace(
        equity=np.asarray(equity),
        timestamps=np.asarray(times, dtype=np.int64),
        fees=np.asarray(columns["fee"]),
        funding=np.asarray(columns["funding"]),
        traded_notional=np.asarray(columns["traded_notional"]),
        position=np.asarray(columns["position"]),
        actions=np.concatenate(actions) if actions else np.zeros(0),
    )
    n_actions = len(core.config.action_levels) if core.config.action_type == "discrete" else None
    metrics = trading_metrics(trace, bars_per_year(core.data.interval_ms))
    return Evaluation(
        policy.name,
        trace,
        metrics,
        n_actions,
        end,
        np.asarray(columns["slippage"]),
        np.asarray(columns["leverage"]),
    )


def _stay_flat_to_the_end(
    last_bar: int,
    split_end: int,
    stamps: np.ndarray,
    equity: list[float],
    times: list[int],
    columns: dict[str, list[float]],
) -> None:
    """Extend a trace that stopped at ``last_bar`` with flat bars (no trade, no cost, equity unchanged) to
    the split's last bar, so that every agent is measured over the same bars."""
    for bar in range(last_bar + 1, split_end + 1):
        equity.append(equity[-1])
        times.append(int(stamps[bar]))
        for values in columns.values():
            values.append(0.0)
