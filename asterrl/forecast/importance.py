"""Permutation importance: how much a model's test-span quality drops when one input column is shuffled.

The column is permuted over the contiguous block of bars the scored rows read (for a sequence model, the
rows' whole windows), which cuts its link to the labels while keeping its distribution. Reported drops are
``IC(original) − IC(permuted)`` and ``log loss(permuted) − log loss(original)``; positive means the column
helps.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from asterrl.forecast.metrics import information_coefficient, log_loss
from asterrl.forecast.models.base import ForecastModel, RowArray


def permutation_importance(
    model: ForecastModel,
    design: npt.NDArray[np.float32],
    rows: RowArray,
    label: npt.NDArray[np.float64],
    columns: tuple[str, ...],
    window: int,
    seed: int,
    repeats: int = 1,
) -> dict[str, dict[str, float]]:
    """``{column: {"ic_drop": ..., "log_loss_increase": ...}}`` averaged over ``repeats`` shuffles.

    :param rows: labelled test rows to score (bar indices into ``design``).
    :param window: bars each forecast reads (1 for the tree models is enough; the plan's window is safe).
    """
    rng = np.random.default_rng(seed)
    y = label[rows]
    up = (y > 0.0).astype(np.float64)
    base = model.predict(design, rows)
    base_ic = information_coefficient(base.ret, y)
    base_ll = log_loss(base.p_up, up)
    lo, hi = int(rows.min()) - window + 1, int(rows.max()) + 1
    out: dict[str, dict[str, float]] = {}
    work = design.copy()
    for j, column in enumerate(columns):
        ic_drop = ll_increase = 0.0
        original = work[lo:hi, j].copy()
        for _ in range(repeats):
            work[lo:hi, j] = original[rng.permutation(original.shape[0])]
            shuffled = model.predict(work, rows)
            ic_drop += base_ic - information_coefficient(shuffled.ret, y)
            ll_increase += log_loss(shuffled.p_up, up) - base_ll
        work[lo:hi, j] = original
        out[column] = {"ic_drop": ic_drop / repeats, "log_loss_increase": ll_increase / repeats}
    return out
