"""Benchmark the feature kernels on 1,000,000 bars against TA-Lib and pandas-ta, in one run.

Prints the machine it sees, the first-call (numba compile or cache-load) time, then a markdown table: the
TA-Lib-common subset timed for TA-Lib, asterrl (kernels and pipeline) and pandas-ta on the same arrays, and
the full feature set (``conf/features/full.yaml``, every registered column) through ``FeaturePipeline``.
Timings are best of ``--repeats`` with warm numba; both TA-Lib and asterrl keep every output until the run
ends. pandas-ta needs Python >= 3.12, so it runs in a separate
interpreter (``--pandas-ta-python``, default /tmp/pandas_ta_venv/bin/python) on the same data in this run;
when that interpreter is missing the script says so and reports the others.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=2 .venv/bin/python benchmarks/features.py [--bars 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numba
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
    """Best wall time of ``repeats`` calls (seconds); each call's result is kept until it returns."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
        del result
    return best


def machine() -> str:
    """What the script sees of the machine: CPU model, cores, load, versions."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line
        ]
        model = names[0] if names else model
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "n/a"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    env = " ".join(f"{k}={os.environ.get(k, '-')}" for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS"))
    return (
        f"{model}; os.cpu_count()={os.cpu_count()}, len(os.sched_getaffinity(0))={affinity}; "
        f"load average {load}; {env}; Python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}"
    )


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
    parser.add_argument("--repeats", type=int, default=5)
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
    print(f"machine: {machine()}")
    print(f"bars: {inputs.n_bars:,} (source: {source}); best of {args.repeats} repeats, warm numba")

    start = time.perf_counter()
    full.transform(inputs.head(2000))
    first_call = time.perf_counter() - start
    cached = any(ROOT.glob("asterrl/features/**/__pycache__/*.nbi"))
    how = "numba cache load" if cached else "numba compile"
    print(f"first call ({how}), full set on 2,000 bars: {first_call:.2f} s (excluded below)")

    import talib  # tests and benchmarks only

    # TA-Lib-common subset, same float64 arrays in and out for both; every output is kept until the run
    # ends (what a caller does with them), so both pay for fresh output memory alike.
    specs = [FeatureSpec.create(name, params) for name, params, _, _ in COMMON]
    common = FeaturePipeline(specs)
    env = {name: getattr(talib, name) for name in dir(talib) if name.isupper()}
    env.update(h=inputs.high, l=inputs.low, c=inputs.close, v=inputs.volume)
    talib_calls = [compile(f"_ = ({call.replace(';', ',')},)", "<talib>", "exec") for _, _, call, _ in COMMON]

    def run_talib() -> list[object]:
        kept = []
        for code in talib_calls:
            exec(code, env)
            kept.append(env["_"])
        return kept

    def run_ours() -> list[list[tuple[str, np.ndarray, bool]]]:
        return [list(spec.compute(inputs)) for spec in specs]

    run_talib()
    run_ours()
    t_talib = t_kernels = np.inf
    for _ in range(2):  # interleaved, so that both see the same machine load
        t_talib = min(t_talib, best_of(run_talib, args.repeats))
        t_kernels = min(t_kernels, best_of(run_ours, args.repeats))
    # The same with each output dropped as soon as it is made (memory reused: no fresh-page faults).
    talib_drop = [compile(call, "<talib>", "exec") for _, _, call, _ in COMMON]  # "a; b" runs both

    def run_talib_drop() -> None:
        for code in talib_drop:
            exec(code, env)

    def run_ours_drop() -> None:
        for spec in specs:
            for _ in spec.compute(inputs):
                pass

    t_talib_drop = t_kernels_drop = np.inf
    for _ in range(2):
        t_talib_drop = min(t_talib_drop, best_of(run_talib_drop, args.repeats))
        t_kernels_drop = min(t_kernels_drop, best_of(run_ours_drop, args.repeats))
    t_common = best_of(lambda: common.transform(inputs), args.repeats)
    t_full = best_of(lambda: full.transform(inputs), args.repeats)
    peer = run_pandas_ta(args.pandas_ta_python, inputs)

    names = ", ".join(n for n, *_ in COMMON)
    shape = f"{len(full.specs)} features, {len(full.columns)} columns"
    print()
    print(f"| {args.bars:,} bars | seconds | ratio |")
    print("|---|---|---|")
    print(f"| TA-Lib {talib.__version__}, common subset ({len(COMMON)}: {names}) | {t_talib:.3f} | 1.00 |")
    print(f"| asterrl kernels, same subset (float64 arrays) | {t_kernels:.3f} | {t_kernels / t_talib:.2f} |")
    print(f"| asterrl pipeline, same subset (float32 matrix) | {t_common:.3f} | {t_common / t_talib:.2f} |")
    print(
        f"| TA-Lib, same subset, each output dropped at once | {t_talib_drop:.3f} | "
        f"{t_talib_drop / t_talib:.2f} |"
    )
    print(
        f"| asterrl kernels, same subset, each output dropped at once | {t_kernels_drop:.3f} | "
        f"{t_kernels_drop / t_talib:.2f} |"
    )
    if peer is None:
        print(
            f"| pandas-ta: not available ({args.pandas_ta_python} missing or failed; "
            "needs Python >= 3.12) | | |"
        )
    else:
        t_pta = sum(peer["timings"].values())
        print(f"| pandas-ta {peer['version']}, same subset | {t_pta:.3f} | {t_pta / t_talib:.2f} |")
    print(f"| asterrl full set ({shape}) -> float32 matrix | {t_full:.3f} | |")
    print()
    kept, dropped = t_kernels / t_talib, t_kernels_drop / t_talib_drop
    subset_met = "met" if max(kept, dropped) <= 1.0 else "MISSED"
    full_met = "met" if t_full < 1.0 else "MISSED"
    print(
        f"targets: asterrl subset / TA-Lib {kept:.2f} (outputs kept), {dropped:.2f} (dropped): {subset_met}; "
        f"full set < 1 s: {t_full:.3f} s: {full_met}",
        end="",
    )
    if peer is not None:
        ratio = sum(peer["timings"].values()) / t_kernels
        print(f"; >= 20x faster than pandas-ta: {ratio:.0f}x ({'met' if ratio >= 20 else 'MISSED'})")
        for call, seconds in peer["timings"].items():
            print(f"    pandas-ta {call:32s} {seconds:.3f} s")
    else:
        print()


if __name__ == "__main__":
    main()
