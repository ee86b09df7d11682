"""Training and validation curves of an experiment's runs, from their TensorBoard events: a table and a plot.

For each training run of the experiment (``<experiment dir>/tensorboard/<run>``): the mean training episode
return (``rl/episode_return_mean``, log equity growth per episode) and the coverage of the training split
against env steps, and the periodic validation evaluations (``trading/net_return``, ``trading/sharpe``,
``trading/max_drawdown``). Writes ``curves.png`` and prints a Markdown table per run::

    python benchmarks/learning_curves.py ~/.asterrl/runs/default --out benchmarks/results/issue9
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.training.tensorboard import read_scalars

TRAIN_TAG = "rl/episode_return_mean"
VALIDATION_TAGS = ("trading/net_return", "trading/sharpe", "trading/max_drawdown")


def runs(experiment: Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Scalars of every training run (a TensorBoard run with training returns) of the experiment."""
    root = experiment / "tensorboard"
    out = {}
    for run in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "compare"):
        scalars = read_scalars(run)
        if TRAIN_TAG in scalars:
            out[run.name] = scalars
    return out


def table(name: str, scalars: dict[str, list[tuple[int, float]]], rows: int = 10) -> str:
    """Markdown: training return (mean over the iterations up to each eval) beside the validation figures."""
    train = scalars[TRAIN_TAG]
    evals = scalars.get(VALIDATION_TAGS[0], [])
    coverage = dict(scalars.get("coverage/bars_visited_share", []))
    lines = [
        f"**{name}**",
        "",
        "| env steps | train return / episode (mean since last row) | coverage | validation net return "
        "| validation Sharpe | validation max DD |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    step = max(1, len(evals) // rows)
    previous = -1
    validation = {tag: dict(scalars.get(tag, [])) for tag in VALIDATION_TAGS}
    for at, _ in evals[step - 1 :: step]:
        window = [v for s, v in train if previous < s <= at]
        mean = sum(window) / len(window) if window else float("nan")
        share = coverage.get(at, float("nan"))
        net, sharpe, mdd = (validation[tag].get(at, float("nan")) for tag in VALIDATION_TAGS)
        lines.append(f"| {at:,} | {mean:+.3f} | {share:.1%} | {net:+.1%} | {sharpe:+.2f} | {mdd:.1%} |")
        previous = at
    return "\n".join(lines)


def plot(curves: dict[str, dict[str, list[tuple[int, float]]]], path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name, scalars in curves.items():
        steps, values = zip(*scalars[TRAIN_TAG], strict=True)
        k = max(1, len(values) // 50)
        smooth = [
            sum(values[max(0, i - k) : i + 1]) / len(values[max(0, i - k) : i + 1])
            for i in range(len(values))
        ]
        axes[0].plot(steps, smooth, label=name)
        if VALIDATION_TAGS[0] in scalars:
            s, v = zip(*scalars[VALIDATION_TAGS[0]], strict=True)
            axes[1].plot(s, [100 * x for x in v], marker="o", label=name)
        if "coverage/bars_visited_share" in scalars:
            s, v = zip(*scalars["coverage/bars_visited_share"], strict=True)
            axes[2].plot(s, [100 * x for x in v], label=name)
    axes[0].set(title="training: episode return (log growth)", xlabel="env steps")
    axes[1].set(title="validation: net return, %", xlabel="env steps")
    axes[2].set(title="training split bars visited, %", xlabel="env steps")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", type=Path, help="experiment folder (<root>/<experiment.name>)")
    parser.add_argument("--out", type=Path, required=True, help="folder for curves.png")
    args = parser.parse_args()
    curves = runs(args.experiment.expanduser())
    if not curves:
        print(f"no training runs with TensorBoard events under {args.experiment}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    plot(curves, args.out / "curves.png")
    for name, scalars in curves.items():
        print(table(name, scalars))
        print()
    print(f"plot: {args.out / 'curves.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
