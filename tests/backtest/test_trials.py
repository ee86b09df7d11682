"""Trial records: every configuration a search tried, read back as the DSR's and PBO's inputs, and the
survival verdict they give a noise search and a planted edge."""

from __future__ import annotations

import numpy as np
import pytest

from asterrl.backtest.stats.probabilistic import trial_sharpe_ratios
from asterrl.backtest.survival import survival, survival_markdown
from asterrl.backtest.trials import TrialLog, study_name

HOUR = 3_600_000


def test_trials_are_recorded_once_per_setting_and_span_and_read_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    log = TrialLog(tmp_path, study_name("vol_trend", "BTCUSDT", "1h"))
    ts = np.arange(500, dtype=np.int64) * HOUR
    returns = rng.normal(0.0, 0.01, (500, 4))
    for j in range(3):
        log.record(f"t{j}", {"entry_window": 10 * j}, ts, returns[:, j], "test")
    log.record("t0", {"entry_window": 0}, ts, returns[:, 3], "test")  # the same setting again: replaced
    assert len(log.trials()) == 3
    trials = log.trial_set(ts)
    assert trials is not None and trials.n_trials == 3
    kept = np.column_stack([returns[:, 3], returns[:, 1], returns[:, 2]])
    expected = np.var(trial_sharpe_ratios(kept), ddof=1)
    assert trials.sharpe_variance == pytest.approx(expected, rel=1e-12)
    assert trials.returns is not None and sorted(map(tuple, trials.returns.T)) == sorted(map(tuple, kept.T))
    # a result on bars one trial does not cover gets the count and variance, not the returns
    log.record("short", {"entry_window": 99}, ts[:100], returns[:100, 0], "test")
    partial = log.trial_set(ts)
    assert partial is not None and partial.n_trials == 4 and partial.returns is None
    assert TrialLog(tmp_path, study_name("grid", "BTCUSDT", "1h")).trial_set(ts) is None


def test_a_noise_search_does_not_survive_and_a_planted_edge_does(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(11)
    ts = np.arange(4000, dtype=np.int64) * HOUR
    log = TrialLog(tmp_path, "noise/BTCUSDT-1h")
    noise = rng.normal(0.0, 0.01, (4000, 60))
    for j in range(60):
        log.record(f"n{j}", {"seed": j}, ts, noise[:, j], "test")
    best = int(np.argmax(noise.mean(axis=0) / noise.std(axis=0)))
    found = survival("best_of_noise", noise[:, best], 8760.0, log.trial_set(ts))
    assert found.trials == 60
    assert found.psr > 0.9  # alone it looks good ...
    assert found.dsr < 0.95 and found.pbo > 0.3 and not found.survives  # ... against its search it does not
    edge = rng.normal(0.0015, 0.01, 4000)  # a Sharpe of 0.15 per bar
    planted = survival("edge", edge, 8760.0)
    assert planted.trials == 1 and planted.dsr > 0.999 and planted.survives
    assert planted.sharpe_low < planted.sharpe < planted.sharpe_high
    table = survival_markdown([found, planted])
    assert table[2].startswith("| best_of_noise | 60 |") and table[2].endswith("| no |")
