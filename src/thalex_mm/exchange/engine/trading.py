"""Client order entry: insert, amend, cancel, cancel_all (protocol.md §2.3, §4.3)."""

from __future__ import annotations

from thalex_mm.domain import Side
from thalex_mm.exchange.engine.core import EngineCore
from thalex_mm.exchange.engine.events import OrderUpdate, Outcome
from thalex_mm.exchange.engine.orders import Order
from thalex_mm.exchange.engine.types import (
    ChangeReason,
    Collar,
    DeleteReason,
    EngineError,
    OrderSnapshot,
    OrderType,
    SessionRef,
    TimeInForce,
)
from thalex_mm.exchange.engine.validation import (
    below_minimum,
    beyond_collar,
    collar_limit,
    parse_lots,
    parse_price,
)
from thalex_mm.venue.thalex.codes import ErrorCode


def _fail(code: ErrorCode, message: str) -> Outcome[OrderSnapshot]:
    return Outcome(error=EngineError(code, message))


class TradingEngine(EngineCore):
    """Order entry on top of the engine state."""

    def insert(
        self,
        now_ns: int,
        session: SessionRef,
        *,
        instrument_name: str,
        direction: Side,
        amount: float,
        price: float | None = None,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce | None = None,
        client_order_id: int | None = None,
        label: str | None = None,
        post_only: bool = False,
        reject_post_only: bool = False,
        reduce_only: bool = False,
        collar: Collar | None = None,
    ) -> Outcome[OrderSnapshot]:
        """Validate, match and rest (GTC) or close (IOC) one order.

        Rejections return an error and change nothing. A market order against an empty
        opposite book is rejected with 41 (insufficient liquidity) rather than inserted and
        cancelled. A reject_post_only order that would cross is a *successful* insert whose
        result is already cancelled (delete_reason immediate_cancel).
        """
        inst = self._instruments.get(instrument_name)
        if inst is None:
            return _fail(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {instrument_name!r}")
        spec = inst.spec
        is_market = order_type is OrderType.MARKET
        tif = time_in_force or (TimeInForce.IOC if is_market else TimeInForce.GTC)
        if is_market and tif is TimeInForce.GTC:
            return _fail(ErrorCode.INVALID_TIME_IN_FORCE, "a market order cannot be GTC")
        if post_only and (tif is TimeInForce.IOC or is_market):
            return _fail(
                ErrorCode.INVALID_TIME_IN_FORCE, "post_only needs a good_till_cancelled limit order"
            )
        lots = parse_lots(spec, amount)
        if isinstance(lots, EngineError):
            return Outcome(error=lots)
        too_small = below_minimum(spec, lots)
        if too_small is not None:
            return Outcome(error=too_small)
        ticks: int | None = None
        if price is None:
            if not is_market:
                return _fail(ErrorCode.INVALID_REQUEST, "price is required for a limit order")
        else:
            parsed = parse_price(spec, price)
            if isinstance(parsed, EngineError):
                return Outcome(error=parsed)
            ticks = parsed
        if client_order_id is not None:
            live = self._by_client.get(session.session_id, {})
            if client_order_id in live:
                return _fail(
                    ErrorCode.DUPLICATE_ORDER_ID,
                    f"client_order_id {client_order_id} is already used by a live order",
                )
        mode = collar or (Collar.CLAMP if is_market else Collar.REJECT)
        if is_market and mode is Collar.IGNORE:
            return _fail(ErrorCode.INVALID_REQUEST, "collar 'ignore' is not allowed for markets")
        limit = ticks
        mark = self._marks.get(spec.name)
        if mark is not None and mode is not Collar.IGNORE:
            bound = collar_limit(spec, direction, mark, inst.collar_fraction)
            if beyond_collar(direction, ticks, bound):
                if mode is Collar.REJECT:
                    return _fail(
                        ErrorCode.PRICE_COLLAR_BREACH,
                        f"price is beyond the collar ({spec.ticks_to_price(bound)})",
                    )
                limit = bound
        if reduce_only:
            position = self._account(session.account).position(spec.name).lots
            if position == 0 or (position > 0) == (direction is Side.BUY):
                return _fail(
                    ErrorCode.REDUCE_ONLY, "reduce_only order would open or increase a position"
                )
            lots = min(lots, abs(position))
        book = self._books[spec.name]
        if is_market and book.best(direction.opposite) is None:
            return _fail(ErrorCode.INSUFFICIENT_LIQUIDITY, "no liquidity for a market order")

        self._begin()
        order = Order(
            order_id=self._next_order_id(),
            seq=self._next_priority(),
            spec=spec,
            account=session.account,
            session_id=session.session_id,
            persistent=session.persistent,
            side=direction,
            order_type=order_type,
            time_in_force=tif,
            price=limit,
            amount=lots,
            create_time_ns=now_ns,
            client_order_id=client_order_id,
            label=label,
            reduce_only=reduce_only,
            post_only=post_only,
            reject_post_only=reject_post_only,
            shown_price=price is not None,
        )
        self._register(order)
        self._enter(order, now_ns, immediate_or_cancel=tif is TimeInForce.IOC)
        snap = order.snapshot(ChangeReason.INSERT, tuple(order.fills))
        self._batch.own.append(OrderUpdate(order.account, order.session_id, snap))
        return Outcome(result=snap, events=self._finish(now_ns))

    def _keep_passive(self, order: Order, now_ns: int) -> None:
        """A post_only order (not on the book) whose price would cross is re-priced one tick
        behind the best opposite price, or cancelled (immediate_cancel) with reject_post_only
        or when that price would be ≤ 0. Used on insert and on amend alike."""
        book = self._books[order.spec.name]
        side = order.side
        if not order.post_only or not book.crosses(side, order.price):
            return
        best = book.best(side.opposite)
        assert best is not None
        adjusted = best - 1 if side is Side.BUY else best + 1
        if order.reject_post_only or adjusted <= 0:
            self._close(order, DeleteReason.IMMEDIATE_CANCEL, now_ns)
        else:
            order.price = adjusted

    def _enter(self, order: Order, now_ns: int, *, immediate_or_cancel: bool = False) -> None:
        """Put a registered order on its book: post_only is applied (`_keep_passive`), then it
        matches; the remainder rests, or is cancelled for IOC."""
        self._keep_passive(order, now_ns)
        if order.is_live:
            self._match(order, now_ns)
            if order.filled >= order.amount:
                self._close(order, DeleteReason.FILLED, now_ns)
            elif immediate_or_cancel:
                self._close(order, DeleteReason.IMMEDIATE_CANCEL, now_ns)
            else:
                self._rest(order)

    def _find(
        self, session: SessionRef, order_id: str | None, client_order_id: int | None
    ) -> Order | EngineError:
        if (order_id is None) == (client_order_id is None):
            return EngineError(
                ErrorCode.INVALID_REQUEST, "give exactly one of order_id and client_order_id"
            )
        if order_id is not None:
            order = self._live.get(order_id)
            if order is None or order.account != session.account:
                return EngineError(ErrorCode.ORDER_NOT_FOUND, f"order {order_id} not found")
            return order
        assert client_order_id is not None
        found = self._by_client.get(session.session_id, {}).get(client_order_id)
        if found is None:
            return EngineError(
                ErrorCode.ORDER_NOT_FOUND, f"order with client_order_id {client_order_id} not found"
            )
        return found

    def amend(
        self,
        now_ns: int,
        session: SessionRef,
        *,
        amount: float,
        price: float,
        order_id: str | None = None,
        client_order_id: int | None = None,
        collar: Collar | None = None,
    ) -> Outcome[OrderSnapshot]:
        """Volume-safe amend: ``amount`` is the new total including what already filled.

        Same price and no increase keeps time priority; a price change or an increase moves the
        order to the back (and it may trade, as a taker). An amount at or below the filled
        amount deletes the order: change_reason `cancel`, delete_reason `client_cancel`.
        A post_only order keeps its flags: a crossing price is re-priced one tick behind the
        best opposite price (reject_post_only: the order is cancelled, change_reason `amend`,
        delete_reason `immediate_cancel`), so it never trades as taker (issue #14).
        MM protection is not evaluated for the amended order's own executions.
        """
        found = self._find(session, order_id, client_order_id)
        if isinstance(found, EngineError):
            return Outcome(error=found)
        order = found
        spec = order.spec
        lots = parse_lots(spec, amount, allow_zero=True)
        if isinstance(lots, EngineError):
            return Outcome(error=lots)
        ticks = parse_price(spec, price)
        if isinstance(ticks, EngineError):
            return Outcome(error=ticks)
        if order.reduce_only:  # never more than the position it reduces
            pos = self._account(order.account).position(spec.name).lots
            closing = (pos > 0) == (order.side is Side.SELL) and pos != 0
            lots = min(lots, order.filled + (abs(pos) if closing else 0))
        if lots <= order.filled:
            self._begin()
            self._close(order, DeleteReason.CLIENT_CANCEL, now_ns)
            snap = order.snapshot(ChangeReason.CANCEL)
            self._batch.own.append(OrderUpdate(order.account, order.session_id, snap))
            return Outcome(result=snap, events=self._finish(now_ns))
        too_small = below_minimum(spec, lots)
        if too_small is not None:
            return Outcome(error=too_small)
        mark = self._marks.get(spec.name)
        if mark is not None and (collar or Collar.REJECT) is not Collar.IGNORE:
            inst = self._instruments[spec.name]
            bound = collar_limit(spec, order.side, mark, inst.collar_fraction)
            if beyond_collar(order.side, ticks, bound):
                if collar is not Collar.CLAMP:
                    return _fail(
                        ErrorCode.PRICE_COLLAR_BREACH,
                        f"price is beyond the collar ({spec.ticks_to_price(bound)})",
                    )
                ticks = bound
        self._begin()
        book = self._books[spec.name]
        fills_before = len(order.fills)
        if order.post_only and not order.reject_post_only and book.crosses(order.side, ticks):
            # re-priced before the priority rule: landing back on its own price keeps its place
            best = book.best(order.side.opposite)
            assert best is not None
            adjusted = best - 1 if order.side is Side.BUY else best + 1
            if adjusted > 0:
                ticks = adjusted
        if ticks == order.price and lots <= order.amount:
            if lots < order.amount:
                self._add_open(order, lots - order.amount)
                book.reduce_in_place(order, lots)
                self._batch.books[spec.name] = None
        else:
            if order.resting:
                book.remove(order)
                self._batch.books[spec.name] = None
            order.price = ticks
            order.shown_price = True
            self._add_open(order, lots - order.amount)
            order.amount = lots
            order.seq = self._next_priority()
            self._keep_passive(order, now_ns)
            if order.is_live:
                self._match(order, now_ns, count_taker_quote=False)
                if order.filled >= order.amount:
                    self._close(order, DeleteReason.FILLED, now_ns)
                else:
                    self._rest(order)
        snap = order.snapshot(ChangeReason.AMEND, tuple(order.fills[fills_before:]))
        self._batch.own.append(OrderUpdate(order.account, order.session_id, snap))
        return Outcome(result=snap, events=self._finish(now_ns))

    def cancel(
        self,
        now_ns: int,
        session: SessionRef,
        *,
        order_id: str | None = None,
        client_order_id: int | None = None,
    ) -> Outcome[OrderSnapshot]:
        """Delete one live order (error 1 if unknown, closed or another account's)."""
        found = self._find(session, order_id, client_order_id)
        if isinstance(found, EngineError):
            return Outcome(error=found)
        self._begin()
        self._close(found, DeleteReason.CLIENT_CANCEL, now_ns)
        snap = found.snapshot(ChangeReason.CANCEL)
        self._batch.own.append(OrderUpdate(found.account, found.session_id, snap))
        return Outcome(result=snap, events=self._finish(now_ns))

    def cancel_all(self, now_ns: int, session: SessionRef) -> Outcome[int]:
        """Delete every live order of the account (all sessions, mass quotes included)."""
        self._begin()
        orders = sorted(self._account_live.get(session.account, {}).values(), key=_by_seq)
        for order in orders:
            self._close(order, DeleteReason.CLIENT_BULK_CANCEL, now_ns)
            snap = order.snapshot(ChangeReason.CANCEL)
            self._batch.own.append(OrderUpdate(order.account, order.session_id, snap))
        return Outcome(result=len(orders), events=self._finish(now_ns))


def _by_seq(order: Order) -> int:
    return order.seq
