"""Limit orders no longer beat market orders by construction (shared 2023 BTCUSDT data, random actions).

The same random continuous actions are sent once as market orders and once as one-bar limit orders at the
decision close. The effective cost of a fill counts the fee, the slippage and its mark-out to the fill
bar's close (``qty * (fill - close)``: positive when the price moved against the fill): a resting limit
order pays the maker fee and no spread, but fills mostly when the price runs through it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import envs
from asterrl.risk import RiskLimits

START, END = 1_672_531_200_000, 1_704_067_200_000  # 2023


def _year(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    return frame[(frame["timestamp"] >= START) & (frame["timestamp"] < END)].reset_index(drop=True)


def _run(frames: tuple[pd.DataFrame, ...], order_type: str, seed: int, steps: int) -> dict[str, float]:
    bars, funding, mark = frames
    env = envs.AsterPerpEnv(
        data=bars, funding=funding, mark=mark, instrument="BTCUSDT", window=4, episode_length=steps,
        random_start=False, split_fractions=[0.9, 0.05, 0.05], action_type="continuous", deadband=0.05,
        order_type=order_type, risk=RiskLimits(max_leverage=3.0, max_drawdown=1.0, max_daily_loss=1.0),
    )  # fmt: skip
    env.reset(seed=seed)
    close = bars["close"].to_numpy()
    out = {"equity": 0.0, "cost": 0.0, "markout": 0.0, "notional": 0.0, "maker": 0.0}
    for action in np.random.default_rng(seed).uniform(-1.0, 1.0, steps):
        _, _, term, trunc, info = env.step(np.array([action], dtype=np.float32))
        if info["fill_qty"] != 0.0 and info["liquidated"] == 0.0:
            out["cost"] += info["fee"] + info["slippage"]
            out["markout"] += info["fill_qty"] * (info["fill_price"] - close[int(info["bar"])])
            out["notional"] += info["traded_notional"]
            out["maker"] += info["maker_qty"] * info["fill_price"]
        if term or trunc:
            break
    out["equity"] = info["equity"]
    return out


@pytest.mark.slow
@pytest.mark.shared_data
def test_limit_runs_no_longer_beat_market_runs_on_the_same_random_actions(shared_data: Path) -> None:
    frames = (
        _year(shared_data / "perp_ohlcv" / "BTCUSDT_1h.csv.gz"),
        _year(shared_data / "perp_funding" / "BTCUSDT_funding.csv.gz"),
        _year(shared_data / "perp_mark" / "BTCUSDT_mark_1h.csv.gz"),
    )
    runs = {kind: [_run(frames, kind, seed, 1_000) for seed in range(3)] for kind in ("market", "limit")}

    def total(kind: str, key: str) -> float:
        return sum(run[key] for run in runs[kind])

    # Most limit fills rest and pay the maker fee only (1 bp of notional against the taker's 3.5 + spread)...
    assert total("limit", "maker") > 0.9 * total("limit", "notional")
    assert total("limit", "cost") / total("limit", "notional") < total("market", "cost") / total(
        "market", "notional"
    )
    # ...but they fill when the price runs through them: counting the mark-out, a limit fill costs more
    # per notional than a market fill, and on the same actions the limit runs end with less equity.
    effective = {k: (total(k, "cost") + total(k, "markout")) / total(k, "notional") for k in runs}
    assert effective["limit"] > effective["market"]
    assert total("limit", "equity") < total("market", "equity")
