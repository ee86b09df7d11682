"""Fills, fees and min-notional rejections right to the tick for symbols priced far from BTCUSDT.

DOGE-like bars sit between 0.05 and 0.5 USDT with a 0.00001 tick and a lot of 1 DOGE; 1000PEPE-like bars
near 0.0012 USDT with a 1e-7 tick. Every number is worked out by hand from the exchange's rules: a market
buy pays ``open * (1 + half_spread)`` rounded up to the tick, a sell that rounded down, the taker fee on
the fill notional; an order below 5 USDT at the mark is rejected.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import envs
from asterrl.risk import RiskLimits
from asterrl.sim import CostConfig, MarketArrays, MarketModelConfig
from asterrl.sim.instrument import MarginTier
from asterrl.sim.simulator import PerpSimulator
from tests.sim.frames import bars
from tests.sim.instruments import made_up

# Half-spread 0.5 bps, no impact: every fill price below follows from the open alone.
COSTS = CostConfig(half_spread_bps=0.5, impact_k=0.0, participation_cap=1.0)
LIMITS = RiskLimits(max_leverage=5.0, max_drawdown=math.inf, max_daily_loss=math.inf)


def _sim(price: float, tick: float, n: int = 6) -> PerpSimulator:
    frame = bars([price] * n, [price] * n, [price] * n, [price] * n, quote_volume=1e9)
    instrument = made_up(tick=tick, step=1.0, min_notional=5.0, symbol="LOWUSDT")
    return PerpSimulator(
        MarketArrays.from_frames(frame, costs=COSTS),
        instrument,
        MarketModelConfig(costs=COSTS),
        LIMITS,
        1_000.0,
    )


@pytest.mark.parametrize(
    ("price", "tick", "buy", "sell", "too_small", "just_enough"),
    [
        # DOGE: 0.12345 * 1.00005 = 0.12345617 -> 0.12346; 0.12345 * 0.99995 = 0.12344383 -> 0.12344.
        # 40 DOGE * 0.12345 = 4.938 < 5 (rejected), 41 DOGE = 5.06145 (accepted).
        (0.12345, 0.00001, 0.12346, 0.12344, 40.0, 41.0),
        # 1000PEPE: 0.0012345 * 1.00005 = 0.00123456 -> 0.0012346; the sell -> 0.0012344.
        # 4050 * 0.0012345 = 4.9997 < 5 (rejected), 4051 = 5.0009595 (accepted).
        (0.0012345, 1e-7, 0.0012346, 0.0012344, 4_050.0, 4_051.0),
    ],
)
def test_fills_fees_and_min_notional_to_the_tick(
    price: float, tick: float, buy: float, sell: float, too_small: float, just_enough: float
) -> None:
    sim = _sim(price, tick)
    r = sim.step(too_small + 0.7)  # rounded down to the lot of 1: too_small units, below 5 USDT at mark
    assert (r["rejected"], r["fill_qty"], sim.position) == (1.0, 0.0, 0.0)
    r = sim.step(just_enough + 0.7)
    assert r["rejected"] == 0.0
    assert r["fill_qty"] == just_enough
    assert r["fill_price"] == pytest.approx(buy, abs=tick * 1e-6)
    assert r["fee"] == pytest.approx(just_enough * buy * 0.00035, rel=1e-12)
    assert r["slippage"] == pytest.approx(just_enough * (buy - price), rel=1e-9)
    r = sim.step(0.0)  # the whole position sold: reduce-only, exempt from the minimum
    assert r["fill_qty"] == -just_enough
    assert r["fill_price"] == pytest.approx(sell, abs=tick * 1e-6)
    assert r["wallet_balance"] == pytest.approx(
        1_000.0 - just_enough * buy * 0.00035 + just_enough * (sell - buy) - just_enough * sell * 0.00035
    )


def test_doge_like_bars_in_the_env_fill_on_the_tick_and_lot_grid() -> None:
    # A random walk between 0.05 and 0.5 USDT; random discrete actions for 300 steps.
    rng = np.random.default_rng(7)
    n = 600
    close = np.clip(0.2 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n))), 0.05, 0.5)
    open_ = np.concatenate(([close[0]], close[:-1]))
    frame = bars(open_, np.maximum(open_, close) * 1.01, np.minimum(open_, close) * 0.99, close, 5e6)
    doge = made_up(tick=0.00001, step=1.0, min_notional=5.0, symbol="DOGEUSDT")
    env = envs.AsterPerpEnv(
        data=frame,
        instrument=doge,
        window=4,
        episode_length=0,
        random_start=False,
        split_fractions=[0.9, 0.05, 0.05],
        risk=LIMITS,
    )
    env.reset(seed=0)
    fills = 0
    for action in rng.integers(0, 5, 300):
        _, _, term, trunc, info = env.step(int(action))
        if info["fill_qty"] != 0.0:
            fills += 1
            assert 0.05 * 0.98 <= info["fill_price"] <= 0.5 * 1.02  # never BTCUSDT's 0.1 grid
            assert info["fill_price"] / 0.00001 == pytest.approx(
                round(info["fill_price"] / 0.00001), abs=1e-6
            )
            assert info["fill_qty"] == round(info["fill_qty"])  # whole DOGE
        if term or trunc:
            break
    assert fills > 50


def test_margin_and_liquidation_follow_the_instruments_tiers_and_fee() -> None:
    # Tiers: 2 % up to 1000 USDT (10x), then 5 % with cum 30 (5x); liquidation fee 1.1 %.
    tiers = (MarginTier(0.0, 1_000.0, 0.02, 0.0, 10.0), MarginTier(1_000.0, math.inf, 0.05, 30.0, 5.0))
    inst = made_up(tick=0.0003, step=7.0, min_notional=11.0, tiers=tiers, liquidation_fee=0.011)
    frame = bars([3.0, 3.0, 3.0, 2.6], [3.0, 3.0, 3.0, 2.6], [3.0, 3.0, 2.1, 2.6], [3.0, 3.0, 2.6, 2.6], 1e9)
    free = CostConfig(maker_fee=0.0, taker_fee=0.0, half_spread_bps=0.0, impact_k=0.0, participation_cap=1.0)
    limits = RiskLimits(max_leverage=5.0, max_drawdown=math.inf, max_daily_loss=math.inf)
    sim = PerpSimulator(
        MarketArrays.from_frames(frame, costs=free), inst, MarketModelConfig(costs=free), limits, 300.0
    )
    r = sim.step(500.0)  # 5x of 300 USDT at 3.0 = 500 units, the lot of 7: 497 units = 1491 USDT (5x tier)
    assert r["fill_qty"] == 497.0
    assert r["margin_ratio"] == pytest.approx((1_491.0 * 0.05 - 30.0) / 300.0)
    r = sim.step(497.0)
    # Liquidation: 300 + 497 (p - 3) = 497 p * 0.05 - 30 -> p = (1491 - 330) / (497 * 0.95) = 2.45908...
    # (notional 1222 USDT: inside the 5 % tier). The bar's low 2.1 reaches it.
    p = (1_491.0 - 330.0) / (497.0 * 0.95)
    assert r["liquidated"] == 1.0
    assert r["fill_price"] == pytest.approx(p)
    margin_left = 300.0 + 497.0 * (p - 3.0)
    assert r["liquidation_fee"] == pytest.approx(min(497.0 * p * 0.011, margin_left))


def test_no_layer_keeps_a_default_tick_step_or_margin_tier() -> None:
    """No dataclass or function in the market model, risk, data, envs or agents defaults a symbol rule."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    rules = {
        "tick_size",
        "step_size",
        "min_notional",
        "min_qty",
        "max_qty",
        "brackets",
        "maint_margin_rate",
        "liquidation_fee",
        "notional_cap",
        "max_notional",
    }
    offenders = []
    for folder in ("asterrl/sim", "asterrl/risk", "asterrl/data", "envs", "agents", "experiments"):
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                named = isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                if (
                    named
                    and node.target.id in rules
                    and node.value is not None
                    and path.name != "instrument.py"
                ):
                    offenders.append(f"{path.relative_to(root)}:{node.lineno} {node.target.id}")
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    args = node.args.args[len(node.args.args) - len(node.args.defaults) :]
                    kw = [a for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True) if d]
                    for arg in [*args, *kw]:
                        if arg.arg in rules:
                            offenders.append(
                                f"{path.relative_to(root)}:{node.lineno} {node.name}({arg.arg}=)"
                            )
    assert offenders == []


@pytest.mark.parametrize(("order_type", "offset_bps"), [("market", 0.0), ("limit", 0.0), ("limit", 7.0)])
def test_every_layer_reads_the_same_made_up_instrument(order_type: str, offset_bps: float) -> None:
    """Tick 0.0003, lot 7, minimum notional 11: the sim, the env, the vector env and the gate all keep to
    it, with market orders and with limit orders (marketable and resting: the limit price is put on the
    tick, fills as taker or maker). A hard-coded tick, step or tier anywhere would put a fill off this
    grid."""
    from asterrl.risk import RiskGate

    tiers = (MarginTier(0.0, math.inf, 0.02, 0.0, 10.0),)
    inst = made_up(tick=0.0003, step=7.0, min_notional=11.0, tiers=tiers, symbol="ODDUSDT")
    rng = np.random.default_rng(3)
    n = 400
    close = 1.5 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate(([close[0]], close[:-1]))
    frame = pd.DataFrame(
        bars(open_, np.maximum(open_, close) * 1.005, np.minimum(open_, close) * 0.995, close)
    )
    kwargs = {
        "data": frame,
        "instrument": inst,
        "window": 4,
        "episode_length": 100,
        "risk": LIMITS,
        "action_type": "continuous",
        "deadband": 0.0,
        "order_type": order_type,
        "limit_offset_bps": offset_bps,
    }
    single = envs.AsterPerpEnv(**kwargs)
    vector = envs.AsterPerpVectorEnv(8, **kwargs)
    assert single.core.instrument is inst and vector.core.instrument is inst
    single.reset(seed=1)
    vector.reset(seed=1)
    grid_fills = maker_fills = 0
    before = np.zeros(9)  # the positions before each step: the single env, then the 8 accounts
    for _ in range(60):
        action = rng.uniform(-1.0, 1.0, 8)
        _, _, _, _, info = vector.step(action.reshape(8, 1))
        step = single.step(np.array([action[0]], dtype=np.float32))[4]
        maker_fills += int(np.count_nonzero(info["maker_qty"])) + int(step["maker_qty"] != 0.0)
        prices = np.r_[step["fill_price"], info["fill_price"]]
        qtys = np.r_[step["fill_qty"], info["fill_qty"]]
        after = np.r_[step["position"], info["position"]]
        for price, qty, was, now in zip(prices, qtys, before, after, strict=True):
            if qty != 0.0:
                grid_fills += 1
                assert price / 0.0003 == pytest.approx(round(price / 0.0003), abs=1e-6)
                assert qty / 7.0 == pytest.approx(round(qty / 7.0), abs=1e-9)
                if not (abs(now) <= abs(was) and now * was >= 0.0):  # only reduce-only orders are exempt
                    assert abs(qty) * price >= 11.0 * 0.99
        ended = np.r_[step["terminated"] or step["truncated"], info["terminated"] + info["truncated"] > 0]
        before = np.where(ended, 0.0, after)  # an ended account starts its next episode flat
        if step["terminated"] or step["truncated"]:
            single.reset(seed=2)
    assert grid_fills > 100
    if order_type == "limit" and offset_bps > 0.0:  # a resting limit order does fill as maker
        assert maker_fills > 0
    gate = RiskGate(LIMITS, inst)
    decision = gate.decide(
        current_qty=0.0,
        target_qty=100.0,
        mark_price=1.5,
        equity=1_000.0,
        peak_equity=1_000.0,
        day_start_equity=1_000.0,
    )
    assert decision.order_qty == 98.0  # 100 rounded down to the lot of 7
    small = gate.decide(
        current_qty=0.0,
        target_qty=7.0,
        mark_price=1.5,
        equity=1_000.0,
        peak_equity=1_000.0,
        day_start_equity=1_000.0,
    )
    assert (small.order_qty, small.rejected) == (0.0, True)  # 7 * 1.5 = 10.5 < 11
