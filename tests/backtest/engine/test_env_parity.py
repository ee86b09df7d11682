"""A backtest of a policy is its env rollout: for every rule agent and a trained PPO checkpoint, the
backtester's equity equals the env's evaluation episode (the rollout ``asterrl compare`` runs) bar for bar."""

from __future__ import annotations

import numpy as np
import pytest

from agents.registry import build_rule_agent
from asterrl.backtest.engine import ObservationSource, backtest_policy, backtest_targets
from experiments.backtesting.policies import policy_decider, setup_from_core
from experiments.config import load_config
from experiments.training.environment import action_mapping, evaluation_core, prepare_market
from experiments.training.evaluation import Evaluation, evaluate_policy

DATA = ["data=synthetic", "data.start=2022-01-01", "data.end=2022-07-01", "env.window=8"]
RULE_AGENTS = ("buy_and_hold", "grid", "vol_trend", "hybrid", "demark", "sma_cross")


def _assert_same_equity(backtest_equity: np.ndarray, evaluation: Evaluation) -> None:
    env_equity = evaluation.trace.equity
    n = env_equity.shape[0]
    assert np.max(np.abs(backtest_equity[:n] - env_equity)) <= 1e-9
    # a rollout the env ended early (a halt) stays flat in the backtest
    assert np.all(backtest_equity[n - 1 :] == env_equity[-1])


@pytest.mark.slow
def test_every_rule_agent_backtests_to_its_env_rollout() -> None:
    cfg = load_config(DATA)
    market = prepare_market(cfg, show_progress=False)
    core = evaluation_core(cfg, market, "test", action_type="continuous")
    setup = setup_from_core(core)
    stamps = core.data.timestamps
    traded = 0
    for option in RULE_AGENTS:
        agent = load_config([*DATA, f"agent={option}"]).agent
        policy = build_rule_agent(agent, action_mapping(core)).prepare(market.bars)
        evaluation = evaluate_policy(policy, core, 0)
        vectorised, _ = backtest_targets(setup, policy.targets[setup.start_bar : setup.end_bar], option)
        _assert_same_equity(vectorised.equity, evaluation)
        stepped, _ = backtest_policy(setup, policy_decider(policy, stamps), option)
        _assert_same_equity(stepped.equity, evaluation)
        np.testing.assert_array_equal(stepped.position, vectorised.position)
        # the fills the backtest records add up to the positions the env held
        assert np.cumsum(vectorised.fills.quantity)[-1] == pytest.approx(vectorised.position[-1], abs=1e-9)
        traded += len(vectorised.fills) > 0
    assert traded == len(RULE_AGENTS)


@pytest.mark.slow
def test_a_trained_ppo_checkpoint_backtests_to_its_env_rollout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from agents.sb3.ppo import SB3Policy, build_sb3_ppo, learn_iteration
    from agents.sb3.vec_env import SB3VecEnv
    from envs.vector_env import AsterPerpVectorEnv
    from experiments.training.environment import build_env_core

    cfg = load_config([*DATA, "agent=sb3_ppo_tiny", "env.episode_length=64"])
    market = prepare_market(cfg, show_progress=False)
    venv = SB3VecEnv(
        AsterPerpVectorEnv(4, core=build_env_core(cfg, market, "train", autoreset_mode="same_step"))
    )
    model = build_sb3_ppo(cfg.agent, venv, seed=0)
    learn_iteration(model, cfg.agent.train_batch_size)
    learn_iteration(model, cfg.agent.train_batch_size)
    policy = SB3Policy.load(SB3Policy(model).save(tmp_path / "checkpoint"))
    core = evaluation_core(cfg, market, "test")
    evaluation = evaluate_policy(policy, core, 0)
    setup = setup_from_core(core)
    observations = ObservationSource.from_matrix(core.features, core.config.window)
    result, _ = backtest_policy(setup, policy_decider(policy, core.data.timestamps), "ppo", observations)
    _assert_same_equity(result.equity, evaluation)
    assert len(set(evaluation.trace.actions.tolist())) > 1  # the policy does act, not one constant action
