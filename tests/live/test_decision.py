"""One decision: the bridge's observation equals the env's bar for bar; the action rule worked by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from asterrl.actions import target_position
from asterrl.live.artifact import load_artifact
from asterrl.live.decision import AccountView, DecisionCore
from asterrl.sim.config import CostConfig
from asterrl.sim.layout import Account, Counter
from tests.envs.market import HOUR, synthetic_market
from tests.live.artifacts import LEVELS, linear_artifact

LEVEL_ARRAY = np.asarray(LEVELS)


def test_the_bridge_builds_the_envs_observation_bar_for_bar(tmp_path: Path) -> None:
    from envs.perp_env import AsterPerpEnv

    bars, funding, mark = synthetic_market(700, seed=3)
    env = AsterPerpEnv(data=bars, funding=funding, mark=mark, instrument="BTCUSDT", window=8,
                       episode_length=0, random_start=False, split="test")  # fmt: skip
    policy = load_artifact(linear_artifact(tmp_path / "a", window=8))
    core = DecisionCore(policy, env.core.instrument.bracket_table(), CostConfig())
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    positions = set()
    for _ in range(60):
        t = int(env._istate[Counter.BAR, 0])
        now = int(bars["timestamp"].iloc[t]) + HOUR  # the decision bar has just closed
        state, counters = (
            env._fstate[:, 0],
            env._istate[:, 0],
        )  # the env's own account (an independent record)
        account = AccountView(
            float(state[Account.QTY]), float(state[Account.ENTRY]), float(state[Account.WALLET]),
            int(counters[Counter.BARS_SINCE_TRADE]),
        )  # fmt: skip
        live, inputs, _ = core.observation(
            bars.iloc[: t + 1], funding[funding["timestamp"] <= now], mark.iloc[: t + 1], account
        )
        np.testing.assert_array_equal(live, obs)
        assert inputs.open_ms == int(bars["timestamp"].iloc[t])
        positions.add(round(account.qty, 6))
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(len(LEVELS))))
        if terminated or truncated:
            break
    assert len(positions) > 5  # the account moved through many states, not only flat


def test_the_action_rule_worked_by_hand() -> None:
    def target(
        action: float, qty: float = 0.0, since: int = 5, discrete: bool = True, hold: int = 0
    ) -> float:
        # equity 1000 USDT, mark close 101, last close 100, scale 3x, deadband 0.05
        return target_position(
            action, qty, 1000.0, 101.0, 100.0, since, discrete, LEVEL_ARRAY, 3.0, 0.05, hold
        )

    assert target(4) == pytest.approx(30.0)  # +100 % of 3 x 1000 USDT at 100
    assert target(1) == pytest.approx(-15.0)  # -50 %
    assert target(2, qty=10.0) == 0.0  # flat
    assert target(3, qty=14.9) == 14.9  # 14.9 * 101 / 3000 = 0.5016: inside the 0.05 deadband of 0.5
    assert target(3, qty=13.0) == pytest.approx(15.0)  # 0.4377: outside it
    assert target(0, qty=13.0, since=1, hold=4) == 13.0  # held 2 bars of the 4 required
    assert target(0, qty=13.0, since=3, hold=4) == pytest.approx(-30.0)  # held 4 bars
    assert target(0.5, discrete=False) == pytest.approx(15.0)
    assert target(1.0000004, discrete=False) == pytest.approx(30.0)  # float32 rounding of 1.0 passes
    for bad in (math.nan, math.inf, 5.0, -1.0, 2.5):
        assert math.isnan(target(bad))
    assert math.isnan(target(1.01, discrete=False))
    assert target_position(4.0, 0.0, -5.0, 101.0, 100.0, 0, True, LEVEL_ARRAY, 3.0, 0.05, 0) == 0.0
