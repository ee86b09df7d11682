"""Properties over random market paths and random action sequences (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import envs
from asterrl.risk import RiskLimits
from asterrl.sim import CostConfig, MarketArrays, MarketModelConfig
from asterrl.sim.layout import Market
from asterrl.sim.simulator import PerpSimulator
from tests.sim.frames import HOUR, T0
from tests.sim.instruments import made_up

N_BARS = 60


@st.composite
def market_paths(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """Random walks with random wicks, volumes, optional mark prices and funding at 8h/4h/1h."""
    seed = draw(st.integers(0, 2**32 - 1))
    vol = draw(st.sampled_from([0.002, 0.01, 0.05]))
    rng = np.random.default_rng(seed)
    close = 1_000.0 * np.exp(np.cumsum(rng.normal(0.0, vol, N_BARS)))
    open_ = np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0.0, vol / 3, N_BARS))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 2 * vol, N_BARS)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 2 * vol, N_BARS)))
    volume = rng.choice([0.0, 5.0, 500.0, 5e4], size=N_BARS)
    ts = T0 + HOUR * np.arange(N_BARS, dtype=np.int64)
    bars = pd.DataFrame(
        {"timestamp": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume}
    )
    funding = None
    if draw(st.booleans()):
        every = draw(st.sampled_from([1, 4, 8]))
        f_ts = ts[1::every]
        funding = pd.DataFrame({"timestamp": f_ts, "funding_rate": rng.normal(0.0, 1e-3, f_ts.shape[0])})
    mark = None
    if draw(st.booleans()):
        basis = np.exp(rng.normal(0.0, vol / 5, N_BARS))
        mark = pd.DataFrame(
            {
                "timestamp": ts,
                "mark_open": open_ * basis,
                "mark_high": high * basis * 1.001,
                "mark_low": low * basis * 0.999,
                "mark_close": close * basis,
            }
        )
    return bars, funding, mark


@settings(max_examples=60, deadline=None)
@given(
    path=market_paths(),
    targets=st.lists(st.floats(-1.0, 1.0), min_size=N_BARS, max_size=N_BARS),
    max_leverage=st.sampled_from([1.0, 3.0, 10.0, 50.0]),
    estimate_spread=st.booleans(),
)
def test_accounting_identities_hold_at_every_step(
    path: tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None],
    targets: list[float],
    max_leverage: float,
    estimate_spread: bool,
) -> None:
    bars, funding, mark = path
    costs = CostConfig(half_spread_bps=None if estimate_spread else 1.0, impact_k=1.0)
    data = MarketArrays.from_frames(bars, funding, mark, costs)
    config = MarketModelConfig(costs=costs)
    limits = RiskLimits(max_leverage=max_leverage, max_drawdown=0.6, max_daily_loss=0.5)
    sim = PerpSimulator(data, made_up(tick=0.01, step=0.001), config, limits, 10_000.0)
    value_open, value_close = data.series(Market.VALUE_OPEN), data.series(Market.VALUE_CLOSE)
    close = data.series(Market.CLOSE)
    for fraction in targets:
        if sim.done:
            break
        # Ask for up to 1.5x the limit so the gate has work to do.
        target = 1.5 * fraction * max_leverage * sim.equity / close[sim.bar]
        before = sim.position
        r = sim.step(target)
        assert all(math.isfinite(v) for v in r.values())
        k = int(r["bar"])
        upnl = sim.position * (value_close[k] - sim.entry_price)
        assert r["equity"] == sim.equity
        assert math.isclose(sim.equity, sim.wallet + upnl, rel_tol=1e-12, abs_tol=1e-9)
        assert r["fee"] >= 0.0 and r["slippage"] >= 0.0 and r["liquidation_fee"] >= 0.0
        assert sim.wallet >= 0.0 and r["shortfall"] >= 0.0
        if target != before and sim.position != 0.0 and r["stop_filled"] == 0.0:
            # Any order (partial fills included) leaves leverage at the fill bar's open within the limit.
            # Valued there: the wallet before this bar's funding, the position and entry after the order.
            wallet_open = sim.wallet - r["funding"]
            equity_open = wallet_open + sim.position * (value_open[k] - sim.entry_price)
            leverage = abs(sim.position) * value_open[k] / equity_open
            assert leverage <= max_leverage * (1.0 + 1e-9)
            assert leverage == pytest.approx(r["gate_leverage"], rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    path=market_paths(),
    actions=st.lists(st.floats(-1.0, 1.0), min_size=40, max_size=40),
    reward=st.sampled_from(["log_return", "differential_sharpe"]),
)
def test_env_outputs_are_always_finite(
    path: tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None], actions: list[float], reward: str
) -> None:
    bars, funding, mark = path
    env = envs.AsterPerpEnv(
        data=bars,
        funding=funding,
        mark=mark,
        instrument=made_up(tick=0.01, step=0.001),
        window=4,
        episode_length=0,
        action_type="continuous",
        reward=reward,
        drawdown_penalty=0.1,
        turnover_penalty=0.01,
        deadband=0.0,
        splits={"train": ["2024-01-01", "2024-01-03"]},
        split="train",
    )
    obs, _ = env.reset(seed=0)
    assert np.all(np.isfinite(obs))
    for a in actions:
        obs, r, term, trunc, info = env.step(np.array([a], dtype=np.float32))
        assert np.all(np.isfinite(obs)) and math.isfinite(r)
        assert all(math.isfinite(v) for v in info.values())
        assert info["equity"] == info["wallet_balance"] + info["unrealised_pnl"]
        if term or trunc:
            break
