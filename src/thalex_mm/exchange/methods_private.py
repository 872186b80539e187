"""Private methods: trading, market making and account queries.

Params are decoded into the shared request Structs, translated to the engine's call, and the
engine's `Outcome` goes back through `ExchangeHub.finish` (events fanned out first, then the
reply). Validation of orders (instrument, alignment, TIF, post-only, collars, ids) is the
engine's; this layer only checks what the wire shape itself requires.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from thalex_mm.domain import Side
from thalex_mm.exchange import translate
from thalex_mm.exchange.engine import Collar, OrderType, QuoteEntry, QuoteSide, TimeInForce
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.codes import ErrorCode
from thalex_mm.venue.thalex.requests import (
    AmendParams,
    CancelMassQuoteParams,
    CancelParams,
    HistoryParams,
    InsertParams,
    MassQuoteParams,
    QuoteLevels,
    SetMmProtectionParams,
    SingleLevelQuote,
)
from thalex_mm.venue.thalex.rpc import (
    FrameError,
    RequestFrame,
    decode_params,
    encode,
    result_frame,
    result_frame_raw,
)

if TYPE_CHECKING:
    from thalex_mm.exchange.session import Session

T = TypeVar("T")
_HISTORY_BUDGET = 900_000  # bytes; keeps a history page well under the 1 MiB message cap


def _invalid(message: str) -> FrameError:
    return FrameError(ErrorCode.INVALID_REQUEST, f"invalid params: {message}")


def _account(session: Session) -> str:
    assert session.account is not None  # private methods are only dispatched after login
    return session.account


# ---- trading ---------------------------------------------------------------------------------
def _insert(session: Session, frame: RequestFrame, now_ns: int, side: Side | None) -> bytes:
    p = decode_params(frame, InsertParams)
    if p.legs is not None:
        raise _invalid("combination orders (legs) are not supported by the local exchange")
    if p.instrument_name is None:
        raise _invalid("missing instrument_name")
    if side is None:
        if p.direction is None:
            raise _invalid("missing direction")
        side = Side.from_wire(p.direction)
    outcome = session.hub.engine.insert(
        now_ns,
        session.ref,
        instrument_name=p.instrument_name,
        direction=side,
        amount=p.amount,
        price=p.price,
        order_type=OrderType(p.order_type or "limit"),
        time_in_force=None if p.time_in_force is None else TimeInForce(p.time_in_force),
        client_order_id=p.client_order_id,
        label=p.label,
        post_only=bool(p.post_only),
        reject_post_only=bool(p.reject_post_only),
        reduce_only=bool(p.reduce_only),
        collar=None if p.collar is None else Collar(p.collar),
    )
    return session.hub.finish(frame, outcome, now_ns, translate.order_status)


def insert(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    return _insert(session, frame, now_ns, None)


def buy(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    return _insert(session, frame, now_ns, Side.BUY)


def sell(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    return _insert(session, frame, now_ns, Side.SELL)


def _one_id(order_id: str | None, client_order_id: int | None) -> None:
    if (order_id is None) == (client_order_id is None):
        raise _invalid("give exactly one of order_id and client_order_id")


def amend(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    p = decode_params(frame, AmendParams)
    _one_id(p.order_id, p.client_order_id)
    outcome = session.hub.engine.amend(
        now_ns,
        session.ref,
        amount=p.amount,
        price=p.price,
        order_id=p.order_id,
        client_order_id=p.client_order_id,
        collar=None if p.collar is None else Collar(p.collar),
    )
    return session.hub.finish(frame, outcome, now_ns, translate.order_status)


def cancel(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    p = decode_params(frame, CancelParams)
    _one_id(p.order_id, p.client_order_id)
    outcome = session.hub.engine.cancel(
        now_ns, session.ref, order_id=p.order_id, client_order_id=p.client_order_id
    )
    return session.hub.finish(frame, outcome, now_ns, translate.order_status)


def cancel_all(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    outcome = session.hub.engine.cancel_all(now_ns, session.ref)
    return session.hub.finish(frame, outcome, now_ns, _identity)


def cancel_session(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    outcome = session.hub.engine.cancel_session(now_ns, session.ref)
    return session.hub.finish(frame, outcome, now_ns, _identity)


# ---- market making ---------------------------------------------------------------------------
def _quote_side(side: SingleLevelQuote | QuoteLevels | None) -> QuoteSide | None:
    if side is None:
        return None
    if isinstance(side, SingleLevelQuote):
        return QuoteSide(levels=((side.p, side.a),) if side.a != 0 else ())
    return QuoteSide(levels=tuple((price, amount) for price, amount in side if amount != 0))


def mass_quote(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    p = decode_params(frame, MassQuoteParams)
    quotes = [QuoteEntry(q.i, bid=_quote_side(q.b), ask=_quote_side(q.a)) for q in p.quotes]
    outcome = session.hub.engine.mass_quote(
        now_ns,
        session.ref,
        quotes,
        label=p.label,
        post_only=bool(p.post_only),
        reject_post_only=bool(p.reject_post_only),
    )
    return session.hub.finish(frame, outcome, now_ns, translate.mass_quote_result)


def cancel_mass_quote(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    p = decode_params(frame, CancelMassQuoteParams)
    outcome = session.hub.engine.cancel_mass_quote(now_ns, session.ref, product=p.product)
    return session.hub.finish(frame, outcome, now_ns, _identity)


def set_mm_protection(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    p = decode_params(frame, SetMmProtectionParams)
    trade_amount = p.amount if p.amount is not None else p.trade_amount
    quote_amount = p.amount if p.amount is not None else p.quote_amount
    if trade_amount is None or quote_amount is None:
        raise _invalid("trade_amount and quote_amount are required")
    outcome = session.hub.engine.set_mm_protection(
        now_ns,
        session.ref,
        product=p.product,
        trade_amount=trade_amount,
        quote_amount=quote_amount,
    )
    return session.hub.finish(frame, outcome, now_ns, _identity)


def _identity(value: T) -> T:
    return value


# ---- account queries -------------------------------------------------------------------------
def open_orders(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    orders = session.hub.engine.open_orders(_account(session))
    return result_frame(bytes(frame.id), [translate.order_status(o) for o in orders])


def portfolio(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    lines = session.hub.engine.portfolio(_account(session))
    return result_frame(bytes(frame.id), [translate.portfolio_entry(e) for e in lines])


def account_summary(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    summary = session.hub.engine.account_summary(_account(session))
    return result_frame(bytes(frame.id), translate.account_summary(summary))


def trade_history(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    p = decode_params(frame, HistoryParams)
    records = session.hub.engine.trade_history(_account(session))
    names = _names(p.instrument_names)
    order_ids = _names(p.order_ids)
    selected = [
        r
        for r in records
        if _in_window(r.time_ns, p)
        and (names is None or r.instrument_name in names)
        and (order_ids is None or r.order_id in order_ids)
        and (p.direction is None or r.direction.wire == p.direction)
        and (p.label is None or r.label == p.label)
    ]
    page, bookmark = _page(selected, p, lambda r: r.time_ns, translate.trade)
    return result_frame_raw(
        bytes(frame.id), encode(wire.TradeHistoryResult(trades=page, bookmark=bookmark))
    )


def order_history(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    p = decode_params(frame, HistoryParams)
    orders = session.hub.engine.order_history(_account(session))
    names = _names(p.instrument_names)
    selected = [
        o
        for o in orders
        if _in_window(o.create_time_ns, p)
        and (names is None or o.instrument_name in names)
        and (p.direction is None or o.direction.wire == p.direction)
        and (p.label is None or o.label == p.label)
    ]
    page, bookmark = _page(selected, p, lambda o: o.create_time_ns, translate.order_history)
    return result_frame_raw(
        bytes(frame.id), encode(wire.OrderHistoryResult(orders=page, bookmark=bookmark))
    )


def _names(text: str | None) -> set[str] | None:
    return None if text is None else {n.strip() for n in text.split(",") if n.strip()}


def _in_window(time_ns: int, p: HistoryParams) -> bool:
    t = time_ns / 1e9
    return (p.time_low is None or t >= p.time_low) and (p.time_high is None or t <= p.time_high)


def _page(
    items: Sequence[Any],
    p: HistoryParams,
    time_of: Callable[[Any], int],
    convert: Callable[[Any], T],
) -> tuple[list[T], str | None]:
    """One page, newest first unless ``sort`` is ascending; the bookmark is the next offset."""
    ordered = sorted(items, key=time_of, reverse=p.sort != "ascending")
    start = 0
    if p.bookmark is not None:
        if not p.bookmark.isdigit():
            raise _invalid("bookmark must come from a previous result")
        start = int(p.bookmark)
    limit = p.limit
    page = [convert(item) for item in ordered[start : start + limit]]
    while limit > 1 and len(encode(page)) > _HISTORY_BUDGET:
        limit //= 2
        page = page[:limit]
    end = start + len(page)
    return page, (str(end) if end < len(ordered) else None)
