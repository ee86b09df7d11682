"""Adversarial risk campaign: adversarial policies on crash paths, every limit tight, every step checked.

Policies: max long, max short, flipping, martingale, many small orders, random, and random with NaN/inf
(continuous and discrete) actions. Paths: synthetic random walks with 35-50 % intrabar crashes, spikes
and gaps, and (when the shared dataset is beside the repository) real crash windows of BTC, ETH, LTC and
XRP. Each path runs in the vector env (many accounts) and the single env, with market and limit orders.

After every step the campaign checks, per account:

* ``order_leverage``: after an order fills, leverage at the open is within ``max_leverage``;
* ``order_position``: after an order fills, the position notional at the open is within its cap;
* ``order_cap``: traded notional is within ``orders x max_order_notional`` (forced exits included);
* ``halt_flatten``: after a loss-limit halt (stop or breach) the account is flat;
* ``held_drift``: a held position's leverage / notional at the open never exceeds its limit by more than
  ``drift_tolerance`` (the drift found at one open is trimmed at that open);
* ``bad_input_trade``: a non-finite or out-of-range action never trades beyond the forced risk exits;

and collects the realised loss beyond the loss limit at every halt (``loss_overshoot``).

    python benchmarks/risk_campaign.py            # the full campaign (minutes)
    python benchmarks/risk_campaign.py --quick    # what the test suite runs
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs
from asterrl.risk import RiskLimits
from asterrl.risk.gate import HALT
from asterrl.sim.layout import Market

HOUR = 3_600_000
#: Every limit tight: 2x leverage, 1.5x position cap, 2000 USDT orders on a 10000 USDT account.
LIMITS = RiskLimits(
    max_leverage=2.0,
    max_position_notional=15_000.0,
    max_order_notional=2_000.0,
    max_drawdown=0.10,
    max_daily_loss=0.05,
    max_orders_per_minute=20,
    max_data_age_ms=120_000.0,
    price_band=0.02,
    drift_tolerance=0.05,
)
CHECKS = ("order_leverage", "order_position", "order_cap", "halt_flatten", "held_drift", "bad_input_trade")
#: Real crash windows (UTC day the crash starts, symbol): 7 days before it, 5 after.
CRASHES = tuple(
    (symbol, day)
    for day, symbols in (
        ("2020-03-12", "BTCUSDT ETHUSDT LTCUSDT XRPUSDT"),
        ("2021-05-19", "BTCUSDT ETHUSDT LTCUSDT XRPUSDT"),
        ("2022-06-13", "LTCUSDT"),
        ("2022-11-08", "BTCUSDT ETHUSDT"),
        ("2023-07-13", "XRPUSDT"),
    )
    for symbol in symbols.split()
)


@dataclass
class MarketPath:
    """One market: bars (+ funding, mark) and the symbol whose instrument trades it."""

    name: str
    symbol: str
    bars: pd.DataFrame
    funding: pd.DataFrame | None = None
    mark: pd.DataFrame | None = None


@dataclass
class Tally:
    """What the campaign saw: steps, orders, violations per check, and the loss overshoots at halts."""

    steps: int = 0
    orders: int = 0
    halts: int = 0
    bad_actions: int = 0
    violations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    overshoots: list[float] = field(default_factory=list)
    stop_overshoots: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.steps += other.steps
        self.orders += other.orders
        self.halts += other.halts
        self.bad_actions += other.bad_actions
        for key, count in other.violations.items():
            self.violations[key] += count
        self.overshoots.extend(other.overshoots)
        self.stop_overshoots.extend(other.stop_overshoots)
        self.examples.extend(other.examples[: max(0, 5 - len(self.examples))])


def synthetic_paths(count: int, seed: int, n_bars: int = 600) -> list[MarketPath]:
    """Random walks near 20000, 1.5 and 0.05 USDT (BTC, LTC-like and DOGE-like prices, traded as BTCUSDT,
    XRPUSDT and TRXUSDT) with a 35-50 % intrabar crash, a 40-70 % spike and a 20-40 % gap open each."""
    rng = np.random.default_rng(seed)
    out = []
    for n in range(count):
        symbol, start = [("BTCUSDT", 20_000.0), ("XRPUSDT", 1.5), ("TRXUSDT", 0.05)][n % 3]
        close = start * np.exp(np.cumsum(rng.normal(0.0, 0.008, n_bars)))
        open_ = np.concatenate(([close[0]], close[:-1]))
        high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.004, n_bars)))
        low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.004, n_bars)))
        for event in rng.choice(np.arange(50, n_bars - 50), size=3, replace=False):
            kind = rng.integers(0, 3)
            if kind == 0:  # intrabar crash: the bar trades 35-50 % down and closes halfway back
                low[event] = open_[event] * (1.0 - rng.uniform(0.35, 0.50))
                close[event:] *= (0.5 * (open_[event] + low[event])) / close[event]
            elif kind == 1:  # spike up 40-70 %
                high[event] = open_[event] * (1.0 + rng.uniform(0.40, 0.70))
                close[event:] *= (0.5 * (open_[event] + high[event])) / close[event]
            else:  # a gap: the bar opens 20-40 % away
                factor = 1.0 + rng.choice([-1.0, 1.0]) * rng.uniform(0.20, 0.40)
                close[event:] *= factor
                open_[event] *= factor
            open_[event + 1 :] = close[event:-1]
            high = np.maximum(high, np.maximum(open_, close))
            low = np.minimum(low, np.minimum(open_, close))
        ts = 1_672_531_200_000 + HOUR * np.arange(n_bars, dtype=np.int64)
        volume = rng.uniform(50.0, 500.0, n_bars) * 20_000.0 / start
        frame = pd.DataFrame({"timestamp": ts, "open": open_, "high": high, "low": low, "close": close,
                              "volume": volume})  # fmt: skip
        out.append(MarketPath(f"synthetic-{n}-{symbol}", symbol, frame))
    return out


def shared_paths(root: Path) -> list[MarketPath]:
    """The real crash windows of ``CRASHES`` from the shared dataset (none when it is missing)."""
    out = []
    for symbol, day in CRASHES:
        bars_file = root / "perp_ohlcv" / f"{symbol}_1h.csv.gz"
        if not bars_file.exists():
            continue
        centre = pd.Timestamp(day, tz="UTC").value // 1_000_000
        lo, hi = centre - 7 * 24 * HOUR, centre + 5 * 24 * HOUR

        def window(path: Path, lo: int = lo, hi: int = hi) -> pd.DataFrame | None:
            if not path.exists():
                return None
            frame = pd.read_csv(path)
            return frame[(frame["timestamp"] >= lo) & (frame["timestamp"] < hi)].reset_index(drop=True)

        bars = window(bars_file)
        assert bars is not None
        funding = window(root / "perp_funding" / f"{symbol}_funding.csv.gz")
        mark = window(root / "perp_mark" / f"{symbol}_mark_1h.csv.gz")
        out.append(MarketPath(f"{symbol}-{day}", symbol, bars, funding, mark))
    return out


Policy = Callable[[int, np.random.Generator, npt.NDArray[np.float64]], npt.NDArray[np.float64]]


def _martingale(t: int, rng: np.random.Generator, last: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Doubles the stake after every losing step (the sign of ``last``: the previous step's equity change)."""
    stake = np.where(last < 0.0, 1.0, 0.125) * np.where(rng.random(last.shape[0]) < 0.5, 1.0, -1.0)
    return np.clip(stake * 2.0 ** (t % 4), -1.0, 1.0)


def _with_bad(t: int, rng: np.random.Generator, last: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    actions = rng.uniform(-1.0, 1.0, last.shape[0])
    bad = rng.random(last.shape[0]) < 0.3
    actions[bad] = rng.choice([math.nan, math.inf, -math.inf, 1.5, -7.0], size=int(bad.sum()))
    return actions


POLICIES: dict[str, Policy] = {
    "max_long": lambda t, rng, last: np.ones(last.shape[0]),
    "max_short": lambda t, rng, last: -np.ones(last.shape[0]),
    "flipping": lambda t, rng, last: np.full(last.shape[0], 1.0 if t % 2 == 0 else -1.0),
    "martingale": _martingale,
    "many_small": lambda t, rng, last: np.round(rng.uniform(-1.0, 1.0, last.shape[0]), 3) * 0.05 + 0.9,
    "random": lambda t, rng, last: rng.uniform(-1.0, 1.0, last.shape[0]),
    "bad_input": _with_bad,
    "bad_discrete": lambda t, rng, last: np.where(
        rng.random(last.shape[0]) < 0.3,
        rng.choice([math.nan, math.inf, 7.0, 2.5], last.shape[0]),
        rng.integers(0, 5, last.shape[0]).astype(np.float64),
    ),
}


def _env_kwargs(path: MarketPath, policy: str, order_type: str) -> dict[str, Any]:
    return {
        "data": path.bars, "funding": path.funding, "mark": path.mark, "instrument": path.symbol,
        "risk": LIMITS, "window": 4, "episode_length": 0, "split_fractions": [0.96, 0.02, 0.02],
        "action_type": "discrete" if policy == "bad_discrete" else "continuous",
        "deadband": 0.0 if policy != "many_small" else 0.001, "order_type": order_type,
    }  # fmt: skip


def _check(info: dict[str, npt.NDArray[np.float64]], actions: npt.NDArray[np.float64], discrete: bool,
           value_open: npt.NDArray[np.float64], tally: Tally, where: str) -> None:  # fmt: skip
    """Apply every check to one step's report arrays (one entry per account)."""
    live = info["autoreset"] == 0.0
    tally.steps += int(live.sum())
    tally.orders += int(info["orders"][live].sum())
    liquidated = info["liquidated"] != 0.0
    stopped = info["stop_filled"] != 0.0
    halted = ((info["risk_flags"].astype(np.int64) & HALT) != 0) | stopped
    position = info["position"]
    open_value = value_open[info["bar"].astype(np.int64)]
    at_open = live & ~liquidated & ~stopped & ~halted  # the position after the step is the one at the open
    filled = at_open & (info["fill_qty"] != 0.0)
    slack = 1.0 + 1e-9
    tol = 1.0 + LIMITS.drift_tolerance
    over_leverage = info["gate_leverage"] > LIMITS.max_leverage * tol * slack
    over_notional = np.abs(position) * open_value > LIMITS.max_position_notional * tol * slack
    found = {
        "order_leverage": filled & (info["gate_leverage"] > LIMITS.max_leverage * slack),
        "order_position": filled & (np.abs(position) * open_value > LIMITS.max_position_notional * slack),
        "order_cap": live & ~liquidated
        & (info["traded_notional"] > info["orders"] * LIMITS.max_order_notional * slack + 1e-6),
        "halt_flatten": live & halted & (position != 0.0),
        "held_drift": at_open & (over_leverage | over_notional),
        "bad_input_trade": np.zeros_like(live),
    }  # fmt: skip
    if discrete:
        bad = (
            ~np.isfinite(actions)
            | (actions != np.floor(np.nan_to_num(actions)))
            | (actions < 0)
            | (actions >= 5)
        )
    else:
        bad = ~np.isfinite(actions) | (np.abs(np.nan_to_num(actions)) > 1.0 + 1e-6)
    bad &= live
    tally.bad_actions += int(bad.sum())
    found["bad_input_trade"] = bad & ~liquidated & (np.abs(info["fill_qty"]) > info["forced_qty"] + 1e-9)
    for key, mask in found.items():
        count = int(mask.sum())
        if count:
            tally.violations[key] += count
            if len(tally.examples) < 5:
                i = int(np.flatnonzero(mask)[0])
                tally.examples.append(f"{key} at {where} bar {int(info['bar'][i])}: "
                                      + ", ".join(f"{k}={v[i]:.6g}" for k, v in info.items()))  # fmt: skip
    tally.halts += int((live & halted).sum())
    tally.overshoots.extend(info["loss_overshoot"][live & halted].tolist())
    tally.stop_overshoots.extend(info["loss_overshoot"][live & stopped].tolist())


def run_vector(path: MarketPath, policy: str, order_type: str, accounts: int, steps: int, seed: int) -> Tally:
    """``accounts`` accounts of the vector env for ``steps`` steps of ``policy``."""
    tally = Tally()
    env = envs.AsterPerpVectorEnv(accounts, **_env_kwargs(path, policy, order_type))
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    value_open = env.core.data.values[:, Market.VALUE_OPEN]
    discrete = policy == "bad_discrete"
    last = np.zeros(accounts)
    for t in range(steps):
        actions = POLICIES[policy](t, rng, last)
        sent = actions if discrete else actions.reshape(accounts, 1)
        _, reward, _, _, info = env.step(sent)
        last = np.asarray(reward)
        _check(info, actions, discrete, value_open, tally, f"{path.name}/{policy}/{order_type}/vector")
    return tally


def run_single(path: MarketPath, policy: str, order_type: str, steps: int, seed: int) -> Tally:
    """One single env for ``steps`` steps of ``policy`` (the single env's own kernel entry)."""
    tally = Tally()
    env = envs.AsterPerpEnv(**_env_kwargs(path, policy, order_type))
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    value_open = env.core.data.values[:, Market.VALUE_OPEN]
    discrete = policy == "bad_discrete"
    last = np.zeros(1)
    for t in range(steps):
        actions = POLICIES[policy](t, rng, last)
        sent = float(actions[0]) if discrete else np.array([actions[0]])
        _, reward, term, trunc, info = env.step(sent)
        last = np.array([reward])
        arrays = {key: np.array([value], dtype=np.float64) for key, value in info.items()}
        _check(arrays, actions, discrete, value_open, tally, f"{path.name}/{policy}/{order_type}/single")
        if term or trunc:
            env.reset()
    return tally


def campaign(paths: list[MarketPath], accounts: int, steps: int, single_steps: int, seed: int = 0) -> Tally:
    """Every path x policy x order type, in the vector env and the single env."""
    total = Tally()
    for p, path in enumerate(paths):
        for q, policy in enumerate(POLICIES):
            for order_type in ("market", "limit"):
                run_seed = seed + 1_000 * p + 10 * q + (order_type == "limit")
                total.add(run_vector(path, policy, order_type, accounts, steps, run_seed))
                total.add(run_single(path, policy, order_type, single_steps, run_seed))
    return total


def report(tally: Tally, seconds: float) -> str:
    """The campaign's figures as text."""
    lines = [
        f"env steps {tally.steps:,}, orders {tally.orders:,}, halts {tally.halts:,}, "
        f"non-finite/out-of-range actions {tally.bad_actions:,} ({seconds:.0f} s)",
        "violations: " + ", ".join(f"{k} {v}" for k, v in tally.violations.items()),
    ]
    for label, values in (("all halts", tally.overshoots), ("in-bar stops", tally.stop_overshoots)):
        over = np.asarray(values) * 100.0
        if over.size:
            lines.append(
                f"loss overshoot beyond the limit, {label} (percentage points of the limit's base): worst "
                f"{over.max():.3f}, p99 {np.percentile(over, 99):.3f}, median {np.median(over):.3f} "
                f"({over.size})"
            )
    lines.extend(tally.examples)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the test suite's small campaign")
    parser.add_argument(
        "--shared-data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    started = time.perf_counter()
    if args.quick:
        tally = campaign(synthetic_paths(3, seed=1, n_bars=300), accounts=16, steps=120, single_steps=60)
    else:
        paths = synthetic_paths(12, seed=1) + shared_paths(args.shared_data)
        print(f"paths: {len(paths)} ({', '.join(p.name for p in paths)})", flush=True)
        tally = campaign(paths, accounts=64, steps=300, single_steps=300)
    print(report(tally, time.perf_counter() - started))
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
