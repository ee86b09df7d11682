"""How the hybrid agent behaves at its regime switches, on the shared BTCUSDT perp 1h bars.

Prints, for the default hybrid config (``conf/agent/hybrid.yaml``) and the env's action mapping:

* switches into the trend regime (a trending bar after a ranging or flat one), and how many of them hold a
  trend position at once that no breakout on that bar called for — a position the trend rule opened
  while the market was not trending, adopted at the switch;
* the share of the traded target (sum of ``|target[t] - target[t-1]|``, fractions of the position scale,
  proportional to traded notional at a given equity) that falls on bars where the regime changed.

It uses only the public API that every version of the agent has, so the same script measures the code
before and after a change (run it with another checkout first on ``PYTHONPATH``):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/hybrid_regimes.py [--bars FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

SHARED = ROOT / ".." / "shared" / "data" / "perp_ohlcv" / "BTCUSDT_1h.csv.gz"


def regime_switch_figures(close: np.ndarray, high: np.ndarray, low: np.ndarray, regime: np.ndarray,
                          targets: np.ndarray, entry_window: int) -> dict[str, float]:  # fmt: skip
    """Switches into trend, those adopting a position without a breakout on the switch bar, and the share
    of traded target on regime-change bars."""
    from asterrl.features.kernels.rolling import rolling_max, rolling_min

    entry_high = np.r_[np.nan, rolling_max(high, entry_window)[:-1]]
    entry_low = np.r_[np.nan, rolling_min(low, entry_window)[:-1]]
    previous = np.r_[-1.0, regime[:-1]]
    into_trend = np.flatnonzero((regime == 1.0) & (previous != 1.0))
    held = targets[into_trend]
    breakout_long = close[into_trend] > entry_high[into_trend]
    breakout_short = close[into_trend] < entry_low[into_trend]
    adopted = ((held > 0) & ~breakout_long) | ((held < 0) & ~breakout_short)
    traded = np.abs(np.diff(np.r_[0.0, targets]))
    changed = regime != previous
    return {
        "switches into trend": float(into_trend.size),
        "adopting a position without a breakout": float(adopted.sum()),
        "regime-change bars": float(changed.sum()),
        "traded target (position-scale units)": float(traded.sum()),
        "share of it on regime-change bars": float(traded[changed].sum() / traded.sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--bars", type=Path, default=SHARED, help="bar file (default: shared BTCUSDT 1h)")
    args = parser.parse_args()

    from agents.registry import build_rule_agent
    from asterrl.data.io import read_table
    from asterrl.data.schema import DataKind
    from envs.core import build_core
    from experiments.config import load_config
    from experiments.training.environment import action_mapping

    bars = read_table(args.bars, DataKind.OHLCV)[0].sort_values("timestamp").reset_index(drop=True)
    cfg = load_config(["agent=hybrid"])
    core = build_core(config=cfg.env, risk=cfg.risk, data=bars, instrument=cfg.data.symbol,
                      action_type="continuous", episode_length=0, random_start=False)  # fmt: skip
    agent = build_rule_agent(cfg.agent, action_mapping(core)).prepare(bars)
    figures = regime_switch_figures(
        bars["close"].to_numpy(np.float64), bars["high"].to_numpy(np.float64),
        bars["low"].to_numpy(np.float64), np.asarray(agent.regime), agent.targets,
        cfg.agent.trend.entry_window,
    )  # fmt: skip
    span = f"{bars['timestamp'].iloc[0]} .. {bars['timestamp'].iloc[-1]} ms UTC"
    import agents

    print(f"hybrid agent on {args.bars.name}: {len(bars)} bars ({span}), agents from {agents.__file__}")
    for name, value in figures.items():
        print(f"  {name}: {value:.3f}" if "share" in name or "traded" in name else f"  {name}: {value:.0f}")


if __name__ == "__main__":
    main()
