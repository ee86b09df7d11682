"""The fault campaign (``benchmarks/live_faults.py``) in small: a real ``asterrl deploy`` process trading on
the local exchange through injected faults and a kill -9 mid-order sends no order twice, keeps the
exchange's position in its state store after every bar, never takes the position beyond the leverage
limit, and leaves in its JSON log a trace of every fault it met."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.live_faults import GROUPS, run_campaign


@pytest.mark.slow
def test_a_small_fault_campaign_duplicates_nothing_loses_nothing_breaches_nothing(tmp_path: Path) -> None:
    result = run_campaign(tmp_path, bars=10, faults_per_bar=4.0, kill_every=10, seed=3)
    assert result.bars == 10 and result.restarts == 1 and result.injected["kill_9"] == 1
    assert result.orders >= 5  # the policy traded on most bars
    assert result.duplicate_orders == 0 and result.positions_lost == 0 and result.limit_breaches == 0
    met = {kind for kind, n in result.injected.items() if n > 0}
    assert len(met) >= 8 and sum(result.injected.values()) >= 25, result.table()
    for group, kinds in GROUPS.items():  # each fault shows in the log (a group shares its evidence)
        injected = sum(result.injected[k] for k in kinds)
        assert result.visible[group] >= injected, (group, result.table())
