"""Build an ``Instrument`` from what describes it: the exchange's JSON, or an instruments file's mapping.

``parse_exchange_info``: Aster/Binance ``exchangeInfo`` symbol entries and ``/leverageBracket`` answers.
``parse_instrument_dict``: the mapping ``Instrument.to_dict`` writes (YAML/JSON instruments files).

Wire format (reference §9, §10, §14): decimals are strings; ``filters`` is a list of objects keyed by
``filterType``; a value of 0 in ``PRICE_FILTER`` disables that rule; perps give ``MIN_NOTIONAL.notional``,
spot ``minNotional`` (both accepted). Brackets are ``{bracket, initialLeverage, notionalCap,
notionalFloor, maintMarginRatio, cum}``; the last tier's published cap becomes ``max_notional`` and the
tier itself is made open-ended, as the kernels expect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from asterrl.errors import ConfigError

if TYPE_CHECKING:
    from asterrl.sim.instrument import Instrument, MarginTier, PercentPrice

_REQUIRED = ("symbol", "tick_size", "step_size", "min_qty", "max_qty", "min_notional", "brackets")


def _filters(where: str, entry: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    raw = entry.get("filters")
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'filters' is missing or not a list")
    out: dict[str, Mapping[str, Any]] = {}
    for item in raw:
        if isinstance(item, Mapping) and isinstance(item.get("filterType"), str):
            out[item["filterType"]] = item
    return out


def _decimal(where: str, obj: Mapping[str, Any], key: str, default: float | None = None) -> float:
    """A decimal-string (or number) field as a float; one ``ConfigError`` naming it when absent or bad."""
    if key not in obj or obj[key] is None:
        if default is None:
            raise ConfigError(f"{where}: missing {key!r}")
        return default
    value = obj[key]
    if isinstance(value, bool):
        raise ConfigError(f"{where}: {key}={value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {key}={value!r} is not a number") from error
    if not math.isfinite(number):
        raise ConfigError(f"{where}: {key}={value!r} is not finite")
    return number


def _bracket_rows(where: str, symbol: str, answer: list[Any] | Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The bracket rows of ``symbol`` from any of the endpoint's answer shapes."""
    if isinstance(answer, Mapping):
        answer = [answer]
    if not isinstance(answer, list) or not answer:
        raise ConfigError(f"{where}: leverage brackets must be a non-empty list")
    if all(isinstance(row, Mapping) and "brackets" not in row for row in answer):
        return list(answer)  # the bare brackets list
    for item in answer:
        if isinstance(item, Mapping) and item.get("symbol", symbol) == symbol:
            rows = item.get("brackets")
            if not isinstance(rows, list) or not rows:
                raise ConfigError(f"{where}: {symbol}'s 'brackets' is missing or empty")
            return list(rows)
    raise ConfigError(f"{where}: the leverage brackets hold no entry for {symbol}")


def parse_brackets(
    symbol: str, answer: list[Any] | Mapping[str, Any], origin: str = "leverageBracket"
) -> tuple[tuple[MarginTier, ...], float]:
    """``(tiers, max_notional)`` from a ``/leverageBracket`` answer; tiers sorted, the last open-ended."""
    from asterrl.sim.instrument import MarginTier

    where = f"{origin} {symbol}"
    rows = _bracket_rows(where, symbol, answer)
    tiers = []
    for n, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ConfigError(f"{where}: bracket {n} is not an object")
        key = f"{where} bracket {row.get('bracket', n + 1)}"
        tiers.append(
            MarginTier(
                notional_floor=_decimal(key, row, "notionalFloor"),
                notional_cap=_decimal(key, row, "notionalCap"),
                maint_margin_rate=_decimal(key, row, "maintMarginRatio"),
                maint_amount=_decimal(key, row, "cum"),
                max_leverage=_decimal(key, row, "initialLeverage"),
            )
        )
    tiers.sort(key=lambda t: t.notional_floor)
    last = tiers[-1]
    tiers[-1] = MarginTier(last.notional_floor, math.inf, last.maint_margin_rate, last.maint_amount,
                           last.max_leverage)  # fmt: skip
    return tuple(tiers), last.notional_cap


def parse_exchange_info(
    cls: type[Instrument],
    entry: Mapping[str, Any],
    leverage_brackets: list[Any] | Mapping[str, Any] | None,
    fallback_brackets: tuple[MarginTier, ...] | None,
    origin: str,
) -> Instrument:
    """See ``Instrument.from_exchange_info``."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("symbol"), str):
        raise ConfigError(f"{origin}: a symbol entry must be an object with a 'symbol'")
    symbol = entry["symbol"]
    where = f"{origin} {symbol}"
    filters = _filters(where, entry)
    for needed in ("PRICE_FILTER", "LOT_SIZE"):
        if needed not in filters:
            raise ConfigError(f"{where}: no {needed} filter")
    price, lot = filters["PRICE_FILTER"], filters["LOT_SIZE"]
    market_lot = filters.get("MARKET_LOT_SIZE", lot)
    notional = filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL") or {}
    source: dict[str, str] = {}

    def took(name: str, what: str) -> str:
        source[name] = f"{origin} {what}"
        return name

    values: dict[str, Any] = {"symbol": symbol}
    values[took("tick_size", "PRICE_FILTER.tickSize")] = _decimal(where, price, "tickSize")
    values[took("min_price", "PRICE_FILTER.minPrice")] = _decimal(where, price, "minPrice", 0.0)
    max_price = _decimal(where, price, "maxPrice", 0.0)
    values[took("max_price", "PRICE_FILTER.maxPrice")] = max_price if max_price > 0.0 else math.inf
    values[took("step_size", "LOT_SIZE.stepSize")] = _decimal(where, lot, "stepSize")
    values[took("min_qty", "LOT_SIZE.minQty")] = _decimal(where, lot, "minQty")
    values[took("max_qty", "LOT_SIZE.maxQty")] = _decimal(where, lot, "maxQty")
    values[took("market_step_size", "MARKET_LOT_SIZE.stepSize")] = _decimal(where, market_lot, "stepSize")
    values[took("market_min_qty", "MARKET_LOT_SIZE.minQty")] = _decimal(where, market_lot, "minQty")
    values[took("market_max_qty", "MARKET_LOT_SIZE.maxQty")] = _decimal(where, market_lot, "maxQty")
    key = "notional" if "notional" in notional else "minNotional"
    values[took("min_notional", f"MIN_NOTIONAL.{key}")] = _decimal(where, notional, key, 0.0)
    if "PERCENT_PRICE" in filters:
        from asterrl.sim.instrument import PercentPrice

        band = filters["PERCENT_PRICE"]
        decimals = band.get("multiplierDecimal", 4)
        values[took("percent_price", "PERCENT_PRICE")] = PercentPrice(
            _decimal(where, band, "multiplierUp"), _decimal(where, band, "multiplierDown"), int(decimals)
        )
    if "liquidationFee" in entry:
        values[took("liquidation_fee", "liquidationFee")] = _decimal(where, entry, "liquidationFee")
    if "marketTakeBound" in entry:
        values[took("market_take_bound", "marketTakeBound")] = _decimal(where, entry, "marketTakeBound")
    for name, wire in (("price_precision", "pricePrecision"), ("quantity_precision", "quantityPrecision")):
        if isinstance(entry.get(wire), int) and not isinstance(entry.get(wire), bool):
            values[took(name, wire)] = entry[wire]
    values[took("contract_kind", "contractType")] = str(entry.get("contractType", "PERPETUAL"))
    if leverage_brackets is not None:
        tiers, max_notional = parse_brackets(symbol, leverage_brackets)
        values[took("brackets", "")] = tiers
        source["brackets"] = "leverageBracket"
        values["max_notional"] = max_notional
        source["max_notional"] = "leverageBracket last notionalCap"
    elif fallback_brackets is not None:
        values["brackets"] = tuple(fallback_brackets)
        source["brackets"] = "fallback (no leverageBracket answer)"
    else:
        raise ConfigError(
            f"{where}: no leverage brackets (GET /fapi/v3/leverageBracket needs a signed request); "
            "give them, or add the symbol to an instruments file"
        )
    source["max_leverage"] = f"{source['brackets']} tier 1"
    return cls(**values, source=source)


def parse_instrument_dict(cls: type[Instrument], raw: Mapping[str, Any], origin: str) -> Instrument:
    """See ``Instrument.from_dict``: unknown or missing keys and bad values are one line naming the key."""
    from asterrl.sim.instrument import field_number

    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: an instrument must be a mapping, got {type(raw).__name__}")
    symbol = raw.get("symbol")
    where = f"{origin}: instrument {symbol}"
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; expected some of {', '.join(sorted(known))}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r}")
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "brackets":
            kwargs[name] = _tiers(where, value)
        elif name == "percent_price":
            kwargs[name] = None if value is None else _percent(where, value)
        elif name in ("symbol", "contract_kind"):
            if not isinstance(value, str):
                raise ConfigError(f"{where}: {name} must be a string, got {value!r}")
            kwargs[name] = value
        elif name == "source":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: source must be a mapping of field to origin")
            kwargs[name] = {str(k): str(v) for k, v in value.items()}
        elif name in ("price_precision", "quantity_precision"):
            kwargs[name] = value
        elif name == "market_take_bound" and value is None:
            kwargs[name] = None
        else:
            kwargs[name] = field_number(where, name, _parse_float(value), lower=-math.inf, strict=False,
                                   allow_inf=True)  # fmt: skip
    given = dict(kwargs.pop("source", {}))
    kwargs["source"] = {**{k: origin for k in raw if k != "source"}, **given}
    return cls(**kwargs)


def _parse_float(value: Any) -> Any:
    """A decimal string (as the exchange writes them) or ``"inf"`` as a float; anything else unchanged."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _tiers(where: str, value: Any) -> tuple[MarginTier, ...]:
    from asterrl.sim.instrument import TIER_KEYS, MarginTier, field_number

    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(f"{where}: brackets must be a non-empty list of margin tiers")
    out = []
    for n, raw in enumerate(value):
        if not isinstance(raw, Mapping) or set(raw) != set(TIER_KEYS):
            raise ConfigError(f"{where}: brackets[{n}] must have exactly the keys {', '.join(TIER_KEYS)}")
        nums = [
            field_number(f"{where}: brackets[{n}]", k, _parse_float(raw[k]), -math.inf, False, True)
            for k in TIER_KEYS
        ]
        out.append(MarginTier(*nums))
    return tuple(out)


def _percent(where: str, value: Any) -> PercentPrice:
    from asterrl.sim.instrument import PERCENT_KEYS, PercentPrice, field_number

    if not isinstance(value, Mapping) or set(value) != set(PERCENT_KEYS):
        raise ConfigError(f"{where}: percent_price must have exactly the keys {', '.join(PERCENT_KEYS)}")
    decimals = value["multiplier_decimal"]
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise ConfigError(f"{where}: percent_price.multiplier_decimal must be a non-negative integer")
    up = field_number(where, "percent_price.multiplier_up", _parse_float(value["multiplier_up"]), 0.0, True)
    down = field_number(
        where, "percent_price.multiplier_down", _parse_float(value["multiplier_down"]), 0.0, True
    )
    return PercentPrice(up, down, decimals)
