"""Order semantics of the matching engine (protocol.md §2.3, §4)."""

from __future__ import annotations

from typing import Any

import pytest

from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side
from thalex_mm.exchange.engine import (
    BookLevelsChanged,
    ChangeReason,
    Collar,
    DeleteReason,
    ErrorCode,
    ExchangeInstrument,
    MakerTaker,
    MatchingEngine,
    OrderStatus,
    OrderType,
    OrderUpdate,
    QuoteEntry,
    QuoteSide,
    SessionRef,
    TimeInForce,
    TradeEvent,
    default_instruments,
)

PERP = "BTC-PERPETUAL"
BUY, SELL = Side.BUY, Side.SELL


def queue_ids(desk: Any, side: Side, price: int) -> list[str]:
    return [o.order_id for o in desk.engine.order_book(PERP).queue(side, price)]


def updates_of(out: Any, order_id: str) -> list[Any]:
    return [
        e.order for e in out.events if isinstance(e, OrderUpdate) and e.order.order_id == order_id
    ]


def insert(desk: Any, who: Any, **kw: Any) -> Any:
    params: dict[str, Any] = {"instrument_name": PERP, "direction": BUY, "amount": 0.1}
    params.update(kw)
    return desk.engine.insert(desk.tick(), who, **params)


# ---- resting, priority, sweeping ------------------------------------------------------------
def test_resting_order_is_open_and_shows_in_book(desk: Any) -> None:
    out = insert(desk, desk.a, price=99_950, client_order_id=101, label="P")
    snap = out.result
    assert snap.status is OrderStatus.OPEN and snap.change_reason is ChangeReason.INSERT
    assert snap.fills == () and snap.remaining_amount == 0.1 and not snap.persistent
    assert len(snap.order_id) == 16 and int(snap.order_id, 16) > 0
    book = desk.engine.book(PERP)
    assert book.bids == ((99_950.0, 0.1),) and book.asks == ()
    assert book.time_ns == desk.now
    levels = [e for e in out.events if isinstance(e, BookLevelsChanged)]
    assert levels[0].bid_changes == ((99_950.0, 0.1),)
    assert isinstance(out.events[0], OrderUpdate) and out.events[0].order == snap


def test_time_priority_at_same_price(desk: Any) -> None:
    first = desk.limit(desk.a, BUY, 100, 0.1)
    second = desk.limit(desk.c, BUY, 100, 0.1)
    taker = desk.market(desk.b, SELL, 0.15)
    assert taker.filled_amount == pytest.approx(0.15)
    assert desk.engine.order(first.order_id).status is OrderStatus.FILLED
    later = desk.engine.order(second.order_id)
    assert later.filled_amount == pytest.approx(0.05)
    assert later.status is OrderStatus.PARTIALLY_FILLED


def test_better_price_first_and_market_sweep(desk: Any) -> None:
    desk.limit(desk.a, SELL, 102, 0.1)
    desk.limit(desk.a, SELL, 101, 0.1)
    desk.limit(desk.a, SELL, 103, 0.1)
    out = desk.engine.insert(
        desk.tick(),
        desk.b,
        instrument_name=PERP,
        direction=BUY,
        amount=0.25,
        order_type=OrderType.MARKET,
    )
    snap = out.result
    assert [f.price for f in snap.fills] == [101, 102, 103]
    assert [f.amount for f in snap.fills] == pytest.approx([0.1, 0.1, 0.05])
    assert all(f.maker_taker is MakerTaker.TAKER for f in snap.fills)
    assert snap.status is OrderStatus.FILLED and snap.delete_reason is DeleteReason.FILLED
    assert snap.price is None and snap.time_in_force is TimeInForce.IOC
    trades = [e.trade for e in out.events if isinstance(e, TradeEvent)]
    assert [t.price for t in trades] == [101, 102, 103]
    assert all(t.taker_direction is BUY for t in trades)
    makers = [
        e.order
        for e in out.events
        if isinstance(e, OrderUpdate) and e.order.order_id != snap.order_id
    ]
    assert [m.change_reason for m in makers] == [ChangeReason.FILL] * 3
    assert [len(m.fills) for m in makers] == [1, 1, 1]
    assert makers[0].delete_reason is DeleteReason.FILLED
    assert makers[2].status is OrderStatus.PARTIALLY_FILLED
    assert desk.engine.book(PERP).asks == ((103.0, 0.05),)
    changes = next(e for e in out.events if isinstance(e, BookLevelsChanged))
    assert dict(changes.ask_changes) == {101.0: 0.0, 102.0: 0.0, 103.0: 0.05}


def test_ioc_partial_fill_cancels_rest(desk: Any) -> None:
    desk.limit(desk.a, SELL, 100, 0.04)
    snap = insert(desk, desk.b, price=101, time_in_force=TimeInForce.IOC).result
    assert snap.status is OrderStatus.CANCELLED_PARTIALLY_FILLED
    assert snap.delete_reason is DeleteReason.IMMEDIATE_CANCEL
    assert snap.filled_amount == pytest.approx(0.04) and snap.remaining_amount == 0
    assert desk.engine.book(PERP).bids == ()


def test_marketable_limit_gtc_rests_remainder(desk: Any) -> None:
    desk.limit(desk.a, SELL, 100, 0.04)
    snap = desk.limit(desk.b, BUY, 101, 0.1)
    assert snap.status is OrderStatus.PARTIALLY_FILLED
    assert snap.filled_amount + snap.remaining_amount == pytest.approx(snap.amount)
    assert desk.engine.book(PERP).bids == ((101.0, 0.06),)


def test_market_order_on_empty_book_is_rejected(desk: Any) -> None:
    out = insert(desk, desk.b, order_type=OrderType.MARKET)
    assert out.error.code == ErrorCode.INSUFFICIENT_LIQUIDITY and out.events == []


# ---- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"instrument_name": "NOPE"}, ErrorCode.UNKNOWN_INSTRUMENT),
        ({"price": 0}, ErrorCode.INVALID_PRICE),
        ({"price": -5}, ErrorCode.INVALID_PRICE),
        ({"price": 100.5}, ErrorCode.PRICE_NOT_ALIGNED),
        ({"price": 100.0000001}, ErrorCode.PRICE_NOT_ALIGNED),  # was snapped to 100 (#16)
        ({"price": 100, "amount": 0.0015}, ErrorCode.INVALID_AMOUNT),
        ({"price": 100, "amount": 0}, ErrorCode.INVALID_AMOUNT),
        ({"price": 100, "amount": float("nan")}, ErrorCode.INVALID_AMOUNT),
        ({}, ErrorCode.INVALID_REQUEST),
        (
            {"order_type": OrderType.MARKET, "time_in_force": TimeInForce.GTC},
            ErrorCode.INVALID_TIME_IN_FORCE,
        ),
        (
            {"price": 100, "post_only": True, "time_in_force": TimeInForce.IOC},
            ErrorCode.INVALID_TIME_IN_FORCE,
        ),
        ({"order_type": OrderType.MARKET, "collar": Collar.IGNORE}, ErrorCode.INVALID_REQUEST),
    ],
)
def test_invalid_inserts_are_rejected_without_side_effects(
    desk: Any, params: dict[str, Any], code: int
) -> None:
    desk.limit(desk.c, SELL, 100, 1.0)
    out = insert(desk, desk.a, **params)
    assert out.error is not None and out.error.code == code and out.result is None
    assert out.events == [] and desk.engine.open_orders("A") == []
    assert desk.engine.book(PERP).asks == ((100.0, 1.0),)


@pytest.mark.parametrize(
    ("name", "price", "ticks"),
    [
        ("BTC-PERPETUAL", 50_000.0000001, None),  # issue #16 defect 10: was accepted as 50000
        ("BTC-PERPETUAL", 50_000.00000001, None),
        ("BTC-PERPETUAL", 50_000.000000004, 50_000),  # rounds to 50000 at 8 decimals
        ("BTC-PERPETUAL", 10_000.92, None),  # Thalex testnet: code 15
        ("ETH-PERPETUAL", 3_000.10000005, None),  # tick 0.1: was accepted as 3000.1
        ("ETH-PERPETUAL", 3_000.1, 30_001),
        ("ETH-PERPETUAL", 0.30000000000000004, 3),  # float noise is not a misalignment
    ],
)
def test_prices_are_rounded_to_8_decimals_then_must_be_on_the_tick(
    name: str, price: float, ticks: int | None
) -> None:
    engine = MatchingEngine(default_instruments(1))
    spec = engine._instruments[name].spec
    who = SessionRef("A", 1)
    out = engine.insert(1, who, instrument_name=name, direction=BUY, amount=1.0, price=price)
    if ticks is None:
        assert out.error is not None and out.error.code == ErrorCode.PRICE_NOT_ALIGNED
        assert engine.open_orders("A") == []
        return
    assert out.error is None and out.result.price == spec.ticks_to_price(ticks)
    amend = engine.amend(2, who, order_id=out.result.order_id, price=price + 0.0000001, amount=1)
    assert amend.error is not None and amend.error.code == ErrorCode.PRICE_NOT_ALIGNED


def test_mass_quote_prices_off_the_tick_at_the_8th_decimal_are_rejected() -> None:
    engine = MatchingEngine(default_instruments(1))
    who = SessionRef("A", 1, persistent=False)
    engine.set_mm_protection(1, who, product="FBTCUSD", trade_amount=1.0, quote_amount=1.0)
    bid = QuoteSide(((50_000.0000001, 0.1),))
    out = engine.mass_quote(2, who, [QuoteEntry(PERP, bid, None)])
    assert out.result.n_fail == 1 and out.result.errors[0].code == ErrorCode.PRICE_NOT_ALIGNED
    assert engine.open_orders("A") == []


def test_amounts_are_rounded_to_8_decimals_too(desk: Any) -> None:
    assert desk.limit(desk.a, BUY, 100, 0.0010000000001).amount == 0.001
    out = insert(desk, desk.a, price=100, amount=0.00100001)
    assert out.error is not None and out.error.code == ErrorCode.INVALID_AMOUNT


def test_below_minimum_amount_is_rejected(desk: Any) -> None:
    spec = InstrumentSpec("X", InstrumentKind.PERPETUAL, "BTCUSD", 1.0, 0.001, 0.01, "FBTCUSD")
    engine = MatchingEngine([ExchangeInstrument(spec)])
    out = engine.insert(1, desk.a, instrument_name="X", direction=BUY, amount=0.005, price=10)
    assert out.error.code == ErrorCode.INVALID_AMOUNT and "minimum" in out.error.message


# ---- post only, reduce only, collar ------------------------------------------------------------
def test_post_only_reprices_one_tick_behind_best_opposite(desk: Any) -> None:
    desk.limit(desk.c, SELL, 100, 0.1)
    bid = desk.limit(desk.a, BUY, 105, 0.1, post_only=True)
    assert bid.price == 99 and bid.fills == () and bid.status is OrderStatus.OPEN
    ask = desk.limit(desk.a, SELL, 90, 0.1, post_only=True)
    assert ask.price == 100  # best bid is now 99 -> one tick above
    assert desk.engine.book(PERP).asks == ((100.0, 0.2),)


def test_reject_post_only_cancels_instead(desk: Any) -> None:
    desk.limit(desk.c, SELL, 100, 0.1)
    snap = desk.limit(desk.a, BUY, 100, 0.1, post_only=True, reject_post_only=True)
    assert snap.status is OrderStatus.CANCELLED
    assert snap.delete_reason is DeleteReason.IMMEDIATE_CANCEL and snap.fills == ()
    assert desk.engine.book(PERP).bids == ()
    resting = desk.limit(desk.a, BUY, 99, 0.1, post_only=True, reject_post_only=True)
    assert resting.status is OrderStatus.OPEN and resting.price == 99


def test_reduce_only_rejects_without_position_and_clips(desk: Any) -> None:
    out = insert(desk, desk.a, price=100, reduce_only=True)
    assert out.error.code == ErrorCode.REDUCE_ONLY
    desk.limit(desk.c, SELL, 100, 0.03)
    desk.limit(desk.a, BUY, 100, 0.03)  # A long 0.03
    wrong_way = insert(desk, desk.a, price=90, reduce_only=True)
    assert wrong_way.error.code == ErrorCode.REDUCE_ONLY
    clipped = desk.limit(desk.a, SELL, 110, 0.1, reduce_only=True)
    assert clipped.amount == pytest.approx(0.03) and clipped.reduce_only


def test_resting_reduce_only_is_cut_when_position_shrinks(desk: Any) -> None:
    desk.limit(desk.c, SELL, 100, 0.05)
    desk.limit(desk.b, BUY, 100, 0.05)  # B long 0.05
    ro = desk.limit(desk.b, SELL, 110, 0.05, reduce_only=True)
    other = desk.limit(desk.c, SELL, 110, 0.01)
    desk.limit(desk.a, BUY, 90, 0.03)
    out = desk.engine.insert(
        desk.tick(), desk.b, instrument_name=PERP, direction=SELL, amount=0.03, price=90
    )
    cut = [
        e.order
        for e in out.events
        if isinstance(e, OrderUpdate) and e.order.order_id == ro.order_id
    ]
    assert len(cut) == 1 and cut[0].change_reason is ChangeReason.AMEND
    assert cut[0].amount == pytest.approx(0.02) and cut[0].remaining_amount == pytest.approx(0.02)
    assert queue_ids(desk, SELL, 110) == [ro.order_id, other.order_id]  # kept its place
    assert desk.engine.book(PERP).asks == ((110.0, 0.03),)
    desk.limit(desk.a, BUY, 90, 0.02)
    out = desk.engine.insert(
        desk.tick(), desk.b, instrument_name=PERP, direction=SELL, amount=0.02, price=90
    )
    gone = [
        e.order
        for e in out.events
        if isinstance(e, OrderUpdate) and e.order.order_id == ro.order_id
    ]
    assert gone[0].delete_reason is DeleteReason.ADMIN_CANCEL
    assert gone[0].status is OrderStatus.CANCELLED
    assert desk.engine.book(PERP).asks == ((110.0, 0.01),)


def test_amending_reduce_only_up_is_clipped_to_position(desk: Any) -> None:
    desk.limit(desk.c, SELL, 100, 0.05)
    desk.limit(desk.b, BUY, 100, 0.05)  # B long 0.05
    ro = desk.limit(desk.b, SELL, 110, 0.02, reduce_only=True)
    out = desk.engine.amend(desk.tick(), desk.b, order_id=ro.order_id, price=111, amount=0.5)
    assert out.result.amount == pytest.approx(0.05) and out.result.price == 111
    assert desk.engine.book(PERP).asks == ((111.0, 0.05),)


def test_collar_reject_clamp_and_ignore(desk: Any) -> None:
    desk.engine.set_mark(desk.tick(), PERP, 1_000.0)  # collar 5 %: [950, 1050]
    ticker = desk.engine.ticker(PERP, desk.now)
    assert (ticker.collar_low, ticker.collar_high) == (950.0, 1050.0)
    assert insert(desk, desk.a, price=1_051).error.code == ErrorCode.PRICE_COLLAR_BREACH
    assert insert(desk, desk.a, price=1_050).error is None
    clamped = insert(desk, desk.a, price=1_200, collar=Collar.CLAMP).result
    assert clamped.price == 1_050
    assert insert(desk, desk.a, direction=SELL, price=900, collar=Collar.IGNORE).error is None


def test_market_order_is_clamped_at_collar(desk: Any) -> None:
    desk.engine.set_mark(desk.tick(), PERP, 1_000.0)
    desk.limit(desk.c, SELL, 1_040, 0.1)
    desk.limit(desk.c, SELL, 1_060, 0.1, collar=Collar.IGNORE)
    snap = desk.market(desk.b, BUY, 0.2)
    assert snap.filled_amount == pytest.approx(0.1)
    assert snap.status is OrderStatus.CANCELLED_PARTIALLY_FILLED
    assert desk.engine.book(PERP).asks == ((1_060.0, 0.1),)


# ---- amend --------------------------------------------------------------------------------------
def test_amend_down_at_same_price_keeps_priority(desk: Any) -> None:
    first = desk.limit(desk.a, BUY, 100, 0.1)
    second = desk.limit(desk.c, BUY, 100, 0.1)
    out = desk.engine.amend(desk.tick(), desk.a, order_id=first.order_id, price=100, amount=0.05)
    assert out.result.change_reason is ChangeReason.AMEND and out.result.amount == 0.05
    assert queue_ids(desk, BUY, 100) == [first.order_id, second.order_id]
    assert desk.engine.book(PERP).bids == ((100.0, 0.15),)


@pytest.mark.parametrize(("price", "amount"), [(100, 0.2), (101, 0.1)])
def test_amend_up_or_reprice_loses_priority(desk: Any, price: int, amount: float) -> None:
    first = desk.limit(desk.a, BUY, 100, 0.1)
    second = desk.limit(desk.c, BUY, price, 0.1)
    desk.engine.amend(desk.tick(), desk.a, order_id=first.order_id, price=price, amount=amount)
    assert queue_ids(desk, BUY, price) == [second.order_id, first.order_id]


def test_amend_to_filled_or_below_deletes(desk: Any) -> None:
    order = desk.limit(desk.a, BUY, 100, 0.1, client_order_id=7)
    desk.market(desk.b, SELL, 0.04)
    out = desk.engine.amend(desk.tick(), desk.a, client_order_id=7, price=100, amount=0.04)
    snap = out.result
    assert snap.status is OrderStatus.CANCELLED_PARTIALLY_FILLED
    assert snap.delete_reason is DeleteReason.CLIENT_CANCEL and snap.remaining_amount == 0
    assert desk.engine.book(PERP).bids == ()
    again = desk.engine.amend(desk.tick(), desk.a, order_id=order.order_id, price=100, amount=0.1)
    assert again.error.code == ErrorCode.ORDER_NOT_FOUND


def test_amend_to_zero_cancels_unfilled_order(desk: Any) -> None:
    order = desk.limit(desk.a, BUY, 100, 0.1)
    out = desk.engine.amend(desk.tick(), desk.a, order_id=order.order_id, price=100, amount=0)
    snap = out.result
    assert snap.status is OrderStatus.CANCELLED and snap.delete_reason is DeleteReason.CLIENT_CANCEL


def test_amend_that_crosses_trades_and_is_volume_safe(desk: Any) -> None:
    desk.limit(desk.c, SELL, 101, 0.05)
    order = desk.limit(desk.a, BUY, 100, 0.1)
    desk.market(desk.b, SELL, 0.02)  # 0.02 filled at 100
    out = desk.engine.amend(desk.tick(), desk.a, order_id=order.order_id, price=101, amount=0.1)
    snap = out.result
    assert [f.amount for f in snap.fills] == pytest.approx([0.05])  # only the new fill
    assert snap.fills[0].maker_taker is MakerTaker.TAKER
    assert snap.filled_amount == pytest.approx(0.07)
    assert snap.remaining_amount == pytest.approx(0.03)
    assert desk.engine.book(PERP).bids == ((101.0, 0.03),)


def test_amend_of_a_post_only_order_never_trades_as_taker(desk: Any) -> None:
    """Issue #14: an amend into the opposite side used to execute (as taker) although the order
    was inserted post_only; it is re-priced one tick behind the best ask, as on insert."""
    desk.limit(desk.c, SELL, 101, 0.05)
    order = desk.limit(desk.a, BUY, 100, 0.1, post_only=True)
    out = desk.engine.amend(desk.tick(), desk.a, order_id=order.order_id, price=103, amount=0.1)
    snap = out.result
    assert snap.fills == () and snap.filled_amount == 0 and snap.price == 100
    assert snap.status is OrderStatus.OPEN and snap.change_reason is ChangeReason.AMEND
    assert not [e for e in out.events if isinstance(e, TradeEvent)]
    assert desk.engine.book(PERP).bids == ((100.0, 0.1),)
    assert desk.engine.book(PERP).asks == ((101.0, 0.05),)
    # a sell post_only amended below the best bid: one tick above it
    ask = desk.limit(desk.a, SELL, 110, 0.1, post_only=True)
    moved = desk.engine.amend(desk.tick(), desk.a, order_id=ask.order_id, price=95, amount=0.1)
    assert moved.result.price == 101 and moved.result.fills == ()


def test_amend_of_a_reject_post_only_order_that_would_cross_cancels_it(desk: Any) -> None:
    desk.limit(desk.c, SELL, 101, 0.05)
    order = desk.limit(desk.a, BUY, 100, 0.1, post_only=True, reject_post_only=True)
    out = desk.engine.amend(desk.tick(), desk.a, order_id=order.order_id, price=101, amount=0.1)
    snap = out.result
    assert snap.status is OrderStatus.CANCELLED and snap.fills == ()
    assert snap.delete_reason is DeleteReason.IMMEDIATE_CANCEL
    assert snap.change_reason is ChangeReason.AMEND
    assert desk.engine.book(PERP).bids == () and desk.engine.open_orders("A") == []
    assert desk.engine.book(PERP).asks == ((101.0, 0.05),)


def test_amend_of_a_post_only_mass_quote_never_trades_as_taker(desk: Any) -> None:
    desk.limit(desk.c, SELL, 101, 0.05)
    desk.engine.set_mm_protection(
        desk.tick(), desk.a, product="FBTCUSD", trade_amount=1.0, quote_amount=1.0
    )
    bid = QuoteSide(((100, 0.1),))
    desk.engine.mass_quote(desk.tick(), desk.a, [QuoteEntry(PERP, bid, None)], post_only=True)
    (quote,) = desk.engine.open_orders("A")
    out = desk.engine.amend(desk.tick(), desk.a, order_id=quote.order_id, price=102, amount=0.1)
    assert out.result.fills == () and out.result.price == 100


# ---- cancel, client ids -------------------------------------------------------------------------
def test_cancel_unknown_closed_or_foreign_order_is_error_1(desk: Any) -> None:
    order = desk.limit(desk.a, BUY, 100, 0.1, client_order_id=5)
    assert desk.engine.cancel(desk.tick(), desk.a, order_id="FFFF").error.code == 1
    assert desk.engine.cancel(desk.tick(), desk.c, order_id=order.order_id).error.code == 1
    assert desk.engine.cancel(desk.tick(), desk.c, client_order_id=5).error.code == 1
    both = desk.engine.cancel(desk.tick(), desk.a, order_id=order.order_id, client_order_id=5)
    assert both.error.code == ErrorCode.INVALID_REQUEST
    out = desk.engine.cancel(desk.tick(), desk.a, client_order_id=5)
    assert out.result.status is OrderStatus.CANCELLED
    assert out.result.change_reason is ChangeReason.CANCEL
    assert out.result.delete_reason is DeleteReason.CLIENT_CANCEL
    assert out.result.close_time_ns == desk.now
    assert desk.engine.cancel(desk.tick(), desk.a, order_id=order.order_id).error.code == 1


def test_duplicate_live_client_order_id_and_reuse_after_close(desk: Any) -> None:
    desk.limit(desk.a, BUY, 100, 0.1, client_order_id=1001)
    dup = insert(desk, desk.a, price=99, client_order_id=1001)
    assert dup.error.code == ErrorCode.DUPLICATE_ORDER_ID
    other_session = insert(desk, desk.c, price=99, client_order_id=1001)
    assert other_session.error is None  # ids are per session
    desk.market(desk.b, SELL, 0.1)  # fills A's order -> closed
    reuse = insert(desk, desk.a, price=98, client_order_id=1001)
    assert reuse.error is None and reuse.result.status is OrderStatus.OPEN


def test_cancel_all_counts_and_uses_bulk_reason(desk: Any) -> None:
    desk.limit(desk.c, BUY, 100, 0.1)
    desk.limit(desk.c, SELL, 110, 0.1)
    desk.limit(desk.a, SELL, 111, 0.1)
    out = desk.engine.cancel_all(desk.tick(), desk.c)
    assert out.result == 2
    updates = [e.order for e in out.events if isinstance(e, OrderUpdate)]
    assert {u.delete_reason for u in updates} == {DeleteReason.CLIENT_BULK_CANCEL}
    assert desk.engine.open_orders("C") == [] and len(desk.engine.open_orders("A")) == 1


def test_cancel_session_only_nonpersistent_orders(desk: Any) -> None:
    assert desk.engine.cancel_session(desk.tick(), desk.b).error.code == 52
    persistent_a = SessionRef("A", 1, persistent=True)
    kept = desk.limit(persistent_a, BUY, 90, 0.1)
    gone = desk.limit(desk.a, BUY, 91, 0.1)
    out = desk.engine.cancel_session(desk.tick(), desk.a)
    assert out.error is None and out.result is None
    updates = [e.order for e in out.events if isinstance(e, OrderUpdate)]
    assert [u.order_id for u in updates] == [gone.order_id]
    assert updates[0].delete_reason is DeleteReason.SESSION_END
    assert [o.order_id for o in desk.engine.open_orders("A")] == [kept.order_id]


def test_open_orders_snapshot_is_existing_with_all_fills(desk: Any) -> None:
    order = desk.limit(desk.a, BUY, 100, 0.1)
    desk.market(desk.b, SELL, 0.01)
    desk.market(desk.b, SELL, 0.02)
    (snap,) = desk.engine.session_open_orders(1)
    assert snap.order_id == order.order_id and snap.change_reason is ChangeReason.EXISTING
    assert [f.amount for f in snap.fills] == pytest.approx([0.01, 0.02])


def test_order_history_excludes_client_cancelled_unfilled_nonpersistent(desk: Any) -> None:
    a1 = desk.limit(desk.a, BUY, 100, 0.1)
    c1 = desk.limit(desk.c, BUY, 99, 0.1)
    desk.engine.cancel(desk.tick(), desk.a, order_id=a1.order_id)
    desk.engine.cancel(desk.tick(), desk.c, order_id=c1.order_id)
    assert desk.engine.order_history("A") == []
    (hist,) = desk.engine.order_history("C")
    assert hist.order_id == c1.order_id and hist.delete_reason is DeleteReason.CLIENT_CANCEL
