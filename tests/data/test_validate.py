from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from asterrl.data.schema import DataKind
from asterrl.data.validate import Policy, QualityFlag, ValidationPolicy, validate
from asterrl.errors import DataError
from tests.data.frames import HOUR, T0, bars


def check(frame: pd.DataFrame, **policy: Policy | float):  # type: ignore[no-untyped-def]
    """Validate 1h bars; the hand-built bars rise by exactly 1 a bar, so their robust return spread is
    tiny and outlier detection is switched off unless a test asks for it."""
    policy.setdefault("outlier_sigmas", 1e9)
    return validate(frame, DataKind.OHLCV, HOUR, ValidationPolicy(**policy))  # type: ignore[arg-type]


def test_clean_frame_has_no_problems() -> None:
    report, cleaned = check(bars(20))
    assert report.usable
    assert all(p.count == 0 for p in report.problems)
    assert report.gaps == []
    assert "quality_flags" not in cleaned.columns


def test_gaps_are_counted_listed_and_never_filled() -> None:
    frame = bars(12).drop(index=[3, 7, 8, 9]).reset_index(drop=True)  # missing 1 bar, then 3 bars
    report, cleaned = check(frame)
    assert [(g.after_ms, g.before_ms, g.missing) for g in report.gaps] == [
        (T0 + 2 * HOUR, T0 + 4 * HOUR, 1),
        (T0 + 6 * HOUR, T0 + 10 * HOUR, 3),
    ]
    assert report.missing_bars == 4
    assert len(cleaned) == 8  # nothing filled
    flagged = cleaned.loc[cleaned["quality_flags"] != 0, "timestamp"].tolist()
    assert flagged == [T0 + 4 * HOUR, T0 + 10 * HOUR]
    assert set(cleaned["quality_flags"].tolist()) == {0, int(QualityFlag.GAP_BEFORE)}
    blocked, _ = check(frame, gaps=Policy.ERROR)
    assert not blocked.usable
    assert blocked.first_blocking is not None and blocked.first_blocking.name == "gaps"


def test_duplicates_and_shuffled_rows_block_by_default() -> None:
    dup = pd.concat([bars(5), bars(5).iloc[[2]]], ignore_index=True)
    report, _ = check(dup)
    assert report.problem("duplicate_timestamps").count == 1
    assert report.problem("non_monotonic").count == 0
    assert "1 duplicate timestamps (first at data row 6)" in report.blocking_message()

    shuffled = bars(6).iloc[[0, 3, 1, 2, 5, 4]].reset_index(drop=True)
    report, _ = check(shuffled)
    # rows 3 (ts 1), 4 (ts 2) and 6 (ts 4) come after a later timestamp.
    assert report.problem("non_monotonic").count == 3
    assert report.gaps == []  # gap detection works on the sorted view

    report, cleaned = check(dup, duplicate_timestamps=Policy.DROP)
    assert report.usable and report.rows_dropped == 1
    assert cleaned["timestamp"].is_monotonic_increasing and len(cleaned) == 5


def test_row_problems_with_each_policy() -> None:
    frame = bars(8)
    frame.loc[1, "close"] = np.nan
    frame.loc[2, "high"] = frame.loc[2, "close"] - 0.1  # high below close
    frame.loc[3, "volume"] = -1.0
    frame.loc[4, "timestamp"] += 60_000  # off the 1h grid
    report, _ = check(frame)
    counts = {p.name: p.count for p in report.problems}
    assert counts["non_finite"] == 1
    assert counts["ohlc_inconsistent"] == 1
    assert counts["negative_volume"] == 1
    assert counts["misaligned"] == 1
    assert not report.usable
    assert report.first_blocking is not None and report.first_blocking.name == "non_finite"

    drop_all = dict(non_finite=Policy.DROP, ohlc_inconsistent=Policy.DROP, negative_volume=Policy.DROP,
                    misaligned=Policy.DROP)  # fmt: skip
    report, cleaned = check(frame, **drop_all)
    assert report.usable and report.rows_dropped == 4
    assert cleaned["timestamp"].tolist() == [T0, T0 + 5 * HOUR, T0 + 6 * HOUR, T0 + 7 * HOUR]

    mark_all = {k: Policy.MARK for k in drop_all}
    report, cleaned = check(frame, **mark_all)
    assert report.usable and len(cleaned) == 8
    expected = [0, QualityFlag.NON_FINITE, QualityFlag.OHLC_INCONSISTENT, QualityFlag.NEGATIVE_VOLUME,
                QualityFlag.MISALIGNED, 0, 0, 0]  # fmt: skip
    # The misaligned bar also leaves the grid positions around it apart: gaps are flagged too.
    flags = cleaned["quality_flags"].to_numpy()
    assert [int(f) & ~int(QualityFlag.GAP_BEFORE) for f in flags] == [int(e) for e in expected]


def test_zero_volume_flat_runs() -> None:
    frame = bars(10)
    for i in (2, 3, 4, 7):
        frame.loc[i, ["open", "high", "low", "close"]] = 50.0
        frame.loc[i, "volume"] = 0.0
    frame.loc[[1, 5, 6, 8], "high"] = 200.0  # keep neighbours consistent with the flat bars
    frame.loc[[1, 5, 6, 8], "low"] = 1.0
    report, _ = check(frame)
    zero = report.problem("zero_volume_runs")
    assert zero.count == 4
    assert zero.detail == "2 runs, longest 3 bars"


def test_outlier_return_is_marked_not_dropped() -> None:
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, 500)))
    close[300:] *= 1.5  # a +40.5 % log jump at bar 300, about 400 robust sigmas
    frame = pd.DataFrame({"timestamp": T0 + np.arange(500) * HOUR, "open": close, "high": close * 1.0001,
                          "low": close * 0.9999, "close": close, "volume": 1.0})  # fmt: skip
    report, cleaned = check(frame, outlier_sigmas=20.0)
    outliers = report.problem("outlier_returns")
    assert outliers.count == 1 and outliers.first_row == 300
    assert cleaned.loc[300, "quality_flags"] == QualityFlag.OUTLIER_RETURN


def test_funding_checks_and_intervals() -> None:
    ts = T0 + np.array([0, 8, 16, 20, 24], dtype=np.int64) * HOUR  # 8h then 4h settlements
    frame = pd.DataFrame({"timestamp": ts, "funding_rate": [1e-4, -2e-4, 0.5, 1e-4, 1e-4]})
    report, _ = validate(frame, DataKind.FUNDING, None)
    assert report.funding_intervals_h == [4.0, 8.0]
    assert report.problem("outlier_returns").count == 1
    assert report.usable


def test_policy_that_makes_no_sense_is_rejected() -> None:
    with pytest.raises(DataError, match="gaps=drop is not allowed"):
        check(bars(3), gaps=Policy.DROP)
