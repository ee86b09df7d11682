"""The adversarial campaign (``benchmarks/risk_campaign.py``) in small: zero violations of any check."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.risk_campaign import CHECKS, POLICIES, campaign, synthetic_paths


@pytest.mark.slow
def test_no_adversarial_policy_breaks_a_limit_on_crash_paths() -> None:
    tally = campaign(synthetic_paths(3, seed=1, n_bars=300), accounts=8, steps=100, single_steps=40)
    assert tally.violations == dict.fromkeys(CHECKS, 0), tally.examples
    # The campaign did exercise the limits: every policy, orders, halts and unusable actions.
    assert len(POLICIES) == 8 and tally.steps > 30_000 and tally.orders > 20_000
    assert tally.halts > 1_000 and tally.bad_actions > 2_000
    # In-bar stops overshoot the loss limit by their exit costs only (well under a percentage point).
    assert np.percentile(tally.stop_overshoots, 99) < 0.005
