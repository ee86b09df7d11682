"""load_market: the one entry point runs use for their data (file, synthetic, store + remote fetch)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from asterrl.data.market import load_market
from asterrl.errors import OfflineError
from experiments.config import load_config


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.shared_data
def test_shared_preset_reads_the_files_over_the_configured_span(shared_data: Path) -> None:
    cfg = load_config(["data=shared_btcusdt_1h"])
    market = load_market(cfg.data)
    # 2020-01-01 to 2024-01-01 is 1461 days (2020 is a leap year) of hourly bars, 3 funding settlements a day.
    assert len(market.bars) == 1461 * 24
    assert market.funding is not None and len(market.funding) == 1461 * 3
    assert market.mark is not None and len(market.mark) == 1461 * 24
    assert market.bars["timestamp"].iloc[0] == 1_577_836_800_000
    assert len(market.data_hash) == 64


def test_synthetic_market_is_fixed_by_the_seed() -> None:
    cfg = load_config(["data=synthetic", "data.start=2023-01-01", "data.end=2023-03-01"])
    a, b, c = load_market(cfg.data, seed=3), load_market(cfg.data, seed=3), load_market(cfg.data, seed=4)
    assert len(a.bars) == (31 + 28) * 24
    assert a.data_hash == b.data_hash
    assert a.data_hash != c.data_hash


def test_offline_with_an_empty_store_names_the_ways_out() -> None:
    port = closed_port()
    cfg = load_config(
        [
            f"data.endpoints.aster_url=http://127.0.0.1:{port}",
            f"data.endpoints.binance_url=http://127.0.0.1:{port}",
            "data.endpoints.max_retries=0",
        ]
    )
    with pytest.raises(OfflineError) as info:
        load_market(cfg.data, show_progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert "data=synthetic" in message and "asterrl data import PATH" in message


@pytest.mark.parametrize(("kind", "switch"), [("mark", "data.with_mark"), ("funding", "data.with_funding")])
def test_a_missing_mark_or_funding_file_names_its_key_and_the_switch(
    tmp_path: Path, kind: str, switch: str
) -> None:
    # Before: "<path>: no such file", with no word of which key named it (the shared dataset's mark files are
    # hourly, so `data=shared data.interval=5m` names a 5m mark file that does not exist).
    import numpy as np
    import pandas as pd

    from asterrl.errors import DataError

    hours = np.arange(48, dtype=np.int64)
    bars = pd.DataFrame({"timestamp": 1_672_531_200_000 + 3_600_000 * hours, "open": 1.0, "high": 1.0,
                         "low": 1.0, "close": 1.0, "volume": 10.0})  # fmt: skip
    bars.to_csv(tmp_path / "bars.csv", index=False)
    others = {"mark": "with_funding=false", "funding": "with_mark=false"}
    cfg = load_config(["data=shared", "data.symbol=XRPUSDT", f"data.files.ohlcv={tmp_path / 'bars.csv'}",
                       f"data.files.{kind}={tmp_path / 'missing.csv'}", "data.start=2023-01-01",
                       "data.end=2023-01-03", f"data.{others[kind]}"])  # fmt: skip
    with pytest.raises(DataError) as info:
        load_market(cfg.data)
    assert str(info.value) == (
        f"{tmp_path / 'missing.csv'}: no such file (data.files.{kind}); point data.files.{kind} at the "
        f"{kind} file or set {switch}=false"
    )
