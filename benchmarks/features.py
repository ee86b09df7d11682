"""Benchmark the feature kernels on 1,000,000 bars against TA-Lib and pandas-ta, in one run.

Prints: the first-call (numba compile or cache-load) time; the full feature set (``conf/features/full.yaml``,
every registered column) through ``FeaturePipeline``; and the TA-Lib-common subset timed for asterrl,
TA-Lib and pandas-ta on the same arrays. pandas-ta needs Python >= 3.12, so it runs in a separate
interpreter (``--pandas-ta-python``, default /tmp/pandas_ta_venv/bin/python) on the same data in this run;
when that interpreter is missing the script says so and reports the others.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=2 .venv/bin/python benchmarks/features.py [--bars 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asterrl.features import FeaturePipeline, FeaturesConfig, FeatureSpec, MarketInputs  # noqa: E402

SHARED = ROOT / ".." / "shared" / "data" / "perp_ohlcv" / "BTCUSDT_1h.csv.gz"
HOUR = 3_600_000

#: The TA-Lib-common subset: 12 indicators (asterrl spec, TA-Lib call, pandas-ta call).
COMMON: list[tuple[str, dict, str, str]] = [
    ("sma", {"period": 30}, "SMA(c, 30)", "ta.sma(c, 30)"),
    ("ema", {"period": 30}, "EMA(c, 30)", "ta.ema(c, 30)"),
    ("wma", {"period": 30}, "WMA(c, 30)", "ta.wma(c, 30)"),
    ("rsi", {"period": 14}, "RSI(c, 14)", "ta.rsi(c, 14)"),
    ("macd", {}, "MACD(c, 12, 26, 9)", "ta.macd(c, 12, 26, 9)"),
    ("bbands", {"period": 20, "width": 2.0}, "BBANDS(c, 20, 2.0, 2.0, 0)", "ta.bbands(c, 20, 2.0)"),
    ("atr", {"period": 14}, "ATR(h, l, c, 14)", "ta.atr(h, l, c, 14)"),
    (
        "adx",
        {"period": 14},
        "ADX(h, l, c, 14); PLUS_DI(h, l, c, 14); MINUS_DI(h, l, c, 14)",
        "ta.adx(h, l, c, 14)",
    ),
    ("stoch", {}, "STOCH(h, l, c, 14, 3, 0, 3, 0)", "ta.stoch(h, l, c, 14, 3, 3)"),
    ("cci", {"period": 20}, "CCI(h, l, c, 20)", "ta.cci(h, l, c, 20)"),
    ("obv", {}, "OBV(c, v)", "ta.obv(c, v)"),
    ("mfi", {"period": 14}, "MFI(h, l, c, v, 14)", "ta.mfi(h, l, c, v, 14)"),
]

PANDAS_TA_SCRIPT = """
import json, sys, time, warnings
import numpy as np, pandas as pd, pandas_ta as ta
warnings.filterwarnings("ignore")
data = np.load(sys.argv[1])
h, l, c, v = (pd.Series(data[k]) for k in ("high", "low", "close", "volume"))
calls = json.loads(sys.argv[2])
for expr in calls:  # warm-up on a slice
    hh, ll, cc, vv = h, l, c, v
    h, l, c, v = h[:5000], l[:5000], c[:5000], v[:5000]
    eval(expr)
    h, l, c, v = hh, ll, cc, vv
timings = {}
for expr in calls:
    start = time.perf_counter()
    eval(expr)
    timings[expr] = time.perf_counter() - start
print(json.dumps({"version": ta.version, "timings": timings}))
"""


def build_inputs(n: int, seed: int = 0) -> MarketInputs:
    """``n`` hourly bars: the shared BTCUSDT 1h bars' log returns and bar shapes, repeated end to end (a
    synthetic random walk when the shared data is absent), with taker flow, 8-hourly funding and a reference
    symbol (the same path shifted by a week)."""
    rng = np.random.default_rng(seed)
    if SHARED.exists():
        bars = pd.read_csv(SHARED)
        c0 = bars["close"].to_numpy(float)
        r = np.diff(np.log(c0))
        shape = np.column_stack([bars[k].to_numpy(float)[1:] / c0[1:] for k in ("open", "high", "low")])
        vol = bars["volume"].to_numpy(float)[1:]
        reps = n // r.shape[0] + 1
        r, shape, vol = np.tile(r, reps)[:n], np.tile(shape, (reps, 1))[:n], np.tile(vol, reps)[:n]
    else:
        r = rng.normal(0, 0.008, n)
        shape = np.column_stack(
            [np.exp(rng.normal(0, 0.002, n)), np.exp(np.abs(rng.normal(0, 0.005, n))), np.ones(n)]
        )
        shape[:, 2] = np.exp(-np.abs(rng.normal(0, 0.005, n)))
        vol = rng.lognormal(8, 1, n)
    close = 30_000.0 * np.exp(np.cumsum(r))
    open_ = close * shape[:, 0]
    high = np.maximum(close * shape[:, 1], np.maximum(open_, close))
    low = np.minimum(close * shape[:, 2], np.minimum(open_, close))
    stamps = 1_500_000_000_000 - 1_500_000_000_000 % HOUR + HOUR * np.arange(n, dtype=np.int64)
    funding_ts = stamps[::8] + 8 * HOUR
    return MarketInputs(
        timestamp=stamps, open=open_, high=high, low=low, close=close, volume=vol, interval_ms=HOUR,
        taker_buy_volume=vol * rng.uniform(0.3, 0.7, n), funding_timestamp=funding_ts,
        funding_rate=np.asarray(rng.normal(1e-4, 1e-4, funding_ts.shape[0])),
        reference_close=np.roll(close, 168) * 0.05,
    )  # fmt: skip


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run_pandas_ta(python: Path, inputs: MarketInputs) -> dict | None:
    if not python.exists():
        return None
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "bars.npz"
        np.savez(data, high=inputs.high, low=inputs.low, close=inputs.close, volume=inputs.volume)
        script = Path(folder) / "run.py"
        script.write_text(PANDAS_TA_SCRIPT)
        calls = [call for *_, call in COMMON]
        done = subprocess.run(
            [str(python), str(script), str(data), json.dumps(calls)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        print(f"pandas-ta run failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pandas-ta-python", type=Path, default=Path("/tmp/pandas_ta_venv/bin/python"))
    args = parser.parse_args()

    inputs = build_inputs(args.bars)
    config = OmegaConf.to_object(
        OmegaConf.merge(
            OmegaConf.structured(FeaturesConfig), OmegaConf.load(ROOT / "conf/features/full.yaml")
        )
    )
    assert isinstance(config, FeaturesConfig)
    full = FeaturePipeline.from_config(config)
    source = "shared BTCUSDT 1h, repeated" if SHARED.exists() else "synthetic"
    print(f"bars: {inputs.n_bars:,} (source: {source})")

    start = time.perf_counter()
    full.transform(inputs.head(2000))
    first_call = time.perf_counter() - start
    print(f"first call (numba compile / cache load), full set on 2,000 bars: {first_call:.2f} s")

    t_full = best_of(lambda: full.transform(inputs), args.repeats)
    shape = f"{len(full.specs)} features, {len(full.columns)} columns"
    print(f"asterrl full set ({shape}) -> float32 matrix: {t_full:.3f} s")

    import talib  # tests and benchmarks only

    specs = [FeatureSpec.create(name, params) for name, params, _, _ in COMMON]
    common = FeaturePipeline(specs)
    t_ours = best_of(lambda: common.transform(inputs), args.repeats)
    t_kernels = best_of(lambda: [list(s.compute(inputs)) for s in specs], args.repeats)
    env = {name: getattr(talib, name) for name in dir(talib) if name.isupper()}
    env.update(h=inputs.high, l=inputs.low, c=inputs.close, v=inputs.volume)
    talib_calls = [compile(call, "<talib>", "exec") for _, _, call, _ in COMMON]

    def run_talib() -> None:
        for code in talib_calls:
            exec(code, env)

    t_talib = best_of(run_talib, args.repeats)
    print(f"TA-Lib-common subset ({len(COMMON)} indicators: {', '.join(n for n, *_ in COMMON)}):")
    print(f"  asterrl kernels (float64 arrays):   {t_kernels:.3f} s")
    print(f"  asterrl pipeline (float32 matrix):  {t_ours:.3f} s")
    print(f"  TA-Lib {talib.__version__}:                 {t_talib:.3f} s   (asterrl kernels / TA-Lib = "
          f"{t_kernels / t_talib:.2f})")  # fmt: skip

    peer = run_pandas_ta(args.pandas_ta_python, inputs)
    if peer is None:
        print(
            f"  pandas-ta: not available ({args.pandas_ta_python} missing or failed; it needs Python >= 3.12)"
        )
    else:
        t_pta = sum(peer["timings"].values())
        ratios = f"pandas-ta / asterrl kernels = {t_pta / t_kernels:.0f}x"
        ratios += f"; pandas-ta common / asterrl full set = {t_pta / t_full:.1f}x"
        print(f"  pandas-ta {peer['version']}:            {t_pta:.3f} s   ({ratios})")
        for call, seconds in peer["timings"].items():
            print(f"      {call:32s} {seconds:.3f} s")


if __name__ == "__main__":
    main()
