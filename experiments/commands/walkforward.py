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

from collections.abc import Sequence

from asterrl.errors import ConfigError
from experiments.backtesting.output import compose, finish
from experiments.backtesting.walkforward import walk_forward
from experiments.cli import split_overrides


def run(argv: Sequence[str]) -> int:
    options, overrides = split_overrides(argv)
    if any(o in ("-h", "--help") for o in options):
        print(__doc__)
        return 0
    unknown = [o for o in options if o != "--no-progress"]
    if unknown:
        raise ConfigError(f"unknown option(s) {' '.join(unknown)} (see asterrl walkforward --help)")
    cfg, _ = compose(overrides)
    written = finish(cfg, walk_forward(cfg, show_progress="--no-progress" not in options), "walkforward")
    print("\n".join(written.summary))
    print(f"report: {written.report_html}")
    print(written.files_line)
    return 0
