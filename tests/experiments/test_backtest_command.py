"""``asterrl backtest`` as a user runs it: the files and report it writes, the trials it records, a signal
file equal to the same targets through the library, a grid, a portfolio, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asterrl.backtest.engine import ActionRule, BacktestSetup, backtest_targets
from asterrl.data.market import load_market
from experiments.config import load_config

SPAN = ["data=synthetic", "data.start=2022-01-01", "data.end=2022-06-01", "backtest.start=2022-02-01"]
FAST = ["backtest.bootstrap_samples=50", "backtest.montecarlo_paths=20", "--no-progress"]
FILES = ("trades.csv", "positions.csv", "equity.csv", "costs.csv", "summary.json", "config.yaml")


def _out(stdout: str) -> Path:
    line = next(x for x in stdout.splitlines() if x.startswith("files:"))
    return Path(line.split()[1])


@pytest.mark.slow
def test_backtest_writes_its_files_and_report_and_counts_its_trials(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = cli("backtest", "agent=vol_trend", *SPAN, *FAST)
    assert first.code == 0, first.err
    assert "vol_trend on BTCUSDT: 2022-02-01 00:00" in first.out
    assert "trials        1 in vol_trend/BTCUSDT-1h" in first.out
    out = _out(first.out)
    for name in FILES:
        assert (out / name).is_file(), name
    report = out / "report"
    assert (report / "report.html").is_file() and (report / "survival.csv").is_file()
    assert "Does it survive the search?" in (report / "report.md").read_text()
    trades = pd.read_csv(out / "trades.csv")
    equity = pd.read_csv(out / "equity.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fills"] == len(trades) > 0
    assert summary["net_return"] == pytest.approx(equity["equity"].iloc[-1] / 10_000.0 - 1.0, rel=1e-12)
    second = cli("backtest", "agent=vol_trend", "agent.entry_window=96", *SPAN, *FAST)
    assert second.code == 0, second.err
    assert "trials        2 in vol_trend/BTCUSDT-1h" in second.out
    # the same agent, symbol and span write to the same folder: the second run says it replaced the first
    assert "replaced the earlier output" in second.out and "replaced" not in first.out
    assert _out(second.out) == out and "(config.yaml costs.csv equity.csv" in second.out
    again = cli("backtest", "agent=vol_trend", *SPAN, *FAST)  # the same setting again: no new trial
    assert "trials        2 in vol_trend/BTCUSDT-1h" in again.out


@pytest.mark.slow
def test_a_signal_file_backtests_like_the_same_targets_through_the_library(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = load_config(SPAN)
    market = load_market(cfg.data, cfg.seed, show_progress=False)
    stamps = market.bars["timestamp"].to_numpy(np.int64)
    rng = np.random.default_rng(3)
    leverage = np.repeat(rng.choice([-2.0, 0.0, 1.5], stamps.size // 50 + 1), 50)[: stamps.size]
    path = tmp_path / "signals.csv"
    pd.DataFrame({"time": pd.to_datetime(stamps, unit="ms", utc=True), "target": leverage}).to_csv(
        path, index=False
    )
    done = cli("backtest", *SPAN, *FAST, f"backtest.signals={path}")
    assert done.code == 0, done.err
    assert "signals-signals on BTCUSDT" in done.out
    written = pd.read_csv(_out(done.out) / "equity.csv")["equity"].to_numpy()
    env = cfg.env
    rule = ActionRule("continuous", (), env.deadband, env.min_hold_bars, env.order_type, env.limit_offset_bps)
    setup = BacktestSetup.from_market(market, env.market, cfg.risk, rule, start="2022-02-01")
    expected, _ = backtest_targets(
        setup, (leverage / cfg.risk.max_leverage)[setup.start_bar : setup.end_bar], "x"
    )
    np.testing.assert_allclose(written, expected.equity, rtol=1e-12)


@pytest.mark.slow
def test_a_grid_and_a_portfolio_from_the_command_line(cli) -> None:  # type: ignore[no-untyped-def]
    grid = cli("backtest", "agent=sma_cross", *SPAN, *FAST, "+backtest.grid={fast:[6,12],slow:[48,96,168]}")
    assert grid.code == 0, grid.err
    assert "trials        6 in sma_cross/BTCUSDT-1h" in grid.out and "PBO 0." in grid.out
    table = pd.read_csv(_out(grid.out) / "grid.csv")
    assert len(table) == 6 and "sma_cross(fast=" in grid.out
    pair = cli("backtest", "agent=vol_trend", *SPAN, *FAST, "backtest.symbols=[BTCUSDT,ETHUSDT]",
               "backtest.portfolio.max_gross_leverage=1.5")  # fmt: skip
    assert pair.code == 0, pair.err
    assert "vol_trend on BTCUSDT+ETHUSDT" in pair.out
    out = _out(pair.out)
    symbols = pd.read_csv(out / "symbols.csv")
    assert {"BTCUSDT", "ETHUSDT"} == set(symbols["symbol"])
    # the account's equity and costs, and each symbol's trades and positions, as for one symbol
    for name in ("equity.csv", "costs.csv", "positions_BTCUSDT.csv", "trades_ETHUSDT.csv"):
        assert name in pair.out and (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    equity = pd.read_csv(out / "equity.csv")["equity"]
    assert summary["net_return"] == pytest.approx(equity.iloc[-1] / 10_000.0 - 1.0, rel=1e-12)
    for symbol in ("BTCUSDT", "ETHUSDT"):  # a symbol's positions are the running sum of its fills
        trades = pd.read_csv(out / f"trades_{symbol}.csv")
        held = pd.read_csv(out / f"positions_{symbol}.csv")
        last = held[held["bar"] == trades["bar"].iloc[-1]]["position"].iloc[0]
        assert last == pytest.approx(trades["position_after"].iloc[-1], abs=1e-9)
    trips = int(symbols["round_trips"].sum())
    assert trips > 0 and f"{int(symbols['fills'].sum())} fills, {trips} round trips" in pair.out


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["agent=ppo"], "agent=ppo is a learning agent"),
        (
            ["agent=vol_trend", "backtest.start=2022-05-01", "backtest.end=2022-03-01"],
            "backtest.end (2022-03-01) is before",
        ),
        (
            ["agent=vol_trend", "backtest.start=2021-05-01", "backtest.end=2021-06-01"],
            "backtest.start..backtest.end",
        ),
        (
            ["agent=vol_trend", "backtest.signals=/nonexistent/s.csv"],
            "backtest.signals=/nonexistent/s.csv: no such file",
        ),
        (["agent=vol_trend", "backtest.sizing.method=martingale"], "backtest.sizing.method='martingale'"),
        (["agent=sma_cross", "+backtest.grid.fast=[100]"], "no combination of the grid (fast)"),
    ],
)
def test_bad_input_ends_with_one_line(cli, overrides: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    done = cli("backtest", *SPAN, *FAST, *overrides)
    assert done.code != 0
    lines = done.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.err


def test_a_bad_signal_file_is_named_in_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,target\n1643673600000,1.0\n1643677200000,nan\n")
    done = cli("backtest", *SPAN, *FAST, f"backtest.signals={path}")
    assert done.code != 0 and "row 3 holds a missing or infinite target" in done.err
    assert len(done.err.strip().splitlines()) == 1


@pytest.mark.shared_data
@pytest.mark.slow
def test_the_new_user_command_on_the_shared_data(cli, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    for path in (
        "perp_ohlcv/ETHUSDT_1h.csv.gz",
        "perp_funding/ETHUSDT_funding.csv.gz",
        "perp_mark/ETHUSDT_mark_1h.csv.gz",
    ):
        assert cli("data", "import", str(shared_data / path)).code == 0
    done = cli("backtest", "agent=vol_trend", "data.symbol=ETHUSDT", "backtest.start=2022-01-01",
               "backtest.end=2022-12-31", "--no-progress")  # fmt: skip
    assert done.code == 0, done.err
    assert "vol_trend on ETHUSDT: 2022-01-01 00:00 .. 2022-12-31 23:00 UTC, 8,759 bars" in done.out
    assert "tick 0.01" in done.out  # ETHUSDT's own filters
    assert len(done.out.splitlines()) <= 24  # one screen
    assert Path(done.out.split("report: ")[1].split()[0]).is_file()
