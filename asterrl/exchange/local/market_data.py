"""The market-data half of the local Aster exchange: canonical frames in, Aster-shaped payloads out.

:class:`MarketDataBook` holds bars, mark-price klines and funding per symbol and answers ``klines``,
``markPriceKlines``, ``fundingRate`` and ``exchangeInfo`` with the venue's paging rules (reference §9):
with ``startTime`` the first ``limit`` rows from it (up to ``endTime``), with only ``endTime`` the last
``limit`` rows up to it, with neither the most recent ``limit``. Rows later than the server clock are not
served; the bar open at the clock is served as the venue does, with ``closeTime`` in the future.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from asterrl.data.schema import REQUIRED_COLUMNS, SUPPORTED_INTERVALS, DataKind, interval_ms, normalize_symbol
from asterrl.errors import AsterRLError
from asterrl.exchange.codes import Code
from asterrl.exchange.local.api import ApiError, fmt, mandatory
from asterrl.sim.instrument import Instrument

KLINE_LIMIT_DEFAULT, KLINE_LIMIT_MAX = 500, 1500
FUNDING_LIMIT_DEFAULT, FUNDING_LIMIT_MAX = 100, 1000


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One perpetual's listing in ``exchangeInfo`` (reference §10); decimals are strings, as on the wire.

    Defaults are the real BTCUSDT values from the reference's snapshot.
    """

    symbol: str
    base_asset: str
    quote_asset: str = "USDT"
    tick_size: str = "0.1"
    min_price: str = "1"
    max_price: str = "1000000"
    step_size: str = "0.001"
    min_qty: str = "0.001"
    max_qty: str = "100"
    market_max_qty: str = "10"
    min_notional: str = "5"
    multiplier_up: str = "1.0200"
    multiplier_down: str = "0.9800"
    liquidation_fee: str = "0.025000"
    market_take_bound: str = "0.02"
    trigger_protect: str = "0.0200"
    onboard_date_ms: int = 1_569_398_400_000

    @classmethod
    def for_price(cls, symbol: str, price: float) -> SymbolSpec:
        """A spec for a symbol trading near ``price`` (USDT): a tick of 10^(floor(log10 price) - 5) (0.1 at
        30 000) and a step of 10^floor(log10(10 / price)) base units (0.0001 at 30 000, 1 to 10 USDT)."""
        symbol = normalize_symbol(symbol)
        base = symbol[:-4] if symbol.endswith("USDT") else symbol
        price = price if np.isfinite(price) and price > 0 else 1.0
        tick_exp = int(np.floor(np.log10(price))) - 5
        step_exp = min(0, int(np.floor(np.log10(10.0 / price))))
        return cls(
            symbol=symbol,
            base_asset=base,
            tick_size=fmt(10.0**tick_exp),
            min_price=fmt(10.0**tick_exp),
            max_price=fmt(10.0 ** (tick_exp + 10)),
            step_size=fmt(10.0**step_exp),
            min_qty=fmt(10.0**step_exp),
            max_qty=fmt(10.0 ** (step_exp + 5)),
            market_max_qty=fmt(10.0 ** (step_exp + 4)),
        )

    @classmethod
    def from_instrument(cls, instrument: Instrument) -> SymbolSpec:
        """The listing of ``instrument`` (the symbol's rules the env and the sim trade on, from the store,
        a user's instruments file or the bundled file): the same tick, lots, minimum notional, price band
        and liquidation fee. A price bound the instrument leaves open becomes 10^10 ticks."""
        tick = instrument.tick_size
        percent = instrument.percent_price
        spec = cls(
            symbol=instrument.symbol,
            base_asset=instrument.symbol[:-4] if instrument.symbol.endswith("USDT") else instrument.symbol,
            tick_size=fmt(tick),
            min_price=fmt(instrument.min_price if instrument.min_price > 0.0 else tick),
            max_price=fmt(instrument.max_price if np.isfinite(instrument.max_price) else tick * 1e10),
            step_size=fmt(instrument.step_size),
            min_qty=fmt(instrument.min_qty),
            max_qty=fmt(instrument.max_qty),
            market_max_qty=fmt(instrument.market_max_qty),
            min_notional=fmt(instrument.min_notional),
            liquidation_fee=fmt(instrument.liquidation_fee),
        )
        if percent is not None:
            spec = replace(spec, multiplier_up=fmt(percent.multiplier_up),
                           multiplier_down=fmt(percent.multiplier_down))  # fmt: skip
        if instrument.market_take_bound is not None:
            spec = replace(spec, market_take_bound=fmt(instrument.market_take_bound))
        return spec

    def payload(self) -> dict[str, Any]:
        """The ``exchangeInfo.symbols[]`` entry."""
        price_precision = max(0, -int(np.floor(np.log10(float(self.tick_size)))))
        qty_precision = max(0, -int(np.floor(np.log10(float(self.step_size)))))
        return {
            "symbol": self.symbol,
            "pair": self.symbol,
            "contractType": "PERPETUAL",
            "deliveryDate": 4_133_404_800_000,
            "onboardDate": self.onboard_date_ms,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": self.base_asset,
            "quoteAsset": self.quote_asset,
            "marginAsset": self.quote_asset,
            "pricePrecision": price_precision,
            "quantityPrecision": qty_precision,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "settlePlan": 0,
            "triggerProtect": self.trigger_protect,
            "liquidationFee": self.liquidation_fee,
            "marketTakeBound": self.market_take_bound,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": self.min_price,
                    "maxPrice": self.max_price,
                    "tickSize": self.tick_size,
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": self.min_qty,
                    "maxQty": self.max_qty,
                    "stepSize": self.step_size,
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": self.min_qty,
                    "maxQty": self.market_max_qty,
                    "stepSize": self.step_size,
                },
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": self.min_notional},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": self.multiplier_up,
                    "multiplierDown": self.multiplier_down,
                    "multiplierDecimal": "4",
                },
            ],
            "orderTypes": [
                "LIMIT",
                "MARKET",
                "STOP",
                "STOP_MARKET",
                "TAKE_PROFIT",
                "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET",
            ],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "HIDDEN"],
        }


class MarketDataBook:
    """Thread-safe store of the series a local server answers with, keyed by symbol (and interval)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._specs: dict[str, SymbolSpec] = {}
        self._bars: dict[tuple[str, str], pd.DataFrame] = {}
        self._mark: dict[tuple[str, str], pd.DataFrame] = {}
        self._funding: dict[str, pd.DataFrame] = {}

    # -- loading ----------------------------------------------------------------------------------------

    def add_symbol(self, spec: SymbolSpec) -> None:
        """List a symbol (with its filters) in ``exchangeInfo``; it may hold no data."""
        with self._lock:
            self._specs[spec.symbol] = spec

    def add_bars(self, symbol: str, interval: str, frame: pd.DataFrame) -> None:
        """Serve canonical OHLCV ``frame`` as ``symbol``'s ``interval`` klines (missing optional columns
        are served as zero)."""
        self._add(self._bars, symbol, interval, frame, DataKind.OHLCV)

    def add_mark(self, symbol: str, interval: str, frame: pd.DataFrame) -> None:
        """Serve canonical mark frame as ``symbol``'s ``interval`` mark-price klines."""
        self._add(self._mark, symbol, interval, frame, DataKind.MARK)

    def add_funding(self, symbol: str, frame: pd.DataFrame) -> None:
        """Serve canonical funding frame as ``symbol``'s funding-rate history."""
        symbol = normalize_symbol(symbol)
        clean = _checked(frame, DataKind.FUNDING)
        with self._lock:
            self._funding[symbol] = clean
            self._ensure_spec(symbol, None)

    def series(
        self, symbol: str, interval: str
    ) -> tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None, SymbolSpec]:
        """``(bars, mark, funding, spec)`` of ``symbol`` at ``interval`` (``None`` where absent)."""
        symbol = normalize_symbol(symbol)
        with self._lock:
            spec = self._specs.get(symbol)
            if spec is None:
                raise AsterRLError(f"local exchange: {symbol} is not listed (add its bars first)")
            return (
                self._bars.get((symbol, interval)),
                self._mark.get((symbol, interval)),
                self._funding.get(symbol),
                spec,
            )

    @property
    def symbols(self) -> list[str]:
        with self._lock:
            return sorted(self._specs)

    # -- endpoints --------------------------------------------------------------------------------------

    def klines(self, params: Mapping[str, str], now_ms: int, *, mark: bool = False) -> list[list[Any]]:
        """``GET /fapi/v1/klines`` (or ``markPriceKlines`` with ``mark=True``)."""
        symbol = self._symbol(params)
        interval = params.get("interval")
        if not interval:
            raise mandatory("interval")
        if interval not in SUPPORTED_INTERVALS:
            raise ApiError.of(Code.INVALID_INTERVAL)
        start, end = _opt_int(params, "startTime"), _opt_int(params, "endTime")
        limit = _limit(params, KLINE_LIMIT_DEFAULT, KLINE_LIMIT_MAX)
        with self._lock:
            frame = (self._mark if mark else self._bars).get((symbol, interval))
        if frame is None:
            return []
        ts = frame["timestamp"].to_numpy()
        lo, hi = _window(ts, start, end, limit, now_ms)
        step = interval_ms(interval)
        part = frame.iloc[lo:hi]
        return [_kline_row(row, step, mark) for row in part.itertuples(index=False)]

    def funding_rate(self, params: Mapping[str, str], now_ms: int) -> list[dict[str, Any]]:
        """``GET /fapi/v1/fundingRate``."""
        symbol = self._symbol(params)
        start, end = _opt_int(params, "startTime"), _opt_int(params, "endTime")
        limit = _limit(params, FUNDING_LIMIT_DEFAULT, FUNDING_LIMIT_MAX)
        with self._lock:
            frame = self._funding.get(symbol)
        if frame is None:
            return []
        ts = frame["timestamp"].to_numpy()
        lo, hi = _window(ts, start, end, limit, now_ms)
        rates = frame["funding_rate"].to_numpy()
        return [
            {"symbol": symbol, "fundingTime": int(ts[i]), "fundingRate": fmt(float(rates[i]))}
            for i in range(lo, hi)
        ]

    def exchange_info(self, now_ms: int, request_weight_limit: int) -> dict[str, Any]:
        """``GET /fapi/v1/exchangeInfo``."""
        with self._lock:
            specs = [self._specs[s] for s in sorted(self._specs)]
        quotes = sorted({s.quote_asset for s in specs} or {"USDT"})
        return {
            "timezone": "UTC",
            "serverTime": now_ms,
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": request_weight_limit,
                },
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": q, "marginAvailable": True, "autoAssetExchange": "-10000"} for q in quotes],
            "symbols": [s.payload() for s in specs],
        }

    # -- internals --------------------------------------------------------------------------------------

    def _add(
        self,
        table: dict[tuple[str, str], pd.DataFrame],
        symbol: str,
        interval: str,
        frame: pd.DataFrame,
        kind: DataKind,
    ) -> None:
        symbol = normalize_symbol(symbol)
        interval_ms(interval)
        clean = _checked(frame, kind)
        close_col = "close" if kind is DataKind.OHLCV else "mark_close"
        last_price = float(clean[close_col].iloc[-1]) if len(clean) else 1.0
        with self._lock:
            table[(symbol, interval)] = clean
            self._ensure_spec(symbol, last_price)

    def _ensure_spec(self, symbol: str, price: float | None) -> None:
        if symbol not in self._specs:
            self._specs[symbol] = SymbolSpec.for_price(symbol, price if price is not None else 1.0)

    def _symbol(self, params: Mapping[str, str]) -> str:
        raw = params.get("symbol")
        if not raw:
            raise mandatory("symbol")
        with self._lock:
            if raw not in self._specs:
                raise ApiError.of(Code.BAD_SYMBOL)
        return raw


def _checked(frame: pd.DataFrame, kind: DataKind) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in frame.columns]
    if missing:
        raise AsterRLError(f"local server: {kind.value} frame lacks column(s) {', '.join(missing)}")
    clean = frame.sort_values("timestamp", kind="stable").drop_duplicates("timestamp", keep="last")
    return clean.reset_index(drop=True)


def _opt_int(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 20:
        raise ApiError.of(Code.ILLEGAL_CHARS, name=name, pattern="^[0-9]{1,20}$")
    return int(value)


def _limit(params: Mapping[str, str], default: int, maximum: int) -> int:
    limit = _opt_int(params, "limit")
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise ApiError.of(Code.INVALID_PARAMETER, name="limit")
    return limit


def _window(
    ts: np.ndarray[Any, np.dtype[np.int64]], start: int | None, end: int | None, limit: int, now_ms: int
) -> tuple[int, int]:
    """Row range ``[lo, hi)`` of ascending ``ts`` that a paged request returns."""
    if start is not None and end is not None and start > end:
        raise ApiError.of(Code.START_AFTER_END)
    visible = int(np.searchsorted(ts, now_ms, side="right"))
    hi = visible if end is None else min(visible, int(np.searchsorted(ts, end, side="right")))
    if start is not None:
        lo = int(np.searchsorted(ts, start, side="left"))
        return lo, max(lo, min(hi, lo + limit))
    return max(0, hi - limit), hi


def _kline_row(row: Any, step_ms: int, mark: bool) -> list[Any]:
    open_ms = int(row.timestamp)
    close_ms = open_ms + step_ms - 1
    if mark:
        prices = [fmt(row.mark_open), fmt(row.mark_high), fmt(row.mark_low)]
        return [open_ms, *prices, fmt(row.mark_close), "0", close_ms, "0", 0, "0", "0", "0"]
    volume = float(row.volume)
    quote = float(getattr(row, "quote_volume", 0.0))
    taker = float(getattr(row, "taker_buy_volume", 0.0))
    taker_quote = taker * quote / volume if volume > 0 else 0.0
    return [
        open_ms,
        fmt(row.open),
        fmt(row.high),
        fmt(row.low),
        fmt(row.close),
        fmt(volume),
        close_ms,
        fmt(quote),
        int(getattr(row, "trades", 0)),
        fmt(taker),
        fmt(taker_quote),
        "0",
    ]
