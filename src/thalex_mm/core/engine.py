"""The engine: routes each event to its instrument and runs one quoting cycle.

``Engine(config).handle(event) -> Output`` is the whole core as seen from outside (the app
runner, the local-exchange simulations, the benchmarks). ``handle_into`` appends to
caller-owned lists instead, to avoid an allocation per event on the hot path.

A quoting cycle for an instrument: risk verdict (kill switch, limits, take-profit,
recovery) → stale-data guard → quoter (model + risk shaping) → order manager (diff, or one
mass quote) → final guard. It runs after market data, fills, replies (a reply frees an
order for its next action) and timers (refresh, staleness, cooldown).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from thalex_mm.core import events as ev
from thalex_mm.core.actions import (
    Action,
    CancelAll,
    Decision,
    Ladder,
    NoQuoteReport,
    Output,
    QuoteReport,
    TradingState,
)
from thalex_mm.core.config import EngineConfig
from thalex_mm.core.hedge import Hedger
from thalex_mm.core.ids import IdSource
from thalex_mm.core.instrument import Instrument
from thalex_mm.core.position import TradeIds
from thalex_mm.model.quote import NoQuote

_HALTED = TradingState.HALTED


class Engine:
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
        self.halted_all = False
        self._cancel_all_id = 0
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

    # --- market data --------------------------------------------------------------------
    def _on_top(self, e: ev.BookTop, actions: list[Action], decisions: list[Decision]) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is not None:
            inst.market.on_top(e)
            inst.quoter.on_market(e.now_ns, inst.market)
            self._cycle(inst, e.now_ns, actions, decisions)

    def _on_book(self, e: ev.BookUpdate, actions: list[Action], decisions: list[Decision]) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is not None:
            inst.market.on_book(e)
            inst.quoter.on_market(e.now_ns, inst.market)
            self._cycle(inst, e.now_ns, actions, decisions)

    def _on_ticker(self, e: ev.Ticker, actions: list[Action], decisions: list[Decision]) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is not None:
            inst.market.on_ticker(e)
            if e.mark_price > 0.0:
                inst.guard.reference_ticks = e.mark_price / inst.spec.tick_size
            inst.quoter.on_market(e.now_ns, inst.market)
            self._cycle(inst, e.now_ns, actions, decisions)

    def _on_public_trade(
        self, e: ev.PublicTrade, actions: list[Action], decisions: list[Decision]
    ) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is not None:
            inst.market.on_trade(e)
            inst.quoter.on_public_trade(e.now_ns, e.price_ticks * inst.spec.tick_size)

    # --- our orders and fills -----------------------------------------------------------
    def _on_order_update(
        self, e: ev.OrderUpdate, actions: list[Action], decisions: list[Decision]
    ) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is None:
            return
        filled = False
        for fill in e.fills:
            filled = inst.position.apply(fill) or filled
        hedged = False
        for hedger in self.hedgers:
            hedged = hedger.on_answer(e.reply_to) or hedged
        if not hedged:
            inst.orders.on_update(e, decisions)
        if filled:
            self._after_fill(e.now_ns, actions, decisions)
        self._cycle(inst, e.now_ns, actions, decisions)

    def _on_fills(
        self, e: ev.FillsReplayed, actions: list[Action], decisions: list[Decision]
    ) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is None:
            return
        filled = False
        for fill in e.fills:
            filled = inst.position.apply(fill) or filled
        if filled:
            self._after_fill(e.now_ns, actions, decisions)
            self._cycle(inst, e.now_ns, actions, decisions)

    def _after_fill(self, now_ns: int, actions: list[Action], decisions: list[Decision]) -> None:
        for hedger in self.hedgers:
            max_age = self.instruments[hedger.cfg.hedge].max_age_ns
            hedger.check(now_ns, max_age, actions, decisions)

    def _on_funding(self, e: ev.Funding, actions: list[Action], decisions: list[Decision]) -> None:
        inst = self.instruments.get(e.instrument)
        if inst is not None:
            inst.position.apply_funding(e.amount)

    # --- replies ------------------------------------------------------------------------
    def _on_rejected(
        self, e: ev.ActionRejected, actions: list[Action], decisions: list[Decision]
    ) -> None:
        aid = e.action_id
        if aid == self._cancel_all_id:
            self._end_cancel_all(aid)
            return
        for hedger in self.hedgers:
            if hedger.on_answer(aid):
                return
        for inst in self.instruments.values():
            if inst.orders.owns_action(aid):
                inst.orders.on_rejected(aid, e.code, e.now_ns, decisions)
            elif inst.mq is not None and inst.mq.owns_action(aid):
                inst.mq.on_rejected(aid, e.code, e.now_ns, decisions)
            else:
                continue
            self._cycle(inst, e.now_ns, actions, decisions)
            return

    def _on_acknowledged(
        self, e: ev.ActionAcknowledged, actions: list[Action], decisions: list[Decision]
    ) -> None:
        if e.action_id == self._cancel_all_id:
            self._end_cancel_all(e.action_id)
            return
        for inst in self.instruments.values():
            if inst.mq is not None and inst.mq.owns_action(e.action_id):
                inst.mq.on_acknowledged(e.action_id)
                self._cycle(inst, e.now_ns, actions, decisions)
                return

    def _on_mass_quote_result(
        self, e: ev.MassQuoteResult, actions: list[Action], decisions: list[Decision]
    ) -> None:
        for inst in self.instruments.values():
            if inst.mq is not None and inst.mq.owns_action(e.action_id):
                inst.mq.on_result(e, decisions)
                self._cycle(inst, e.now_ns, actions, decisions)
                return

    def _on_mm_protection(
        self, e: ev.MMProtectionUpdate, actions: list[Action], decisions: list[Decision]
    ) -> None:
        if not e.tripped:
            return
        for inst in self.instruments.values():
            if inst.mq is not None and inst.spec.product == e.product:
                inst.mq.on_protection_tripped(e.now_ns)

    def _end_cancel_all(self, action_id: int) -> None:
        self._cancel_all_id = 0
        for inst in self.instruments.values():
            inst.orders.end_bulk_cancel(action_id)

    # --- account ------------------------------------------------------------------------
    def _on_portfolio(
        self, e: ev.PortfolioSnapshot, actions: list[Action], decisions: list[Decision]
    ) -> None:
        for entry in e.entries:
            inst = self.instruments.get(entry.instrument)
            if inst is not None:
                report = inst.position.reconcile(entry, e.now_ns)
                if report is not None:
                    decisions.append(report)

    def _on_timer(self, e: ev.Timer, actions: list[Action], decisions: list[Decision]) -> None:
        now = e.now_ns
        for inst in self.instruments.values():
            inst.orders.check_timeouts(now, decisions)
            report = inst.position.reconcile(None, now)
            if report is not None:
                decisions.append(report)
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
        entries = {entry.instrument: entry for entry in e.positions}
        for inst in self.instruments.values():
            inst.orders.on_resynced(e.open_orders, decisions)
            if inst.mq is not None:
                inst.mq.on_resynced()
            fills = tuple(f for u in e.open_orders if u.instrument == inst.name for f in u.fills)
            if inst.position.fresh:  # a (re)started engine: the venue's position is the start
                inst.position.seed(entries.get(inst.name), fills)
            else:
                for fill in fills:
                    inst.position.apply(fill)
        self._on_portfolio(ev.PortfolioSnapshot(e.now_ns, e.positions), actions, decisions)
        for inst in self.instruments.values():
            self._cycle(inst, e.now_ns, actions, decisions)

    # --- the quoting cycle --------------------------------------------------------------
    def _cycle(
        self, inst: Instrument, now: int, actions: list[Action], decisions: list[Decision]
    ) -> None:
        position = inst.position
        mark = inst.mark()
        total = position.total_pnl(mark)
        risk = inst.risk
        if risk.evaluate(now, position.lots, mark, total, position.unrealised(mark), out=decisions):
            self._kill(now, f"{inst.name}: kill switch", actions)
            return
        max_total_loss = self.config.max_total_loss
        if max_total_loss is not None and not self.halted_all:
            portfolio = sum(i.position.total_pnl(i.mark()) for i in self.instruments.values())
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
        stale = inst.market.stale_reason(now, inst.max_age_ns)
        if stale is not None:
            self._pull(inst, now, actions, decisions, stale)
            return
        result = inst.quoter.desired(position.lots, inst.market, permit)
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

    def _report(
        self, inst: Instrument, now: int, bids: Ladder, asks: Ladder, decisions: list[Decision]
    ) -> None:
        q = inst.quoter
        inputs = q.inputs
        permit = inst.risk.permit
        decision = q.last_decision
        reservation = decision.reservation_price if decision is not None else float("nan")
        decisions.append(
            QuoteReport(
                now, inst.name,
                inputs.mid if inputs else q.last_mid,
                inputs.sigma if inputs else float("nan"),
                inputs.A if inputs else float("nan"),
                inputs.k if inputs else float("nan"),
                inst.position.lots, reservation, bids, asks, permit.state, permit.size_factor,
            )
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
        for inst in self.instruments.values():
            inst.orders.mark_bulk_cancel(aid, now)
            inst.last_bids = inst.last_asks = ()
            if inst.mq is not None:
                inst.mq.on_protection_tripped(now)  # cancel_mass_quote resets the groups
