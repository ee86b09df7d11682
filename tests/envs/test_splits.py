from __future__ import annotations

import numpy as np
import pytest

from asterrl.errors import ConfigError
from envs.config import EnvConfig
from envs.core import split_rows

HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def test_fraction_splits_cut_the_bars_in_time_order() -> None:
    ts = T0 + np.arange(1000, dtype=np.int64) * HOUR
    got = {s: split_rows(EnvConfig(split=s), ts) for s in ("train", "validation", "test")}
    assert (got["train"][0], got["train"][-1]) == (0, 699)
    assert (got["validation"][0], got["validation"][-1]) == (700, 849)
    assert (got["test"][0], got["test"][-1]) == (850, 999)


def test_date_splits_are_inclusive_days() -> None:
    ts = T0 + np.arange(24 * 5, dtype=np.int64) * HOUR  # 2024-01-01 .. 2024-01-05
    cfg = EnvConfig(
        split="test", splits={"train": ["2024-01-01", "2024-01-03"], "test": ["2024-01-04", "2024-01-04"]}
    )
    rows = split_rows(cfg, ts)
    assert (rows[0], rows[-1]) == (72, 95)


def test_bad_fractions_and_unknown_split_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="summing to 1"):
        EnvConfig(split_fractions=[0.5, 0.2, 0.2]).validate()
    with pytest.raises(ConfigError, match="not one of the splits"):
        EnvConfig(split="holdout").validate()
