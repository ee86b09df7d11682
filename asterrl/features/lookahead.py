"""Look-ahead analysis: does anything computed at bar t change when the data after t changes?

As freqtrade's ``lookahead-analysis`` does for strategies, ``check_lookahead`` computes named per-bar
series (feature columns, a rule agent's targets and signals) on the full market, then again at random cut
points with the future **removed** (the input truncated after the cut bar, what live trading sees) and
**perturbed** (the bars after the cut replaced by another price path, other volumes, other funding and
reference prices). Every series whose value at or before the cut differs (NaN equals NaN, float values
compared exactly) looks ahead; the report names each one with the first bar where it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from asterrl.data.schema import bar_interval_ms
from asterrl.errors import DataError

#: How the future was changed at a cut.
REMOVED = "removed"
PERTURBED = "perturbed"


@dataclass(frozen=True)
class MarketFrames:
    """The input of a check: canonical bars (sorted) and the optional funding and reference-symbol bars."""

    bars: pd.DataFrame
    funding: pd.DataFrame | None = None
    reference: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "bars", self.bars.reset_index(drop=True))

    @property
    def n_bars(self) -> int:
        """Bars."""
        return len(self.bars)

    def close_time(self, row: int) -> int:
        """Close time of bar ``row`` (open time + bar interval), ms UTC."""
        stamps = self.bars["timestamp"].to_numpy(np.int64)
        return int(stamps[row]) + bar_interval_ms(stamps)

    def head(self, cut: int) -> MarketFrames:
        """Bars ``0..cut``; funding settled and reference bars opened by bar ``cut``'s close."""
        known = self.close_time(cut)
        funding = None if self.funding is None else self.funding[self.funding["timestamp"] <= known]
        reference = None
        if self.reference is not None:
            reference = self.reference[self.reference["timestamp"] <= self.bars["timestamp"].iloc[cut]]
        return MarketFrames(self.bars.iloc[: cut + 1].copy(), funding, reference)

    def perturbed_after(self, cut: int, rng: np.random.Generator) -> MarketFrames:
        """The same market up to bar ``cut``, another one after it.

        The log returns after the cut are shuffled, their signs flipped at random and scaled by one draw in
        [0.5, 2]; each later bar keeps its shape (its OHLC scaled by one factor). Volumes are multiplied by
        draws in [0.3, 3], funding settled later becomes ``-3 x rate + noise``, later reference closes are
        moved by ~5 % noise.
        """
        bars = self.bars.copy()
        k = len(bars) - cut - 1
        if k <= 0:
            return self
        close = bars["close"].to_numpy(np.float64)
        future = np.diff(np.log(close))[cut:]
        moved = rng.permutation(future) * rng.choice([-1.0, 1.0], size=k) * rng.uniform(0.5, 2.0)
        ratio = close[cut] * np.exp(np.cumsum(moved)) / close[cut + 1 :]
        later = np.arange(len(bars)) > cut
        for column in ("open", "high", "low", "close"):
            bars.loc[later, column] = bars.loc[later, column].to_numpy(np.float64) * ratio
        size = rng.uniform(0.3, 3.0, k)
        for column in ("volume", "taker_buy_volume"):
            if column in bars.columns:
                bars.loc[later, column] = bars.loc[later, column].to_numpy(np.float64) * size
        if "quote_volume" in bars.columns:
            quote = bars.loc[later, "quote_volume"].to_numpy(np.float64)
            bars.loc[later, "quote_volume"] = quote * size * ratio
        funding = self.funding
        if funding is not None:
            funding = funding.copy()
            settled_later = funding["timestamp"].to_numpy(np.int64) > self.close_time(cut)
            rates = funding.loc[settled_later, "funding_rate"].to_numpy(np.float64)
            funding.loc[settled_later, "funding_rate"] = -3.0 * rates + rng.normal(0.0, 1e-4, rates.shape[0])
        reference = self.reference
        if reference is not None:
            reference = reference.copy()
            opened_later = reference["timestamp"].to_numpy(np.int64) > int(bars["timestamp"].iloc[cut])
            noise = np.exp(rng.normal(0.0, 0.05, int(opened_later.sum())))
            for column in ("open", "high", "low", "close"):
                if column in reference.columns:
                    reference.loc[opened_later, column] = (
                        reference.loc[opened_later, column].to_numpy(np.float64) * noise
                    )
        return replace(self, bars=bars, funding=funding, reference=reference)


#: What a check runs: the market in, named per-bar series (one value per bar) out.
SeriesFunction = Callable[[MarketFrames], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Leak:
    """A series that looked ahead: its value at ``bar`` (<= ``cut``) changed when the future was changed.

    :param name: the column or signal.
    :param cut: last bar kept as it was.
    :param bar: first bar at or before ``cut`` whose value changed.
    :param timestamp: open time of ``bar``, ms UTC.
    :param how: ``removed`` (data after the cut dropped) or ``perturbed`` (replaced).
    :param full: the value computed on the full market.
    :param changed: the value computed with the future changed.
    """

    name: str
    cut: int
    bar: int
    timestamp: int
    how: str
    full: float
    changed: float

    def describe(self) -> str:
        """One line for the report."""
        when = pd.Timestamp(self.timestamp, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M")
        return (
            f"{self.name}: the value at bar {self.bar} ({when} UTC) changed from {self.full:.6g} to "
            f"{self.changed:.6g} when the bars after bar {self.cut} were {self.how}"
        )


@dataclass(frozen=True)
class LookaheadReport:
    """Outcome of a check: every series checked, the cut bars, and the first leak of each leaking series."""

    names: tuple[str, ...]
    cuts: tuple[int, ...]
    leaks: tuple[Leak, ...]

    @property
    def clean(self) -> bool:
        """No series changed at or before a cut."""
        return not self.leaks

    @property
    def leaking(self) -> tuple[str, ...]:
        """Names of the series that looked ahead, in the order checked."""
        found = {leak.name for leak in self.leaks}
        return tuple(name for name in self.names if name in found)


def check_lookahead(
    compute: SeriesFunction,
    market: MarketFrames,
    cuts: int = 8,
    seed: int = 0,
    first_cut: int = 0,
) -> LookaheadReport:
    """Run ``compute`` on ``market`` and on ``cuts`` random cut points with the future removed and perturbed.

    :param cuts: number of cut bars, drawn without replacement from ``[first_cut, n_bars - 2]``.
    :param seed: seeds the cut bars and the perturbations.
    :param first_cut: lowest cut bar (e.g. the end of a fitting span, before which values may legitimately
        use statistics of the whole span).
    """
    n = market.n_bars
    first_cut = max(first_cut, 1)
    if n - 1 - first_cut < 1 or cuts < 1:
        raise DataError(f"look-ahead check needs bars after bar {first_cut}; the input has {n}")
    rng = np.random.default_rng(seed)
    candidates = np.arange(first_cut, n - 1)
    chosen = np.sort(rng.choice(candidates, size=min(cuts, candidates.shape[0]), replace=False))
    full = _series(compute(market), n)
    stamps = market.bars["timestamp"].to_numpy(np.int64)
    first_leak: dict[str, Leak] = {}
    for cut in (int(c) for c in chosen):
        variants = ((REMOVED, market.head(cut)), (PERTURBED, market.perturbed_after(cut, rng)))
        for how, changed_market in variants:
            changed = _series(compute(changed_market), changed_market.n_bars)
            for name, values in full.items():
                if name in first_leak:
                    continue
                other = changed.get(name)
                if other is None:
                    raise DataError(f"look-ahead check: {name} is missing when the future is {how}")
                bar = _first_difference(values[: cut + 1], other[: cut + 1])
                if bar is not None:
                    first_leak[name] = Leak(
                        name, cut, bar, int(stamps[bar]), how, float(values[bar]), float(other[bar])
                    )
    names = tuple(full)
    leaks = tuple(first_leak[name] for name in names if name in first_leak)
    return LookaheadReport(names, tuple(int(c) for c in chosen), leaks)


def _series(computed: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    out = {}
    for name, values in computed.items():
        array = np.asarray(values, dtype=np.float64)
        if array.shape != (n,):
            raise DataError(f"look-ahead check: {name} has shape {array.shape} for {n} bars")
        out[name] = array
    return out


def _first_difference(a: np.ndarray, b: np.ndarray) -> int | None:
    differs = ~((a == b) | (np.isnan(a) & np.isnan(b)))
    hits = np.flatnonzero(differs)
    return int(hits[0]) if hits.size else None
