"""``Instrument``: one perpetual's trading rules (tick, lot step, notional limits, margin tiers).

Every layer that prices, sizes or margins an order reads these values from one ``Instrument``: the market
model, the envs, the risk gate, the rule agents, the local exchange and the live client. They come from the
exchange (``exchangeInfo`` filters and ``/leverageBracket`` tiers, reference §10 and §14) through
``Instrument.from_exchange_info``, or from a validated instruments file (``Instrument.from_dict``); see
``asterrl.data.instruments.load_instrument`` for where a symbol is looked up. No symbol is assumed.

Units: prices USDT, quantities base asset, notionals USDT, rates fractions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

import numpy as np
import numpy.typing as npt

from asterrl.errors import ConfigError

#: Columns of ``Instrument.bracket_table()``: ``(floor, cap, maint_margin_rate, cum, max_leverage)``.
BRACKET_COLUMNS = 5
#: Relative tolerance of the maintenance-margin continuity check across tiers (exchange tables round ``cum``).
_CONTINUITY_TOLERANCE = 1e-6
CONTRACT_KINDS = ("PERPETUAL",)


@dataclass(frozen=True, slots=True)
class MarginTier:
    """One notional tier of the leverage bracket table (``/fapi/v3/leverageBracket``).

    :param notional_floor: lower bound of the tier's position notional, USDT (0 for the first tier).
    :param notional_cap: upper bound, USDT; the last tier's is ``inf``.
    :param maint_margin_rate: maintenance margin rate, fraction of notional (``maintMarginRatio``).
    :param maint_amount: maintenance amount ``cum``, USDT: maintenance margin = notional * rate - cum.
    :param max_leverage: highest initial leverage allowed in the tier (``initialLeverage``).
    """

    notional_floor: float
    notional_cap: float
    maint_margin_rate: float
    maint_amount: float
    max_leverage: float

    def maintenance_margin(self, notional: float) -> float:
        """Maintenance margin of a position of ``notional`` USDT inside this tier, USDT."""
        return notional * self.maint_margin_rate - self.maint_amount


@dataclass(frozen=True, slots=True)
class PercentPrice:
    """``PERCENT_PRICE``: buy price <= mark * ``multiplier_up``, sell price >= mark * ``multiplier_down``.

    :param multiplier_decimal: decimals the exchange quotes the multipliers with.
    """

    multiplier_up: float
    multiplier_down: float
    multiplier_decimal: int


@dataclass(frozen=True)
class Instrument:
    """A USDT-margined perpetual's trading rules.

    :param symbol: exchange symbol, e.g. ``BTCUSDT``.
    :param tick_size: price increment, USDT (``PRICE_FILTER.tickSize``).
    :param step_size: quantity increment of limit orders, base asset (``LOT_SIZE.stepSize``).
    :param min_qty: smallest order quantity, base asset (``LOT_SIZE.minQty``).
    :param max_qty: largest limit-order quantity, base asset (``LOT_SIZE.maxQty``).
    :param min_notional: smallest order notional, USDT (``MIN_NOTIONAL.notional``); reduce-only orders are
        exempt. The exchange values a market order at the mark price, a limit order at its price.
    :param brackets: margin tiers in ascending notional, the last open-ended.
    :param contract_kind: ``PERPETUAL``.
    :param market_step_size: quantity increment of market orders (``MARKET_LOT_SIZE.stepSize``).
    :param market_min_qty: smallest market-order quantity.
    :param market_max_qty: largest market-order quantity.
    :param max_notional: largest position notional the exchange accepts, USDT (the last tier's published
        ``notionalCap``; ``inf`` when unknown).
    :param max_leverage: highest leverage the symbol allows (the first tier's ``initialLeverage``).
    :param min_price: lowest order price, USDT (``PRICE_FILTER.minPrice``; 0 = no bound).
    :param max_price: highest order price, USDT (``PRICE_FILTER.maxPrice``; ``inf`` = no bound).
    :param price_precision: decimals of prices (display only: the tick is the rule).
    :param quantity_precision: decimals of quantities (display only: the step is the rule).
    :param percent_price: the ``PERCENT_PRICE`` band, ``None`` when the exchange gives none.
    :param liquidation_fee: fee on the notional closed by a liquidation, fraction (``liquidationFee``).
    :param market_take_bound: largest distance from mark a market order may fill at, fraction (``None`` =
        not given).
    :param source: where each value came from, by field name (e.g. ``{"tick_size": "exchangeInfo"}``).
    """

    symbol: str
    tick_size: float
    step_size: float
    min_qty: float
    max_qty: float
    min_notional: float
    brackets: tuple[MarginTier, ...]
    contract_kind: str = "PERPETUAL"
    market_step_size: float = 0.0
    market_min_qty: float = 0.0
    market_max_qty: float = 0.0
    max_notional: float = math.inf
    max_leverage: float = 0.0
    min_price: float = 0.0
    max_price: float = math.inf
    price_precision: int = -1
    quantity_precision: int = -1
    percent_price: PercentPrice | None = None
    liquidation_fee: float = 0.025
    market_take_bound: float | None = None
    source: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        """Fill the derived defaults (market lot from the lot, leverage from tier 1) and validate."""
        derived = {
            "market_step_size": self.step_size,
            "market_min_qty": self.min_qty,
            "market_max_qty": self.max_qty,
            "max_leverage": self.brackets[0].max_leverage if self.brackets else 0.0,
            "price_precision": _decimals(self.tick_size),
            "quantity_precision": _decimals(self.step_size),
        }
        for name, value in derived.items():
            if getattr(self, name) in (0.0, -1):
                object.__setattr__(self, name, value)
        object.__setattr__(self, "brackets", tuple(self.brackets))
        object.__setattr__(self, "source", dict(self.source))
        self.validate()

    # --- validation -------------------------------------------------------------------------------------
    def validate(self) -> Instrument:
        """Raise a one-line ``ConfigError`` naming a field the exchange could not publish; return self."""
        where = f"instrument {self.symbol}"
        if not isinstance(self.symbol, str) or not self.symbol:
            raise ConfigError(f"instrument: symbol must be a non-empty string, got {self.symbol!r}")
        if self.contract_kind not in CONTRACT_KINDS:
            raise ConfigError(
                f"{where}: contract_kind={self.contract_kind!r}; expected one of {CONTRACT_KINDS}"
            )
        for name in ("tick_size", "step_size", "market_step_size", "min_notional", "liquidation_fee"):
            field_number(where, name, getattr(self, name), lower=0.0, strict=name.endswith("size"))
        for name in ("min_qty", "market_min_qty", "min_price"):
            field_number(where, name, getattr(self, name), lower=0.0, strict=False)
        for name, low in (
            ("max_qty", "min_qty"),
            ("market_max_qty", "market_min_qty"),
            ("max_price", "min_price"),
        ):
            value = field_number(where, name, getattr(self, name), lower=0.0, strict=True, allow_inf=True)
            if value < getattr(self, low):
                raise ConfigError(f"{where}: {name}={value} is below {low}={getattr(self, low)}")
        field_number(where, "max_notional", self.max_notional, lower=0.0, strict=True, allow_inf=True)
        if self.liquidation_fee >= 0.5:
            raise ConfigError(f"{where}: liquidation_fee={self.liquidation_fee} must lie in [0, 0.5)")
        if self.market_take_bound is not None:
            field_number(where, "market_take_bound", self.market_take_bound, lower=0.0, strict=True)
        for name in ("price_precision", "quantity_precision"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 18:
                raise ConfigError(f"{where}: {name} must be an integer in [0, 18], got {value!r}")
        if self.percent_price is not None:
            up, down = self.percent_price.multiplier_up, self.percent_price.multiplier_down
            field_number(where, "percent_price.multiplier_up", up, lower=1.0, strict=False)
            field_number(where, "percent_price.multiplier_down", down, lower=0.0, strict=True)
            if down > 1.0:
                raise ConfigError(f"{where}: percent_price.multiplier_down={down} must be <= 1")
        self._validate_brackets(where)
        field_number(where, "max_leverage", self.max_leverage, lower=1.0, strict=False)
        if self.max_leverage > self.brackets[0].max_leverage:
            raise ConfigError(
                f"{where}: max_leverage={self.max_leverage} exceeds the first tier's "
                f"{self.brackets[0].max_leverage}"
            )
        return self

    def _validate_brackets(self, where: str) -> None:
        if not self.brackets:
            raise ConfigError(f"{where}: brackets must hold at least one margin tier")
        previous: MarginTier | None = None
        for n, tier in enumerate(self.brackets):
            key = f"{where}: brackets[{n}]"
            if not isinstance(tier, MarginTier):
                raise ConfigError(f"{key} is not a margin tier")
            field_number(key, "notional_floor", tier.notional_floor, lower=0.0, strict=False)
            field_number(key, "notional_cap", tier.notional_cap, lower=0.0, strict=True, allow_inf=True)
            field_number(key, "maint_margin_rate", tier.maint_margin_rate, lower=0.0, strict=False)
            field_number(key, "maint_amount", tier.maint_amount, lower=0.0, strict=False)
            field_number(key, "max_leverage", tier.max_leverage, lower=1.0, strict=False)
            if tier.maint_margin_rate >= 1.0:
                raise ConfigError(f"{key}.maint_margin_rate={tier.maint_margin_rate} must be < 1")
            if not tier.notional_cap > tier.notional_floor:
                raise ConfigError(f"{key}.notional_cap must exceed its notional_floor")
            if previous is None:
                if tier.notional_floor != 0.0:
                    raise ConfigError(f"{key}.notional_floor must be 0 for the first tier")
            else:
                if tier.notional_floor != previous.notional_cap:
                    raise ConfigError(f"{key}.notional_floor must equal the previous tier's notional_cap")
                if tier.maint_margin_rate < previous.maint_margin_rate:
                    raise ConfigError(f"{key}.maint_margin_rate must not fall below the previous tier's")
                if tier.max_leverage > previous.max_leverage:
                    raise ConfigError(f"{key}.max_leverage must not exceed the previous tier's")
                at_floor = tier.maintenance_margin(tier.notional_floor)
                before = previous.maintenance_margin(tier.notional_floor)
                if abs(at_floor - before) > _CONTINUITY_TOLERANCE * max(tier.notional_floor, 1.0):
                    raise ConfigError(
                        f"{key}.maint_amount={tier.maint_amount} leaves maintenance margin discontinuous at "
                        f"{tier.notional_floor} USDT ({before} below, {at_floor} above)"
                    )
            previous = tier
        if not math.isinf(self.brackets[-1].notional_cap):
            raise ConfigError(f"{where}: the last margin tier's notional_cap must be inf")

    # --- rounding -----------------------------------------------------------------------------------------
    def round_price(self, price: float, side: float) -> float:
        """An order price on the tick grid, rounded so it never gives a worse price than asked.

        A buy (``side`` > 0) rounds down, a sell (``side`` < 0) up; ``side`` = 0 rounds to the nearest tick.
        Exact in decimal arithmetic (0.12345 on a 0.0001 tick buys at 0.1234, not 0.12339999...).
        """
        mode = ROUND_FLOOR if side > 0 else ROUND_CEILING if side < 0 else "ROUND_HALF_EVEN"
        return _to_grid(price, self.tick_size, mode, self.min_price)

    def round_qty(self, qty: float, market: bool = False) -> float:
        """A signed quantity rounded towards zero to the lot step (``MARKET_LOT_SIZE`` when ``market``)."""
        step = self.market_step_size if market else self.step_size
        return math.copysign(_to_grid(abs(qty), step, ROUND_DOWN, 0.0), qty) if qty != 0.0 else 0.0

    # --- margin -------------------------------------------------------------------------------------------
    def bracket_table(self) -> npt.NDArray[np.float64]:
        """Tiers as the float64 array the kernels read: rows ``(floor, cap, rate, cum, max_leverage)``."""
        table = np.empty((len(self.brackets), BRACKET_COLUMNS), dtype=np.float64)
        for row, t in enumerate(self.brackets):
            table[row] = (
                t.notional_floor,
                t.notional_cap,
                t.maint_margin_rate,
                t.maint_amount,
                t.max_leverage,
            )
        return table

    def tier_for(self, notional: float) -> MarginTier:
        """The margin tier holding a position of ``notional`` USDT."""
        for tier in self.brackets[:-1]:
            if notional < tier.notional_cap:
                return tier
        return self.brackets[-1]

    # --- (de)serialisation ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-safe dict (infinities as the string ``"inf"``) that ``from_dict`` reads back."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "brackets":
                value = [{k: _plain(getattr(t, k)) for k in TIER_KEYS} for t in value]
            elif f.name == "percent_price":
                value = None if value is None else {k: getattr(value, k) for k in PERCENT_KEYS}
            elif f.name == "source":
                value = dict(value)
            out[f.name] = _plain(value)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], origin: str = "instruments file") -> Instrument:
        """Build from a dict as ``to_dict`` writes it (YAML/JSON instruments files); validated.

        :param origin: where the dict came from, recorded in ``source`` for fields it does not name.
        Unknown keys, a missing required key or a bad value raise one ``ConfigError`` naming the key.
        """
        from asterrl.sim.exchange_info import parse_instrument_dict

        return parse_instrument_dict(cls, raw, origin)

    @classmethod
    def from_exchange_info(
        cls,
        symbol_entry: Mapping[str, Any],
        leverage_brackets: list[dict[str, Any]] | Mapping[str, Any] | None,
        fallback_brackets: tuple[MarginTier, ...] | None = None,
        origin: str = "exchangeInfo",
    ) -> Instrument:
        """Parse an ``exchangeInfo.symbols[]`` entry and the ``/leverageBracket`` answer (reference §10, §14).

        :param symbol_entry: the symbol's entry, decimals as strings (``filters`` with ``PRICE_FILTER``,
            ``LOT_SIZE``, ``MARKET_LOT_SIZE``, ``MIN_NOTIONAL``, optional ``PERCENT_PRICE``).
        :param leverage_brackets: the endpoint's answer: a list of ``{symbol, brackets: [...]}``, one such
            object, or the bare ``brackets`` list; ``None`` when not fetched (it needs a signed request).
        :param fallback_brackets: tiers to use when ``leverage_brackets`` is ``None`` (e.g. the bundled
            file's), recorded as such in ``source``; without either, a ``ConfigError``.
        :param origin: label of the exchangeInfo snapshot in ``source``.
        """
        from asterrl.sim.exchange_info import parse_exchange_info

        return parse_exchange_info(cls, symbol_entry, leverage_brackets, fallback_brackets, origin)


TIER_KEYS = ("notional_floor", "notional_cap", "maint_margin_rate", "maint_amount", "max_leverage")
PERCENT_KEYS = ("multiplier_up", "multiplier_down", "multiplier_decimal")


def _decimals(step: Any) -> int:
    """Decimals of an increment such as 0.0001 (4) or 1e-7 (7); -1 when not a positive number."""
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not (step > 0 and math.isfinite(step)):
        return -1
    exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
    return max(0, -int(exponent)) if isinstance(exponent, int) else -1


def _to_grid(value: float, step: float, mode: str, origin: float) -> float:
    """``origin + k * step`` for the integer ``k`` the rounding ``mode`` picks, in decimal arithmetic."""
    try:
        dstep, dorigin = Decimal(repr(float(step))), Decimal(repr(float(origin)))
        units = ((Decimal(repr(float(value))) - dorigin) / dstep).to_integral_value(rounding=mode)
    except InvalidOperation as error:
        raise ConfigError(f"cannot round {value!r} to the grid {step!r}") from error
    return float(dorigin + units * dstep)


def _plain(value: Any) -> Any:
    return "inf" if isinstance(value, float) and math.isinf(value) and value > 0 else value


def field_number(
    where: str, name: str, value: Any, lower: float, strict: bool, allow_inf: bool = False
) -> float:
    """``value`` as a float, or one ``ConfigError`` naming ``name`` when it is not a number in range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{where}: {name} must be a number, got {value!r}")
    if math.isinf(value) and not (allow_inf and value > 0):
        raise ConfigError(f"{where}: {name} must be finite, got {value!r}")
    if value < lower or (strict and value <= lower):
        bound = f"> {lower}" if strict else f">= {lower}"
        raise ConfigError(f"{where}: {name} must be {bound}, got {value!r}")
    return float(value)
