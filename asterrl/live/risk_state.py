"""RUNNING, REDUCING or HALTED: the deployment's trading state, moved by limit breaches and the kill switch.

* ``RUNNING``: the policy trades within the risk gate.
* ``REDUCING``: only orders that shrink the position go out (reduce-only); the policy's other wishes wait.
* ``HALTED``: every open order is cancelled and nothing new goes out, except, when configured, reduce-only
  orders that flatten the position.

The state is the strictest of its active *reasons* (a breach kind with the state it demands). A breach
that clears on its own (stale data once bars flow again) is *transient* and is dropped when it clears;
every other reason latches until an operator resumes (``asterrl deploy resume``). Every change is a risk
event in the state store and a JSON log line, and the reasons survive a restart (kept in the store).
"""

from __future__ import annotations

import logging
from enum import IntEnum

from asterrl.live.store import StateStore, now_ms

log = logging.getLogger("asterrl.live.risk")


class TradingState(IntEnum):
    """Trading states, ordered by strictness."""

    RUNNING = 0
    REDUCING = 1
    HALTED = 2

    @classmethod
    def parse(cls, name: str) -> TradingState:
        return cls[name.upper()]


#: Breach kinds that clear by themselves when the condition ends.
TRANSIENT = frozenset({"stale_data", "stale_stream", "leverage", "position_notional"})


class RiskStateMachine:
    """The trading state of one deployment, persisted in its state store.

    :param store: the deployment's state store (reasons are kept under ``risk_reasons``).
    """

    def __init__(self, store: StateStore) -> None:
        self.store = store
        saved = store.get_meta("risk_reasons", {}) or {}
        self._reasons: dict[str, TradingState] = {k: TradingState.parse(v) for k, v in saved.items()}

    @property
    def state(self) -> TradingState:
        return max(self._reasons.values(), default=TradingState.RUNNING)

    @property
    def reasons(self) -> dict[str, str]:
        """Active reasons: breach kind -> the state it demands."""
        return {k: v.name for k, v in self._reasons.items()}

    def breach(self, kind: str, detail: str, demands: TradingState) -> TradingState:
        """Record a breach of ``kind`` demanding ``demands``; the state never becomes less strict here."""
        before = self.state
        previous = self._reasons.get(kind, TradingState.RUNNING)
        self._reasons[kind] = max(previous, demands)
        self._save(kind, detail, before)
        return self.state

    def clear(self, kind: str, detail: str = "cleared") -> TradingState:
        """Drop a transient reason once its condition has ended (latched reasons stay)."""
        if kind in self._reasons and kind in TRANSIENT:
            before = self.state
            del self._reasons[kind]
            self._save(kind, detail, before)
        return self.state

    def resume(self, source: str) -> TradingState:
        """An operator's resume: every reason is dropped (the next cycle re-detects what still holds)."""
        before = self.state
        self._reasons.clear()
        self._save("resume", f"operator resume from {source}", before)
        return self.state

    def allows(self, reducing: bool) -> bool:
        """Whether an order may go out now: anything when RUNNING, reduce-only when REDUCING, none HALTED."""
        state = self.state
        return state is TradingState.RUNNING or (state is TradingState.REDUCING and reducing)

    def _save(self, kind: str, detail: str, before: TradingState) -> None:
        self.store.set_meta("risk_reasons", self.reasons)
        after = self.state
        self.store.record_risk_event(now_ms(), kind, detail, before.name, after.name)
        level = logging.WARNING if after > before else logging.INFO
        fields = {"event": "risk", "kind": kind, "state_from": before.name, "state_to": after.name}
        log.log(level, "risk %s: %s (%s -> %s)", kind, detail, before.name, after.name, extra=fields)
