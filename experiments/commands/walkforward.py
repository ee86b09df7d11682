"""``asterrl walkforward [key=value ...]``: fit on each training window, trade the next, report the stitched
out-of-sample account.

Folds are rolling (``walkforward.scheme=rolling``, ``walkforward.train_bars``) or anchored, with a purge of
``1 + walkforward.purge`` bars before each test window and an embargo after it, over ``backtest.start`` ..
``backtest.end``. What is fitted on each training window (``walkforward.fit``):

  grid      the best setting of the rule agent's ``backtest.grid`` by ``walkforward.objective``
  forecast  the forecasters of ``forecast.*`` (e.g. forecast=tiny), traded on their forecast's sign
  ppo       a fine-tune of ``backtest.checkpoint`` (an SB3 run's checkpoint), ``walkforward.ppo_iterations``

Writes the stitched account's trades, positions, equity and costs, ``folds.csv`` and ``report/`` (with the
per-fold table and figure) into ``<experiment dir>/walkforward/<name>-<symbol>-...``; every candidate is
recorded as a trial over the out-of-sample bars, so the report gives the PBO of choosing among them.

examples:
  asterrl walkforward agent=sma_cross '+backtest.grid={fast:[6,12,24],slow:[48,96,168]}' data=shared
  asterrl walkforward agent=vol_trend +backtest.grid.entry_window=[24,48,96] walkforward.scheme=anchored
  asterrl walkforward walkforward.fit=forecast forecast=tiny data=synthetic
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from asterrl.errors import ConfigError
from experiments.backtesting.output import compose, finish
from experiments.backtesting.walkforward import walk_forward
from experiments.hydra_cli import command_parser, parse, plain_text, show


def _parser() -> argparse.ArgumentParser:
    parser = command_parser("asterrl walkforward", plain_text(__doc__ or ""))
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def run(argv: Sequence[str]) -> int:
    invocation = parse(_parser(), argv)
    args, overrides = invocation.args, invocation.overrides
    if args.cfg or args.info:  # Hydra's --cfg/--info: print and exit
        return show(args, overrides)
    if args.multirun:
        raise ConfigError("asterrl walkforward runs one study: -m does not apply (see --help)")
    cfg, _ = compose(overrides)
    written = finish(cfg, walk_forward(cfg, show_progress=not args.no_progress), "walkforward")
    print("\n".join(written.summary))
    print(f"report: {written.report_html}")
    print(written.files_line)
    return 0
