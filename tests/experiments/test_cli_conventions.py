"""Hydra's conventions on every subcommand, plain-text help, and one-line errors that name the key."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from asterrl.errors import ConfigError
from experiments.config import load_config
from experiments.training.progress import Postfix

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Every subcommand (and data/features action) with the options its help must list.
HELPS = {
    ("train",): ["--no-progress", "--multirun", "--cfg", "--resolve", "--info"],
    ("evaluate",): ["--use", "--cfg"],
    ("compare",): ["--retrain", "--use", "--cfg", "--multirun"],
    ("forecast",): ["--output", "--quiet", "--cfg"],
    ("data",): ["fetch", "import", "validate", "list"],
    ("data", "fetch"): ["--symbols", "--interval", "--timerange", "--cfg", "--multirun"],
    ("data", "import"): ["--symbol", "--kind", "--market", "--cfg"],
    ("data", "validate"): ["--symbol", "--interval", "--cfg"],
    ("data", "list"): ["--cfg", "--info"],
    ("features",): ["list", "compute"],
    ("features", "list"): ["--cfg"],
    ("features", "compute"): ["--output", "--set", "--funding", "--cfg"],
    ("exchange", "serve"): ["--symbols", "--speed", "--port", "--cfg", "--info"],
}


@pytest.mark.parametrize("command", list(HELPS), ids=" ".join)
def test_every_subcommand_has_plain_text_help_with_usage_and_options(cli, command: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    result = cli(*command, "--help")
    assert result.code == 0, result.err
    text = result.out
    assert text.startswith(f"usage: asterrl {' '.join(command)}")
    assert "[key=value ...]" in text.splitlines()[0] + text.split("\n\n")[0]
    assert "``" not in text and "::" not in text  # plain text, no reStructuredText
    for option in HELPS[command]:
        assert option in text, option
    if command in {("train",), ("compare",), ("evaluate",), ("forecast",)}:
        assert "config groups" in text
        groups = dict(
            line.strip().split(":", 1)
            for line in text.split("config groups", 1)[1].splitlines()[1:]
            if ":" in line
        )
        agents = [o.strip() for o in groups["agent"].split(",")]
        assert agents[0] == "ppo" and "sb3_ppo" in agents and "grid" in agents  # the default first
        assert not any(o.endswith("_schema") for o in agents)
        assert "ray_tune" in groups["hydra/sweeper"]
        assert "+key=value" in text and "~key" in text


def test_top_level_help_lists_every_command(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--help")
    assert result.code == 0
    for name in ("data", "features", "forecast", "train", "evaluate", "compare"):
        assert f"\n  {name}" in result.out


def test_cfg_job_hydra_all_resolve_and_package(cli, _isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    job = cli("train", "--cfg", "job", "agent=sb3_ppo_tiny")
    assert job.code == 0, job.err
    cfg = yaml.safe_load(job.out)
    assert cfg["agent"]["framework"] == "sb3" and cfg["agent"]["hidden_sizes"] == [16, 16]
    assert "hydra" not in cfg and cfg["experiment"]["root"] == "${asterrl.home:}/runs"
    resolved = yaml.safe_load(cli("train", "--cfg", "job", "--resolve").out)
    assert resolved["experiment"]["root"] == f"{_isolated_home}/runs"
    package = cli("compare", "--cfg", "job", "-p", "risk", "risk.max_drawdown=0.3")
    assert yaml.safe_load(package.out.split("\n", 1)[1])["max_drawdown"] == 0.3
    hydra = yaml.safe_load(cli("train", "--cfg", "hydra").out)
    assert set(hydra) == {"hydra"} and "sweeper" in hydra["hydra"]
    both = yaml.safe_load(cli("data", "list", "--cfg", "all", "data=synthetic").out)
    assert {"hydra", "data", "agent"} <= set(both) and both["data"]["source"].lower() == "synthetic"
    info = cli("train", "--info", "defaults", "agent=grid")
    assert info.code == 0 and "Defaults List" in info.out and "agent/grid" in info.out


def test_added_and_deleted_keys(cli) -> None:  # type: ignore[no-untyped-def]
    split = "+env.splits.train=[2022-01-01,2022-06-30]"
    added = yaml.safe_load(cli("train", "--cfg", "job", split, "-p", "env.splits").out.split("\n", 1)[1])
    assert added == {"train": ["2022-01-01", "2022-06-30"]}
    deleted = cli(
        "train", "--cfg", "job", split, "+env.splits.test=[2023-01-01,2023-02-01]", "~env.splits.test"
    )
    assert yaml.safe_load(deleted.out)["env"]["splits"] == {"train": ["2022-01-01", "2022-06-30"]}
    cfg = load_config(["data=synthetic", split, "++env.splits.validation=[2022-07-01,2022-09-30]"])
    assert cfg.env.splits["validation"] == ["2022-07-01", "2022-09-30"]
    with pytest.raises(
        ConfigError, match=r"config key 'agent.lrr' is not a field of PPOConfig; did you mean"
    ):
        load_config(["+agent.lrr=0.1"])  # + cannot add a field the schema lacks


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("agent.lrr=1e-4", "config key 'agent.lrr' is not a field of PPOConfig; did you mean 'agent.lr'?"),
        ("tran.iterations=3", "config key 'tran' is not a field of AsterRLConfig; did you mean 'train'?"),
        ("agent=ppo_tni", "config group 'agent' has no option 'ppo_tni'; did you mean 'ppo_tiny'?"),
        ("data=synthtic", "config group 'data' has no option 'synthtic'; did you mean 'synthetic'?"),
        ("env.reward=log_retrun", "env.reward='log_retrun'; did you mean 'log_return'?"),
        (
            "data.source=synthetc",
            "config key 'data.source': invalid value 'synthetc'; did you mean 'synthetic'?",
        ),
        ("risk.max_leverage=500", "risk.max_leverage=500.0 must lie in (0.0, 125.0]"),
        ("env.market.costs.taker_fe=1", "did you mean 'env.market.costs.taker_fee'?"),
        ("env.market.costs.participation_cap=2", "env.market.costs.participation_cap=2.0 must lie in"),
        ("train.best_metric=sharp", "train.best_metric='sharp'; did you mean 'sharpe'?"),
        ("train.iterations=many", "config key 'train.iterations': expected integer, got 'many'"),
    ],
)
def test_errors_name_the_key_and_suggest_the_nearest(cli, override: str, message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "data=synthetic", override)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.err


def test_an_option_typo_suggests_the_option(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "--no-progres", "data=synthetic")
    assert result.code == 2 and "unknown option --no-progres; did you mean --no-progress?" in result.err
    # a subcommand's option is suggested, and one of a sibling subcommand is not offered as itself
    serve = cli("exchange", "serve", "--sped", "3")
    assert serve.code == 2 and "unknown option --sped; did you mean --speed?" in serve.err
    fetch = cli("data", "fetch", "--symbol", "ETHUSDT")
    assert fetch.code == 2 and "unknown option --symbol; did you mean --symbols?" in fetch.err


def test_the_exchange_server_takes_hydras_options(cli) -> None:  # type: ignore[no-untyped-def]
    shown = cli("exchange", "serve", "--cfg", "job", "-p", "data", "data.symbol=ETHUSDT")
    assert shown.code == 0, shown.err
    data = yaml.safe_load(shown.out.split("\n", 1)[1])
    assert data["symbol"] == "ETHUSDT" and data["source"].lower() == "synthetic"  # its default data
    info = cli("exchange", "serve", "--info", "defaults")
    assert info.code == 0 and "data/synthetic" in info.out
    sweep = cli("exchange", "serve", "-m", "seed=0,1")
    assert sweep.code == 2 and sweep.err.count("\n") == 1 and "-m (multirun) does not apply" in sweep.err


def test_the_progress_bar_never_shows_nan() -> None:
    postfix = Postfix()
    assert "return" not in postfix.text({"episode_return_mean": float("nan"), "env_steps_per_s": 900.0})
    assert postfix.text({"episode_return_mean": 0.25}) == "return=+0.250"
    # an iteration that finished no episode keeps the last finished value
    assert postfix.text({"episode_return_mean": float("nan"), "env_steps_per_s": 1000.0}).startswith(
        "return=+0.250 1000 steps/s"
    )
    assert "nan" not in postfix.text({"env_steps_per_s": float("nan")})


def test_features_compute_never_writes_into_the_repository(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asterrl.data.schema import DataKind, Market, SeriesKey
    from asterrl.data.sources.synthetic import SyntheticMarket

    key = SeriesKey(DataKind.OHLCV, Market.PERP, "BTCUSDT", "1h")
    bars = SyntheticMarket(seed=3).fetch(key, 1_672_531_200_000, 1_675_209_600_000)  # January 2023
    source = tmp_path / "BTCUSDT_1h.csv"
    bars.to_csv(source, index=False)
    before = set(REPO_ROOT.iterdir())
    monkeypatch.chdir(REPO_ROOT)
    inside = cli("features", "compute", str(source), "-o", "btc_features.parquet")
    assert inside.code == 2 and "would write into the repository folder" in inside.err
    assert set(REPO_ROOT.iterdir()) == before
    default = cli("features", "compute", str(source))
    assert default.code == 0, default.err
    written = _isolated_home / "features" / "BTCUSDT_1h_features.parquet"
    assert written.exists() and len(pd.read_parquet(written)) == len(bars)
    assert set(REPO_ROOT.iterdir()) == before


def test_timerange_is_freqtrades() -> None:
    from experiments.commands.data import timerange_overrides

    assert timerange_overrides("20240101-20240601") == ["data.start=2024-01-01", "data.end=2024-06-01"]
    assert timerange_overrides("20240101-") == ["data.start=2024-01-01"]
    assert timerange_overrides("-20240601") == ["data.end=2024-06-01"]
    for bad in ("2024-01-01", "20240601-20240101", "20241301-", "-"):
        with pytest.raises(ConfigError, match="--timerange"):
            timerange_overrides(bad)


@pytest.mark.slow
@pytest.mark.shared_data
def test_a_multirun_on_the_shared_preset_resolves_its_paths_and_prints_the_table(
    shared_data: Path, _isolated_home: Path
) -> None:
    # In a subprocess: Hydra's multirun reconfigures logging, which pytest's output capture does not survive.
    done = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "data", "list", "-m", "data=shared_btcusdt_1h", "seed=0,1"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "ASTERRL_HOME": str(_isolated_home)},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "Unsupported interpolation" not in done.stderr
    header = next(line for line in done.stdout.splitlines() if line.startswith("job"))
    assert header.split() == ["job", "seed", "status"]
    tables = list((_isolated_home / "runs" / "default" / "hydra").glob("multirun-*/results.csv"))
    assert len(tables) == 1
    with tables[0].open() as handle:
        assert [(r["job"], r["seed"], r["status"]) for r in csv.DictReader(handle)] == [
            ("0", "0", "ok"),
            ("1", "1", "ok"),
        ]
    assert not (REPO_ROOT / "~").exists() and not (REPO_ROOT / "multirun").exists()


def test_sweep_overrides_are_checked_before_anything_is_created(cli, _isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "-m", "data=synthetic", "agent=sb3_ppo_tiny", "agent.lr=1e-4,2")
    assert result.code == 2 and "agent.lr must lie in (0, 1)" in result.err
    assert not (_isolated_home / "runs").exists()


def test_overrides_deletions_and_home_paths_are_told_apart() -> None:
    from experiments.cli import split_overrides

    home = str(Path.home())
    options, overrides = split_overrides(
        [
            "-o",
            "~/features.parquet",
            "~env.splits.train",
            "train.resume=~/runs/ppo-s0",
            "+a.b=1",
            "--cfg",
            "job",
        ]
    )
    assert options == ["-o", "~/features.parquet", "--cfg", "job"]
    assert overrides == ["~env.splits.train", f"train.resume={home}/runs/ppo-s0", "+a.b=1"]
