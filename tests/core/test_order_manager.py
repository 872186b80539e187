"""The order manager turns desired ladders into the fewest actions, safely."""

from __future__ import annotations

from _core_testkit import MS, FakeVenue, deliver, ladder, make_manager, round_trip, sync
from msgspec.structs import replace

from thalex_mm.core.actions import Amend, Cancel, Insert
from thalex_mm.core.events import OrderStatus, OrderUpdate
from thalex_mm.core.orders import OrderState
from thalex_mm.domain import Side

BIDS = ladder((990, 5), (989, 5), (987, 5))
ASKS = ladder((1010, 5), (1011, 5), (1013, 5))


def live_manager(**cfg: object):
    mgr = make_manager(**cfg)
    venue = FakeVenue()
    round_trip(mgr, venue, sync(mgr, BIDS, ASKS, 0), 1)
    assert all(o.state == OrderState.LIVE for o in mgr.open_orders())
    return mgr, venue


def shift(levels, by):
    return tuple(type(lv)(lv.price_ticks + by, lv.amount_lots) for lv in levels)


def test_first_cycle_inserts_every_level_post_only_with_fresh_ids():
    mgr = make_manager(label="q1")
    actions = sync(mgr, BIDS, ASKS, 0)
    assert all(isinstance(a, Insert) for a in actions)
    got = {(a.side, a.price_ticks, a.amount_lots) for a in actions}
    want = {(Side.BUY, p, a) for p, a in BIDS} | {(Side.SELL, p, a) for p, a in ASKS}
    assert got == want
    assert all(a.post_only and a.label == "q1" for a in actions)
    cids = [a.client_order_id for a in actions]
    assert cids == sorted(cids) and len(set(cids)) == len(cids) and min(cids) >= 100


def test_moves_of_at_least_n_ticks_are_amends_not_cancel_insert():
    mgr, venue = live_manager(amend_threshold_ticks=3)
    bids, asks = shift(BIDS, -4), shift(ASKS, -4)
    actions = sync(mgr, bids, asks, 10 * MS)
    assert actions and all(isinstance(a, Amend) for a in actions)
    assert len(actions) <= len(BIDS) + len(ASKS)
    round_trip(mgr, venue, actions, 11 * MS)
    # converged: every level has an order within the threshold, and nothing more to do
    assert sync(mgr, bids, asks, 12 * MS) == []
    for levels, orders in ((bids, mgr.bids), (asks, mgr.asks)):
        prices = sorted(o.price_ticks for o in orders)
        assert len(prices) == len(levels)
        assert all(
            abs(a - b) < 3 for a, b in zip(prices, sorted(p for p, _ in levels), strict=True)
        )


def test_moves_below_n_ticks_do_nothing():
    mgr, _ = live_manager(amend_threshold_ticks=3)
    assert sync(mgr, shift(BIDS, -2), shift(ASKS, 2), 10 * MS) == []


def test_size_change_is_an_amend_of_the_total_amount():
    mgr, venue = live_manager()
    best_bid = next(o for o in mgr.bids if o.price_ticks == 990)
    deliver(mgr, [venue.fill(best_bid.order_id, 2, 5 * MS)])
    actions = sync(mgr, BIDS, ASKS, 10 * MS)  # wants 5 remaining again at 990
    assert len(actions) == 1 and isinstance(actions[0], Amend)
    assert actions[0].price_ticks == 990
    assert actions[0].amount_lots == 2 + 5  # venue semantics: filled + wanted remaining


def test_ladder_shift_by_one_level_reuses_orders_at_unchanged_prices():
    mgr, _ = live_manager()
    new_bids = ladder((991, 5), (990, 5), (989, 5))
    actions = sync(mgr, new_bids, ASKS, 10 * MS)
    assert len(actions) == 1 and isinstance(actions[0], Amend)
    assert actions[0].price_ticks == 991


def test_missing_levels_are_inserted_and_surplus_cancelled():
    mgr, _ = live_manager()
    actions = sync(mgr, BIDS[:1], (*ASKS, *ladder((1020, 5))), 10 * MS)
    cancels = [a for a in actions if isinstance(a, Cancel)]
    inserts = [a for a in actions if isinstance(a, Insert)]
    assert len(cancels) == 2 and len(inserts) == 1
    assert inserts[0].side is Side.SELL and inserts[0].price_ticks == 1020
    cancelled = {o.price_ticks for o in mgr.bids if o.state == OrderState.PENDING_CANCEL}
    assert cancelled == {989, 987}


def test_no_second_action_while_one_is_in_flight():
    mgr, venue = live_manager()
    first = sync(mgr, shift(BIDS, -5), ASKS, 10 * MS)
    assert len(first) == 3
    # the market moves again before any reply: nothing may be sent for those orders
    assert sync(mgr, shift(BIDS, -9), ASKS, 11 * MS) == []
    round_trip(mgr, venue, first, 12 * MS)
    again = sync(mgr, shift(BIDS, -9), ASKS, 13 * MS)
    assert len(again) == 3 and all(isinstance(a, Amend) for a in again)


def test_min_interval_per_level():
    mgr, venue = live_manager(min_update_interval_ms=100)
    round_trip(mgr, venue, sync(mgr, shift(BIDS, -5), ASKS, 200 * MS), 201 * MS)
    assert sync(mgr, shift(BIDS, -10), ASKS, 250 * MS) == []
    assert len(sync(mgr, shift(BIDS, -10), ASKS, 300 * MS)) == 3


def test_forced_refresh_applies_small_differences_after_the_interval():
    mgr, _ = live_manager(amend_threshold_ticks=5, refresh_interval_ms=1000)
    assert sync(mgr, shift(BIDS, -1), ASKS, 500 * MS) == []
    actions = sync(mgr, shift(BIDS, -1), ASKS, 1001 * MS)
    assert len(actions) == 3 and all(isinstance(a, Amend) for a in actions)


def test_caps_per_side_and_total():
    mgr = make_manager(max_orders_per_side=2, max_orders_total=3)
    actions = sync(mgr, BIDS, ASKS, 0)
    sides = [a.side for a in actions]
    assert sides.count(Side.BUY) <= 2 and sides.count(Side.SELL) <= 2 and len(actions) == 3
    # inserts never exceed the caps, even over many cycles without replies
    for t in range(1, 5):
        sync(mgr, BIDS, ASKS, t * MS)
    assert len(mgr.bids) <= 2 and len(mgr.asks) <= 2 and len(mgr.open_orders()) <= 3


def test_buy_room_counts_pending_orders():
    mgr = make_manager()
    actions = sync(mgr, BIDS, ASKS, 0, room=12)
    bid_lots = sum(a.amount_lots for a in actions if a.side is Side.BUY)
    assert bid_lots == 12  # 5 + 5 + 2 (the third level trimmed)
    # pending inserts count: a second cycle adds nothing
    assert [a for a in sync(mgr, BIDS, ASKS, MS, room=12) if a.side is Side.BUY] == []


def test_a_bid_never_crosses_our_own_asks_even_in_flight():
    mgr, _ = live_manager()
    # the model suddenly wants bids above our live asks: bids must wait for the asks
    crazy_bids = ladder((1015, 5), (1014, 5), (1013, 5))
    asks = ladder((1020, 5), (1021, 5), (1023, 5))
    actions = sync(mgr, crazy_bids, asks, 10 * MS)
    assert all(a.side is Side.SELL for a in actions if isinstance(a, Insert))
    assert {a.price_ticks for a in actions if isinstance(a, Amend)} == {1020, 1021, 1023}


def test_amend_of_a_vanished_order_closes_it():
    mgr, venue = live_manager()
    target = next(o for o in mgr.bids if o.price_ticks == 990)
    venue.orders[target.order_id].status = OrderStatus.FILLED  # the feed has not told us yet
    actions = sync(mgr, shift(BIDS, -5), ASKS, 10 * MS)
    round_trip(mgr, venue, actions, 11 * MS)
    assert target.state == OrderState.CLOSED and target not in mgr.bids


def test_throttled_cancel_returns_to_live_and_is_retried():
    mgr, _venue = live_manager()
    actions = sync(mgr, BIDS[:2], ASKS, 10 * MS)
    (cancel,) = actions
    mgr.on_rejected(cancel.action_id, 4, 11 * MS, [])
    assert sum(o.state == OrderState.LIVE for o in mgr.bids) == 3
    assert len(sync(mgr, BIDS[:2], ASKS, 12 * MS)) == 1


def test_feed_update_before_the_reply_does_not_end_the_in_flight_state():
    mgr, venue = live_manager()
    (amend,) = [a for a in sync(mgr, ladder((985, 5), *BIDS[1:]), ASKS, 10 * MS)]
    o = next(o for o in mgr.bids if o.state == OrderState.PENDING_AMEND)
    venue.submit([amend])
    reply = venue.answer_all(11 * MS)[0]
    assert isinstance(reply, OrderUpdate)
    mgr.on_update(replace(reply, reply_to=0), [])
    assert o.state == OrderState.PENDING_AMEND
    mgr.on_update(reply, [])
    assert o.state == OrderState.LIVE and o.price_ticks == 985


def test_late_and_unknown_updates():
    mgr, _venue = live_manager()
    o = mgr.bids[0]
    closed = OrderUpdate(
        5 * MS, o.instrument, o.order_id, o.client_order_id, o.side, OrderStatus.CANCELLED,
        o.price_ticks, o.amount_lots, 0, 0,
    )  # fmt: skip
    mgr.on_update(closed, [])
    assert o not in mgr.bids
    # a late "open" for the same order must not resurrect it
    mgr.on_update(replace(closed, status=OrderStatus.OPEN, remaining_lots=o.amount_lots), [])
    assert all(x.order_id != o.order_id for x in mgr.bids)
    # an unknown live order with our label (e.g. a previous run) is adopted, then cancelled
    stray = OrderUpdate(6 * MS, o.instrument, "zz", None, Side.BUY, OrderStatus.OPEN, 900, 3, 0, 3,
                        label="mm")  # fmt: skip
    decisions: list = []
    mgr.on_update(stray, decisions)
    assert decisions and decisions[0].what == "adopted"
    assert o.price_ticks == BIDS[0].price_ticks
    actions = sync(mgr, BIDS[1:], ASKS, 7 * MS)  # the closed order's level is not wanted
    assert [a.order_id for a in actions if isinstance(a, Cancel)] == ["zz"]
    # someone else's order is left alone
    manual = OrderUpdate(8 * MS, o.instrument, "yy", None, Side.BUY, OrderStatus.OPEN, 800, 3, 0, 3,
                         label="manual")  # fmt: skip
    mgr.on_update(manual, [])
    assert all(x.order_id != "yy" for x in mgr.bids)


def test_resync_keeps_listed_orders_and_closes_the_rest():
    mgr, venue = live_manager()
    sync(mgr, shift(BIDS, -5), ASKS, 10 * MS)  # amends in flight, then the link drops
    mgr.on_disconnected()
    assert sync(mgr, shift(BIDS, -9), ASKS, 11 * MS) == []  # paused
    listed = [venue._update(vo, 12 * MS, 0) for vo in venue.active() if vo.side is Side.SELL]
    mgr.on_resynced(tuple(listed), [])
    assert mgr.bids == [] and len(mgr.asks) == 3
    assert all(o.state == OrderState.LIVE and o.client_order_id is None for o in mgr.asks)
    actions = sync(mgr, BIDS, ASKS, 13 * MS)
    assert len(actions) == 3 and all(isinstance(a, Insert) and a.side is Side.BUY for a in actions)


def test_bulk_cancel_blocks_actions_until_answered():
    mgr, _ = live_manager()
    mgr.mark_bulk_cancel(999, 10 * MS)
    assert sync(mgr, shift(BIDS, -5), ASKS, 11 * MS) == []
    mgr.end_bulk_cancel(999)
    assert len(sync(mgr, shift(BIDS, -5), ASKS, 12 * MS)) == 3


def test_orders_awaiting_cancel_still_count_against_the_room():
    mgr = make_manager()
    venue = FakeVenue()
    round_trip(mgr, venue, sync(mgr, BIDS, ASKS, 0, room=15), 1)
    (cancel,) = sync(mgr, BIDS[:2], ASKS, 10 * MS, room=15)
    assert isinstance(cancel, Cancel)
    # the third level is wanted again before the cancel is answered: 15 lots may still fill
    again = sync(mgr, BIDS, ASKS, 11 * MS, room=15)
    assert [a for a in again if isinstance(a, Insert)] == []
    round_trip(mgr, venue, [cancel], 12 * MS)
    after = sync(mgr, BIDS, ASKS, 13 * MS, room=15)
    assert [(a.price_ticks, a.amount_lots) for a in after if isinstance(a, Insert)] == [(987, 5)]
