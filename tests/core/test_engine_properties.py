"""Property test of the whole engine against a fake venue that answers in any order.

Random market moves, fills (some delivered twice), replies in random order, throttling
rejections and timers. After every step: no order has two unanswered actions, the caps hold,
our bids stay below our asks, the position equals the sum of the venue's fills, and the
position plus every order that could still fill on one side never passes the limit.
"""

from __future__ import annotations

from _core_testkit import MS, NAME, SPEC, FakeVenue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thalex_mm.core import events as ev
from thalex_mm.core.actions import Amend, Cancel, CancelAll, Insert
from thalex_mm.core.config import (
    EngineConfig,
    InstrumentConfig,
    OrderManagerConfig,
    QuoterConfig,
    RiskConfig,
)
from thalex_mm.core.engine import Engine
from thalex_mm.domain import Side
from thalex_mm.model.quote import LadderParams, QuoteParams

LIMIT = 20
CAP_SIDE, CAP_TOTAL = 3, 5


def make_engine(threshold: int = 1, min_interval_ms: float = 0, refresh_ms: float = 0) -> Engine:
    cfg = InstrumentConfig(
        SPEC,
        quote=QuoteParams(
            gamma_usd=100, lot_size=0.001, ladder=LadderParams(levels=4, base_size_lots=4)
        ),
        quoter=QuoterConfig(sigma_default=5.0, fit_intensity=False, A=1.0, k=0.05),
        orders=OrderManagerConfig(
            max_orders_per_side=CAP_SIDE,
            max_orders_total=CAP_TOTAL,
            amend_threshold_ticks=threshold,
            min_update_interval_ms=min_interval_ms,
            refresh_interval_ms=refresh_ms,
        ),
        risk=RiskConfig(max_position=LIMIT * SPEC.amount_step, price_band=0.0),
    )
    return Engine(EngineConfig((cfg,)))


step = st.one_of(
    st.tuples(st.just("market"), st.integers(-40, 40)),
    st.tuples(st.just("answer"), st.integers(0, 99), st.booleans()),
    st.tuples(st.just("answer"), st.integers(0, 99), st.just(False)),
    st.tuples(st.just("fill"), st.integers(0, 99), st.integers(1, 6), st.booleans()),
    st.tuples(st.just("timer"), st.integers(1, 500)),
)


def exposure(venue: FakeVenue, side: Side) -> int:
    """Lots that could still fill on ``side``: resting remaining + unanswered inserts and
    size increases."""
    total = sum(o.amount - o.filled for o in venue.active() if o.side is side)
    for _, a in venue.pending:
        if isinstance(a, Insert) and a.side is side:
            total += a.amount_lots
        elif isinstance(a, Amend):
            o = venue._find(a.client_order_id, a.order_id)
            if o is not None and o.side is side and o.status.is_active:
                total += max(0, (a.amount_lots - o.filled) - (o.amount - o.filled))
    return total


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(step, min_size=5, max_size=70),
    st.integers(1, 3),
    st.sampled_from([(0, 0), (3, 0), (0, 20), (2, 8)]),
)
def test_engine_invariants(steps, threshold, intervals):
    engine = make_engine(threshold, *intervals)
    venue = FakeVenue()
    now = MS
    mid = 100_000
    position_from_venue = 0

    def feed(event):
        out = engine.handle(event)
        venue.submit([a for a in out.actions if not isinstance(a, CancelAll)])

    feed(ev.Ticker(now, NAME, float(mid), float(mid)))
    feed(ev.BookTop(now, NAME, mid - 3, 10, mid + 3, 10))
    for op in steps:
        now += MS
        kind = op[0]
        if kind == "market":
            mid += op[1]
            feed(ev.Ticker(now, NAME, float(mid), float(mid)))
            feed(ev.BookTop(now, NAME, mid - 3, 10, mid + 3, 10))
        elif kind == "answer" and venue.pending:
            index = op[1] % len(venue.pending)
            if op[2]:
                aid, _ = venue.pending.pop(index)
                feed(ev.ActionRejected(now, aid, 4, "throttled"))
            else:
                feed(venue.answer(index, now))
        elif kind == "fill":
            active = venue.active()
            if active:
                o = active[op[1] % len(active)]
                update = venue.fill(o.oid, op[2], now)
                position_from_venue += int(o.side) * update.fills[0].amount_lots
                feed(update)
                if op[3]:
                    feed(update)  # the same fill again (feed + reply, or a replay)
        elif kind == "timer":
            now += op[1] * MS
            feed(ev.Timer(now))
        inst = engine.instruments[NAME]
        # one unanswered action per order at most
        targets = []
        for _, a in venue.pending:
            if isinstance(a, Insert):
                targets.append(a.client_order_id)
            elif isinstance(a, Amend | Cancel):
                o = venue._find(a.client_order_id, a.order_id)
                targets.append(o.cid if o is not None else (a.client_order_id, a.order_id))
        assert len(targets) == len(set(targets))
        # caps, counting unanswered inserts
        pending_inserts = [a for _, a in venue.pending if isinstance(a, Insert)]
        for side in (Side.BUY, Side.SELL):
            n = len([o for o in venue.active() if o.side is side])
            n += len([a for a in pending_inserts if a.side is side])
            assert n <= CAP_SIDE
        assert len(venue.active()) + len(pending_inserts) <= CAP_TOTAL
        # our own quotes never cross
        bids = [o.price for o in venue.active() if o.side is Side.BUY]
        asks = [o.price for o in venue.active() if o.side is Side.SELL]
        if bids and asks:
            assert max(bids) < min(asks)
        # fills counted once
        assert inst.position.lots == position_from_venue
        # the limit holds even if everything that could fill did
        pos = inst.position.lots
        assert pos + exposure(venue, Side.BUY) <= LIMIT
        assert -pos + exposure(venue, Side.SELL) <= LIMIT
