"""``AsterClient``: Aster's futures REST API as typed async calls (market data, account, orders, listen keys).

One instance holds one httpx connection pool (``RestTransport``), the clock offset, the rate budgets and
the symbols' ``Instrument`` rules. Orders are checked against those rules before sending
(``filters.py``: an off-tick price, an off-step quantity, a notional under the minimum, a symbol the
exchange does not list or a size beyond the leverage bracket raise :class:`OrderRefused` and nothing is
sent); placing and cancelling resolve unknown outcomes by querying the client order id (``trading.py``)::

    async with AsterClient(ClientConfig(base_url), V3Credentials(user, signer_key)) as client:
        await client.sync_time()
        await client.load_instruments()
        order = await client.new_order(OrderRequest("BTCUSDT", "BUY", "LIMIT", Decimal("0.01"),
                                                    Decimal("60000"), time_in_force="GTC"))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Self

from asterrl.exchange.codes import Code
from asterrl.exchange.errors import ExchangeRejected
from asterrl.exchange.models import (
    AccountInfo,
    Balance,
    BookTicker,
    DepthSnapshot,
    Income,
    Position,
    PremiumIndex,
    Trade,
)
from asterrl.exchange.rate_limits import RateLimits
from asterrl.exchange.rest import ClientConfig, Pairs, RestTransport, V1Credentials, V3Credentials
from asterrl.exchange.trading import OrderEntry
from asterrl.sim.instrument import Instrument

_ACCOUNT_PATH = {"v3": "/fapi/v3/accountWithJoinMargin", "v1": "/fapi/v4/account"}
_BALANCE_PATH = {"v3": "/fapi/v3/balance", "v1": "/fapi/v2/balance"}
_POSITIONS_PATH = {"v3": "/fapi/v3/positionRisk", "v1": "/fapi/v2/positionRisk"}


def _opt(**values: object) -> list[tuple[str, str]]:
    """Parameters whose value is not ``None``, as strings (booleans as ``true``/``false``)."""
    out = []
    for name, value in values.items():
        if value is not None:
            out.append((name, str(value).lower() if isinstance(value, bool) else str(value)))
    return out


class AsterClient(OrderEntry):
    """Typed async client of Aster's futures API (V3 EIP-712 or V1 HMAC, by the credentials given).

    :param config: base URL, timeouts, retry policy.
    :param credentials: :class:`V3Credentials` or :class:`V1Credentials`; ``None`` for public data only.
    :param nonce_state: file that keeps V3 nonces unique across restarts and processes.
    :param limits: request budgets (shared by clients of one IP); one is made if omitted.
    :param sleep: async sleep, injectable for tests.
    """

    def __init__(
        self,
        config: ClientConfig,
        credentials: V3Credentials | V1Credentials | None = None,
        *,
        nonce_state: str | Path | None = None,
        limits: RateLimits | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"nonce_state": nonce_state, "limits": limits}
        if sleep is not None:
            kwargs["sleep"] = sleep
        self.rest = RestTransport(config, credentials, **kwargs)
        super().__init__()
        #: Rules of each symbol, from ``load_instruments``.
        self.instruments: dict[str, Instrument] = {}
        #: Latest mark price per symbol (from ``premium_index`` or a mark-price stream), USDT.
        self.marks: dict[str, float] = {}
        #: Leverage setting per symbol as last set or read, for the bracket check before sending.
        self.leverage: dict[str, int] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        await self.rest.close()

    async def _get(self, path: str, pairs: Pairs = (), *, security: str = "NONE", weight: int = 1) -> Any:
        full = path.startswith("/")
        return await self.rest.call("GET", path, pairs, security=security, weight=weight, full_path=full)

    # -- market data ------------------------------------------------------------------------------------

    async def server_time(self) -> int:
        """The server's time, ms UTC."""
        return int((await self._get("time"))["serverTime"])

    async def sync_time(self) -> float:
        """Measure the clock offset to the server (ms); signed calls use it for nonces and timestamps."""
        return await self.rest.sync_time()

    async def exchange_info(self) -> dict[str, Any]:
        """``exchangeInfo`` as returned."""
        body: dict[str, Any] = await self._get("exchangeInfo")
        return body

    async def leverage_brackets(self, symbol: str | None = None) -> Any:
        """``leverageBracket`` (signed): one symbol's tiers, or every symbol's."""
        return await self._get("leverageBracket", _opt(symbol=symbol), security="USER_DATA")

    async def load_instruments(self, symbols: list[str] | None = None) -> dict[str, Instrument]:
        """Read every listed symbol's filters and margin tiers (``symbols`` only, if given)."""
        info = await self.exchange_info()
        brackets = await self.leverage_brackets()
        by_symbol = {b["symbol"]: b for b in (brackets if isinstance(brackets, list) else [brackets])}
        for entry in info.get("symbols", []):
            symbol = entry.get("symbol")
            if symbol in by_symbol and (symbols is None or symbol in symbols):
                self.instruments[symbol] = Instrument.from_exchange_info(entry, by_symbol[symbol])
        self.listed = {str(e.get("symbol")) for e in info.get("symbols", [])}
        return self.instruments

    async def klines(
        self,
        symbol: str,
        interval: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
        mark: bool = False,
    ) -> list[list[Any]]:
        """Kline rows (12 fields, oldest first; ``mark`` for mark-price klines)."""
        weight = 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10
        path = "markPriceKlines" if mark else "klines"
        params = _opt(symbol=symbol, interval=interval, startTime=start_ms, endTime=end_ms, limit=limit)
        rows: list[list[Any]] = await self._get(path, params, weight=weight)
        return rows

    async def funding_rates(
        self, symbol: str, start_ms: int | None = None, end_ms: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Funding settlements ``{symbol, fundingRate, fundingTime}``, oldest first."""
        rows: list[dict[str, Any]] = await self._get(
            "fundingRate", _opt(symbol=symbol, startTime=start_ms, endTime=end_ms, limit=limit)
        )
        return rows

    async def depth(self, symbol: str, limit: int = 100) -> DepthSnapshot:
        """Order-book snapshot with its ``lastUpdateId``."""
        weight = 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20
        return DepthSnapshot.from_json(
            await self._get("depth", _opt(symbol=symbol, limit=limit), weight=weight)
        )

    async def book_ticker(self, symbol: str) -> BookTicker:
        """Best bid and ask."""
        return BookTicker.from_json(await self._get("ticker/bookTicker", _opt(symbol=symbol)))

    async def premium_index(self, symbol: str) -> PremiumIndex:
        """Mark price, last funding rate and next funding time; remembers the mark for order checks."""
        index = PremiumIndex.from_json(await self._get("premiumIndex", _opt(symbol=symbol)))
        self.marks[symbol] = float(index.mark_price)
        return index

    # -- account ----------------------------------------------------------------------------------------

    async def account(self) -> AccountInfo:
        """Account totals and positions."""
        raw = await self._get(_ACCOUNT_PATH[self.rest.version], security="USER_DATA", weight=5)
        return AccountInfo.from_json(raw)

    async def balance(self) -> list[Balance]:
        """Wallet balances by asset."""
        rows = await self._get(_BALANCE_PATH[self.rest.version], security="USER_DATA", weight=5)
        return [Balance.from_json(r) for r in rows]

    async def positions(self, symbol: str | None = None) -> list[Position]:
        """``positionRisk`` rows (flat positions included); remembers each symbol's leverage."""
        rows = await self._get(
            _POSITIONS_PATH[self.rest.version], _opt(symbol=symbol), security="USER_DATA", weight=5
        )
        out = [Position.from_json(r) for r in rows]
        for pos in out:
            self.leverage[pos.symbol] = pos.leverage
        return out

    async def user_trades(
        self,
        symbol: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        from_id: int | None = None,
        limit: int = 500,
    ) -> list[Trade]:
        """This account's fills in ``symbol``, oldest first."""
        params = _opt(symbol=symbol, startTime=start_ms, endTime=end_ms, fromId=from_id, limit=limit)
        return [
            Trade.from_json(r) for r in await self._get("userTrades", params, security="USER_DATA", weight=5)
        ]

    async def income(
        self,
        symbol: str | None = None,
        income_type: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
    ) -> list[Income]:
        """Wallet changes: REALIZED_PNL, COMMISSION, FUNDING_FEE, INSURANCE_CLEAR, TRANSFER."""
        params = _opt(symbol=symbol, incomeType=income_type, startTime=start_ms, endTime=end_ms, limit=limit)
        return [
            Income.from_json(r) for r in await self._get("income", params, security="USER_DATA", weight=30)
        ]

    async def change_leverage(self, symbol: str, leverage: int) -> dict[str, Any]:
        """Set the symbol's leverage (1-125, within its first bracket)."""
        body: dict[str, Any] = await self.rest.call(
            "POST", "leverage", _opt(symbol=symbol, leverage=leverage), security="TRADE"
        )
        self.leverage[symbol] = int(body.get("leverage", leverage))
        return body

    async def change_margin_type(self, symbol: str, margin_type: str) -> None:
        """``ISOLATED`` or ``CROSSED``; already being so (-4046) counts as success."""
        await self._settle(
            "marginType", _opt(symbol=symbol, marginType=margin_type), Code.NO_NEED_TO_CHANGE_MARGIN_TYPE
        )

    async def set_position_mode(self, hedge: bool) -> None:
        """Hedge (``True``) or one-way mode; already being so (-4059) counts as success."""
        await self._settle(
            "positionSide/dual", _opt(dualSidePosition=hedge), Code.NO_NEED_TO_CHANGE_POSITION_SIDE
        )

    async def _settle(self, path: str, pairs: Pairs, harmless: Code) -> None:
        try:
            await self.rest.call("POST", path, pairs, security="TRADE")
        except ExchangeRejected as exc:
            if exc.code != harmless:
                raise

    # -- listen keys ------------------------------------------------------------------------------------

    async def create_listen_key(self) -> str:
        """A user-data stream key (the same one, extended, if one is open)."""
        return str((await self.rest.call("POST", "listenKey", security="USER_STREAM"))["listenKey"])

    async def keep_alive_listen_key(self) -> None:
        """Extend the listen key by 60 minutes."""
        await self.rest.call("PUT", "listenKey", security="USER_STREAM")

    async def close_listen_key(self) -> None:
        """Close the listen key (its stream ends)."""
        await self.rest.call("DELETE", "listenKey", security="USER_STREAM")
