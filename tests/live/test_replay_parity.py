"""Replay parity: the artifact in paper mode on the local exchange sends, bar for bar, the targets and orders
of the env's rollout of the same policy over the same bars, and ends with the same equity (1e-6 relative)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from asterrl.actions import target_position
from asterrl.live.artifact import FrozenPolicy, load_artifact
from asterrl.sim.instrument import Instrument
from asterrl.sim.layout import Account, Counter, Market
from tests.envs.market import synthetic_market
from tests.live.artifacts import linear_artifact
from tests.live.paper import paper

BALANCE = 10_000.0
WINDOW = 8


Frames = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


def env_rollout(
    frames: Frames, instrument: Instrument, policy: FrozenPolicy, start: int, n: int
) -> list[dict[str, float]]:
    """Step the env from decision bar ``start`` for ``n`` bars with the frozen policy's actions."""
    from envs.perp_env import AsterPerpEnv

    bars, funding, mark = frames
    total = len(bars)
    shares = [(start - 10) / total, 10 / total, (total - start) / total]
    env = AsterPerpEnv(data=bars, funding=funding, mark=mark, instrument=instrument, window=WINDOW,
                       episode_length=0, random_start=False, initial_balance=BALANCE, split="test",
                       split_fractions=shares)  # fmt: skip
    obs, _ = env.reset(options={"start_bar": start})
    rule = policy.manifest.action
    rows = []
    for _ in range(n):
        state, counters, t = env._fstate[:, 0], env._istate[:, 0], int(env._istate[Counter.BAR, 0])
        action = policy.act_one(obs)
        target = target_position(
            action, float(state[Account.QTY]), float(state[Account.EQUITY]),
            float(env._market[t, Market.VALUE_CLOSE]), float(env._market[t, Market.CLOSE]),
            int(counters[Counter.BARS_SINCE_TRADE]), True, np.asarray(rule.levels), rule.position_scale,
            rule.deadband, rule.min_hold_bars,
        )  # fmt: skip
        obs, _, terminated, truncated, info = env.step(int(action))
        rows.append({"bar": t, "action": action, "target": target, "fill": info["fill_qty"],
                     "position": info["position"], "equity": info["equity"]})  # fmt: skip
        if terminated or truncated:
            break
    return rows


async def bridge_replay(
    tmp_path: Path, art: Path, frames: Frames, start: int, n: int
) -> tuple[list[dict[str, Any]], Instrument]:
    """The bridge deciding on bars ``start .. start + n - 1`` on the local exchange; per bar what it sent."""
    rows: list[dict[str, Any]] = []
    async with paper(tmp_path, art, *frames, start + 1, balance=BALANCE) as p:
        user = p.server.exchange.accounts[p.client.rest.user.lower()]
        instrument = p.server.exchange.market("BTCUSDT").instrument
        for i in range(n):
            assert await (p.next_bar() if i else p.settle_first())
            record = p.bridge.store.last_decision()
            assert record is not None
            orders = p.bridge.store.orders_of_bar(record["bar_ms"])
            rows.append({"bar_ms": record["bar_ms"], "action": record["action"],
                         "target": record["target_qty"], "sent": sum(o.qty * o.sign for o in orders),
                         "fill": sum(o.filled_qty * o.sign for o in orders),
                         "position": user.position("BTCUSDT").qty})  # fmt: skip
        p.clock.advance(3600)
        p.server.sync()
        market = p.server.exchange.market("BTCUSDT")
        pos = user.position("BTCUSDT")
        value_close = float(market.data.values[market.closed_bars(p.clock.ms()) - 1, Market.VALUE_CLOSE])
        rows.append({"equity": user.wallet + pos.qty * (value_close - pos.entry)})
    return rows, instrument


def _same(want: dict[str, float], have: dict[str, Any]) -> bool:
    both_nan = math.isnan(want["target"]) and math.isnan(have["target"])
    target = both_nan or math.isclose(want["target"], have["target"], rel_tol=1e-12, abs_tol=1e-12)
    quantities = all(  # the order sent is the env's order, it filled whole, the positions agree
        math.isclose(want[a], have[b], abs_tol=1e-9)
        for a, b in (("fill", "sent"), ("fill", "fill"), ("position", "position"))
    )
    return want["action"] == have["action"] and target and quantities


@pytest.mark.slow
def test_paper_replay_sends_the_envs_targets_and_orders_and_ends_with_its_equity(tmp_path: Path) -> None:
    frames = synthetic_market(700, seed=11)
    art = linear_artifact(tmp_path / "art", window=WINDOW, seed=5)
    policy = load_artifact(art)
    start, n = 400, 120
    got, instrument = asyncio.run(bridge_replay(tmp_path, art, frames, start, n))
    expected = env_rollout(frames, instrument, policy, start, n)
    assert len(expected) == n
    mismatches = [(w, h) for w, h in zip(expected, got, strict=False) if not _same(w, h)]
    assert not mismatches, mismatches[:3]
    assert sum(abs(w["fill"]) > 0 for w in expected) > n // 4  # the policy traded on many bars
    assert math.isclose(got[-1]["equity"], expected[-1]["equity"], rel_tol=1e-6)


@pytest.mark.slow
@pytest.mark.shared_data
def test_paper_replay_of_a_test_span_of_the_shared_data(tmp_path: Path, shared_data: Path) -> None:
    """The last 240 bars of 2023 of the shared BTCUSDT perp (real prices, funding and mark), 400 bars of
    history before them."""
    from asterrl.data.io import read_table

    files = (("perp_ohlcv/BTCUSDT_1h.csv.gz", "ohlcv"), ("perp_funding/BTCUSDT_funding.csv.gz", "funding"),
             ("perp_mark/BTCUSDT_mark_1h.csv.gz", "mark"))  # fmt: skip
    whole = [read_table(shared_data / name, kind)[0] for name, kind in files]
    bars = whole[0].iloc[-641:].reset_index(drop=True)
    first = int(bars["timestamp"].iloc[0])
    funding = whole[1][whole[1]["timestamp"] > first].reset_index(drop=True)
    mark = whole[2][whole[2]["timestamp"] >= first].reset_index(drop=True)
    assert (np.diff(bars["timestamp"]) == 3_600_000).all() and len(mark) == len(bars)
    art = linear_artifact(tmp_path / "art", window=WINDOW, seed=5)
    policy = load_artifact(art)
    start, n = 400, 240
    got, instrument = asyncio.run(bridge_replay(tmp_path, art, (bars, funding, mark), start, n))
    expected = env_rollout((bars, funding, mark), instrument, policy, start, n)
    mismatches = [(w, h) for w, h in zip(expected, got, strict=False) if not _same(w, h)]
    assert not mismatches, mismatches[:3]
    assert sum(abs(w["fill"]) > 0 for w in expected) > n // 4
    assert math.isclose(got[-1]["equity"], expected[-1]["equity"], rel_tol=1e-6)
