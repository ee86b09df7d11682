"""Fold plans, the purge and the embargo, against row numbers worked out by hand."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from asterrl.forecast.config import FoldConfig, FoldScheme
from asterrl.forecast.folds import FoldPlan, make_fold_plan, purged_training_mask


def test_purge_and_embargo_mask() -> None:
    # test rows 8..11, h=2, purge 1: rows t with t + 3 < 8 (t <= 4) stay; embargo 3 drops 12..14;
    # rows 18, 19 have no label yet.
    mask = purged_training_mask(20, 8, 12, horizon=2, purge=1, embargo=3)
    assert np.flatnonzero(mask).tolist() == [0, 1, 2, 3, 4, 15, 16, 17]
    # without purge or embargo only the label overlap and the test rows go
    mask = purged_training_mask(20, 8, 12, horizon=2)
    assert np.flatnonzero(mask).tolist() == [0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17]


def test_expanding_plan_by_hand() -> None:
    # usable = 190, first test row 10 + 95 = 105, test spans [105, 152) and [152, 200).
    # fold 0: training rows [10, 102) (102 = 105 - h), 92 rows, 19 validation rows [83, 102), fit [10, 80).
    # fold 1: training [10, 149), 139 rows, 28 validation rows [121, 149), fit [10, 118).
    cfg = FoldConfig(n_folds=2, min_train_fraction=0.5, val_fraction=0.2)
    plan = make_fold_plan(200, 10, 3, cfg, embargo=3)
    spans = [(f.fit_start, f.fit_end, f.val_start, f.val_end, f.test_start, f.test_end) for f in plan.folds]
    assert spans == [(10, 80, 83, 102, 105, 152), (10, 118, 121, 149, 152, 200)]


def test_rolling_plan_by_hand() -> None:
    # rolling length = the first fold's 92 training rows: fold 1 trains on [57, 149), validation [130, 149).
    cfg = FoldConfig(scheme=FoldScheme.ROLLING, n_folds=2, min_train_fraction=0.5, val_fraction=0.2)
    plan = make_fold_plan(200, 10, 3, cfg, embargo=3)
    fold = plan.folds[1]
    assert (fold.fit_start, fold.fit_end, fold.val_start, fold.val_end) == (57, 127, 130, 149)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(600, 3000), first=st.integers(0, 100), h=st.integers(1, 24), purge=st.integers(0, 10),
    folds=st.integers(1, 6), rolling=st.booleans(), share=st.floats(0.3, 0.7),
)  # fmt: skip
def test_every_training_label_is_known_before_its_test_span(
    n: int, first: int, h: int, purge: int, folds: int, rolling: bool, share: float
) -> None:
    scheme = FoldScheme.ROLLING if rolling else FoldScheme.EXPANDING
    cfg = FoldConfig(scheme=scheme, n_folds=folds, min_train_fraction=share, purge=purge)
    plan = make_fold_plan(n, first, h, cfg, embargo=h)
    covered = np.concatenate([f.test_rows for f in plan.folds])
    assert covered.tolist() == list(range(plan.first_test_row, n))
    for fold in plan.folds:
        train = np.concatenate([fold.fit_rows, fold.val_rows])
        assert train.min() >= first
        # the label of row t needs close[t + h]: it must be known before the test span starts
        assert (train + h + purge < fold.test_start).all()
        # early stopping never sees a label the fitted rows' window overlaps
        assert (fold.fit_rows + h + purge < fold.val_start).all()
    restored = FoldPlan.from_dict(plan.to_dict())
    assert restored.folds == plan.folds
