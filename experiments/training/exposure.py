"""How an evaluated episode got its result: why it ended, its leverage, its costs, its fills and round trips.

These sit beside the trading metrics in a comparison, so that agents run at very different leverage or
stopped early by a risk limit are not read as like for like.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from asterrl.risk.gate import FLAG_DAILY_LOSS_BREACH, FLAG_DRAWDOWN_BREACH

FloatArray = npt.NDArray[np.float64]

RAN_TO_END = "ran to the end"


@dataclass(frozen=True)
class EpisodeEnd:
    """Why and where an account stopped trading.

    :param reason: ``ran to the end``, ``halted: max drawdown (risk.max_drawdown)``, ``halted: daily loss
        (risk.max_daily_loss)``, ``liquidated`` or ``equity exhausted``.
    :param step: steps traded (the whole episode when it ran to the end; the account stays flat after).
    :param timestamp: open time of the bar it stopped on, ms UTC.
    """

    reason: str
    step: int
    timestamp: int

    @property
    def stopped_early(self) -> bool:
        return self.reason != RAN_TO_END


def end_reason(terminated: bool, liquidated: bool, risk_flags: int, equity: float) -> str:
    """The reason of an episode's last step from the env's report of it."""
    if not terminated:
        return RAN_TO_END
    if liquidated:
        return "liquidated"
    if risk_flags & FLAG_DRAWDOWN_BREACH:
        return "halted: max drawdown (risk.max_drawdown)"
    if risk_flags & FLAG_DAILY_LOSS_BREACH:
        return "halted: daily loss (risk.max_daily_loss)"
    if equity <= 0.0:
        return "equity exhausted"
    return "halted"


@dataclass(frozen=True)
class Exposure:
    """Leverage, costs and trade counts of an episode.

    :param mean_leverage: average over every bar of ``|position| x valuation price / equity`` (flat bars
        count as 0).
    :param peak_leverage: the largest such value.
    :param fees_paid: exchange fees, USDT (liquidation fee included).
    :param slippage_paid: spread and market impact paid on fills (``|qty| x |fill - reference price|``), USDT.
    :param funding_paid: funding paid minus received, USDT.
    :param total_costs: fees + slippage + funding paid, USDT.
    :param fills: steps with a fill.
    :param round_trips: positions closed: back to flat, or reversed through zero (a reversal closes one
        position and opens the next).
    """

    mean_leverage: float
    peak_leverage: float
    fees_paid: float
    slippage_paid: float
    funding_paid: float
    total_costs: float
    fills: int
    round_trips: int

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def round_trips(position: FloatArray, start: float = 0.0, closed_within: npt.ArrayLike | None = None) -> int:
    """Positions closed along a path of end-of-step positions (``start`` before the first): each return to
    flat from a position, and each sign reversal, counts one.

    :param closed_within: steps in which a position was opened and closed again (a halt flattens the
        account in the step it breached a limit), invisible in the end-of-step path; each counts one.
    """
    path = np.concatenate([[start], np.asarray(position, dtype=np.float64)])
    sign = np.sign(path)
    before, after = sign[:-1], sign[1:]
    within = 0 if closed_within is None else int(np.count_nonzero(closed_within))
    return int(np.count_nonzero((before != 0.0) & (after != before))) + within


def exposure(
    leverage: FloatArray,
    fees: FloatArray,
    slippage: FloatArray,
    funding: FloatArray,
    traded_notional: FloatArray,
    position: FloatArray,
    closed_within: npt.ArrayLike | None = None,
) -> Exposure:
    """The ``Exposure`` of an episode from its per-step arrays (funding received is positive; see
    ``round_trips`` for ``closed_within``)."""
    lev = np.asarray(leverage, dtype=np.float64)
    fees_paid = float(np.sum(fees))
    slippage_paid = float(np.sum(slippage))
    funding_paid = -float(np.sum(funding))
    return Exposure(
        mean_leverage=float(np.mean(lev)) if lev.size else 0.0,
        peak_leverage=float(np.max(lev, initial=0.0)),
        fees_paid=fees_paid,
        slippage_paid=slippage_paid,
        funding_paid=funding_paid,
        total_costs=fees_paid + slippage_paid + funding_paid,
        fills=int(np.count_nonzero(np.asarray(traded_notional) > 0.0)),
        round_trips=round_trips(position, closed_within=closed_within),
    )
