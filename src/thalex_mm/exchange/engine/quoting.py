"""Mass quotes, MM protection and session ends (protocol.md §2.4, §4.6, §4.7, §2.3).

Quotes live per (session, instrument, side). A side in a mass_quote replaces that side: levels
re-sent with exactly the same price and amount keep their order (and priority); every other
old level is deleted (delete_reason `replaced`) and new levels are inserted as GTC limit orders.
A side that fails validation is left untouched and reported in `errors`; `n_success` and
`n_fail` count sides, not levels. Per instrument entry both sides' stale quotes are removed
before any new level is inserted, so a moving quote never trades against its own stale side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from thalex_mm.domain import InstrumentSpec, Side
from thalex_mm.exchange.engine.events import Event, MMProtectionEvent, OrderUpdate, Outcome
from thalex_mm.exchange.engine.orders import Order, ProtectionGroup
from thalex_mm.exchange.engine.trading import TradingEngine
from thalex_mm.exchange.engine.types import (
    ChangeReason,
    DeleteReason,
    EngineError,
    MassQuoteError,
    MassQuoteResult,
    MMProtectionReason,
    OrderType,
    QuoteEntry,
    QuoteSide,
    SessionRef,
    TimeInForce,
)
from thalex_mm.exchange.engine.validation import below_minimum, parse_lots, parse_price
from thalex_mm.venue.thalex.codes import ErrorCode

MAX_QUOTES_PER_CALL = 100
MAX_LEVELS_PER_SIDE = 10


class QuotingEngine(TradingEngine):
    """Market-maker entry points on top of order entry."""

    # ---- MM protection -------------------------------------------------------------------
    def set_mm_protection(
        self,
        now_ns: int,
        session: SessionRef,
        *,
        product: str,
        trade_amount: float,
        quote_amount: float,
    ) -> Outcome[None]:
        """Configure (or refill) the (session, product) group; the last call wins."""
        if product not in self._products:
            return Outcome(error=EngineError(ErrorCode.UNKNOWN_PRODUCT, f"unknown {product!r}"))
        for name, value in (("trade_amount", trade_amount), ("quote_amount", quote_amount)):
            if not math.isfinite(value) or value <= 0:
                return Outcome(
                    error=EngineError(ErrorCode.INVALID_REQUEST, f"{name} must be positive")
                )
        if trade_amount > quote_amount:
            return Outcome(
                error=EngineError(
                    ErrorCode.INVALID_REQUEST, "trade_amount must not exceed quote_amount"
                )
            )
        self._groups[(session.session_id, product)] = ProtectionGroup(
            session.account, trade_amount, quote_amount
        )
        event = MMProtectionEvent(
            session.account, session.session_id, product, trade_amount, MMProtectionReason.REFILL
        )
        return Outcome(events=[event])

    def _reset_groups(
        self, session_id: int, products: Sequence[str], reason: MMProtectionReason
    ) -> None:
        for product in products:
            group = self._groups.pop((session_id, product), None)
            if group is not None:
                self._batch.extra.append(
                    MMProtectionEvent(group.account, session_id, product, 0.0, reason)
                )

    def cancel_mass_quote(
        self, now_ns: int, session: SessionRef, *, product: str | None = None
    ) -> Outcome[None]:
        """Delete the account's quotes in every session (one product or all) and reset groups."""
        if product is not None and product not in self._products:
            return Outcome(error=EngineError(ErrorCode.UNKNOWN_PRODUCT, f"unknown {product!r}"))
        products = [product] if product is not None else list(self._products)
        self._begin()
        sessions = sorted(
            {
                sid
                for (sid, name, _side), orders in self._quotes.items()
                if orders and orders[0].account == session.account
            }
            | {sid for (sid, _p), g in self._groups.items() if g.account == session.account}
        )
        for sid in sessions:
            for prod in products:
                self._delete_group_quotes(sid, prod, DeleteReason.CLIENT_CANCEL, now_ns)
            self._reset_groups(sid, products, MMProtectionReason.CLIENT_CANCEL)
        return Outcome(events=self._finish(now_ns))

    # ---- sessions ------------------------------------------------------------------------
    def cancel_session(self, now_ns: int, session: SessionRef) -> Outcome[None]:
        """Like a disconnect without closing the socket; only for non-persistent sessions."""
        if session.persistent:
            return Outcome(
                error=EngineError(
                    ErrorCode.PERSISTENT_SESSION, "cancel_session needs set_cancel_on_disconnect"
                )
            )
        return Outcome(events=self.end_session(now_ns, session.session_id))

    def end_session(self, now_ns: int, session_id: int) -> list[Event]:
        """Session gone (disconnect, heartbeat timeout, cancel_session): delete its
        non-persistent orders (delete_reason session_end) and reset its MM groups."""
        self._begin()
        orders = sorted(
            (o for o in self._session_live.get(session_id, {}).values() if not o.persistent),
            key=lambda o: o.seq,
        )
        for order in orders:
            self._close(order, DeleteReason.SESSION_END, now_ns)
            self._batch.own.append(
                OrderUpdate(order.account, session_id, order.snapshot(ChangeReason.CANCEL))
            )
        products = [p for (sid, p) in self._groups if sid == session_id]
        self._reset_groups(session_id, products, MMProtectionReason.SESSION_END)
        return self._finish(now_ns)

    # ---- mass quotes ---------------------------------------------------------------------
    def mass_quote(
        self,
        now_ns: int,
        session: SessionRef,
        quotes: Sequence[QuoteEntry],
        *,
        label: str | None = None,
        post_only: bool = False,
        reject_post_only: bool = False,
    ) -> Outcome[MassQuoteResult]:
        """Replace quote sides; needs a non-persistent session (52) and MM protection (23)."""
        if session.persistent:
            return Outcome(
                error=EngineError(
                    ErrorCode.PERSISTENT_SESSION, "mass_quote needs set_cancel_on_disconnect"
                )
            )
        if len(quotes) > MAX_QUOTES_PER_CALL:
            return Outcome(
                error=EngineError(
                    ErrorCode.INVALID_REQUEST, f"at most {MAX_QUOTES_PER_CALL} quotes per call"
                )
            )
        self._begin()
        errors: list[MassQuoteError] = []
        n_success = 0
        for entry in quotes:
            name = entry.instrument_name
            prepared: list[tuple[Side, list[tuple[int, int]]]] = []
            for side, quote_side in ((Side.BUY, entry.bid), (Side.SELL, entry.ask)):
                if quote_side is None:
                    continue
                levels = self._prepare_side(session, name, side, quote_side)
                if isinstance(levels, MassQuoteError):
                    errors.append(levels)
                else:
                    prepared.append((side, levels))
            # remove both sides' stale quotes before inserting, so a moved quote never
            # trades against this session's own outdated other side
            to_insert = [
                (side, self._remove_stale(now_ns, session, name, side, levels))
                for side, levels in prepared
            ]
            for side, wanted in to_insert:
                self._insert_levels(
                    now_ns, session, name, side, wanted, label=label,
                    post_only=post_only, reject_post_only=reject_post_only,
                )  # fmt: skip
                n_success += 1
        result = MassQuoteResult(n_success, len(errors), tuple(errors))
        return Outcome(result=result, events=self._finish(now_ns))

    def _check_levels(
        self, spec: InstrumentSpec, quote: QuoteSide, group: ProtectionGroup
    ) -> list[tuple[int, int]] | tuple[EngineError, float | None]:
        if len(quote.levels) > MAX_LEVELS_PER_SIDE:
            return EngineError(ErrorCode.INVALID_REQUEST, "more than 10 levels"), None
        levels: list[tuple[int, int]] = []
        for price, amount in quote.levels:
            ticks = parse_price(spec, price)
            if isinstance(ticks, EngineError):
                return ticks, price
            lots = parse_lots(spec, amount, allow_zero=True)
            if isinstance(lots, EngineError):
                return lots, price
            if lots == 0:
                continue
            too_small = below_minimum(spec, lots)
            if too_small is not None:
                return too_small, price
            if spec.lots_to_amount(lots) > group.quote_amount + 1e-12:
                return EngineError(
                    ErrorCode.QUOTE_EXCEEDS_PROT_GROUP_SIZE,
                    f"quote amount {amount} exceeds quote_amount {group.quote_amount}",
                ), price
            if any(t == ticks for t, _ in levels):
                return EngineError(ErrorCode.INVALID_REQUEST, "duplicate price in side"), price
            levels.append((ticks, lots))
        return levels

    def _prepare_side(
        self, session: SessionRef, name: str, side: Side, quote: QuoteSide
    ) -> list[tuple[int, int]] | MassQuoteError:
        """Validated (ticks, lots) levels of one side, or why the side fails."""
        inst = self._instruments.get(name)
        if inst is None:
            return MassQuoteError(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown {name!r}", name, side)
        spec = inst.spec
        group = self._groups.get((session.session_id, spec.product))
        if group is None:
            return MassQuoteError(
                ErrorCode.PROT_NOT_SET, f"set_mm_protection for {spec.product} first", name, side
            )
        if group.tripped:
            return MassQuoteError(
                ErrorCode.INVALID_PROT_GROUP,
                f"protection group {spec.product} tripped; refill with set_mm_protection",
                name,
                side,
            )
        checked = self._check_levels(spec, quote, group)
        if isinstance(checked, tuple):
            error, price = checked
            return MassQuoteError(error.code, error.message, name, side, price)
        return checked

    def _remove_stale(
        self, now_ns: int, session: SessionRef, name: str, side: Side, levels: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Delete old quotes not re-sent identically; returns the levels still to insert."""
        existing = self._quotes.setdefault((session.session_id, name, side), [])
        wanted = list(levels)
        for order in list(existing):
            same = (order.price, order.amount)
            if order.filled == 0 and same in wanted:
                wanted.remove(same)
                continue
            self._close(order, DeleteReason.REPLACED, now_ns)
            self._batch.own.append(
                OrderUpdate(order.account, order.session_id, order.snapshot(ChangeReason.CANCEL))
            )
        return wanted

    def _insert_levels(
        self,
        now_ns: int,
        session: SessionRef,
        name: str,
        side: Side,
        wanted: list[tuple[int, int]],
        *,
        label: str | None,
        post_only: bool,
        reject_post_only: bool,
    ) -> None:
        spec = self._instruments[name].spec
        existing = self._quotes.setdefault((session.session_id, name, side), [])
        for ticks, lots in wanted:
            order = Order(
                order_id=self._next_order_id(),
                seq=self._next_priority(),
                spec=spec,
                account=session.account,
                session_id=session.session_id,
                persistent=False,
                side=side,
                order_type=OrderType.LIMIT,
                time_in_force=TimeInForce.GTC,
                price=ticks,
                amount=lots,
                create_time_ns=now_ns,
                label=label,
                is_mass_quote=True,
                post_only=post_only,
                reject_post_only=reject_post_only,
            )
            self._register(order)
            existing.append(order)
            self._enter(order, now_ns)
            self._batch.own.append(
                OrderUpdate(
                    order.account,
                    order.session_id,
                    order.snapshot(ChangeReason.INSERT, tuple(order.fills)),
                )
            )
