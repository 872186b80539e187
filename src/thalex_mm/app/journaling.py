"""Core actions, events and decisions as journal records (ticks and lots become floats here).

What one event produces goes in with one ``append_batch`` (an order action per order, the
quote decisions, an order update with its fills): one encode, checksum and copy into the
memory-mapped segment, no I/O (the journal's writer drains the segments elsewhere). Market
snapshots go through ``offer_market``, which samples them per instrument at the journal's
``market_interval_ms``.

Fills: the order feed carries no fee, the account's trade history does. With a ``TradeJournal``
installed as the client translator's trade sink (``thalex-mm run`` does this), every fill is
journaled once, from the trade history, with the venue's fee, order id and position after;
the bridge then journals order updates without their fills (``fills_from_trades``).
Both record each fill's fair value when it happened (``FairAt``: the runner's markouts keep it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, assert_never

from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.core.trade_ids import TradeIds
from thalex_mm.domain import InstrumentSpec, Level
from thalex_mm.journal import (
    EstimatorState,
    Fill,
    Journal,
    MarketSnapshot,
    OrderAction,
    OrderUpdate,
    PositionSnapshot,
    QuoteDecision,
    Record,
    RiskEvent,
)
from thalex_mm.journal.query import fill_key
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.trades import is_fill

# (instrument, trade id) -> the fair value (mark) when that trade filled, None if unknown
FairAt = Callable[[str, str], float | None]


def _levels(
    spec: InstrumentSpec, levels: Iterable[Level], side: float | None = None
) -> list[list[float]]:
    """[price, amount] per level, or [side, price, amount] when ``side`` is given."""
    # spec.ticks_to_price / lots_to_amount inlined: this runs for every quote decision
    tick, step = spec.tick_size, spec.amount_step
    if side is None:
        return [[round(lv.price_ticks * tick, 8), round(lv.amount_lots * step, 8)] for lv in levels]
    return [
        [side, round(lv.price_ticks * tick, 8), round(lv.amount_lots * step, 8)] for lv in levels
    ]


class JournalBridge:
    """Writes what the runner sees to ``journal`` under ``strategy``."""

    def __init__(
        self,
        journal: Journal,
        strategy: str,
        specs: Mapping[str, InstrumentSpec],
        models: Mapping[str, tuple[str, float]],
        *,
        fills_from_trades: bool = False,
    ) -> None:
        self.journal = journal
        self.strategy = strategy
        self.specs = specs
        self.models = models  # instrument -> (model name, gamma)
        # True: a TradeJournal records the fills (with real fees); the order feed's are skipped.
        self.fills_from_trades = fills_from_trades
        self.fair_at: FairAt | None = None  # the fill records' ``fair``
        self._position_order: list[str] = []  # round-robin of ``positions``
        self._position_next = 0

    # --- actions ------------------------------------------------------------------------
    def actions(self, actions: Iterable[act.Action], now_ns: int) -> None:
        records: list[Record] = []
        append, strategy, specs = records.append, self.strategy, self.specs
        for a in actions:
            match a:
                case act.Insert():
                    spec = specs[a.instrument]
                    append(
                        OrderAction(
                            ts_ns=now_ns, strategy=strategy, instrument=a.instrument,
                            action="insert", client_order_id=a.client_order_id,
                            side=int(a.side), price=spec.ticks_to_price(a.price_ticks),
                            amount=spec.lots_to_amount(a.amount_lots), post_only=a.post_only,
                        )
                    )  # fmt: skip
                case act.Amend():
                    spec = specs[a.instrument]
                    append(
                        OrderAction(
                            ts_ns=now_ns, strategy=strategy, instrument=a.instrument,
                            action="amend", client_order_id=a.client_order_id,
                            order_id=a.order_id or None,
                            price=spec.ticks_to_price(a.price_ticks),
                            amount=spec.lots_to_amount(a.amount_lots),
                        )
                    )  # fmt: skip
                case act.Cancel():
                    append(
                        OrderAction(
                            ts_ns=now_ns, strategy=strategy, instrument=a.instrument,
                            action="cancel", client_order_id=a.client_order_id,
                            order_id=a.order_id or None,
                        )
                    )  # fmt: skip
                case act.MassQuote():
                    spec = specs[a.instrument]
                    levels = _levels(spec, a.bids, 1.0) + _levels(spec, a.asks, -1.0)
                    append(
                        OrderAction(
                            ts_ns=now_ns, strategy=strategy, instrument=a.instrument,
                            action="mass_quote", post_only=a.post_only, levels=levels,
                        )
                    )  # fmt: skip
                case act.CancelAll():
                    append(
                        OrderAction(
                            ts_ns=now_ns, strategy=strategy, instrument="", action="cancel_all"
                        )
                    )
                case act.SetMMProtection():
                    append(
                        OrderAction(
                            ts_ns=now_ns, strategy=strategy, instrument=a.product,
                            action="set_mm_protection", amount=a.quote_amount,
                        )
                    )  # fmt: skip
                case _:
                    assert_never(a)
        self.journal.append_batch(records)

    # --- events -------------------------------------------------------------------------
    def order_update(self, u: ev.OrderUpdate, position_lots: int) -> None:
        spec = self.specs.get(u.instrument)
        if spec is None:
            return
        strategy = self.strategy
        update = OrderUpdate(
            ts_ns=u.now_ns, strategy=strategy, instrument=u.instrument, order_id=u.order_id,
            client_order_id=u.client_order_id, status=u.status.name.lower(),
            side=int(u.side), price=spec.ticks_to_price(u.price_ticks),
            amount=spec.lots_to_amount(u.amount_lots),
            filled_amount=spec.lots_to_amount(u.filled_lots),
            remaining_amount=spec.lots_to_amount(u.remaining_lots),
            change_reason="reply" if u.reply_to else "feed", delete_reason=u.delete_reason,
        )  # fmt: skip
        if self.fills_from_trades or not u.fills:
            self.journal.append(update)
            return
        records: list[Record] = [update]
        for f in u.fills:
            records.append(
                self._fill_record(
                    spec, u.instrument, u.order_id, u.client_order_id, f,
                    now_ns=u.now_ns, position_lots=position_lots,
                )
            )  # fmt: skip
        self.journal.append_batch(records)

    def replayed_fills(
        self, instrument: str, fills: Sequence[ev.Fill], *, now_ns: int, position_lots: int
    ) -> None:
        """The new fills of a replay (resync, trade history on the feed) as one batch; their
        order is not known here, so ``order_id`` is empty and the client id None."""
        if self.fills_from_trades or not fills:
            return
        spec = self.specs[instrument]
        self.journal.append_batch(
            [
                self._fill_record(
                    spec, instrument, "", None, f, now_ns=now_ns, position_lots=position_lots
                )
                for f in fills
            ]
        )

    def _fill_record(
        self,
        spec: InstrumentSpec,
        instrument: str,
        order_id: str,
        client_order_id: int | None,
        f: ev.Fill,
        *,
        now_ns: int,
        position_lots: int,
    ) -> Fill:
        return Fill(
            ts_ns=now_ns, strategy=self.strategy, instrument=instrument,
            trade_id=f.trade_id, order_id=order_id, client_order_id=client_order_id,
            side=int(f.side), price=spec.ticks_to_price(f.price_ticks),
            amount=spec.lots_to_amount(f.amount_lots),
            fee=0.0 if math.isnan(f.fee) else f.fee,
            maker_taker="maker" if f.is_maker else "taker",
            position_after=spec.lots_to_amount(position_lots),
            fair=None if self.fair_at is None else self.fair_at(instrument, f.trade_id),
        )  # fmt: skip

    def market(self, instrument: str, now_ns: int, market: Any) -> None:
        """Offer a snapshot of the core's ``MarketState`` (sampled by the journal)."""
        spec = self.specs.get(instrument)
        journal = self.journal
        if spec is None or not journal.market_due(instrument, now_ns):
            return
        journal.offer_market(
            MarketSnapshot(
                ts_ns=now_ns, instrument=instrument, strategy=self.strategy,
                best_bid=spec.ticks_to_price(market.bid_ticks) if market.bid_lots else None,
                best_bid_amount=spec.lots_to_amount(market.bid_lots),
                best_ask=spec.ticks_to_price(market.ask_ticks) if market.ask_lots else None,
                best_ask_amount=spec.lots_to_amount(market.ask_lots),
                mark=market.mark_price or None, index_price=market.index_price or None,
            )
        )  # fmt: skip

    def _position_record(
        self, instrument: str, now_ns: int, position: Any, mark: float, unrealised: float
    ) -> PositionSnapshot:
        return PositionSnapshot(
            ts_ns=now_ns, strategy=self.strategy, instrument=instrument,
            position=position.amount, avg_price=position.average_price, mark=mark,
            realized_pnl=position.realised, unrealized_pnl=unrealised, fees=position.fees,
        )  # fmt: skip

    def positions(self, instruments: Mapping[str, Any], now_ns: int, share: float = 1.0) -> None:
        """Position snapshots of the core's ``Instrument`` objects: the next ``share`` of them
        in turn (at least one), so a pass over 100 instruments is spread over several timer
        ticks instead of one ~1 ms burst on the loop."""
        names = list(instruments) if len(instruments) != len(self._position_order) else None
        if names is not None:  # first call, or the instruments changed
            self._position_order = names
            self._position_next = 0
        order = self._position_order
        count = min(len(order), max(1, math.ceil(share * len(order))))
        start = self._position_next
        records: list[Record] = []
        for i in range(start, start + count):
            name = order[i % len(order)]
            inst = instruments.get(name)
            if inst is None:  # gone since the order was taken; rebuilt when the count changes
                continue
            mark = inst.mark()
            pos = inst.position
            records.append(self._position_record(name, now_ns, pos, mark, pos.unrealised(mark)))
        self.journal.append_batch(records)
        self._position_next = (start + count) % max(len(order), 1)

    def estimator_states(self, states: Mapping[str, dict[str, Any]], now_ns: int) -> None:
        """The engine's estimator states (``Engine.estimator_states()``), one record per
        instrument, for a warm start to read back (app/warm_start.py)."""
        strategy = self.strategy
        self.journal.append_batch(
            [
                EstimatorState(ts_ns=now_ns, strategy=strategy, instrument=name, state=state)
                for name, state in states.items()
            ]
        )

    def _risk_record(
        self, instrument: str, now_ns: int, kind: str, state: str, detail: str
    ) -> RiskEvent:
        return RiskEvent(
            ts_ns=now_ns, strategy=self.strategy, instrument=instrument, kind=kind,
            state=state, detail=detail,
        )  # fmt: skip

    # --- decisions ----------------------------------------------------------------------
    def decisions(self, decisions: Iterable[act.Decision]) -> None:
        records: list[Record] = []
        add, risk = records.append, self._risk_record
        for d in decisions:
            if isinstance(d, act.QuoteReport):
                quote = self._quote(d)
                if quote is not None:
                    add(quote)
            elif isinstance(d, act.RiskStateChanged):
                add(risk(d.instrument, d.now_ns, "state", d.new.name, d.reason))
            elif isinstance(d, act.KillSwitch):
                detail = f"{d.reason} (total pnl {d.total_pnl:.4f})"
                add(risk(d.instrument, d.now_ns, "kill_switch", "HALTED", detail))
            elif isinstance(d, act.NoQuoteReport):
                add(risk(d.instrument, d.now_ns, "no_quote", "", d.reason))
            elif isinstance(d, act.PositionDiscrepancy):
                detail = (
                    f"core {d.core_lots} lots, venue {d.venue_lots} lots"
                    f"{' (resolved)' if d.resolved else ''}"
                )
                add(risk(d.instrument, d.now_ns, "position_discrepancy", "", detail))
            elif isinstance(d, act.GuardRejection):
                add(risk(d.instrument, d.now_ns, "guard_rejection", "", d.reason))
            elif isinstance(d, act.OrderAnomaly):
                detail = f"{d.what} (code {d.code}, cid {d.client_order_id}, oid {d.order_id})"
                add(risk(d.instrument, d.now_ns, "order_anomaly", "", detail))
            elif isinstance(d, act.FillAnomaly):
                detail = f"{d.what} (oid {d.order_id or '-'}, cid {d.client_order_id})"
                add(
                    risk(d.instrument, d.now_ns, "fill_anomaly", "halt" if d.halted else "", detail)
                )
            elif isinstance(d, act.HedgeReport):
                detail = f"net delta {d.net_delta_lots} lots, hedge {d.hedge_side.wire} "
                detail += f"{d.hedge_lots} lots"
                add(risk(d.instrument, d.now_ns, "hedge", "", detail))
        self.journal.append_batch(records)

    def _quote(self, d: act.QuoteReport) -> QuoteDecision | None:
        spec = self.specs.get(d.instrument)
        if spec is None:
            return None
        model, gamma = self.models.get(d.instrument, ("", 0.0))
        bids = _levels(spec, d.bids)
        asks = _levels(spec, d.asks)
        spread = asks[0][0] - bids[0][0] if bids and asks else 0.0
        return QuoteDecision(
            ts_ns=d.now_ns, strategy=self.strategy, instrument=d.instrument, model=model,
            mid=d.mid, sigma=d.sigma, a=d.A, k=d.k, q=spec.lots_to_amount(d.position_lots),
            gamma=gamma, reservation=d.reservation_price, spread=spread, bids=bids, asks=asks,
            ask_a=d.ask_A, ask_k=d.ask_k, fee=d.fee, shift=d.shift, widen=d.widen,
            stressed=d.stressed,
        )  # fmt: skip


class TradeJournal:
    """Journals each of the account's fills exactly once, from the trade history, with the
    venue's fee (the translator's ``TradeSink``).

    ``known`` seeds the trade ids the journal already holds (from earlier runs), so neither a
    catch-up after a restart nor a repeated notification writes a fill twice. Catch-up trades
    (``live`` False) are only taken when ``catch_up`` allows it (the journal has earlier runs
    of this strategy, or we reconnected) and their label is one of ``labels`` (None: any), so
    another tool's trades on the same account are not claimed.

    A catch-up page comes newest first: it stops at the first trade the journal knows (what
    is older was journaled then, or belongs to a run on another journal) and at the first
    trade older than ``since_ns`` (the journal's first run's start, wall-clock ns), so history
    from before this journal existed is never adopted.
    """

    def __init__(
        self,
        journal: Journal,
        strategy: str,
        *,
        known: Iterable[str] = (),
        labels: frozenset[str] | None = None,
        catch_up: bool = True,
        since_ns: int = 0,
        capacity: int = 11_000,  # launch.TRADE_IDS_REMEMBERED: what one catch-up can read
        fair_at: FairAt | None = None,
    ) -> None:
        self.journal = journal
        self.fair_at = fair_at
        self.strategy = strategy
        self.labels = labels
        self.catch_up = catch_up
        self.since_ns = since_ns
        self._known = TradeIds(capacity)
        for key in known:  # fill_key()s
            self._known.add(key)
        self.journaled = 0
        self.caught_up = 0  # journaled from a catch-up (fills that happened while away)
        self.swept = 0  # journaled by a sweep after a frame that did not decode

    def on_trades(self, trades: Sequence[wire.Trade], live: bool, now_ns: int) -> bool:
        knew = False
        if not live and not self.catch_up:  # a fresh journal: nothing of ours was missed
            self.catch_up = True  # later catch-ups (reconnects) cover this run's gaps
            return True
        records: list[Record] = []
        for t in trades:
            if not is_fill(t):
                continue
            key = fill_key(t.trade_id or "", t.order_id or "")
            if key in self._known:
                knew = True
                if live:
                    continue
                break  # newest first: everything older is journaled or another journal's
            if not live:
                if t.time is not None and t.time * 1e9 < self.since_ns:
                    knew = True  # older than this journal: stop paging too
                    break
                if not self._ours(t):
                    continue
            self._known.add(key)
            records.append(self._record(t, now_ns))
        self.journal.append_batch(records)
        self.journaled += len(records)
        if not live:
            self.caught_up += len(records)
        return knew

    def sweep(self, trades: Sequence[wire.Trade], since_s: float, now_ns: int) -> int:
        """After a frame that did not decode (it may have carried fills): every trade of ours
        since ``since_s`` (and since the journal began) that is not journaled yet, read past
        the known ones a catch-up would stop at, since a gap can sit behind them."""
        since_s = max(since_s, self.since_ns / 1e9)
        records: list[Record] = []
        for t in trades:
            if not is_fill(t) or t.time is None or t.time < since_s or not self._ours(t):
                continue
            key = fill_key(t.trade_id or "", t.order_id or "")
            if key in self._known:
                continue
            self._known.add(key)
            records.append(self._record(t, now_ns))
        self.journal.append_batch(records)
        self.journaled += len(records)
        self.swept += len(records)
        return len(records)

    def _ours(self, t: wire.Trade) -> bool:
        return self.labels is None or ("" if t.label is None else str(t.label)) in self.labels

    def _record(self, t: wire.Trade, now_ns: int) -> Fill:
        return Fill(
            ts_ns=now_ns, strategy=self.strategy, instrument=t.instrument_name or "",
            trade_id=t.trade_id or "", order_id=t.order_id or "",
            client_order_id=t.client_order_id, side=1 if t.direction == "buy" else -1,
            price=t.price or 0.0, amount=t.amount or 0.0,
            fee=0.0 if t.fee is None or math.isnan(t.fee) else t.fee,
            maker_taker=t.maker_taker or "", position_after=t.position_after,
            fair=self._fair(t),
        )  # fmt: skip

    def _fair(self, t: wire.Trade) -> float | None:
        if self.fair_at is None or t.instrument_name is None:
            return None
        return self.fair_at(t.instrument_name, t.trade_id or "")
