"""Property tests: random ladders, replies in any order, rejections and fills.

Whatever happens, the order manager must never have two unanswered actions on one order,
never exceed its caps, never let one of our bids reach one of our asks on the venue, and never
let the bids' remaining size exceed the room it was given.
"""

from __future__ import annotations

from _core_testkit import MS, FakeVenue, ladder, make_manager
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thalex_mm.core.actions import Action, Amend, Cancel, Insert
from thalex_mm.core.events import ActionRejected
from thalex_mm.domain import Side

CAP_SIDE = 4
CAP_TOTAL = 6
ROOM = 12


@st.composite
def desired_ladders(draw):
    mid = draw(st.integers(900, 1100))
    half = draw(st.integers(1, 6))
    nb = draw(st.integers(0, 7))
    na = draw(st.integers(0, 7))
    gaps_b = draw(st.lists(st.integers(1, 3), min_size=nb, max_size=nb))
    gaps_a = draw(st.lists(st.integers(1, 3), min_size=na, max_size=na))
    bids, p = [], mid - half
    for g in gaps_b:
        bids.append((p, draw(st.integers(1, 5))))
        p -= g
    asks, p = [], mid + half
    for g in gaps_a:
        asks.append((p, draw(st.integers(1, 5))))
        p += g
    return ladder(*bids), ladder(*asks)


step = st.one_of(
    st.tuples(st.just("sync"), desired_ladders()),
    st.tuples(st.just("answer"), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("fill"), st.integers(0, 50), st.integers(1, 5), st.booleans()),
)


def _target(venue: FakeVenue, a: Action) -> object:
    if isinstance(a, Insert):
        return a.client_order_id
    assert isinstance(a, Amend | Cancel)
    if a.order_id:
        return venue.orders[a.order_id].cid if a.order_id in venue.orders else a.order_id
    return a.client_order_id


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=60), st.sampled_from([1, 2, 3]))
def test_order_manager_invariants(steps, threshold):
    mgr = make_manager(
        max_orders_per_side=CAP_SIDE, max_orders_total=CAP_TOTAL, amend_threshold_ticks=threshold
    )
    venue = FakeVenue()
    now = 0
    for op in steps:
        now += MS
        if op[0] == "sync":
            bids, asks = op[1]
            actions: list[Action] = []
            mgr.sync(
                bids, asks, now, buy_room=ROOM, sell_room=ROOM, reduce_only_side=None,
                actions=actions, decisions=[],
            )  # fmt: skip
            venue.submit(actions)
        elif op[0] == "answer" and venue.pending:
            index = op[1] % len(venue.pending)
            if op[2]:  # throttled: the venue refuses without doing anything
                aid, _ = venue.pending.pop(index)
                mgr.on_rejected(aid, 4, now, [])
            else:
                reply = venue.answer(index, now)
                if isinstance(reply, ActionRejected):
                    mgr.on_rejected(reply.action_id, reply.code, now, [])
                else:
                    mgr.on_update(reply, [])
        elif op[0] == "fill":
            active = venue.active()
            if active:
                vo = active[op[1] % len(active)]
                update = venue.fill(vo.oid, op[2], now)
                mgr.on_update(update, [])
                if op[3]:
                    mgr.on_update(update, [])  # delivered twice (RPC + feed)
        # 1. at most one unanswered action per order
        targets = [_target(venue, a) for _, a in venue.pending]
        assert len(targets) == len(set(targets)), targets
        # 2. caps (orders awaiting inserts and cancels included)
        assert len(mgr.bids) <= CAP_SIDE and len(mgr.asks) <= CAP_SIDE
        assert len(mgr.bids) + len(mgr.asks) <= CAP_TOTAL
        # 3. on the venue, our bids stay below our asks
        active = venue.active()
        bid_prices = [o.price for o in active if o.side is Side.BUY]
        ask_prices = [o.price for o in active if o.side is Side.SELL]
        if bid_prices and ask_prices:
            assert max(bid_prices) < min(ask_prices)
        # ... and so does the manager's worst case
        if mgr.bids and mgr.asks:
            assert max(o.worst_price() for o in mgr.bids) < min(o.worst_price() for o in mgr.asks)
        # 4. remaining size per side within the room, on the venue
        assert sum(o.amount - o.filled for o in active if o.side is Side.BUY) <= ROOM
        assert sum(o.amount - o.filled for o in active if o.side is Side.SELL) <= ROOM
