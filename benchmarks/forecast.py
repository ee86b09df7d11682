"""Benchmark ``asterrl forecast`` on the default config: fit time of every model per fold, in one run.

Trains the default walk-forward (``conf/forecast/default.yaml``, 4 expanding folds, all five base models
and the stacked ensemble) on the shared BTCUSDT 1h perpetual (2020-01-01 .. 2023-12-31, ~35k bars), or on
the seeded synthetic market with ``--data synthetic``. Prints the machine, the data, a markdown table of fit
seconds per model and fold (the models are each other's peers: same folds, same features, same thread),
inference throughput of the final models and the pooled out-of-fold scores beside the naive baselines.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=2 .venv/bin/python benchmarks/forecast.py [--data shared] [k=v ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asterrl.features import MarketInputs  # noqa: E402
from asterrl.forecast import Forecaster, train_forecasts  # noqa: E402
from experiments.commands.forecast import _load  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", choices=("shared", "synthetic"), default="shared")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. forecast.folds.n_folds=3")
    args = parser.parse_args()
    os.environ.setdefault("ASTERRL_SHARED_DATA", str(ROOT / ".." / "shared" / "data"))
    data = ["data=shared_btcusdt_1h"] if args.data == "shared" else ["data=synthetic"]
    cfg, forecast = _load([*data, *args.overrides])
    cuda = "yes" if torch.cuda.is_available() else "no"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, cuda {cuda}, "
          f"torch threads {forecast.torch_threads}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        run = train_forecasts(cfg.data, cfg.features, forecast, int(cfg.seed), Path(tmp) / "fc")
        result = run.result
        plan = result.plan
        print(f"data: {cfg.data.symbol} {cfg.data.interval} ({args.data}), {plan.n_bars} bars, "
              f"{len(result.plan.folds)} folds ({plan.scheme}), first forecast row {plan.first_test_row}, "
              f"horizon {plan.horizon}, window {forecast.window}")  # fmt: skip
        print(
            f"wall time of the whole run (data, features, folds, importance, report): {run.seconds:.1f} s\n"
        )
        heads = " | ".join(f"fold {f.index} (fit rows)" for f in plan.folds)
        print(f"| model | {heads} | total s |")
        print("|---|" + "---:|" * (len(plan.folds) + 1))
        for name, seconds in result.train_seconds.items():
            cells = " | ".join(
                f"{s:.2f} ({f.fit_end - f.fit_start})" for s, f in zip(seconds, plan.folds, strict=False)
            )
            print(f"| {name} | {cells} | {sum(seconds):.2f} |")
        forecaster = Forecaster.load(run.directory)
        from asterrl.data.market import load_market

        market = load_market(cfg.data, int(cfg.seed), show_progress=False)
        inputs = MarketInputs.from_frames(market.bars, market.funding)
        started = time.perf_counter()
        forecaster.predict(inputs, last=1)
        one = time.perf_counter() - started
        started = time.perf_counter()
        forecaster.predict(inputs, last=5000)
        many = time.perf_counter() - started
        print(f"\nlive forecast from {inputs.n_bars} bars of history: newest bar {one * 1e3:.0f} ms "
              f"(features recomputed over the whole history), 5000 newest bars {many:.2f} s")  # fmt: skip
        print("\npooled out-of-fold scores | dir. acc. | IC | RMSE | log loss | rows")
        for item in result.pooled_metrics:
            da, ic = item["directional_accuracy"], item["information_coefficient"]
            print(f"{item['model']:<14} | {da:.4f} | {ic:+.4f} | {item['rmse']:.6f} | {item['log_loss']:.4f} "
                  f"| {int(item['n_rows'])}")  # fmt: skip


if __name__ == "__main__":
    main()
