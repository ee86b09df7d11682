"""The forecast report: per-fold and pooled scores beside the naive baselines, fit times and feature
importances, as markdown and as TensorBoard scalars."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from asterrl.forecast.walkforward import BASELINES, WalkForwardResult

METRICS = ("directional_accuracy", "information_coefficient", "rmse", "log_loss")
_HEAD = "| {} | dir. acc. | IC | RMSE | log loss | rows |"
_RULE = "|---|---:|---:|---:|---:|---:|"


def _num(value: float, digits: int = 4) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _row(label: str, item: dict[str, Any]) -> str:
    values = " | ".join(_num(item[k], 6 if k == "rmse" else 4) for k in METRICS)
    return f"| {label} | {values} | {int(item['n_rows'])} |"


def markdown_report(result: WalkForwardResult, title: str, header: dict[str, str]) -> str:
    """Markdown with the fold plan, metric tables (models then baselines), fit times and importances."""
    plan = result.plan
    lines = [f"# {title}", ""]
    lines += [f"- {k}: {v}" for k, v in header.items()]
    lines += [
        f"- folds: {len(plan.folds)} ({plan.scheme}), horizon {plan.horizon} bars, purge {plan.horizon}"
        f"+{plan.purge} bars, embargo {plan.embargo} bars; bars before row {plan.first_test_row} have no "
        "out-of-fold forecast",
        "- directional accuracy: share of rows where the return forecast's sign matches the label's (zero "
        "forecasts excluded, hence – for the zero baseline); IC: Spearman rank correlation of the return "
        "forecast with the label; RMSE in log-return units; log loss of P(up) in nats "
        "(ln 2 = 0.6931 for P = 0.5)",
        "",
        "## Pooled out-of-fold scores",
        "",
        _HEAD.format("model"),
        _RULE,
    ]
    lines += [_row(item["model"], item) for item in result.pooled_metrics]
    lines += ["", "## Per fold", ""]
    for fold in plan.folds:
        items = [m for m in result.fold_metrics if m["fold"] == fold.index]
        if not items:
            continue
        lines += [
            f"### Fold {fold.index}: fit rows {fold.fit_start}..{fold.fit_end - 1}, validation "
            f"{fold.val_start}..{fold.val_end - 1}, test {fold.test_start}..{fold.test_end - 1}",
            "",
            _HEAD.format("model"),
            _RULE,
        ]
        lines += [_row(m["model"] + (" (baseline)" if m["model"] in BASELINES else ""), m) for m in items]
        lines.append("")
    fold_heads = " | ".join(f"fold {f.index}" for f in plan.folds)
    lines += ["## Fit time per fold (seconds)", "", f"| model | {fold_heads} | total |"]
    lines.append("|---|" + "---:|" * (len(plan.folds) + 1))
    for name, seconds in result.train_seconds.items():
        cells = " | ".join(f"{s:.2f}" for s in seconds[: len(plan.folds)])
        lines.append(f"| {name} | {cells} | {sum(seconds):.2f} |")
    lines += ["", *importance_tables(result)]
    return "\n".join(lines) + "\n"


def importance_tables(result: WalkForwardResult, top: int = 10) -> list[str]:
    """Top columns by gain (trees, mean share over folds) and by permutation (last fold's test span)."""
    lines = ["## Feature importance", ""]
    for name, gains in result.gain.items():
        by_gain = sorted(gains.items(), key=lambda kv: -kv[1])[:top]
        lines += [f"### {name}: gain share (mean over folds)", "", "| column | share |", "|---|---:|"]
        lines += [f"| {c} | {g:.4f} |" for c, g in by_gain] + [""]
    for name, table in result.permutation.items():
        ranked = sorted(table.items(), key=lambda kv: -kv[1]["ic_drop"])[:top]
        lines += [
            f"### {name}: permutation (last fold's test span)",
            "",
            "| column | IC drop | log-loss increase |",
            "|---|---:|---:|",
        ]
        lines += [f"| {c} | {v['ic_drop']:.4f} | {v['log_loss_increase']:.5f} |" for c, v in ranked] + [""]
    return lines


def write_tensorboard(result: WalkForwardResult, log_dir: Path) -> None:
    """Scalars ``fold/<metric>/<model>`` (step = fold), ``pooled/<metric>/<model>`` and
    ``fit_seconds/<model>``."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        for item in result.fold_metrics:
            for metric in METRICS:
                value = float(item[metric])
                if np.isfinite(value):
                    writer.add_scalar(f"fold/{metric}/{item['model']}", value, int(item["fold"]))
        for item in result.pooled_metrics:
            for metric in METRICS:
                value = float(item[metric])
                if np.isfinite(value):
                    writer.add_scalar(f"pooled/{metric}/{item['model']}", value, 0)
        for name, seconds in result.train_seconds.items():
            for step, value in enumerate(seconds):
                writer.add_scalar(f"fit_seconds/{name}", value, step)
    finally:
        writer.close()
