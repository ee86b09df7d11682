"""Every section is checked when the config is loaded: one line naming the key, before any work starts."""

from __future__ import annotations

import pytest

from asterrl.errors import ConfigError
from experiments.config import load_config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["env.window=0"], "env.window must be an integer >= 1"),
        (["risk.max_leverage=-2"], "risk.max_leverage=-2.0 must lie in (0.0, 125.0]"),
        (
            ["data=shared", "data.symbol=XRPUSDT", "risk.max_leverage=60"],
            "risk.max_leverage=60 exceeds XRPUSDT",
        ),
        (["risk.max_leverage=200"], "risk.max_leverage=200.0 must lie in"),
        (["risk.max_drawdown=-inf"], "risk.max_drawdown=-inf must lie in"),
        (["risk.max_orders_per_minute=0.5"], "risk.max_orders_per_minute=0.5"),
        (["risk.max_orders_per_minute=2.5"], "risk.max_orders_per_minute=2.5 must be a whole number"),
        (["risk.max_order_notional=1"], "risk.max_order_notional=1 USDT is below BTCUSDT's minimum"),
        (["risk.max_leverage=true"], "risk.max_leverage"),
        (["env.split_fractions=[0.7,0.3,0.0]"], "env.split_fractions"),
        (
            [
                "+env.splits.train=[2020-01-01,2021-01-01]",
                "+env.splits.validation=[2021-01-02,2021-06-01]",
                "+env.splits.test=[2030-01-01,2030-02-01]",
            ],
            "env.splits.test (2030-01-01..2030-02-01) holds no bars",
        ),
        (["data.symbol=DOGEUSDT"], "no instrument for DOGEUSDT"),
        (["data.interval=7m"], "data.interval='7m'"),
        (["data.end=2019-01-01"], "data.end (2019-01-01) must be after data.start"),
        (["env.market.costs.participation_cap=0"], "env.market.costs.participation_cap=0.0 must lie in"),
        (["env.market.limit_orders.queue_depth_bps=-1"], "env.market.limit_orders.queue_depth_bps"),
        (["risk.drift_tolerance=-0.1"], "risk.drift_tolerance"),
    ],
)
def test_a_bad_value_is_one_line_naming_its_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(overrides)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_one_source_of_truth_for_symbol_and_interval() -> None:
    cfg = load_config(["data=shared", "data.symbol=XRPUSDT"])
    assert not hasattr(cfg.env, "symbol") and not hasattr(cfg.env, "interval")
    assert cfg.data.files.ohlcv.endswith("perp_ohlcv/XRPUSDT_1h.csv.gz")
    assert cfg.data.files.mark.endswith("perp_mark/XRPUSDT_mark_1h.csv.gz")
    with pytest.raises(ConfigError, match=r"env\.symbol"):
        load_config(["env.symbol=DOGEUSDT"])
