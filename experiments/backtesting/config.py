"""``BacktestConfig``: the ``backtest`` section of the configuration (``asterrl backtest``, ``asterrl
walkforward``), validated when the config is composed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asterrl.backtest.engine.setup import day_start_ms
from asterrl.backtest.engine.sizing import SizingConfig
from asterrl.backtest.walkforward import OBJECTIVES
from asterrl.config_values import check_bool, check_int
from asterrl.errors import ConfigError
from asterrl.risk.portfolio import PortfolioLimits


@dataclass
class BacktestConfig:
    """What to backtest, over which bars, and where the results go.

    The policy is the configured ``agent`` (a rule agent), or ``checkpoint`` (a trained run's checkpoint
    folder), or ``signals`` (a file of target positions). Costs, the action rule and the starting balance
    are the env's (``env.*``), the limits and stops ``risk.*``.

    :param start: first day (UTC) of the span, ``YYYY-MM-DD``; empty: the first loaded bar. Bars before it
        warm up the indicators (load them with ``data.start``).
    :param end: last day (UTC) of the span, included; empty: the last loaded bar.
    :param checkpoint: a checkpoint folder of ``asterrl train`` (``<run>/checkpoints/final``) to backtest.
    :param signals: a CSV or Parquet file: ``timestamp`` (bar open, ms UTC, or a date column ``time`` /
        ``date``) and ``target`` (signed position notional over equity decided at that bar's close), or one
        column per symbol of ``symbols``. A bar without a row keeps the last target; before the first: flat.
    :param symbols: several symbols traded as one account (default: ``data.symbol`` alone).
    :param grid: a parameter grid of the rule agent, ``{field: [values]}`` (dotted fields for nested
        configs): every combination is backtested in one pass, recorded as a trial, and the best by
        ``objective`` is reported.
    :param objective: what picks the best grid setting: ``sharpe``, ``net_return`` or ``calmar``.
    :param sizing: volatility targeting or Kelly sizing of target series.
    :param portfolio: cross-asset limits when several ``symbols`` are traded.
    :param out: output folder; empty: ``<experiment dir>/backtests/<name>-<symbol>-<interval>-<span>``.
    :param record_trials: record the run (each grid setting) in the experiment's trial log.
    :param bootstrap_samples: resamples behind the report's confidence intervals.
    :param montecarlo_paths: paths of the report's Monte Carlo.
    """

    start: str = ""
    end: str = ""
    checkpoint: str = ""
    signals: str = ""
    symbols: list[str] = field(default_factory=list)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    objective: str = "sharpe"
    sizing: SizingConfig = field(default_factory=SizingConfig)
    portfolio: PortfolioLimits = field(default_factory=PortfolioLimits)
    out: str = ""
    record_trials: bool = True
    bootstrap_samples: int = 1000
    montecarlo_paths: int = 500

    def validate(self) -> BacktestConfig:
        """Raise one ``ConfigError`` line naming the ``backtest.*`` key of a bad value; return ``self``."""
        for key in ("start", "end"):
            value = getattr(self, key)
            if value:
                day_start_ms(value, f"backtest.{key}")
        if self.start and self.end and day_start_ms(self.end, "backtest.end") < day_start_ms(self.start, "x"):
            raise ConfigError(f"backtest.end ({self.end}) is before backtest.start ({self.start})")
        if self.checkpoint and self.signals:
            raise ConfigError("backtest.checkpoint and backtest.signals both name a policy: give one")
        if self.grid and (self.checkpoint or self.signals):
            raise ConfigError(
                "backtest.grid sweeps a rule agent's settings: not with a checkpoint or signals"
            )
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"backtest.objective={self.objective!r}; expected one of {', '.join(OBJECTIVES)}"
            )
        for key, values in self.grid.items():
            if not isinstance(values, list | tuple) or not values:
                raise ConfigError(f"backtest.grid.{key} must be a non-empty list of values")
        if len(set(self.symbols)) != len(self.symbols):
            raise ConfigError(f"backtest.symbols lists a symbol twice: {', '.join(self.symbols)}")
        check_bool("backtest.record_trials", self.record_trials)
        check_int("backtest.bootstrap_samples", self.bootstrap_samples, 10)
        check_int("backtest.montecarlo_paths", self.montecarlo_paths, 1)
        self.sizing.validate()
        self.portfolio.validate()
        return self
