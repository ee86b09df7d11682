"""``PerpSimulator``: one account on one market, stepped bar by bar from Python.

A thin typed wrapper over ``advance_account`` for the backtester, paper trading and the local exchange
simulator (and for tests): the arithmetic is the kernels', unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from asterrl.errors import ConfigError
from asterrl.risk.limits import RiskLimits
from asterrl.sim.account import advance_account, new_state, open_account
from asterrl.sim.config import MarketModelConfig
from asterrl.sim.instrument import Instrument
from asterrl.sim.layout import N_REPORT, REPORT_KEYS, Account, Counter
from asterrl.sim.market_arrays import MarketArrays


class PerpSimulator:
    """A single cross-margin account trading a USDT-margined perpetual.

    :param data: prepared market arrays.
    :param instrument: the symbol's trading rules (tick, lot, notional limits, margin tiers).
    :param config: costs and the limit-order model; validated.
    :param limits: risk limits enforced on every order, validated against the instrument (``RiskLimits()``
        if omitted); ``max_leverage`` is also the account's margin leverage.
    :param initial_balance: starting wallet balance, USDT.
    :param start_bar: the first decision bar (its close has been seen); the first order fills at the next
        bar's open.
    :param end_bar: last bar the account may reach (defaults to the last bar of the data).
    """

    def __init__(
        self,
        data: MarketArrays,
        instrument: Instrument,
        config: MarketModelConfig | None = None,
        limits: RiskLimits | None = None,
        initial_balance: float = 10_000.0,
        start_bar: int = 0,
        end_bar: int | None = None,
    ) -> None:
        if not isinstance(instrument, Instrument):
            raise ConfigError("PerpSimulator needs the symbol's Instrument (asterrl.data.load_instrument)")
        config = config or MarketModelConfig()
        last = data.n_bars - 1
        end = last if end_bar is None else end_bar
        if not (0 <= start_bar < end <= last):
            raise ConfigError(f"need 0 <= start_bar < end_bar <= {last}, got {start_bar} and {end}")
        if not initial_balance > 0.0:
            raise ConfigError("initial_balance must be > 0")
        self.data = data
        self.instrument = instrument
        self.params = config.to_params(instrument)
        self.brackets = instrument.bracket_table()
        self.limits = (limits or RiskLimits()).validate(instrument).to_array()
        self.fstate, self.istate = new_state(1)
        self._report = np.zeros(N_REPORT, dtype=np.float64)
        open_account(0, start_bar, end, float(initial_balance), self.fstate, self.istate, data.values)

    @property
    def bar(self) -> int:
        """Current decision bar index."""
        return int(self.istate[Counter.BAR, 0])

    @property
    def done(self) -> bool:
        """True once the account was liquidated, halted, or reached its last bar."""
        return bool(self.istate[Counter.DONE, 0])

    @property
    def halted(self) -> bool:
        """True once a loss limit halted the account."""
        return bool(self.istate[Counter.HALTED, 0])

    @property
    def wallet(self) -> float:
        """Wallet balance, USDT."""
        return float(self.fstate[Account.WALLET, 0])

    @property
    def position(self) -> float:
        """Signed position, base asset."""
        return float(self.fstate[Account.QTY, 0])

    @property
    def entry_price(self) -> float:
        """Average entry price, USDT (0 when flat)."""
        return float(self.fstate[Account.ENTRY, 0])

    @property
    def equity(self) -> float:
        """Wallet plus unrealised PnL at the last valuation price, USDT."""
        return float(self.fstate[Account.EQUITY, 0])

    @property
    def peak_equity(self) -> float:
        """Highest equity seen at a bar close, USDT."""
        return float(self.fstate[Account.PEAK_EQUITY, 0])

    def step(self, target_qty: float, limit_price: float | None = None) -> dict[str, Any]:
        """Trade towards ``target_qty`` (base asset) at the next bar's open and advance one bar.

        :param limit_price: price of a one-bar limit order; ``None`` sends a market order.
        :returns: the step report (``asterrl.sim.layout.REPORT_KEYS``) as a dict of floats.
        """
        if self.done:
            raise ConfigError("the account's episode has ended; create a new PerpSimulator")
        advance_account(
            0,
            float(target_qty),
            0.0 if limit_price is None else float(limit_price),
            self.fstate,
            self.istate,
            self.data.values,
            self.params,
            self.brackets,
            self.limits,
            self._report,
        )
        return dict(zip(REPORT_KEYS, self._report.tolist(), strict=True))
