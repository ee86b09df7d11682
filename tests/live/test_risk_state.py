"""RUNNING / REDUCING / HALTED: breaches escalate, transient reasons clear, latched ones need a resume."""

from __future__ import annotations

from pathlib import Path

from asterrl.live.risk_state import RiskStateMachine, TradingState
from asterrl.live.store import StateStore


def test_breaches_escalate_and_only_resume_releases_latched_ones(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite", "r")
    risk = RiskStateMachine(store)
    assert risk.state is TradingState.RUNNING and risk.allows(reducing=False)
    assert (
        risk.breach("stale_data", "no closed bar for 130 s", TradingState.REDUCING) is TradingState.REDUCING
    )
    assert not risk.allows(reducing=False) and risk.allows(reducing=True)
    assert risk.breach("slippage", "fill 80 bps from the mark", TradingState.HALTED) is TradingState.HALTED
    assert not risk.allows(reducing=True)
    # a milder breach never loosens the state
    assert risk.breach("slippage", "again", TradingState.REDUCING) is TradingState.HALTED
    assert risk.clear("stale_data") is TradingState.HALTED  # the transient reason goes, the latched stays
    assert risk.clear("slippage") is TradingState.HALTED  # a latched reason does not clear by itself
    # the reasons survive a restart
    again = RiskStateMachine(StateStore(tmp_path / "s.sqlite", "r"))
    assert again.state is TradingState.HALTED and again.reasons == {"slippage": "HALTED"}
    assert again.resume("cli") is TradingState.RUNNING
    events = store.risk_events()
    assert [(e[1], e[3], e[4]) for e in events] == [
        ("stale_data", "RUNNING", "REDUCING"),
        ("slippage", "REDUCING", "HALTED"),
        ("slippage", "HALTED", "HALTED"),
        ("stale_data", "HALTED", "HALTED"),
        ("resume", "HALTED", "RUNNING"),
    ]


def test_a_transient_reason_alone_clears_back_to_running(tmp_path: Path) -> None:
    risk = RiskStateMachine(StateStore(tmp_path / "s.sqlite", "r"))
    risk.breach("stale_stream", "no stream message for 65 s", TradingState.REDUCING)
    assert risk.clear("stale_stream") is TradingState.RUNNING
