"""The runner: one event loop joining the venue client, the core engine and the journal.

Every venue event goes to ``Engine.handle_into`` on the loop, synchronously, as it is
decoded (the client's direct I/O calls us from the socket's read callback); the actions are
journaled (memory-mapped append) and then handed to ``client.send_actions``, which writes
them to the socket before it returns (never blocks; throttled ones leave later), and the
decisions go to the journal. A timer task feeds the engine
``Timer`` events, samples status for the periodic aggregated log line, writes position
snapshots and watches the journal's back-pressure. Nothing on this path logs per message.

The engine is built on the first event, when the venue's instrument list (tick and lot
sizes) is known. Stopping (duration, signal, fatal problem) closes the client, which sends
``cancel_session`` first so no order is left on the venue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from thalex_mm.app.engine_setup import EngineSetupError, engine_config, missing_instrument
from thalex_mm.app.heap import HeapSettings, set_malloc_mmap_threshold
from thalex_mm.app.journaling import JournalBridge
from thalex_mm.app.live import LiveFeed
from thalex_mm.app.polling import keep_polling
from thalex_mm.app.reporting import RunFacts, run_summary, status_line
from thalex_mm.app.run_stats import RunStats
from thalex_mm.app.settings import AppConfig, public_channels
from thalex_mm.app.warm_start import SavedStates, restore
from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.core.engine import Engine
from thalex_mm.errors import UserError
from thalex_mm.journal import Journal
from thalex_mm.journal.sinks.base import redact_url
from thalex_mm.venue.thalex.client import ClientConfig, ThalexClient, VenueError
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.networks import Endpoint

log = logging.getLogger("thalex_mm.run")

_MARKET = (ev.Ticker, ev.BookTop, ev.BookUpdate)
_DIGITS = re.compile(r"\d+(\.\d+)?")
_IDLE_KINDS_LOGGED = 32  # per instrument: bounded, whatever the reasons say
STRATEGY = "mm"


class Runner:
    """``await Runner(...).run(duration_s)`` -> the run summary (a dict, see run_stats)."""

    def __init__(
        self,
        config: AppConfig,
        endpoint: Endpoint,
        credentials: Credentials | None,
        *,
        journal: Journal | None = None,
        mode: str = "",
        first_client_order_id: int = 1,
        client_config: ClientConfig | None = None,
        direct_io: bool = True,
    ) -> None:
        self.config = config
        self.endpoint = endpoint
        self.mode = mode or endpoint.network.value
        self.journal = journal
        self.first_client_order_id = first_client_order_id
        cc = client_config or ClientConfig(
            public_channels=public_channels(config),
            account=config.venue.account,
            cancel_on_disconnect_s=config.venue.cancel_on_disconnect_s,
        )
        self.client = ThalexClient(endpoint, credentials, self._on_event, cc, direct_io=direct_io)
        self.client.translator.emit_batch = self._on_batch
        self.client.on_batch_written = self._on_batch_written
        self.engine: Engine | None = None
        self.stats: RunStats | None = None
        self.bridge: JournalBridge | None = None
        self.last_quote: dict[str, act.QuoteReport] = {}
        self.kill_switches: list[act.KillSwitch] = []
        self.on_decision: Callable[[act.Decision], None] | None = None  # tests, tools
        self.live: LiveFeed | None = None  # the live snapshot (app/live.py), if any
        self.risk_reasons: dict[str, str] = {}  # the last risk-state change's reason
        # estimator states to resume from (app/warm_start.py) and where the line saying what
        # was restored goes; None: no warm start (the launcher says why)
        self.warm_start: SavedStates | None = None
        self.announce: Callable[[str], None] = log.info
        self.fatal: str | None = None
        self.stop_reason = ""
        self.risk_blocked: str | None = None  # journal back-pressure reason while blocked
        self.resyncs = 0
        self._heap = HeapSettings(config.run.gc_young_threshold)
        self.timer_errors = 0
        self.started_at = 0.0
        self._t0 = 0.0
        self._stop = asyncio.Event()
        self._closing = False
        self._debug = False  # --verbose: every decision but quote reports is logged
        self._actions: list[act.Action] = []
        self._decisions: list[act.Decision] = []
        self._idle: dict[str, str] = {}  # instrument -> the logged stop it is in, if any
        self._idle_logged: dict[str, set[str]] = {}  # instrument -> kinds of stop logged

    # --- control ------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        """Stop soon (signal handlers, tests); the first reason given is reported."""
        if not self.stop_reason:
            self.stop_reason = reason
        self._stop.set()

    async def run(self, duration_s: float | None = None) -> dict[str, Any]:
        """Connect, quote until ``duration_s`` or ``request_stop``, cancel, summarise."""
        self.started_at = time.time()
        self._t0 = time.monotonic()
        self._debug = log.isEnabledFor(logging.DEBUG)
        set_malloc_mmap_threshold(self.config.run.malloc_mmap_threshold_kb * 1024)
        try:
            await self.client.start()
        except VenueError as exc:
            await self.client.close()
            missing = missing_instrument(
                self.config, self.client.translator.specs, self.endpoint.url
            )
            raise UserError(missing or self.fatal or str(exc)) from None
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._timer_loop(), name="mm-timer")]
        if self.config.run.busy_poll:
            warmers = [self.journal.warm] if self.journal is not None else []
            poll = keep_polling(warmers, self.config.run.warm_interval_us / 1e6)
            tasks.append(loop.create_task(poll, name="mm-busy-poll"))
        try:
            if self.fatal is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), duration_s)
            if not self.stop_reason:
                self.stop_reason = "duration" if self.fatal is None else "error"
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._closing = True
            # cancel_session, then the order feed's last reports (a fill may follow the
            # reply: the summary's position must have it), then close
            await self.client.close(settled=self._orders_closed)
            self._heap.restore()
            self._save_estimators()  # what this run learnt, for the next one's warm start
            if self.live is not None:
                self.live.final(self, self.stop_reason)
        if self.fatal is not None:
            raise UserError(self.fatal)
        return self.summary()

    def _orders_closed(self) -> bool:
        """The order feed has reported every order the venue took closed. Orders without a
        venue id were never sent (the engine re-quotes while closing; nothing goes out) or
        never accepted; mass quotes, tracked per side, are not waited for."""
        engine = self.engine
        return engine is None or not any(
            o.order_id for inst in engine.instruments.values() for o in inst.orders.open_orders()
        )

    # --- engine construction ------------------------------------------------------------
    def _build_engine(self) -> Engine | None:
        try:
            config = engine_config(
                self.config,
                self.client.translator.specs,
                self.endpoint.url,
                self.first_client_order_id,
            )
            engine = Engine(config)
        except (EngineSetupError, ValueError) as exc:
            self._fail(str(exc))
            return None
        if self.warm_start is not None:  # before the engine's first event
            self.announce(restore(engine, self.warm_start))
        self.engine = engine
        specs = {c.spec.name: c.spec for c in config.instruments}
        self.stats = RunStats(specs.values(), self.config.run.latency_samples)
        if self.journal is not None:
            models = {s.name: (s.quote.model, s.quote.gamma_usd) for s in self.config.instruments}
            self.bridge = JournalBridge(self.journal, STRATEGY, specs, models)
            self.bridge.fair_at = self.fair_at_fill
        if self.live is not None:
            self.live.bind(self)
        return engine

    def fair_at_fill(self, instrument: str, trade_id: str) -> float | None:
        """The fair value when ``trade_id`` filled (for the journal's fill records)."""
        return None if self.stats is None else self.stats.fair_at_fill(instrument, trade_id)

    def _fail(self, message: str) -> None:
        if self.fatal is None:
            self.fatal = message
        self.request_stop("error")

    # --- the hot path -------------------------------------------------------------------
    def _ready_engine(self) -> Engine | None:
        """The engine, built on the first event (once the venue's instrument specs are known)."""
        engine = self.engine
        if engine is None and self.fatal is None:
            engine = self._build_engine()
        return engine

    def _on_batch(self, events: list[ev.Event]) -> None:
        """The order updates of one feed message: all applied before the engine quotes, so it
        never amends an order a later update of the same message reports filled."""
        engine = self._ready_engine()
        if engine is None:
            return
        stats = self.stats
        assert stats is not None
        actions, decisions = self._actions, self._decisions
        engine.handle_batch(events, actions, decisions)
        for event in events:
            self._on_order_update(event, engine, stats)  # type: ignore[arg-type]
        if actions:
            self._send(actions, events[-1].now_ns, stats)
        if decisions:
            self._on_decisions(decisions)
            decisions.clear()

    def _send(self, actions: list[act.Action], now_ns: int, stats: RunStats) -> None:
        if not self._closing:
            if self.bridge is not None:  # journal first: no order reaches the venue unrecorded
                self.bridge.actions(actions, now_ns)
            self.client.send_actions(actions)  # written to the socket before this returns
            stats.count_actions(actions)
        actions.clear()

    def _on_event(self, event: ev.Event) -> None:
        engine = self._ready_engine()
        if engine is None:
            return
        stats = self.stats
        assert stats is not None
        actions, decisions = self._actions, self._decisions
        t = type(event)
        if t is ev.ActionRejected:  # before the engine forgets whose action it was
            self._on_rejected(event, engine, stats)  # type: ignore[arg-type]
        engine.handle_into(event, actions, decisions)
        bridge = self.bridge
        market: str | None = None  # a quoted instrument's market data: journaled below
        if t in _MARKET:
            name: str = event.instrument  # type: ignore[union-attr]
            st = stats.by_name.get(name)
            if st is not None:
                st.market_msgs += 1
                market = name
                if actions and not self._closing:
                    client = self.client
                    stats.mark_tick(st, client.rx_perf_ns, client.frame_perf_ns, client.tx_batches)
        elif t is ev.OrderUpdate:
            self._on_order_update(event, engine, stats)  # type: ignore[arg-type]
        elif t is ev.FillsReplayed:
            self._on_fills(event, engine, stats)  # type: ignore[arg-type]
        elif t is ev.Resynced:
            self._on_resynced(event, engine, stats)  # type: ignore[arg-type]
        elif t is ev.Disconnected:
            stats.reset_ticks()
        if actions:
            self._send(actions, event.now_ns, stats)
        if market is not None:  # after the orders left: off their path
            inst = engine.instruments[market]
            stats.by_name[market].quality.on_fair(event.now_ns, inst.mark())  # fair value
            if bridge is not None:
                bridge.market(market, event.now_ns, inst.market)
            if self.live is not None:
                self.live.cycle(market, event.now_ns)
        if decisions:
            self._on_decisions(decisions)
            decisions.clear()

    def _on_order_update(self, u: ev.OrderUpdate, engine: Engine, stats: RunStats) -> None:
        st = stats.by_name.get(u.instrument)
        if st is None:
            return
        inst = engine.instruments[u.instrument]
        if u.fills:
            for f in u.fills:
                if stats.new_fill(f.trade_id):
                    st.on_fill(f, u.now_ns)
            st.on_position(inst.position.lots)
        if self.bridge is not None:
            self.bridge.order_update(u, inst.position.lots)

    def _on_fills(self, e: ev.FillsReplayed, engine: Engine, stats: RunStats) -> None:
        st = stats.by_name.get(e.instrument)
        if st is None:
            return
        inst = engine.instruments[e.instrument]
        new = [f for f in e.fills if stats.new_fill(f.trade_id)]
        for f in new:
            st.on_fill(f, e.now_ns)
        if self.bridge is not None:
            self.bridge.replayed_fills(
                e.instrument, new, now_ns=e.now_ns, position_lots=inst.position.lots
            )
        st.on_position(inst.position.lots)

    def _on_rejected(self, e: ev.ActionRejected, engine: Engine, stats: RunStats) -> None:
        """Count a venue rejection (code > 0) against the instrument whose action it was."""
        if e.code > 0:
            for st in stats.by_name.values():
                inst = engine.instruments[st.spec.name]
                if inst.orders.owns_action(e.action_id) or (
                    inst.mq is not None and inst.mq.owns_action(e.action_id)
                ):
                    st.rejections += 1
                    if self.live is not None:
                        self.live.rejected(st.spec.name, e.code)
                    return

    def _on_resynced(self, e: ev.Resynced, engine: Engine, stats: RunStats) -> None:
        self.resyncs += 1
        self._heap.settle()  # the start-up heap is built: freeze it (once per run)
        for u in e.open_orders:
            st = stats.by_name.get(u.instrument)
            if st is None:
                continue
            for f in u.fills:
                # first resync: fills of a previous run's orders are history, not this run's
                if stats.new_fill(f.trade_id) and self.resyncs > 1:
                    st.on_fill(f, e.now_ns)
        for name, st in stats.by_name.items():
            pos = engine.instruments[name].position
            st.on_position(pos.lots)
            if self.resyncs == 1:  # the position taken over from the venue: part of its PnL
                st.on_start(pos.lots, pos.average_price)
        if self.resyncs > 1:
            log.warning("reconnected and resynced (%d reconnects so far)", self.resyncs - 1)

    def _on_decisions(self, decisions: list[act.Decision]) -> None:
        if self.bridge is not None:
            self.bridge.decisions(decisions)
        hook = self.on_decision
        for d in decisions:
            t = type(d)
            if t is act.QuoteReport:
                self.last_quote[d.instrument] = d  # type: ignore[assignment]
                if d.instrument in self._idle:
                    del self._idle[d.instrument]
                    log.info("%s: quoting again", d.instrument)
            elif t is act.NoQuoteReport:
                self._log_idle(d)  # type: ignore[arg-type]
            elif t is act.KillSwitch:
                self.kill_switches.append(d)  # type: ignore[arg-type]
                log.warning("kill switch: %s", d.reason)  # type: ignore[union-attr]
            elif t is act.RiskStateChanged:
                self.risk_reasons[d.instrument] = d.reason  # type: ignore[union-attr]
                log.info(
                    "%s: risk state %s -> %s (%s)",
                    d.instrument, d.old.name, d.new.name, d.reason,  # type: ignore[union-attr]
                )  # fmt: skip
            elif t is act.PositionDiscrepancy:
                log.warning("position discrepancy: %s", d)
            elif t is act.FillAnomaly:
                log.warning(
                    "%s: anomalous %s (%s)", d.instrument, d.what,  # type: ignore[union-attr]
                    "no new risk" if d.halted else "trading on: anomalous_fill = warn",  # type: ignore[union-attr]
                )  # fmt: skip
            elif self._debug:
                log.debug("%s", d)
            if hook is not None:
                hook(d)

    def _log_idle(self, d: act.NoQuoteReport) -> None:
        """Log why an instrument stopped quoting, once per instrument and kind of reason
        (numbers in it, e.g. crossed-book ticks, do not make a new kind): a book that
        flickers must not flood the log; the status line names the reason whenever it
        applies."""
        kind = _DIGITS.sub("#", d.reason)
        seen = self._idle_logged.setdefault(d.instrument, set())
        if kind in seen or len(seen) >= _IDLE_KINDS_LOGGED:
            log.debug("%s: not quoting: %s", d.instrument, d.reason)
            return
        seen.add(kind)
        self._idle[d.instrument] = kind
        log.warning(
            "%s: not quoting: %s (logged once; the status line shows it while it lasts)",
            d.instrument, d.reason,
        )  # fmt: skip

    def _on_batch_written(self, batch: int, write_ns: int, tx_ns: int, frames: int) -> None:
        if self.stats is not None:
            self.stats.batch_written(batch, write_ns, tx_ns, frames)

    # --- the timer: engine timer, status, journal upkeep --------------------------------
    async def _timer_loop(self) -> None:
        cfg = self.config
        interval = cfg.run.timer_interval_ms / 1000
        status_every = cfg.run.status_interval_s
        # position snapshots: every instrument once per position_interval_s, spread over the
        # timer ticks of that interval (a slice per tick, never all 100 in one burst)
        position_share = min(1.0, interval / cfg.journal.position_interval_s)
        next_status = time.monotonic() + status_every
        estimators_every = cfg.journal.estimator_interval_s
        next_estimators = time.monotonic() + estimators_every
        last_in, last_out, last_t = 0, 0, time.monotonic()
        while True:
            await asyncio.sleep(interval)
            if self.engine is not None and self.client.ready and not self._closing:
                try:
                    self._on_event(ev.Timer(time.time_ns()))
                    self._check_backpressure()
                except Exception:  # a bug must not stop the timer (and so the risk checks)
                    self.timer_errors += 1
                    if self.timer_errors == 1 or self.timer_errors % 1000 == 0:
                        log.exception("error on the engine timer (%d so far)", self.timer_errors)
            now = time.monotonic()
            if self.stats is not None:
                self.stats.advance(time.time_ns())  # markouts due by now
            if self.bridge is not None and self.engine is not None:
                self.bridge.positions(self.engine.instruments, time.time_ns(), position_share)
            if now >= next_estimators:
                next_estimators = now + estimators_every
                self._save_estimators()
            if self.journal is not None:
                self.journal.prefault()  # the next appends' pages, mapped ahead of them
            if self.live is not None:
                self.live.timer(time.time_ns(), interval)
            if now >= next_status:
                next_status = now + status_every
                frames_in = self.client.protocol.stats.frames
                frames_out = self.client.tx_frames
                span = max(now - last_t, 1e-9)
                rate_in, rate_out = (frames_in - last_in) / span, (frames_out - last_out) / span
                log.info("%s", self.status_line(rate_in, rate_out))
                last_in, last_out, last_t = frames_in, frames_out, now

    def _save_estimators(self) -> None:
        """Journal the estimators' states (warm start); a failure costs the next run its warm
        start, never this run its timer or its summary."""
        if self.bridge is not None and self.engine is not None:
            try:
                self.bridge.estimator_states(self.engine.estimator_states(), time.time_ns())
            except Exception as exc:
                log.warning("cannot journal the estimator states (%s)", exc)

    def _check_backpressure(self) -> None:
        """No new risk while the journal cannot keep up (its reason), and again once it has
        caught up; the first reason of a spell is the one shown and journaled."""
        journal, engine = self.journal, self.engine
        if journal is None or engine is None:
            return
        why = journal.backpressure
        if (why is None) == (self.risk_blocked is None):
            return
        self.risk_blocked = why
        if why is not None:
            log.error("journal back-pressure: no new risk is opened (%s)", why)
        else:
            log.warning("journal back-pressure cleared: new risk may be opened again")
        decisions = self._decisions
        engine.restrict(
            time.time_ns(), None if why is None else f"journal: {why}", decisions, "journal"
        )
        if decisions:
            self._on_decisions(decisions)
            decisions.clear()

    # --- reporting ----------------------------------------------------------------------
    def status_line(self, in_per_s: float, out_per_s: float) -> str:
        """One aggregated status line (quotes, position, fills, PnL, rates, latency)."""
        if self.engine is None or self.stats is None:
            return f"status: connecting to {self.endpoint.url}"
        return status_line(self.engine, self.stats, in_per_s, out_per_s, self.risk_blocked)

    def summary(self) -> dict[str, Any]:
        """The run summary (see run_stats.RUN_KEYS / INSTRUMENT_KEYS)."""
        client = self.client
        return run_summary(
            self.engine,
            self.stats,
            RunFacts(
                venue=self.endpoint.url,
                network=self.endpoint.network.value,
                mode=self.mode,
                started_at=self.started_at,
                elapsed_s=max(time.monotonic() - self._t0, 1e-9),
                stop_reason=self.stop_reason or "duration",
                msgs_in=client.protocol.stats.frames,
                msgs_out=client.tx_frames,
                throttle_errors=client.protocol.stats.throttle_errors,
                reconnects=max(self.resyncs - 1, 0),
                journal=None if self.journal is None else redact_url(self.journal.settings.url),
            ),
        )
