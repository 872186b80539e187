"""The engine: routes each event to its instrument and runs one quoting cycle.

``Engine(config).handle(event) -> Output`` is the whole core as seen from outside (the app
runner, the local-exchange simulations, the benchmarks). ``handle_into`` appends to
caller-owned lists instead, to avoid an allocation per event on the hot path.

A quoting cycle for an instrument: risk verdict (kill switch, limits, take-profit,
recovery) → stale-data guard → quoter (model + risk shaping) → order manager (diff, or one
mass quote) → final guard. It runs after market data, fills, replies (a reply frees an
order for its next action) and timers (refresh, staleness, cooldown, reply timeouts).

``restrict(now_ns, reason, decisions)`` is the no-new-risk switch (e.g. the journal's
back-pressure): while a reason is set every instrument quotes only the side that reduces
its position, never past flat; ``None`` lifts it. Hedges still go out (they reduce the net
delta) within the hedge instrument's limit. The kill switch's ``CancelAll`` is
``private/cancel_all``: account-wide, it cancels manual orders of the account too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from thalex_mm.core import events as ev
from thalex_mm.core.actions import (
    Action,
    CancelAll,
    Decision,
    NoQuoteReport,
    Output,
    TradingState,
)
from thalex_mm.core.config import EngineConfig
from thalex_mm.core.engine_replies import ReplyHandlers
from thalex_mm.core.hedge import Hedger
from thalex_mm.core.ids import IdSource
from thalex_mm.core.instrument import Instrument
from thalex_mm.core.position import TradeIds, fill_key
from thalex_mm.model.quote import NoQuote

_HALTED = TradingState.HALTED


class Engine(ReplyHandlers):
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.ids = IdSource(config.first_client_order_id)
        self.trade_ids = TradeIds(config.trade_id_memory)
        self.instruments: dict[str, Instrument] = {
            cfg.spec.name: Instrument(cfg, self.ids, self.trade_ids) for cfg in config.instruments
        }
        self.hedgers: list[Hedger] = []
        for h in config.hedges:
            hedge = self.instruments[h.hedge]
            self.hedgers.append(
                Hedger(
                    h,
                    quoted_position=self.instruments[h.quoted].position,
                    hedge_position=hedge.position,
                    hedge_market=hedge.market,
                    guard=hedge.guard,
                    risk=hedge.risk,
                    ids=self.ids,
                )
            )
            self.hedgers[-1].reply_timeout_ns = int(hedge.cfg.orders.reply_timeout_ms * 1e6)
        self.halted_all = False
        self.restrictions: dict[str, str] = {}  # the no-new-risk switch: source -> reason
        # the labels our orders carry: a fill of an order with none of them, unknown by id,
        # is not ours (fill_check)
        self.own_labels = frozenset(
            [c.orders.label for c in config.instruments] + [h.label for h in config.hedges]
        )
        self.synced = not config.wait_for_resync  # False until the first Resynced
        self._deferred: dict[Instrument, bool] | None = None  # handle_batch's pending cycles
        self._cancel_all_id = 0
        self._cancel_all_ns = 0
        self._cancel_all_reason = ""
        self._reply_timeout_ns = int(
            min(c.orders.reply_timeout_ms for c in config.instruments) * 1_000_000
        )
        self._handlers: dict[type, Callable[[Any, list[Action], list[Decision]], None]] = {
            ev.BookTop: self._on_top,
            ev.BookUpdate: self._on_book,
            ev.Ticker: self._on_ticker,
            ev.PublicTrade: self._on_public_trade,
            ev.OrderUpdate: self._on_order_update,
            ev.FillsReplayed: self._on_fills,
            ev.ActionRejected: self._on_rejected,
            ev.ActionAcknowledged: self._on_acknowledged,
            ev.MassQuoteResult: self._on_mass_quote_result,
            ev.MMProtectionUpdate: self._on_mm_protection,
            ev.PortfolioSnapshot: self._on_portfolio,
            ev.Funding: self._on_funding,
            ev.Timer: self._on_timer,
            ev.Disconnected: self._on_disconnected,
            ev.Resynced: self._on_resynced,
        }

    # --- entry points -------------------------------------------------------------------
    def handle(self, event: ev.Event) -> Output:
        out = Output()
        self._handlers[type(event)](event, out.actions, out.decisions)
        return out

    def handle_into(
        self, event: ev.Event, actions: list[Action], decisions: list[Decision]
    ) -> None:
        self._handlers[type(event)](event, actions, decisions)

    def handle_batch(
        self, events: list[ev.Event], actions: list[Action], decisions: list[Decision]
    ) -> None:
        """Handle the events of one venue frame (e.g. the order list of one ``session.orders``
        notification) as one: order updates are all applied before the quoting cycle runs,
        once per instrument, so no amend goes to an order a later update of the same frame
        reports filled (the venue would answer "order not found")."""
        deferred: dict[Instrument, bool] = {}
        self._deferred = deferred
        try:
            for event in events:
                if type(event) is not ev.OrderUpdate:
                    self._flush(event.now_ns, deferred, actions, decisions)
                self._handlers[type(event)](event, actions, decisions)
        finally:
            self._deferred = None
        if events:
            self._flush(events[-1].now_ns, deferred, actions, decisions)

    def _flush(
        self,
        now: int,
        deferred: dict[Instrument, bool],
        actions: list[Action],
        decisions: list[Decision],
    ) -> None:
        if any(deferred.values()):
            self._after_fill(now, actions, decisions)
        for inst in deferred:
            self._cycle(inst, now, actions, decisions)
        deferred.clear()

    def restrict(
        self, now_ns: int, reason: str | None, decisions: list[Decision], source: str = ""
    ) -> None:
        """No new risk while ``reason`` is set (None lifts it): only the side that reduces
        each position quotes; the adding side is pulled on the next cycle (any event or
        timer). Reported as ``RiskStateChanged`` per instrument, with the reason. Each
        ``source`` (the app's journal checks, "fill", ...) sets and lifts only its own."""
        restrictions = self.restrictions
        if restrictions.get(source) == reason:
            return
        if reason is None:
            del restrictions[source]
        else:
            restrictions[source] = reason
        for inst in self.instruments.values():
            inst.risk.restrict(now_ns, reason, decisions, source)

    # --- warm start ---------------------------------------------------------------------
    def estimator_states(self) -> dict[str, dict[str, Any]]:
        """Every instrument's estimator state (JSON-able), to save for a warm restart."""
        return {name: inst.quoter.estimator_state() for name, inst in self.instruments.items()}

    def restore_estimators(self, states: Mapping[str, dict[str, Any]]) -> dict[str, str]:
        """Resume the estimators from saved states; returns instrument → why its state was
        not used (unknown instrument, or a state that does not fit its configuration)."""
        refused: dict[str, str] = {}
        for name, state in states.items():
            inst = self.instruments.get(name)
            if inst is None:
                refused[name] = "not an instrument of this run"
                continue
            try:
                inst.quoter.restore_estimators(state)
            except (ValueError, KeyError, TypeError) as exc:
                refused[name] = str(exc) or type(exc).__name__
        return refused

    def estimates(self) -> dict[str, tuple[float | None, float, float]]:
        """Every instrument's (σ or None while warming up, A, k) as its model would use them
        now: what a warm start reports it restored."""
        return {name: inst.quoter.estimates() for name, inst in self.instruments.items()}

    # --- market data --------------------------------------------------------------------
    def _on_top(self, e: ev.BookTop, actions: list[Action], decisions: list[Decision]) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is not None:
            inst.market.on_top(e)
            inst.quoter.on_market(e.now_ns, inst.market, inst.own_quotes(), inst.best_quotes())
            self._cycle(inst, e.now_ns, actions, decisions)

    def _on_book(self, e: ev.BookUpdate, actions: list[Action], decisions: list[Decision]) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is not None:
            inst.market.on_book(e)
            inst.quoter.on_market(e.now_ns, inst.market, inst.own_quotes(), inst.best_quotes())
            self._cycle(inst, e.now_ns, actions, decisions)

    def _on_ticker(self, e: ev.Ticker, actions: list[Action], decisions: list[Decision]) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is not None:
            inst.market.on_ticker(e)
            if e.mark_price > 0.0:
                inst.guard.reference_ticks = e.mark_price / inst.spec.tick_size
            inst.quoter.on_market(e.now_ns, inst.market, inst.own_quotes(), inst.best_quotes())
            self._cycle(inst, e.now_ns, actions, decisions)

    def _on_public_trade(
        self, e: ev.PublicTrade, actions: list[Action], decisions: list[Decision]
    ) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is not None:
            inst.market.on_trade(e)
            inst.quoter.on_public_trade(e, inst.market)

    # --- our orders and fills -----------------------------------------------------------
    def _on_order_update(
        self, e: ev.OrderUpdate, actions: list[Action], decisions: list[Decision]
    ) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is None:
            return
        filled = self._apply(inst, e.fills, e.now_ns, decisions, e) if e.fills else False
        if e.order_id:  # a resync may list an open order's fills again, however old
            if not e.status.is_active:
                self.trade_ids.unpin(e.order_id)
            elif e.fills:
                self.trade_ids.pin(e.order_id, [fill_key(f) for f in e.fills])
        hedged = False
        for hedger in self.hedgers:
            hedged = hedger.on_answer(e.reply_to) or hedged
        if not hedged:
            inst.orders.on_update(e, decisions)
        deferred = self._deferred
        if deferred is not None:  # in a batch: one cycle at its end, on the whole frame
            deferred[inst] = filled or deferred.get(inst, False)
            return
        if filled:
            self._after_fill(e.now_ns, actions, decisions)
        self._cycle(inst, e.now_ns, actions, decisions)

    def _on_fills(
        self, e: ev.FillsReplayed, actions: list[Action], decisions: list[Decision]
    ) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is None:
            return
        if self._apply(inst, e.fills, e.now_ns, decisions):
            self._after_fill(e.now_ns, actions, decisions)
            self._cycle(inst, e.now_ns, actions, decisions)

    def _after_fill(self, now_ns: int, actions: list[Action], decisions: list[Decision]) -> None:
        if not self.synced:
            return
        for hedger in self.hedgers:
            max_age = self.instruments[hedger.cfg.hedge].max_age_ns
            hedger.check(now_ns, max_age, actions, decisions)

    def _on_funding(self, e: ev.Funding, actions: list[Action], decisions: list[Decision]) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is not None:
            inst.position.apply_funding(e.amount)

    # --- account ------------------------------------------------------------------------
    def _on_portfolio(
        self, e: ev.PortfolioSnapshot, actions: list[Action], decisions: list[Decision]
    ) -> None:
        for entry in e.entries:
            inst = self.instruments.get(entry.instrument)
            if inst is not None:
                self._reconcile(inst, entry, e.now_ns, decisions)

    def _on_timer(self, e: ev.Timer, actions: list[Action], decisions: list[Decision]) -> None:
        now = e.now_ns
        if self._cancel_all_id and now - self._cancel_all_ns > self._reply_timeout_ns:
            # the kill switch's cancel-all got no answer: send another one
            self._end_cancel_all(self._cancel_all_id)
            self._kill(now, self._cancel_all_reason + " (resent: no reply)", actions)
        for inst in self.instruments.values():
            inst.quoter.on_timer(now)
            inst.orders.check_timeouts(now, decisions, actions)
            self._reconcile(inst, None, now, decisions)
            self._cycle(inst, now, actions, decisions)
        self._after_fill(now, actions, decisions)

    def _on_disconnected(
        self, e: ev.Disconnected, actions: list[Action], decisions: list[Decision]
    ) -> None:
        self._cancel_all_id = 0
        for hedger in self.hedgers:
            hedger.inflight_action_id = 0
        for inst in self.instruments.values():
            inst.orders.on_disconnected()
            if inst.mq is not None:
                inst.mq.on_disconnected()

    def _on_resynced(
        self, e: ev.Resynced, actions: list[Action], decisions: list[Decision]
    ) -> None:
        self.synced = True
        entries = {entry.instrument: entry for entry in e.positions}
        for inst in self.instruments.values():
            inst.orders.on_resynced(e.open_orders, decisions)
            # Orders kept from the old session are cancelled by order id, never quoted with:
            # after a half-open reconnect their fills reach only the old session's feed.
            inst.orders.cancel_everything(e.now_ns, actions)
            if inst.mq is not None:
                inst.mq.on_resynced()
            fills = tuple(f for u in e.open_orders if u.instrument == inst.name for f in u.fills)
            position = inst.position
            if position.fresh:  # a (re)started engine: the venue's position is the start
                mark = inst.mark()
                before = position.total_pnl(mark)
                position.seed(entries.get(inst.name), fills)
                inst.risk.shift_base(position.total_pnl(mark) - before)  # not a loss of ours
            else:
                self._apply(inst, fills, e.now_ns, decisions)
        trade_ids = self.trade_ids  # pins: the fills of the orders the venue lists as open
        trade_ids.keep_only(u.order_id for u in e.open_orders)
        for u in e.open_orders:
            if u.fills and u.order_id and u.instrument in self.instruments:
                trade_ids.pin(u.order_id, [fill_key(f) for f in u.fills])
        self._on_portfolio(ev.PortfolioSnapshot(e.now_ns, e.positions), actions, decisions)
        for inst in self.instruments.values():
            self._cycle(inst, e.now_ns, actions, decisions)

    # --- the quoting cycle --------------------------------------------------------------
    def _cycle(
        self, inst: Instrument, now: int, actions: list[Action], decisions: list[Decision]
    ) -> None:
        if not self.synced:
            return  # the venue's position and orders are not known yet
        position = inst.position
        mark = inst.mark()
        total = position.total_pnl(mark)
        risk = inst.risk
        if risk.evaluate(now, position.lots, mark, total, position.unrealised(mark), out=decisions):
            self._kill(now, f"{inst.name}: kill switch", actions)
            return
        max_total_loss = self.config.max_total_loss
        if max_total_loss is not None and not self.halted_all:
            # each instrument's PnL since this run's start (its risk's run_base), so a
            # restart with an old open position does not count its old PnL
            portfolio = sum(
                i.position.total_pnl(i.mark()) - i.risk.run_base
                for i in self.instruments.values()
                if i.risk.started
            )
            if portfolio <= -max_total_loss:
                self.halted_all = True
                for other in self.instruments.values():
                    other.risk.halt_permanently(
                        now, f"portfolio loss {portfolio:.2f} reached the limit", portfolio,
                        decisions,
                    )  # fmt: skip
                self._kill(now, "portfolio max loss", actions)
                return
        if not inst.cfg.quoting:
            return
        permit = risk.permit
        if permit.state is _HALTED:
            self._pull(inst, now, actions, decisions, "halted")
            return
        disagreement = position.disagreement
        if disagreement is not None:  # not adopted: the limits would apply to a wrong number
            self._pull(inst, now, actions, decisions, disagreement)
            return
        stale = inst.market.stale_reason(now, inst.max_age_ns)
        if stale is not None:
            self._pull(inst, now, actions, decisions, stale)
            return
        quoter = inst.quoter
        if quoter.interval_ns:  # a fixed requote grid: orders change once per step at most
            if quoter.step_origin < 0:  # the grid starts at the first cycle
                quoter.step_origin = now
            step = (now - quoter.step_origin) // quoter.interval_ns
            if step == quoter.step:
                return
            quoter.step = step
        result = quoter.desired(position.lots, inst.market, permit)
        if isinstance(result, NoQuote):
            self._pull(inst, now, actions, decisions, result.reason)
            return
        bids, asks = result
        if bids != inst.last_bids or asks != inst.last_asks:
            inst.last_bids = bids
            inst.last_asks = asks
            inst.last_no_quote = ""
            self._report(inst, now, bids, asks, decisions)
        if inst.mq is not None:
            inst.mq.sync(bids, asks, now, actions, decisions)
        else:
            inst.orders.sync(
                bids, asks, now,
                buy_room=permit.buy_room if permit.allow_buy else 0,
                sell_room=permit.sell_room if permit.allow_sell else 0,
                reduce_only_side=permit.take_profit_side, actions=actions, decisions=decisions,
            )  # fmt: skip

    def _pull(
        self, inst: Instrument, now: int, actions: list[Action], decisions: list[Decision], why: str
    ) -> None:
        """No quotes wanted: cancel what is out (no second action on in-flight orders)."""
        if why != inst.last_no_quote:
            inst.last_no_quote = why
            inst.last_bids = inst.last_asks = ()
            decisions.append(NoQuoteReport(now, inst.name, why))
        if inst.mq is not None:
            inst.mq.pull(now, actions)
        else:
            inst.orders.cancel_everything(now, actions)

    def _kill(self, now: int, reason: str, actions: list[Action]) -> None:
        """The kill switch: one account-wide cancel-all; every order awaits it."""
        if self._cancel_all_id:
            return  # one is already under way and cancels everything
        aid = self.ids.action_id()
        any_mq = any(inst.mq is not None for inst in self.instruments.values())
        actions.append(CancelAll(aid, reason, include_mass_quotes=any_mq))
        self._cancel_all_id = aid
        self._cancel_all_ns = now
        self._cancel_all_reason = reason
        for inst in self.instruments.values():
            inst.orders.mark_bulk_cancel(aid, now)
            inst.last_bids = inst.last_asks = ()
            if inst.mq is not None:
                inst.mq.on_protection_tripped(now)  # cancel_mass_quote resets the groups
