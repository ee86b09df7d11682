"""Walk-forward fold plans with a purge and an embargo.

Rows are bar indices. A row's label window is bars ``(t, t+h]`` (its label needs ``close[t+h]``). For a test
span ``[s, e)``:

* the **purge** drops every training row whose label window reaches into the test span
  (``t + h + purge >= s`` for ``t < s``), so each training label is known before the first test forecast;
* the **embargo** drops the ``embargo >= h`` rows after the span (``e <= t < e + embargo``), whose features
  overlap the test labels; it matters when training rows lie after a test span, and is enforced by
  ``purged_training_mask`` for any layout.

Expanding and rolling plans train only on bars before each test span, so every out-of-fold forecast comes
from a model that never saw any bar at or after that forecast's bar. Early stopping uses the last
``val_fraction`` of each training span, purged from the rows fitted on in the same way.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from asterrl.errors import DataError
from asterrl.forecast.config import FoldConfig, FoldScheme

#: Fewest rows a fold may fit on.
MIN_FIT_ROWS = 32


@dataclass(frozen=True)
class Fold:
    """One fold as half-open row ranges: fit ``[fit_start, fit_end)``, early-stopping validation
    ``[val_start, val_end)``, test ``[test_start, test_end)`` (empty for a refit on all labelled rows)."""

    index: int
    fit_start: int
    fit_end: int
    val_start: int
    val_end: int
    test_start: int
    test_end: int

    @property
    def fit_rows(self) -> npt.NDArray[np.int64]:
        return np.arange(self.fit_start, self.fit_end, dtype=np.int64)

    @property
    def val_rows(self) -> npt.NDArray[np.int64]:
        return np.arange(self.val_start, self.val_end, dtype=np.int64)

    @property
    def test_rows(self) -> npt.NDArray[np.int64]:
        return np.arange(self.test_start, self.test_end, dtype=np.int64)


@dataclass(frozen=True)
class FoldPlan:
    """Every fold of a walk-forward plus what produced it (saved as ``fold_plan.json``)."""

    folds: tuple[Fold, ...]
    n_bars: int
    first_row: int
    horizon: int
    purge: int
    embargo: int
    scheme: str
    timestamps: tuple[int, ...] = ()

    @property
    def first_test_row(self) -> int:
        """Bars before this row get no out-of-fold forecast (NaN)."""
        return self.folds[0].test_start

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plan; ``*_ms`` give each boundary's bar open time (UTC ms) when timestamps are known."""
        folds = []
        for fold in self.folds:
            item: dict[str, Any] = asdict(fold)
            if self.timestamps:
                for key in ("fit_start", "val_start", "test_start"):
                    row = item[key]
                    item[f"{key}_ms"] = self.timestamps[row] if row < len(self.timestamps) else None
            folds.append(item)
        return {
            "n_bars": self.n_bars,
            "first_row": self.first_row,
            "horizon": self.horizon,
            "purge": self.purge,
            "embargo": self.embargo,
            "scheme": self.scheme,
            "folds": folds,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> FoldPlan:
        keys = ("index", "fit_start", "fit_end", "val_start", "val_end", "test_start", "test_end")
        folds = tuple(Fold(**{k: int(item[k]) for k in keys}) for item in payload["folds"])
        return cls(
            folds, int(payload["n_bars"]), int(payload["first_row"]), int(payload["horizon"]),
            int(payload["purge"]), int(payload["embargo"]), str(payload["scheme"]),
        )  # fmt: skip


def purged_training_mask(
    n_bars: int, test_start: int, test_end: int, horizon: int, purge: int = 0, embargo: int = 0
) -> npt.NDArray[np.bool_]:
    """Rows that may train a model tested on ``[test_start, test_end)``.

    False for the test rows, for rows before the span whose label window ``(t, t+h]`` (widened by
    ``purge`` bars) reaches the span, for the ``embargo`` rows after the span, and for the last ``h`` rows
    (no label yet).
    """
    rows = np.arange(n_bars)
    before = rows + horizon + purge < test_start
    after = rows >= test_end + embargo
    labelled = rows < n_bars - horizon
    return (before | after) & labelled


def _split_validation(index: int, lo: int, hi: int, test: tuple[int, int], gap: int, share: float) -> Fold:
    """Carve the validation slice off the end of training rows ``[lo, hi)`` and purge before it."""
    n_train = hi - lo
    n_val = max(1, math.ceil(share * n_train))
    val_start = hi - n_val
    fit_end = val_start - gap
    if fit_end - lo < MIN_FIT_ROWS:
        raise DataError(
            f"fold {index}: only {max(fit_end - lo, 0)} rows to fit on after the purge; "
            "load more bars or lower forecast.folds.n_folds / min_train_fraction"
        )
    return Fold(index, lo, fit_end, val_start, hi, test[0], test[1])


def make_fold_plan(
    n_bars: int,
    first_row: int,
    horizon: int,
    config: FoldConfig,
    embargo: int,
    timestamps: npt.NDArray[np.int64] | None = None,
) -> FoldPlan:
    """Consecutive test spans covering ``[first test row, n_bars)`` and their purged training spans.

    :param n_bars: bars in the data (the last ``horizon`` are unlabelled but still get forecasts).
    :param first_row: first row whose model inputs are defined (feature warm-up + window − 1).
    :param horizon: label horizon ``h`` in bars.
    :param config: scheme, number of folds, training share, purge, rolling length and validation share.
    :param embargo: bars embargoed after each test span (>= ``horizon``).
    """
    gap = horizon + config.purge
    usable = n_bars - first_row
    first_test = first_row + math.ceil(config.min_train_fraction * usable)
    n_test = n_bars - first_test
    if usable <= 0 or n_test < config.n_folds:
        raise DataError(
            f"{n_bars} bars leave {max(n_test, 0)} test rows past the {first_row}-row warm-up and the "
            f"training share; need at least {config.n_folds}"
        )
    rolling = config.scheme is FoldScheme.ROLLING
    train_bars = config.train_bars or first_test - gap - first_row
    edges = [first_test + (n_test * k) // config.n_folds for k in range(config.n_folds + 1)]
    folds = []
    for k in range(config.n_folds):
        s, e = edges[k], edges[k + 1]
        hi = s - gap
        lo = max(first_row, hi - train_bars) if rolling else first_row
        fold = _split_validation(k, lo, hi, (s, e), gap, config.val_fraction)
        mask = purged_training_mask(n_bars, s, e, horizon, config.purge, embargo)
        if not mask[fold.fit_start : fold.val_end].all():  # pragma: no cover - guards the arithmetic
            raise AssertionError("fold training rows violate the purge")
        folds.append(fold)
    stamps = tuple(int(t) for t in timestamps) if timestamps is not None else ()
    return FoldPlan(
        tuple(folds), n_bars, first_row, horizon, config.purge, embargo, config.scheme.value, stamps
    )


def refit_fold(plan: FoldPlan, config: FoldConfig) -> Fold:
    """A fold that fits on every labelled row (test span empty at the end): the ``refit`` final models."""
    gap = plan.horizon + plan.purge
    hi = plan.n_bars - gap
    lo = plan.first_row
    if config.scheme is FoldScheme.ROLLING:
        lo = max(lo, hi - (plan.folds[-1].val_end - plan.folds[-1].fit_start))
    return _split_validation(len(plan.folds), lo, hi, (plan.n_bars, plan.n_bars), gap, config.val_fraction)
