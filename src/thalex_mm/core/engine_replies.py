"""The engine's reply handlers (a mixin of ``Engine``, kept apart to keep modules small):
the venue's answers to our actions, the quote report of a cycle, counting fills and the
portfolio cross-check."""

from __future__ import annotations

import math

from thalex_mm.core import events as ev
from thalex_mm.core.actions import (
    Action,
    Decision,
    FillAnomaly,
    Ladder,
    OrderAnomaly,
    QuoteReport,
)
from thalex_mm.core.events import Fill
from thalex_mm.core.fill_check import fill_anomaly
from thalex_mm.core.hedge import Hedger
from thalex_mm.core.instrument import Instrument


class ReplyHandlers:
    instruments: dict[str, Instrument]
    hedgers: list[Hedger]
    own_labels: frozenset[str]
    restrictions: dict[str, str]
    _cancel_all_id: int

    def restrict(
        self, now_ns: int, reason: str | None, decisions: list[Decision], source: str = ""
    ) -> None:
        raise NotImplementedError

    def _cycle(
        self, inst: Instrument, now: int, actions: list[Action], decisions: list[Decision]
    ) -> None:
        raise NotImplementedError

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

    def _report(
        self, inst: Instrument, now: int, bids: Ladder, asks: Ladder, decisions: list[Decision]
    ) -> None:
        q = inst.quoter
        inputs = q.inputs
        permit = inst.risk.permit
        decision = q.last_decision
        reservation = decision.reservation_price if decision is not None else float("nan")
        nan = float("nan")
        decisions.append(
            QuoteReport(
                now, inst.name,
                inputs.mid if inputs else q.last_mid,
                inputs.sigma if inputs else nan,
                inputs.A if inputs else nan,
                inputs.k if inputs else nan,
                inst.position.lots, reservation, bids, asks, permit.state, permit.size_factor,
                (inputs.A if inputs.ask_A is None else inputs.ask_A) if inputs else nan,
                (inputs.k if inputs.ask_k is None else inputs.ask_k) if inputs else nan,
                inputs.fee if inputs else 0.0,
                inputs.shift if inputs else 0.0,
                inputs.widen if inputs else 0.0,
                q.volatility.stressed,
            )
        )  # fmt: skip

    def _apply(
        self,
        inst: Instrument,
        fills: tuple[Fill, ...],
        now: int,
        decisions: list[Decision],
        update: ev.OrderUpdate | None = None,
    ) -> bool:
        """Count ``fills`` (each once); True when the position changed. Each new fill is
        sanity-checked (``fill_check``); ``update`` is the order update carrying them."""
        filled = False
        position = inst.position
        for fill in fills:
            if fill.amount_lots <= 0:  # below one lot: nothing to count, but say so
                decisions.append(
                    OrderAnomaly(now, inst.name, None, fill.trade_id, "fill below one lot")
                )
            if position.apply(fill):
                filled = True
                inst.quoter.on_own_fill(now, fill)
                foreign = update is not None and self._foreign(inst, update)
                what = fill_anomaly(inst, fill, foreign)
                if what is not None:
                    self._anomalous_fill(inst, fill, update, what, now, decisions=decisions)
            if not math.isnan(fill.fee):  # the venue's fee (NaN: unknown): the rate to earn back
                inst.quoter.on_fee(fill)
        return filled

    def _foreign(self, inst: Instrument, u: ev.OrderUpdate) -> bool:
        """Not an order of ours: none of our labels, unknown to the order tracker and the
        hedgers (an order adopted from an earlier run carries our label)."""
        if u.label in self.own_labels or inst.orders.knows(u):
            return False
        return not any(u.reply_to and h.inflight_action_id == u.reply_to for h in self.hedgers)

    def _anomalous_fill(
        self,
        inst: Instrument,
        fill: Fill,
        u: ev.OrderUpdate | None,
        what: str,
        now: int,
        *,
        decisions: list[Decision],
    ) -> None:
        halt = inst.cfg.accounting.anomalous_fill == "halt"
        oid, cid = (u.order_id, u.client_order_id) if u is not None else ("", None)
        decisions.append(FillAnomaly(now, inst.name, fill.trade_id, oid, cid, what, halt))
        if halt and "fill" not in self.restrictions:  # the first one is the reason given
            reason = f"anomalous {inst.name} {what}; restart after checking the account"
            self.restrict(now, reason, decisions, source="fill")

    def _reconcile(
        self,
        inst: Instrument,
        entry: ev.PortfolioEntry | None,
        now: int,
        decisions: list[Decision],
    ) -> None:
        position = inst.position
        mark = inst.mark()
        before = position.total_pnl(mark)
        report = position.reconcile(entry, now)
        if report is not None:
            decisions.append(report)
            # adopting the venue's position makes the PnL jump: not a trading result
            inst.risk.shift_base(position.total_pnl(mark) - before)
