"""One symbol's replayed market on the local exchange: bars on a clock, quotes, a synthetic book, funding.

The market is the bars of one interval (from the store, a file, the synthetic generator or a live feed),
prepared once into ``asterrl.sim.MarketArrays``. Bar ``k`` is current while ``ts_k <= now < ts_k +
interval``; during it the market trades at bar ``k``'s open (the price an order decided on bar ``k - 1``'s
close fills at, as in the env) and the mark is the valuation open. The market model needs a closed bar
before the one it fills in, so trading starts at bar 1. The order book shown on ``depth`` and the streams
is a synthetic ladder around that price: the model's best bid and ask (``asterrl.sim.fills.touch_price``),
then one level per tick, each holding a share of the volume market orders may take in the bar.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from asterrl.errors import ConfigError
from asterrl.sim import fills as sim_fills
from asterrl.sim.config import MarketModelConfig
from asterrl.sim.instrument import Instrument
from asterrl.sim.layout import Market
from asterrl.sim.market_arrays import MarketArrays

#: Book levels kept on each side of the synthetic book.
BOOK_DEPTH = 20


class SymbolMarket:
    """Replay state of one symbol: its bar arrays, the bars processed so far, the volume taken in a bar.

    :param symbol: exchange symbol.
    :param bars: canonical OHLCV frame (at least 3 bars).
    :param funding: canonical funding frame or ``None``.
    :param mark: canonical mark frame or ``None`` (the valuation then follows last prices).
    :param interval_ms: bar length, ms.
    :param instrument: the symbol's filters, margin tiers and liquidation fee.
    :param model: costs and the limit-order model (``asterrl.sim.MarketModelConfig``).
    """

    def __init__(
        self,
        symbol: str,
        bars: pd.DataFrame,
        funding: pd.DataFrame | None,
        mark: pd.DataFrame | None,
        interval_ms: int,
        instrument: Instrument,
        model: MarketModelConfig,
    ) -> None:
        self.symbol = symbol
        self.interval_ms = interval_ms
        self.instrument = instrument
        self.params = model.to_params(instrument)
        self.brackets = instrument.bracket_table()
        self.funding_times = (
            funding["timestamp"].to_numpy(dtype=np.int64) if funding is not None and len(funding) else None
        )
        self.data = MarketArrays.from_frames(bars, funding, mark, model.costs, interval_ms)
        self.values = self.data.values
        self.timestamps = self.data.timestamps
        self.close_times = self.timestamps + interval_ms
        #: Last bars whose open (gap liquidation) and close (fills, liquidation, funding) were processed.
        self.opened = -1
        self.closed = -1
        #: Base asset taken so far in bar ``taken_bar`` by taker fills (of the participation cap) and by
        #: resting (maker) fills (of the limit-order volume share).
        self.taken_bar = -1
        self.taken_taker = 0.0
        self.taken_maker = 0.0
        #: Update id of the synthetic book (``lastUpdateId``, depth stream ``u``).
        self.book_update_id = 1

    # -- the clock --------------------------------------------------------------------------------------

    def bar_at(self, now_ms: int) -> int:
        """Index of the bar current at ``now_ms``: -1 before the first bar, ``n_bars`` after the last."""
        k = int(np.searchsorted(self.timestamps, now_ms, side="right")) - 1
        if k >= 0 and now_ms >= self.timestamps[k] + self.interval_ms:
            return self.n_bars if k == self.n_bars - 1 else k
        return k

    def closed_bars(self, now_ms: int) -> int:
        """Number of bars closed by ``now_ms``."""
        return int(np.searchsorted(self.close_times, now_ms, side="right"))

    @property
    def n_bars(self) -> int:
        return self.data.n_bars

    def trading(self, bar: int) -> bool:
        """Whether ``bar`` is a bar the market can trade in (one after a closed bar)."""
        return 1 <= bar < self.n_bars

    # -- prices at a bar --------------------------------------------------------------------------------

    def last_price(self, bar: int) -> float:
        """The price the market trades at during ``bar`` (its open), USDT."""
        return float(self.values[self._row(bar), Market.OPEN])

    def mark_price(self, bar: int) -> float:
        """The mark (valuation) price during ``bar``: the valuation open, USDT."""
        return float(self.values[self._row(bar), Market.VALUE_OPEN])

    def last_funding_rate(self, bar: int) -> float:
        """The rate of the most recent settlement before ``bar`` opened."""
        prev = self._row(bar) - 1
        return float(self.values[prev, Market.LAST_FUNDING_RATE]) if prev >= 0 else 0.0

    def next_funding_time(self, now_ms: int) -> int:
        """The next settlement after ``now_ms`` (extended on the last known interval past the data), ms."""
        times = self.funding_times
        step = 8 * 3_600_000
        if times is not None and len(times):
            i = int(np.searchsorted(times, now_ms, side="right"))
            if i < len(times):
                return int(times[i])
            step = int(times[-1] - times[-2]) if len(times) >= 2 else step
            anchor = int(times[-1])
            return anchor + ((now_ms - anchor) // step + 1) * step
        return (now_ms // step + 1) * step

    def best_quotes(self, bar: int) -> tuple[float, float]:
        """(best bid, best ask) during ``bar``: the market model's touch, half a spread (known at the
        previous close) either side of the price, on the tick grid (at least one tick apart)."""
        tick, decided = self.instrument.tick_size, self._decided(bar)
        bid = float(sim_fills.touch_price(-1.0, self.values, self.params, decided))
        ask = float(sim_fills.touch_price(1.0, self.values, self.params, decided))
        if ask - bid < tick * 0.5:
            ask = bid + tick
        return _on_tick(bid, tick), _on_tick(ask, tick)

    def book(
        self, bar: int, depth: int = BOOK_DEPTH
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Synthetic book during ``bar``: ``depth`` levels of (price, qty) per side, best first."""
        bid, ask = self.best_quotes(bar)
        tick, step = self.instrument.tick_size, self.instrument.step_size
        fillable = float(sim_fills.participation_room(self.values, self.params, self._decided(bar), 0.0))
        level = max(math.floor(fillable / depth / step) * step, step)
        qty = float(np.round(level / step) * step)
        bids = [(_on_tick(bid - i * tick, tick), qty) for i in range(depth) if bid - i * tick > 0]
        asks = [(_on_tick(ask + i * tick, tick), qty) for i in range(depth)]
        return bids, asks

    def take(self, bar: int, qty: float, maker: bool) -> None:
        """Record ``qty`` (base asset) filled in ``bar`` against its taker or maker allowance."""
        if bar != self.taken_bar:
            self.taken_bar, self.taken_taker, self.taken_maker = bar, 0.0, 0.0
        if maker:
            self.taken_maker += abs(qty)
        else:
            self.taken_taker += abs(qty)

    def taken_in(self, bar: int, maker: bool) -> float:
        """Base asset taken so far in ``bar`` by maker (``maker``) or taker fills."""
        if bar != self.taken_bar:
            return 0.0
        return self.taken_maker if maker else self.taken_taker

    def _row(self, bar: int) -> int:
        """``bar`` clipped to the bars held."""
        if self.n_bars == 0:
            raise ConfigError(f"{self.symbol}: the market holds no bars")
        return min(max(bar, 0), self.n_bars - 1)

    def _decided(self, bar: int) -> int:
        """The decision bar of orders in ``bar`` (the one before it; bar 0 for bars before bar 1)."""
        return max(self._row(bar), 1) - 1


def _on_tick(price: float, tick: float) -> float:
    """``price`` snapped to the tick grid without float noise (``0.30000000000000004`` -> ``0.3``)."""
    decimals = max(0, -math.floor(math.log10(tick)) + 1)
    return round(round(price / tick) * tick, decimals)
