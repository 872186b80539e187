"""Mass quotes and market-maker protection (protocol.md §2.4, §4.6, §4.7)."""

from __future__ import annotations

from typing import Any

import pytest

from thalex_mm.domain import Side
from thalex_mm.exchange.engine import (
    ChangeReason,
    DeleteReason,
    ErrorCode,
    MMProtectionEvent,
    MMProtectionReason,
    OrderStatus,
    OrderUpdate,
    QuoteEntry,
    QuoteSide,
)

PERP = "BTC-PERPETUAL"
BUY, SELL = Side.BUY, Side.SELL


def side(*levels: tuple[float, float]) -> QuoteSide:
    return QuoteSide(tuple(levels))


def quote(desk: Any, bid: QuoteSide | None = None, ask: QuoteSide | None = None, **kw: Any) -> Any:
    return desk.engine.mass_quote(desk.tick(), desk.a, [QuoteEntry(PERP, bid, ask)], **kw)


def protect(desk: Any, trade_amount: float = 1.0, quote_amount: float = 1.0) -> Any:
    return desk.engine.set_mm_protection(
        desk.tick(), desk.a, product="FBTCUSD", trade_amount=trade_amount, quote_amount=quote_amount
    )


def live_quotes(desk: Any) -> list[Any]:
    return [o for o in desk.engine.session_open_orders(1) if o.is_mass_quote]


def test_needs_nonpersistent_session_and_protection(desk: Any) -> None:
    out = desk.engine.mass_quote(desk.tick(), desk.b, [QuoteEntry(PERP, side((100, 0.1)))])
    assert out.error.code == ErrorCode.PERSISTENT_SESSION
    out = quote(desk, side((100, 0.1)))
    assert out.error is None and out.result.n_fail == 1 and out.result.n_success == 0
    assert out.result.errors[0].code == ErrorCode.PROT_NOT_SET
    assert desk.engine.book(PERP).bids == ()


def test_quote_inserts_levels_and_counts_sides(desk: Any) -> None:
    events = protect(desk).events
    assert events == [MMProtectionEvent("A", 1, "FBTCUSD", 1.0, MMProtectionReason.REFILL)]
    out = quote(desk, side((99, 0.1), (98, 0.2)), side((101, 0.1)), label="mq")
    assert (out.result.n_success, out.result.n_fail) == (2, 0)
    book = desk.engine.book(PERP)
    assert book.bids == ((99.0, 0.1), (98.0, 0.2)) and book.asks == ((101.0, 0.1),)
    quotes = live_quotes(desk)
    assert len(quotes) == 3 and all(not q.persistent and q.label == "mq" for q in quotes)


def test_new_side_replaces_old_and_identical_level_keeps_priority(desk: Any) -> None:
    protect(desk)
    first = quote(desk, side((99, 0.1), (98, 0.2)), side((101, 0.1)))
    old = {o.price: o.order_id for o in live_quotes(desk) if o.direction is BUY}
    competitor = desk.limit(desk.c, BUY, 99, 0.1)
    out = quote(desk, side((99, 0.1), (97, 0.3)))  # ask untouched
    assert out.result.n_success == 1 and first.error is None
    updates = [e.order for e in out.events if isinstance(e, OrderUpdate)]
    removed = [u for u in updates if u.delete_reason is DeleteReason.REPLACED]
    inserted = [u for u in updates if u.change_reason is ChangeReason.INSERT]
    assert [u.order_id for u in removed] == [old[98.0]]
    assert [u.price for u in inserted] == [97.0]
    queue = [o.order_id for o in desk.engine.order_book(PERP).queue(BUY, 99)]
    assert queue == [old[99.0], competitor.order_id]  # kept its place
    book = desk.engine.book(PERP)
    assert book.bids == ((99.0, 0.2), (97.0, 0.3)) and book.asks == ((101.0, 0.1),)


def test_empty_side_or_zero_amount_removes_side(desk: Any) -> None:
    protect(desk)
    quote(desk, side((99, 0.1)), side((101, 0.1)))
    out = quote(desk, side(), side((101, 0)))
    assert out.result.n_success == 2
    assert desk.engine.book(PERP).bids == () and desk.engine.book(PERP).asks == ()


def test_failed_side_is_reported_and_left_untouched(desk: Any) -> None:
    protect(desk, trade_amount=0.5, quote_amount=0.5)
    quote(desk, side((99, 0.1)), side((101, 0.1)))
    out = quote(desk, side((98, 0.6)), side((102, 0.2)))
    assert (out.result.n_success, out.result.n_fail) == (1, 1)
    (err,) = out.result.errors
    assert err.code == ErrorCode.QUOTE_EXCEEDS_PROT_GROUP_SIZE
    assert err.side is BUY and err.price == 98
    book = desk.engine.book(PERP)
    assert book.bids == ((99.0, 0.1),) and book.asks == ((102.0, 0.2),)
    bad = quote(desk, side((98.5, 0.1)))
    assert bad.result.errors[0].code == ErrorCode.PRICE_NOT_ALIGNED


def test_post_only_and_reject_post_only_per_side(desk: Any) -> None:
    protect(desk)
    desk.limit(desk.c, SELL, 100, 1.0)
    out = quote(desk, side((105, 0.1)), post_only=True)
    (bid,) = live_quotes(desk)
    assert bid.price == 99 and bid.fills == () and out.result.n_success == 1
    out = quote(desk, side((100, 0.1)), post_only=True, reject_post_only=True)
    updates = [e.order for e in out.events if isinstance(e, OrderUpdate)]
    assert updates[-1].delete_reason is DeleteReason.IMMEDIATE_CANCEL
    assert live_quotes(desk) == []


def test_too_many_quotes_is_invalid_request(desk: Any) -> None:
    protect(desk)
    entries = [QuoteEntry(PERP, side((99, 0.1)))] * 101
    out = desk.engine.mass_quote(desk.tick(), desk.a, entries)
    assert out.error.code == ErrorCode.INVALID_REQUEST


def test_protection_trips_and_deletes_group_quotes(desk: Any) -> None:
    protect(desk, trade_amount=0.15, quote_amount=0.5)
    quote(desk, side((99, 0.1), (98, 0.1)), side((101, 0.1), (102, 0.1)))
    ordinary = desk.limit(desk.a, BUY, 90, 0.1)  # not a quote: untouched by the trip
    out = desk.engine.insert(
        desk.tick(), desk.b, instrument_name=PERP, direction=SELL, amount=0.16, price=98
    )
    mm = [e for e in out.events if isinstance(e, MMProtectionEvent)]
    assert len(mm) == 1 and mm[0].reason is MMProtectionReason.EXECUTIONS
    assert mm[0].remaining_amount == pytest.approx(-0.01)  # overshoot is allowed
    tripped = [
        e.order
        for e in out.events
        if isinstance(e, OrderUpdate) and e.order.delete_reason is DeleteReason.MM_PROTECTION
    ]
    assert {o.price for o in tripped} == {98.0, 101.0, 102.0}
    assert tripped[0].status is OrderStatus.CANCELLED_PARTIALLY_FILLED  # the 98 bid
    assert [o.order_id for o in desk.engine.open_orders("A")] == [ordinary.order_id]
    rejected = quote(desk, side((97, 0.1)))
    assert rejected.result.errors[0].code == ErrorCode.INVALID_PROT_GROUP
    protect(desk, trade_amount=0.15, quote_amount=0.5)  # refill
    assert quote(desk, side((97, 0.1))).result.n_success == 1


def test_executions_below_trade_amount_report_remaining(desk: Any) -> None:
    protect(desk, trade_amount=0.5, quote_amount=0.5)
    quote(desk, side((99, 0.2)))
    out = desk.market(desk.b, SELL, 0.05)
    assert out.filled_amount == pytest.approx(0.05)
    assert desk.engine.mm_protection_remaining(1, "FBTCUSD") == pytest.approx(0.45)
    assert len(live_quotes(desk)) == 1


def test_cancel_mass_quote_and_session_end_reset_groups(desk: Any) -> None:
    protect(desk)
    quote(desk, side((99, 0.1)), side((101, 0.1)))
    out = desk.engine.cancel_mass_quote(desk.tick(), desk.a, product="FBTCUSD")
    assert out.error is None and live_quotes(desk) == []
    reasons = [e.reason for e in out.events if isinstance(e, MMProtectionEvent)]
    assert reasons == [MMProtectionReason.CLIENT_CANCEL]
    assert quote(desk, side((99, 0.1))).result.errors[0].code == ErrorCode.PROT_NOT_SET
    protect(desk)
    quote(desk, side((99, 0.1)))
    events = desk.engine.end_session(desk.tick(), 1)
    deleted = [e.order for e in events if isinstance(e, OrderUpdate)]
    assert [d.delete_reason for d in deleted] == [DeleteReason.SESSION_END]
    assert desk.engine.mm_protection_remaining(1, "FBTCUSD") is None
    assert desk.engine.book(PERP).bids == ()
