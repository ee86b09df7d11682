"""The bridge: a frozen policy deciding on every closed bar, trading on the exchange behind the hard limits.

Start-up (``start``): the symbol's rules and leverage brackets from the exchange (an unlisted symbol is
refused), one-way position mode required, the account's leverage set to the artifact's, the state store
reconciled with the exchange (``Reconciler.at_start``), the feature history warmed up from REST.

Each closed bar (``on_bar``): reconcile (orders settled by id, fills and funding booked, the account
read); the equity trackers move as the env's do (peak at each close, the day's start at the first bar of
a UTC day); the decision is made (``DecisionCore``: the env's observation, the frozen policy, the env's
action rule); the shared risk gate allows what it allows (``LiveGate``); the breaches outside the policy
are checked (leverage and position notional on the exchange, the gate's loss limits); the decision is
recorded (write-ahead) and its legs handed to the ``OrderWorker``.

Between bars (``tick``, every ``TICK_S``): operator commands and the kill file, stale data, and the working
of resting orders (re-price, IOC). ``run`` loops until a stop command, SIGTERM/SIGINT or ``max_bars``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from asterrl.data.schema import interval_ms
from asterrl.errors import AsterRLError, LiveError
from asterrl.live.artifact import FrozenPolicy
from asterrl.live.books import Books, deployed_limits, market_model
from asterrl.live.config import DeployConfig
from asterrl.live.control import KillSwitch
from asterrl.live.decision import AccountView, DecisionCore
from asterrl.live.execution import Quote, legs_for_order, mean_volume, plan_legs
from asterrl.live.gate import LiveGate
from asterrl.live.history import MarketHistory
from asterrl.live.monitoring import Metrics
from asterrl.live.order_ids import run_tag
from asterrl.live.orders import OrderWorker
from asterrl.live.reconcile import Reconciler
from asterrl.live.risk_state import RiskStateMachine, TradingState
from asterrl.live.status import AccountFigures, describe_metrics, limits_used, publish
from asterrl.live.store import DecisionRecord, StateStore
from asterrl.live.venue import AccountSnapshot, Venue

log = logging.getLogger("asterrl.live.bridge")

#: Seconds between ticks (commands, stale data, resting orders).
TICK_S = 0.2


class Bridge:
    """One deployment of one frozen policy on one symbol.

    :param cfg: the deployment's settings.
    :param policy: the verified artifact.
    :param venue: the exchange (a signed client for the symbol).
    :param store: the deployment's state store.
    :param clock_ms: the clock bars are timed by (the exchange's by default), ms UTC.
    :param metrics: Prometheus metrics to update.
    :param handle_signals: take SIGTERM/SIGINT as a graceful stop (the main thread of a process only).
    :param stream_client: a second client for the user-data stream's own REST calls (``None``: no user
        stream); the market streams follow ``cfg.streams``.
    """

    def __init__(
        self,
        cfg: DeployConfig,
        policy: FrozenPolicy,
        venue: Venue,
        store: StateStore,
        clock_ms: Callable[[], int] | None = None,
        metrics: Metrics | None = None,
        handle_signals: bool = False,
        stream_client: Any = None,
    ) -> None:
        self.cfg = cfg
        self.handle_signals = handle_signals
        self.policy = policy
        self.manifest = policy.manifest
        self.venue = venue
        self.store = store
        self.clock_ms = clock_ms or venue.now_ms
        self.metrics = metrics or Metrics(labels={"run": cfg.name()})
        describe_metrics(self.metrics)
        self.tag = run_tag(cfg.name())
        self.risk = RiskStateMachine(store)
        self.limits = deployed_limits(self.manifest.risk, cfg.risk)
        self.model = market_model(self.manifest.market_model)
        self.interval_ms = interval_ms(self.manifest.interval)
        self.history = MarketHistory(venue.history_frame, self.interval_ms, cfg.history_bars)
        self.books = Books(store, self.interval_ms)
        self.worker = OrderWorker(venue, store, self.risk, cfg.execution, self.tag,
                                  venue.client.rest.config.nonce_window_ms)  # fmt: skip
        self.reconciler = Reconciler(
            venue, store, self.worker, self.risk, cfg.reconcile, cfg.limits, self.tag
        )
        self.kill = KillSwitch(store, cfg.kill_path())
        self.core: DecisionCore | None = None
        self.gate: LiveGate | None = None
        self.account: AccountSnapshot | None = None
        self.quote = Quote(math.nan)
        self.decisions = 0
        self.stopping: str | None = None
        self.flattening = False
        self.stream_client = stream_client
        self.streams: Any = None
        #: Cycles that failed on an exchange or data error (retried on the next tick).
        self.failed_cycles = 0
        #: ``time.perf_counter()`` (and ``time.thread_time()``) when the last decision had its bar and
        #: account in hand.
        self.decision_started: float | None = None
        self.decision_started_cpu: float | None = None

    # -- start-up ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the exchange against the manifest, reconcile, warm up; nothing is sent before this ends."""
        instrument = await self.venue.load()
        if await self.venue.hedge_mode():
            raise LiveError(
                f"the account is in hedge (dual-side) position mode; the bridge trades one-way mode: switch "
                f"{self.venue.symbol} to one-way first"
            )
        trained = self.manifest.instrument
        if trained is not None:
            for key in ("tick_size", "step_size", "min_notional"):
                if float(trained.get(key, 0.0)) != float(getattr(instrument, key)):
                    log.warning(
                        "instrument %s: %s is %s on the exchange, %s in training", instrument.symbol, key,
                        getattr(instrument, key), trained.get(key), extra={"event": "instrument"},
                    )  # fmt: skip
        self.core = DecisionCore(self.policy, instrument.bracket_table(), self.model.costs)
        self.gate = LiveGate(self.limits, instrument, self.model)
        if self.cfg.history_bars < self.core.history_bars:
            raise LiveError(
                f"deploy.history_bars={self.cfg.history_bars} is below the {self.core.history_bars} bars the "
                "artifact's features need"
            )
        now = self.clock_ms()
        if self.store.get_meta("started_ms") is None:
            self.store.set_meta("started_ms", now)
        result = await self.reconciler.at_start(now)
        self.account = result.account
        leverage = self.cfg.exchange_leverage or min(
            math.ceil(2.0 * self.limits.max_leverage), int(instrument.max_leverage)
        )
        if result.account.leverage != leverage:
            await self.venue.set_leverage(leverage)
        await self.history.warm_up(now)
        await self._resting_orders_of_a_previous_run(now)
        self.books.start(self._equity(result.account, result.account.mark), now)
        if self.risk.state is TradingState.HALTED and self.cfg.limits.flatten_on_halt:
            self.flattening = True
        if self.handle_signals:
            self.kill.install_signal_handlers()
        log.info("started %s on %s %s (%s): %d bars of history, state %s", self.cfg.name(), self.venue.symbol,
                 self.manifest.interval, self.cfg.mode, len(self.history.bars), self.risk.state.name,
                 extra={"event": "start"})  # fmt: skip

    async def _resting_orders_of_a_previous_run(self, now: int) -> None:
        """Orders of ours left resting by a previous process: their decision is gone, so they are cancelled"""
        for record in await self.worker.settle_all(now):
            if record.status in ("NEW", "PARTIALLY_FILLED"):
                await self.worker.cancel(record.client_order_id, now)
                log.info("cancelled %s left resting by a previous process", record.client_order_id,
                         extra={"event": "reconcile"})  # fmt: skip

    # -- each closed bar --------------------------------------------------------------------------------

    async def on_bar(self, now: int) -> bool:
        """Decide if a bar has closed since the last decision; returns whether a decision was made."""
        added = await self.history.catch_up(now)
        bar_ms = self.history.last_open_ms
        if bar_ms is None or (added == 0 and self.store.get_meta("last_bar_ms") == bar_ms):
            return False
        if self.store.decided_on(bar_ms):
            self.store.set_meta("last_bar_ms", bar_ms)
            return False  # decided before a restart: its orders are the store's, never sent again
        await self.decide(now)
        return True

    async def decide(self, now: int) -> None:
        """The cycle of one closed bar (see the module docstring)."""
        assert self.core is not None and self.gate is not None
        result = await self.reconciler.cycle(now)
        account, self.account = result.account, result.account
        self.quote = await self.venue.quote()
        started = self.decision_started = time.perf_counter()
        self.decision_started_cpu = time.thread_time()
        since = self.books.bars_since_trade()
        view = AccountView(account.qty, account.entry, account.wallet, since)
        decision = self.core.decide(self.history.bars, self.history.funding, self.history.mark, view)
        bar = decision.bar
        self.books.settle_previous(decision.equity)
        peak, day_start = self.books.track_equity(decision.equity, bar.open_ms + self.interval_ms)
        mark = self.quote.mark if math.isfinite(self.quote.mark) else bar.value_close
        last = self.quote.last if math.isfinite(self.quote.last) else bar.close
        equity_now = self._equity(account, mark)
        gated = self.gate.decide(
            current_qty=account.qty, target_qty=decision.target_qty, mark=mark, ref_price=last,
            equity=equity_now, peak_equity=peak, day_start_equity=day_start, bar=bar,
            data_age_ms=max(now - (bar.open_ms + self.interval_ms), 0),
            orders_last_minute=self.store.orders_sent_since(now - 60_000),
        )  # fmt: skip
        if gated.halt:
            self._halted_by_gate(gated.reasons, equity_now)
        volumes = list(decision.volumes[-self.cfg.execution.volume_bars :])
        volume = mean_volume(volumes, len(volumes))
        if self.flattening:
            legs = plan_legs(account.qty, 0.0, self.gate.instrument, volume, self.cfg.execution)
        else:
            legs = legs_for_order(account.qty, gated.order_qty, gated.forced_qty, gated.n_orders,
                                  self.gate.instrument, volume, self.cfg.execution)  # fmt: skip
        legs = [leg for leg in legs if self.risk.allows(leg.reduce_only) or self.flattening]
        target = account.qty + sum(leg.qty * leg.sign for leg in legs)
        latency_us = (time.perf_counter() - started) * 1e6
        self.store.record_decision(DecisionRecord(
            bar.open_ms, now, decision.observation.tobytes(), decision.action, decision.target_qty, target,
            account.qty, decision.equity, mark, gated.flags, self.risk.state.name, latency_us,
        ))  # fmt: skip
        self.books.decided(bar.open_ms, decision.equity, since)
        self.worker.start(bar.open_ms, legs, mark)
        await self.worker.work(now, self.quote, flattening=self.flattening)
        if not self.worker.busy:
            await self._check_after_trading(now)
        self.decisions += 1
        self.metrics.inc("decisions_total")
        fields = {"event": "decision", "bar_ms": bar.open_ms, "latency_us": latency_us}
        log.info("bar %d: action %s target %.6g gated %.6g (%s), %d leg(s), %.0f us", bar.open_ms,
                 decision.action, decision.target_qty, target, ",".join(gated.reasons) or "-", len(legs),
                 latency_us, extra=fields)  # fmt: skip
        self._publish(account, mark, equity_now)

    def _halted_by_gate(self, reasons: tuple[str, ...], equity: float) -> None:
        """A loss limit fired (flatten and halt), or the gate met unusable input (halt)."""
        if "drawdown_breach" in reasons or "daily_loss_breach" in reasons:
            kind = "drawdown" if "drawdown_breach" in reasons else "daily_loss"
            self.flattening = self.cfg.limits.flatten_on_halt
        else:
            kind = "bad_input"
        state = TradingState.parse(self.cfg.limits.breach.get(kind, "halted"))
        self.risk.breach(kind, f"equity {equity:.2f} USDT ({', '.join(reasons)})", state)

    async def _check_after_trading(self, now: int) -> None:
        """Once a decision's orders are done: the position on the exchange against the leverage and position
        notional limits. The gate keeps every fill within them (trimming what the market pushed beyond), so
        a position still beyond them after trading is a breach (an unexpected fill, a gap at the open)."""
        result = await self.reconciler.cycle(now)
        self.account = result.account
        mark = self.quote.mark if math.isfinite(self.quote.mark) else result.account.mark
        equity = self._equity(result.account, mark)
        self._check_breaches(result.account, mark, equity)
        self.store.set_meta("settled_bar_ms", self.store.get_meta("last_bar_ms"))
        self._publish(result.account, mark, equity)

    def _check_breaches(self, account: AccountSnapshot, mark: float, equity: float) -> None:
        """Leverage and position notional on the exchange against the limits (5 % of slack for rounding)."""
        notional = abs(account.qty) * mark
        checks = {
            "leverage": (notional / equity if equity > 0 else math.inf) > self.limits.max_leverage * 1.05,
            "position_notional": notional > self.limits.max_position_notional * 1.05,
        }
        for kind, breached in checks.items():
            if breached:
                state = TradingState.parse(self.cfg.limits.breach.get(kind, "reducing"))
                detail = (f"{kind} beyond its limit on the exchange: {account.qty:g} at mark {mark:g} = "
                          f"{notional:.2f} USDT on equity {equity:.2f} USDT")  # fmt: skip
                self.risk.breach(kind, detail, state)
            elif kind in self.risk.reasons:
                self.risk.clear(kind)

    # -- between bars -----------------------------------------------------------------------------------

    async def tick(self, now: int) -> None:
        """Commands, stale data, and resting orders."""
        for command, source in self.kill.poll():
            await self.command(command, source, now)
        due = self.history.due_close_ms()
        if due is not None:
            late = now - due > self.cfg.limits.stale_bar_s * 1000.0
            if late and "stale_data" not in self.risk.reasons:
                state = TradingState.parse(self.cfg.limits.breach.get("stale_data", "reducing"))
                self.risk.breach(
                    "stale_data", f"no closed bar {(now - due) / 1000:.0f} s after it was due", state
                )
            elif not late and "stale_data" in self.risk.reasons:
                self.risk.clear("stale_data", "closed bars arrive again")
        if self.worker.busy:
            self.quote = await self.venue.quote()
            await self.worker.work(now, self.quote, flattening=self.flattening)
            if not self.worker.busy:
                await self._check_after_trading(now)
        elif self.store.get_meta("settled_bar_ms") != self.store.get_meta("last_bar_ms"):
            await self._check_after_trading(now)  # a post-trade check an error cut short
        elif self.flattening and self.account is not None:
            await self._flatten_step(now)

    async def command(self, command: str, source: str, now: int) -> None:
        """Obey an operator command (see ``asterrl.live.control``)."""
        log.warning("command %s from %s", command, source, extra={"event": "command", "command": command})
        if command == "resume":
            self.risk.resume(source)
            self.flattening = False
            return
        if command in ("halt", "flatten"):
            self.risk.breach("kill_switch", f"{command} from {source}", TradingState.HALTED)
            await self.worker.cancel_resting(now)
            self.flattening = command == "flatten" or self.cfg.limits.flatten_on_halt
            if command == "flatten":
                self.stopping = "flatten"
            return
        self.stopping = "stop"
        await self.worker.cancel_resting(now)

    async def _flatten_step(self, now: int) -> None:
        """Close the position with reduce-only market orders (a halt's flatten), one leg at a time."""
        result = await self.reconciler.cycle(now)
        self.account = result.account
        if result.account.qty == 0.0:
            self.flattening = False
            log.warning("flat: the position is closed", extra={"event": "flattened"})
            mark = self.quote.mark if math.isfinite(self.quote.mark) else result.account.mark
            self._publish(result.account, mark, self._equity(result.account, mark))
            return
        assert self.gate is not None
        legs = plan_legs(result.account.qty, 0.0, self.gate.instrument, 0.0, self.cfg.execution)
        self.quote = await self.venue.quote()
        rounds = int(self.store.get_meta("flatten_rounds", 0)) + 1  # each round's ids differ from all others
        self.store.set_meta("flatten_rounds", rounds)
        self.worker.start(
            self.history.last_open_ms or now, legs, self.quote.mark, leg_base=1000 + 10 * rounds
        )
        await self.worker.work(now, self.quote, flattening=True)

    def done(self) -> bool:
        """Whether ``run`` should end: a stop, or a flatten that has finished, or ``max_bars`` decisions."""
        if self.stopping == "stop":
            return not self.worker.busy
        if self.stopping == "flatten":
            return not self.flattening and not self.worker.busy
        return 0 < self.cfg.max_bars <= self.decisions and not self.worker.busy

    # -- the loop ---------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start, then decide on every closed bar until stopped.

        A cycle that meets an exchange or data error is logged and tried again on the next tick: the bar's
        decision is recorded before its orders go out, so a retried cycle never decides or sends twice.
        """
        await self.start()
        if self.cfg.streams:
            from asterrl.live.streams import BridgeStreams

            self.streams = BridgeStreams(self.cfg.stream_url, self.venue.symbol, self.manifest.interval,
                                         self.stream_client, f"a{self.tag}-")  # fmt: skip
            await self.streams.start()
        try:
            while not self.done():
                await self._loop_once()
        finally:
            if self.streams is not None:
                self.streams.log_changes()  # what the streams met since the last cycle shows too
                await self.streams.stop()
            self.kill.restore_signal_handlers()
            log.info("stopped %s (%s)", self.cfg.name(), self.stopping or "done", extra={"event": "stop"})

    async def _loop_once(self) -> None:
        try:
            if self.cfg.clock == "exchange":
                await self.venue.sync_clock()
            now = self.clock_ms()
            due = self.history.due_close_ms()
            undecided = self.history.last_open_ms != self.store.get_meta("last_bar_ms")
            if due is None or now >= due or undecided:
                await self.on_bar(now)
            if self.streams is not None:
                await self._stream_checks(now)
            await self.tick(now)
        except AsterRLError as exc:  # the exchange or its data failed for now: log, try again next tick
            if isinstance(exc, LiveError):
                raise
            self.failed_cycles += 1
            log.warning("cycle failed (%s: %s); trying again", type(exc).__name__, exc,
                        extra={"event": "cycle_failed", "error": type(exc).__name__})  # fmt: skip
        wake = self.streams.wake if self.streams is not None else None
        if wake is None:
            await asyncio.sleep(TICK_S)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), TICK_S)
        wake.clear()

    async def _stream_checks(self, now: int) -> None:
        """Orders an event named are read at once; a silent market stream is a (transient) breach."""
        streams = self.streams
        streams.log_changes()
        for cid in list(streams.touched):
            streams.touched.discard(cid)
            await self.worker.refresh(cid, now)
        silent = streams.silent_for_s() > self.cfg.limits.stale_stream_s
        if silent and "stale_stream" not in self.risk.reasons:
            state = TradingState.parse(self.cfg.limits.breach.get("stale_stream", "reducing"))
            self.risk.breach("stale_stream", f"no stream message for {streams.silent_for_s():.0f} s", state)
        elif not silent and "stale_stream" in self.risk.reasons:
            self.risk.clear("stale_stream", "stream messages arrive again")

    # -- helpers ----------------------------------------------------------------------------------------

    def _equity(self, account: AccountSnapshot, mark: float) -> float:
        return account.wallet + account.qty * (mark - account.entry)

    def _publish(self, account: AccountSnapshot, mark: float, equity: float) -> None:
        figures = AccountFigures(
            account.qty, account.entry, equity, mark, self.books.peak_equity or equity,
            self.books.day_start_equity or equity,
        )  # fmt: skip
        head = {"run_id": self.cfg.name(), "mode": self.cfg.mode, "symbol": self.venue.symbol}
        used = limits_used(figures, self.limits, self.store.orders_sent_since(self.clock_ms() - 60_000))
        publish(self.store, self.metrics, head, self.risk.state, self.risk.reasons, figures, used)
        self.metrics.set("orders_total", float(self.worker.sent))
        self.metrics.set("unknown_outcomes_total", float(self.worker.unknown))
        self.metrics.set("reconcile_differences_total", float(self.reconciler.differences))
