"""The account part of the observation and every reward kind, worked out by hand over three bars.

No costs; a made-up instrument with one 1 % maintenance tier; 1h bars from 2024-01-01 00:00 whose opens are
the previous closes. The account (10000 USDT, risk.max_leverage 2) starts at decision bar 3 (closes 04:00):

* step 1, level 1.0: target 2 * 10000 / 100 = 200 units, filled at bar 4's open 100; bar 4 closes at 104:
  equity 10000 + 200 * 4 = 10800.
* step 2, level 1.0 again: 200 * 104 / (2 * 10800) = 0.963 of the scale, within the 0.05 deadband: held.
  Bar 5 closes at 98: equity 10000 - 400 = 9600 (leverage 2.04, within 2 * 1.05: no trim).
* step 3, level 0: sold at bar 6's open 98, flat; bar 6 closes at 99: equity 9600.

Funding settles at 00:00 (0.5 bps, before the data: it is the last settled rate all along) and at 08:00.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import envs
from asterrl.risk import RiskLimits
from tests.sim.frames import HOUR, T0, bars
from tests.sim.instruments import made_up

CLOSES = [100.0, 100.0, 100.0, 100.0, 104.0, 98.0, 99.0, 99.0, 99.0, 99.0]
FREE = {"costs": {"maker_fee": 0.0, "taker_fee": 0.0, "half_spread_bps": 0.0, "impact_k": 0.0,
                  "participation_cap": 1.0}}  # fmt: skip


def _env(**overrides: object) -> envs.AsterPerpEnv:
    opens = [CLOSES[0], *CLOSES[:-1]]
    frame = bars(opens, np.maximum(opens, CLOSES), np.minimum(opens, CLOSES), CLOSES)
    funding = pd.DataFrame({"timestamp": [T0, T0 + 8 * HOUR], "funding_rate": [5e-5, 1e-4]})
    return envs.AsterPerpEnv(
        data=frame, funding=funding, instrument=made_up(tick=0.01, step=0.001), market=FREE,
        risk=RiskLimits(max_leverage=2.0, max_drawdown=math.inf, max_daily_loss=math.inf),
        window=1, episode_length=0, split_fractions=[0.8, 0.1, 0.1], **overrides,
    )  # fmt: skip


def test_account_fields_of_the_observation() -> None:
    env = _env()
    obs, _ = env.reset(options={"start_bar": 3})
    n = env.core.layout.window * env.core.layout.n_features
    # Flat at bar 3's close (03:00-04:00): 4 h to 08:00, last settled rate 0.5 bps, no trade yet (0 bars).
    assert obs[n:].tolist() == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.0, 4.0 / 8.0, 0.5])
    expected = [
        # leverage, entry distance, uPnL / equity, maintenance / equity, bars since trade / 100, h / 8, bps
        [200 * 104 / 10_800, 104 / 100 - 1, 800 / 10_800, 200 * 104 * 0.01 / 10_800, 0.0, 3 / 8, 0.5],
        [200 * 98 / 9_600, 98 / 100 - 1, -400 / 9_600, 200 * 98 * 0.01 / 9_600, 0.01, 2 / 8, 0.5],
        [0.0, 0.0, 0.0, 0.0, 0.0, 1 / 8, 0.5],
    ]
    for action, fields in zip([4, 4, 2], expected, strict=True):
        obs, _, _, _, info = env.step(action)
        assert obs[n:].tolist() == pytest.approx(fields, rel=1e-6, abs=1e-7)
    assert info["equity"] == pytest.approx(9_600.0)


def test_log_return_reward_with_drawdown_and_turnover_penalties() -> None:
    env = _env(drawdown_penalty=0.5, turnover_penalty=0.1, reward_scale=2.0)
    env.reset(options={"start_bar": 3})
    # Step 1: ln(10800 / 10000), no drawdown, traded 200 * 100 over the 10000 before: -0.1 * 2.
    # Step 2: ln(9600 / 10800), drawdown (10800 - 9600) / 10800 from the peak, nothing traded.
    # Step 3: ln(9600 / 9600) = 0, the same drawdown, traded 200 * 98 over the 9600 before.
    expected = [
        math.log(1.08) - 0.1 * 20_000 / 10_000,
        math.log(9_600 / 10_800) - 0.5 * 1_200 / 10_800,
        0.0 - 0.5 * 1_200 / 10_800 - 0.1 * 19_600 / 9_600,
    ]
    rewards = [env.step(action)[1] for action in (4, 4, 2)]
    assert rewards == pytest.approx([2.0 * r for r in expected], rel=1e-12)


def test_differential_sharpe_reward_over_three_bars() -> None:
    eta = 0.1
    env = _env(reward="differential_sharpe", dsr_eta=eta)
    env.reset(options={"start_bar": 3})
    # Moody & Saffell: D_t = (B dA - A dB / 2) / (B - A^2)^1.5 with A, B the EMAs of R and R^2 before the
    # step (0 while B - A^2 <= 1e-12), then A += eta dA, B += eta dB.
    a = b = 0.0
    expected = []
    for ret in (0.08, 9_600 / 10_800 - 1.0, 0.0):
        da, db = ret - a, ret * ret - b
        variance = b - a * a
        expected.append(
            max(-10.0, min(10.0, (b * da - 0.5 * a * db) / variance**1.5)) if variance > 1e-12 else 0.0
        )
        a, b = a + eta * da, b + eta * db
    assert expected[0] == 0.0 and expected[1] < 0.0 and expected[2] != 0.0
    rewards = [env.step(action)[1] for action in (4, 4, 2)]
    assert rewards == pytest.approx(expected, rel=1e-9)
    # The moments are the env's, not the account's: a new episode starts them again from zero.
    env.reset(options={"start_bar": 3})
    assert env.step(4)[1] == 0.0
