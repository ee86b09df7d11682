"""Monte Carlo on a backtest result: how much of the result is the path it happened to take.

Four resampling schemes, each giving the distributions of final return, annualised Sharpe and maximum
drawdown over ``n_paths`` paths, the probability of ruin and of given drawdowns, and fan-chart quantiles
of the equity (see :class:`MonteCarloResult`):

* :func:`bootstrap_returns`: stationary block bootstrap of the per-bar returns (Politis & Romano 1994),
  keeping volatility clusters and autocorrelation within blocks;
* :func:`reshuffle_trades`: the same trades in a random order (or drawn with replacement): the final
  return of a reordering is unchanged, the drawdowns on the way are not;
* :func:`stress_costs`: the per-bar costs multiplied by ``k`` on common bootstrap resamples;
* :func:`price_path_monte_carlo`: the strategy re-run on price paths rebuilt from block-bootstrapped log
  returns of the traded price (the strategy is a callable, e.g. the backtester on one path).

Returns are per-bar simple returns of equity (fractions); costs are per-bar fractions of the equity at the
bar's start, positive when paid; Sharpe ratios are annualised with ``bars_per_year`` (a parameter).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from asterrl.backtest.stats import pathwise
from asterrl.backtest.stats.bootstrap import BATCH_VALUES, optimal_block_length, stationary_bootstrap_indices
from asterrl.backtest.stats.sharpe import as_returns
from asterrl.errors import ConfigError, DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: A strategy run on one close-price path (USDT, ``n`` bars) giving its ``n - 1`` per-bar returns.
PathStrategy = Callable[[FloatArray], FloatArray]


@dataclass(frozen=True)
class MonteCarloConfig:
    """Settings of a Monte Carlo run (checked when built).

    :param n_paths: resampled paths.
    :param mean_block: mean block length of the stationary bootstrap, bars; ``None`` = Politis–White.
    :param seed: seed of every draw.
    :param ruin_equity: equity, fraction of the initial, at or below which a path counts as ruined.
    :param drawdown_levels: drawdowns (fractions of the peak) whose probability of being reached is reported.
    :param fan_quantiles: equity quantiles drawn in the fan chart.
    :param fan_points: points along the path at which the fan is evaluated.
    """

    n_paths: int = 1000
    mean_block: float | None = None
    seed: int = 0
    ruin_equity: float = 0.5
    drawdown_levels: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)
    fan_quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
    fan_points: int = 200

    def __post_init__(self) -> None:
        if self.n_paths < 1:
            raise ConfigError(f"montecarlo.n_paths must be >= 1, got {self.n_paths}")
        if self.mean_block is not None and not self.mean_block >= 1.0:
            raise ConfigError(f"montecarlo.mean_block must be >= 1 bar or null, got {self.mean_block}")
        if not 0.0 <= self.ruin_equity < 1.0:
            raise ConfigError(f"montecarlo.ruin_equity must be in [0, 1), got {self.ruin_equity}")
        if any(not 0.0 < d <= 1.0 for d in self.drawdown_levels):
            raise ConfigError(f"montecarlo.drawdown_levels must lie in (0, 1], got {self.drawdown_levels}")
        if not self.fan_quantiles or any(not 0.0 <= q <= 1.0 for q in self.fan_quantiles):
            raise ConfigError(f"montecarlo.fan_quantiles must lie in [0, 1], got {self.fan_quantiles}")
        if self.fan_points < 2:
            raise ConfigError(f"montecarlo.fan_points must be >= 2, got {self.fan_points}")


@dataclass(frozen=True)
class FanChart:
    """Equity quantiles across paths at some steps.

    :param steps: bars (or trades) elapsed at each point, 0 = start.
    :param quantiles: the quantile levels, ascending.
    :param equity: ``(len(quantiles), len(steps))`` equity over initial equity.
    """

    steps: IntArray
    quantiles: FloatArray
    equity: FloatArray


@dataclass(frozen=True)
class MonteCarloResult:
    """Distributions over the resampled paths of one scheme.

    :param method: the scheme (``block_bootstrap``, ``trade_reshuffle``, ``cost_stress x2``, ...).
    :param final_return: final over initial equity minus 1, per path.
    :param sharpe: annualised Sharpe per path.
    :param max_drawdown: largest fall from a peak per path, fraction of the peak.
    :param probability_of_ruin: share of paths whose equity touched ``ruin_equity`` or less.
    :param drawdown_probability: drawdown level -> share of paths whose max drawdown reached it.
    :param fan: equity quantiles along the paths.
    :param observed: the same metrics (``final_return``, ``sharpe``, ``max_drawdown``) of the unresampled
        series, for comparison.
    :param mean_block: mean block length used, bars (``None`` for a reshuffle).
    """

    method: str
    final_return: FloatArray
    sharpe: FloatArray
    max_drawdown: FloatArray
    probability_of_ruin: float
    drawdown_probability: dict[float, float]
    fan: FanChart
    observed: dict[str, float] = field(default_factory=dict)
    mean_block: float | None = None

    @property
    def n_paths(self) -> int:
        return int(self.final_return.size)

    def quantiles(self, levels: Sequence[float] = (0.05, 0.5, 0.95)) -> dict[str, FloatArray]:
        """Quantiles of each distribution: ``{"final_return": [...], "sharpe": [...], ...}``."""
        return {
            name: np.quantile(getattr(self, name), levels)
            for name in ("final_return", "sharpe", "max_drawdown")
        }


class PathAccumulator:
    """Collects the per-path metrics of batches of ``(k, n_steps)`` return paths; :meth:`result` gives the
    :class:`MonteCarloResult`."""

    def __init__(self, n_steps: int, periods_per_year: float, config: MonteCarloConfig) -> None:
        self.periods_per_year = periods_per_year
        self.config = config
        self.steps = np.unique(np.linspace(0, n_steps, min(config.fan_points, n_steps + 1)).astype(np.int64))
        self._final: list[FloatArray] = []
        self._sharpe: list[FloatArray] = []
        self._dd: list[FloatArray] = []
        self._low: list[FloatArray] = []
        self._at: list[FloatArray] = []

    def add(self, paths: FloatArray) -> None:
        final, dd, low, at = pathwise.path_summary(paths, self.steps)
        self._final.append(final - 1.0)
        self._sharpe.append(pathwise.sharpe(paths, self.periods_per_year))
        self._dd.append(dd)
        self._low.append(low)
        self._at.append(at)

    def result(self, method: str, observed: FloatArray, mean_block: float | None = None) -> MonteCarloResult:
        cfg = self.config
        dd = np.concatenate(self._dd)
        qs = np.sort(np.asarray(cfg.fan_quantiles, dtype=np.float64))
        obs = pathwise.as_paths(observed)
        return MonteCarloResult(
            method=method,
            final_return=np.concatenate(self._final),
            sharpe=np.concatenate(self._sharpe),
            max_drawdown=dd,
            probability_of_ruin=float(np.mean(np.concatenate(self._low) <= cfg.ruin_equity)),
            drawdown_probability={lvl: float(np.mean(dd >= lvl)) for lvl in cfg.drawdown_levels},
            fan=FanChart(self.steps, qs, np.quantile(np.concatenate(self._at), qs, axis=0)),
            observed={
                "final_return": float(pathwise.total_return(obs)[0]),
                "sharpe": float(pathwise.sharpe(obs, self.periods_per_year)[0]),
                "max_drawdown": float(pathwise.max_drawdown(obs)[0]),
            },
            mean_block=mean_block,
        )


def summarise_paths(
    batches: Iterator[FloatArray],
    n_steps: int,
    periods_per_year: float,
    config: MonteCarloConfig,
    method: str,
    observed: FloatArray,
    mean_block: float | None = None,
) -> MonteCarloResult:
    """The distributions over batches of ``(k, n_steps)`` return paths."""
    acc = PathAccumulator(n_steps, periods_per_year, config)
    for paths in batches:
        acc.add(paths)
    return acc.result(method, observed, mean_block)


def _rng(config: MonteCarloConfig) -> np.random.Generator:
    return np.random.default_rng(config.seed)


def _batch_rows(n_steps: int) -> int:
    return max(1, BATCH_VALUES // max(n_steps, 1))


def _block(series: FloatArray, config: MonteCarloConfig) -> float:
    return optimal_block_length(series).stationary if config.mean_block is None else config.mean_block


def bootstrap_returns(
    returns: npt.ArrayLike, bars_per_year: float, config: MonteCarloConfig | None = None
) -> MonteCarloResult:
    """Stationary block bootstrap of per-bar ``returns``: ``n_paths`` resampled return series."""
    cfg = config or MonteCarloConfig()
    r = as_returns(returns, min_size=8)
    block = _block(r, cfg)
    rng = _rng(cfg)

    def batches() -> Iterator[FloatArray]:
        step = _batch_rows(r.size)
        for lo in range(0, cfg.n_paths, step):
            yield r[stationary_bootstrap_indices(r.size, min(step, cfg.n_paths - lo), block, rng)]

    return summarise_paths(batches(), r.size, bars_per_year, cfg, "block_bootstrap", r, block)


def reshuffle_trades(
    trade_returns: npt.ArrayLike,
    trades_per_year: float,
    config: MonteCarloConfig | None = None,
    replace: bool = False,
) -> MonteCarloResult:
    """The trades' returns (each trade's P&L over the equity before it) in ``n_paths`` random orders, or
    drawn with replacement when ``replace``; Sharpe is annualised with ``trades_per_year``."""
    cfg = config or MonteCarloConfig()
    r = as_returns(trade_returns, "trade returns")
    if np.any(r <= -1.0):
        raise DataError("a trade return of -100 % or worse cannot be compounded in another order")
    rng = _rng(cfg)

    def batches() -> Iterator[FloatArray]:
        step = _batch_rows(r.size)
        for lo in range(0, cfg.n_paths, step):
            k = min(step, cfg.n_paths - lo)
            if replace:
                yield r[rng.integers(0, r.size, size=(k, r.size))]
            else:
                yield rng.permuted(np.broadcast_to(r, (k, r.size)), axis=1)

    method = "trade_bootstrap" if replace else "trade_reshuffle"
    return summarise_paths(batches(), r.size, trades_per_year, cfg, method, r)


def stress_costs(
    net_returns: npt.ArrayLike,
    cost_returns: npt.ArrayLike,
    bars_per_year: float,
    multipliers: Sequence[float] = (1.0, 2.0, 3.0),
    config: MonteCarloConfig | None = None,
) -> dict[float, MonteCarloResult]:
    """Costs times ``k`` for each multiplier: per-bar returns ``net - (k - 1) * cost`` (``cost`` the
    fees and/or slippage paid in each bar as a fraction of equity), each on the same block-bootstrap
    resamples so the multipliers differ only by the costs."""
    cfg = config or MonteCarloConfig()
    net = as_returns(net_returns, "net returns", min_size=8)
    cost = as_returns(cost_returns, "cost returns", min_size=8)
    if cost.size != net.size:
        raise DataError(f"cost series has {cost.size} bars but the returns have {net.size}")
    if any(k < 0.0 for k in multipliers):
        raise ConfigError(f"cost multipliers must be >= 0, got {tuple(multipliers)}")
    block = _block(net, cfg)
    stressed = {float(k): net - (k - 1.0) * cost for k in multipliers}
    acc = {k: PathAccumulator(net.size, bars_per_year, cfg) for k in stressed}
    rng = _rng(cfg)
    step = _batch_rows(net.size)
    for lo in range(0, cfg.n_paths, step):
        idx = stationary_bootstrap_indices(net.size, min(step, cfg.n_paths - lo), block, rng)
        for k, series in stressed.items():  # the same resamples for every multiplier
            acc[k].add(series[idx])
    return {k: acc[k].result(f"cost_stress x{k:g}", stressed[k], block) for k in stressed}


def resample_price_paths(
    close: npt.ArrayLike, n_paths: int, mean_block: float, rng: np.random.Generator
) -> FloatArray:
    """``(n_paths, n)`` close-price paths (USDT) starting at ``close[0]``, whose log returns are a
    stationary block bootstrap of the observed ones."""
    c = np.asarray(close, dtype=np.float64)
    if c.ndim != 1 or c.size < 3 or not np.all(np.isfinite(c)) or np.any(c <= 0.0):
        raise DataError("close prices must be a 1-D series of at least 3 positive finite values")
    log_ret = np.diff(np.log(c))
    idx = stationary_bootstrap_indices(log_ret.size, n_paths, mean_block, rng)
    paths = np.empty((n_paths, c.size))
    paths[:, 0] = c[0]
    paths[:, 1:] = c[0] * np.exp(np.cumsum(log_ret[idx], axis=1))
    return paths


def price_path_monte_carlo(
    close: npt.ArrayLike,
    strategy: PathStrategy,
    bars_per_year: float,
    config: MonteCarloConfig | None = None,
) -> MonteCarloResult:
    """Re-run ``strategy`` on ``n_paths`` resampled price paths (see :func:`resample_price_paths`); the
    block length defaults to Politis–White on the log returns of ``close``."""
    cfg = config or MonteCarloConfig()
    c = np.asarray(close, dtype=np.float64)
    if c.ndim != 1 or c.size < 9 or np.any(c <= 0.0) or not np.all(np.isfinite(c)):
        raise DataError("close prices must be a 1-D series of at least 9 positive finite values")
    block = _block(np.diff(np.log(c)), cfg)
    observed = as_returns(strategy(c), "strategy returns on the observed path")
    if observed.size != c.size - 1:
        raise DataError(f"the strategy must return {c.size - 1} per-bar returns, got {observed.size}")
    rng = _rng(cfg)

    def batches() -> Iterator[FloatArray]:
        step = min(256, _batch_rows(c.size))
        for lo in range(0, cfg.n_paths, step):
            paths = resample_price_paths(c, min(step, cfg.n_paths - lo), block, rng)
            yield np.stack([as_returns(strategy(p), "strategy returns") for p in paths])

    return summarise_paths(batches(), c.size - 1, bars_per_year, cfg, "price_paths", observed, block)
