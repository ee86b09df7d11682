"""``asterrl backtest [-m] [key=value ...]``: backtest a policy through the market model and the risk gate.

The policy is the configured rule agent (``agent=vol_trend``), a parameter grid of it
(``+backtest.grid.entry_window=[24,48,96]``, every setting in one pass), a trained checkpoint
(``backtest.checkpoint=<run>/checkpoints/final``) or a file of target positions (``backtest.signals=FILE``);
``backtest.symbols=[BTCUSDT,ETHUSDT]`` trades several symbols as one account. The span is
``backtest.start`` .. ``backtest.end`` (UTC days, the end included) of the loaded data (``data.*``).

Writes ``trades.csv``, ``positions.csv``, ``equity.csv``, ``costs.csv``, ``summary.json`` and ``report/``
(report.md, report.html, metrics.csv, figures) into ``<experiment dir>/backtests/<name>-<symbol>-...``
(``backtest.out``), records the run as a trial of its study, and prints a one-screen summary with the
trials behind the result and whether it survives them (DSR, PBO). ``-m`` sweeps overrides (one job per
combination, each recorded as a trial).

examples:
  asterrl backtest agent=vol_trend data.symbol=ETHUSDT backtest.start=2022-01-01 backtest.end=2022-12-31
  asterrl backtest agent=sma_cross '+backtest.grid={fast:[6,12,24],slow:[48,96,168]}'
  asterrl backtest agent=grid backtest.symbols=[BTCUSDT,ETHUSDT] backtest.portfolio.max_gross_leverage=2
  asterrl backtest -m agent=vol_trend agent.entry_window=24,48,96
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from asterrl.errors import ConfigError
from experiments.backtesting.output import Written, compose, finish
from experiments.backtesting.run import run_backtest
from experiments.cli import split_overrides


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="asterrl backtest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-m", "--multirun", action="store_true", help="Hydra multirun over the swept overrides"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def run(argv: Sequence[str]) -> int:
    options, overrides = split_overrides(argv)
    args = _parser().parse_args(options)
    if args.multirun:
        from experiments.backtesting.multirun import hydra_multirun

        return hydra_multirun("asterrl backtest", overrides, _job)
    written = backtest(overrides, show_progress=not args.no_progress)
    print("\n".join(written.summary))
    print(f"report: {written.report_html}")
    print(written.files_line)
    return 0


def backtest(overrides: list[str], show_progress: bool = True) -> Written:
    """Run the backtest of the config composed from ``overrides`` and write it."""
    cfg, data_for = compose(overrides)
    return finish(cfg, run_backtest(cfg, data_for, show_progress), "backtests")


def _job(cfg: DictConfig) -> dict[str, Any]:
    """One multirun job: backtest, print its summary, return its row of the results table."""

    def data_for(symbol: str) -> Any:
        node = cfg.copy()
        node.data.symbol = symbol
        return OmegaConf.to_object(node).data  # type: ignore[union-attr]

    typed = OmegaConf.to_object(cfg).validate()  # type: ignore[union-attr]
    written = finish(typed, run_backtest(typed, data_for, show_progress=False), "backtests")
    print("\n".join(written.summary))
    row = {k: v for k, v in dataclasses.asdict(written.survival).items() if k != "name"}
    return {"name": written.survival.name, **row, "out": str(written.directory)}
