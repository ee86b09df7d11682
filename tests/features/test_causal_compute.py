"""``asterrl features compute`` is causal by default: truncating the input file after any row changes no
value at or before that row, for every output column; statistics are fitted only on a span the user names
(``--fit-end``) or, behind a flag that says so, on every row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asterrl.features import FeaturePipeline, MarketInputs
from tests.features.conftest import HOUR_MS, synthetic_bars, synthetic_inputs

N = 1300
#: Warm-up of the default set with the rolling z-score: 143 feature bars + 499 of the 500-bar window.
DEFAULT_WARMUP = 642


def _bars(n: int = N, seed: int = 11) -> pd.DataFrame:
    return pd.DataFrame(synthetic_bars(n, seed))


def _compute(cli, bars: pd.DataFrame, folder: Path, *options: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "bars.csv"
    bars.to_csv(source, index=False)
    out = folder / "features.parquet"
    result = cli("features", "compute", source, "-o", out, *options)
    assert result.code == 0, result.err
    return pd.read_parquet(out)


def _cuts(rng: np.random.Generator, low: int, high: int, count: int) -> list[int]:
    return sorted(int(c) for c in rng.choice(np.arange(low, high), size=count, replace=False))


def _assert_prefix_unchanged(full: pd.DataFrame, head: pd.DataFrame, cut: int) -> None:
    assert len(head) == cut + 1
    pd.testing.assert_frame_equal(head, full.iloc[: cut + 1], check_exact=True)


@pytest.mark.slow
def test_default_compute_is_causal_for_every_column(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bars = _bars()
    full = _compute(cli, bars, tmp_path / "full")
    columns = [c for c in full.columns if c != "timestamp"]
    assert len(columns) == 28 and (full[columns].dtypes == np.float32).all()
    # Not a vacuous comparison: past the warm-up every column is finite and varies.
    settled = full[columns].iloc[DEFAULT_WARMUP:]
    assert np.isfinite(settled.to_numpy()).all() and (settled.std() > 0).all()
    assert full[columns].iloc[: DEFAULT_WARMUP - 1].isna().any(axis=1).all()
    saved = json.loads((tmp_path / "full" / "features.features.json").read_text())
    assert saved["normalization"]["mode"] == "rolling" and saved["normalization"]["window"] == 500
    rng = np.random.default_rng(20261201)
    cuts = _cuts(rng, 100, DEFAULT_WARMUP, 1) + _cuts(rng, DEFAULT_WARMUP, N - 1, 5)
    for cut in cuts:
        head = _compute(cli, bars.iloc[: cut + 1], tmp_path / f"cut{cut}")
        _assert_prefix_unchanged(full, head, cut)
    # The same comparison sees look-ahead when it is there: statistics fitted on every row.
    ahead = _compute(cli, bars, tmp_path / "ahead", "--fit-all-rows-lookahead")
    cut = cuts[-1]
    ahead_head = _compute(cli, bars.iloc[: cut + 1], tmp_path / "ahead_cut", "--fit-all-rows-lookahead")
    changed = ahead_head[columns].to_numpy() != ahead[columns].iloc[: cut + 1].to_numpy()
    assert changed[DEFAULT_WARMUP:].any(axis=0).sum() >= 20  # nearly every column moves


@pytest.mark.slow
def test_full_set_with_funding_and_reference_is_causal(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """All 89 columns of the full set (taker flow, funding and a reference symbol included)."""
    market = synthetic_inputs(900, seed=3)
    bars = pd.DataFrame(synthetic_bars(900, 3))
    funding = pd.DataFrame({"timestamp": market.funding_timestamp, "funding_rate": market.funding_rate})
    reference = pd.DataFrame(synthetic_bars(900, 5))
    funding.to_csv(tmp_path / "funding.csv", index=False)
    reference.to_csv(tmp_path / "reference.csv", index=False)
    side = ("--set", "full", "--funding", tmp_path / "funding.csv", "--reference", tmp_path / "reference.csv")
    full = _compute(cli, bars, tmp_path / "full", *side)
    assert full.shape[1] == 1 + 89
    assert np.isfinite(full.iloc[200:, 1:].to_numpy()).mean() > 0.99
    for cut in _cuts(np.random.default_rng(7), 150, 899, 3):
        head = _compute(cli, bars.iloc[: cut + 1], tmp_path / f"cut{cut}", *side)
        _assert_prefix_unchanged(full, head, cut)


@pytest.mark.slow
def test_fit_end_fits_statistics_on_the_named_span_only(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bars = _bars(1000)
    fit_end_row = 700  # statistics from bars 0..700: the last one closes at timestamp[700] + 1 h
    fit_end = int(bars["timestamp"].iloc[fit_end_row]) + HOUR_MS
    when = pd.Timestamp(fit_end, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M")
    full = _compute(cli, bars, tmp_path / "full", "--fit-end", when)
    saved = json.loads((tmp_path / "full" / "features.features.json").read_text())
    stats = saved["normalization"]["stats"]
    assert saved["normalization"]["mode"] == "fitted" and (stats["start"], stats["stop"]) == (143, 701)
    # The statistics are those of rows 143..700 of the raw columns, whatever comes after.
    inputs = MarketInputs.from_frames(bars)
    reference = FeaturePipeline.load(tmp_path / "full" / "features.features.json")
    raw = FeaturePipeline(reference.specs).transform(inputs).values.astype(np.float64)
    np.testing.assert_allclose(stats["mean"], np.nanmean(raw[143:701], axis=0), rtol=1e-5, atol=1e-6)
    # Truncating after any bar from the last fitted one on changes nothing at or before it ...
    for cut in (700, *_cuts(np.random.default_rng(3), 701, 999, 3)):
        _assert_prefix_unchanged(
            full, _compute(cli, bars.iloc[: cut + 1], tmp_path / f"cut{cut}", "--fit-end", when), cut
        )
    # ... while truncating inside the fitted span refits on fewer rows (that span looks ahead, as named).
    inside = _compute(cli, bars.iloc[:600], tmp_path / "inside", "--fit-end", when)
    assert not inside.iloc[143:600, 1:].equals(full.iloc[143:600, 1:])


def test_compute_options_are_checked(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "bars.csv"
    _bars(300).to_csv(source, index=False)
    out = tmp_path / "x.parquet"
    bad = cli("features", "compute", source, "-o", out, "--fit-end", "next tuesday")
    assert bad.code != 0 and "--fit-end" in bad.err and len(bad.err.strip().splitlines()) == 1
    both = cli(
        "features", "compute", source, "-o", out, "--fit-end", "2023-01-01", "--fit-all-rows-lookahead"
    )
    assert both.code != 0 and "not allowed with" in both.err and len(both.err.strip().splitlines()) == 1
    late = cli("features", "compute", source, "-o", out, "--fit-end", "2001-01-01")
    assert late.code != 0 and "cannot fit" in late.err and len(late.err.strip().splitlines()) == 1
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
