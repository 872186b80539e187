"""Stateful property test: random order flow from several accounts must keep the book sane.

Checked after every step: the book is not crossed at rest, level totals match the queues,
active orders satisfy filled + remaining == amount, positions sum to zero, every trade has one
maker and one taker side with equal price and amount, and fees charged equal fees recorded.
Checked on every aggressive insert/amend: makers are hit in strict price-time order.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side
from thalex_mm.exchange.engine import (
    ChangeReason,
    ExchangeInstrument,
    MatchingEngine,
    OrderType,
    OrderUpdate,
    QuoteEntry,
    QuoteSide,
    SessionRef,
    TimeInForce,
)

NAME = "T-PERP"
SPEC = InstrumentSpec(NAME, InstrumentKind.PERPETUAL, "TUSD", 1.0, 0.01, 0.01, "FTUSD")
SESSIONS = [
    SessionRef("A", 1, persistent=True),
    SessionRef("B", 2, persistent=False),
    SessionRef("C", 3, persistent=True),
    SessionRef("M", 4, persistent=False),  # the market maker: mass quotes
]

prices = st.integers(min_value=95, max_value=105)
lots = st.integers(min_value=1, max_value=30)
sides = st.sampled_from([Side.BUY, Side.SELL])
who = st.sampled_from(SESSIONS)


def maker_fill_ids(events: list[Any]) -> list[str]:
    return [
        e.order.order_id
        for e in events
        if isinstance(e, OrderUpdate) and e.order.change_reason is ChangeReason.FILL
    ]


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = MatchingEngine(
            [ExchangeInstrument(SPEC, maker_fee_rate=-0.0001, taker_fee_rate=0.0005)]
        )
        self.now = 0
        self.next_cid: dict[int, int] = defaultdict(int)
        self.pending_order: list[str] = []
        # the test's own model of time priority: order_id -> (step, position in events)
        self.prio: dict[str, tuple[int, int]] = {}
        self.shape: dict[str, tuple[float | None, float]] = {}

    def expected_fill_order(self, taker_side: Side, limit: int | None) -> list[str]:
        """Resting orders the taker may hit: best price first, then the model's priority."""
        book = self.engine.order_book(NAME)
        candidates = []
        for price, _ in book.levels(taker_side.opposite):
            if limit is not None and (price > limit if taker_side is Side.BUY else price < limit):
                break
            for o in book.queue(taker_side.opposite, price):
                key = -price if taker_side is Side.SELL else price
                candidates.append((key, self.prio[o.order_id], o.order_id))
        return [oid for _, _, oid in sorted(candidates)]

    def track(self, events: list[Any]) -> None:
        """Update the priority model from the order updates of one call."""
        for i, e in enumerate(events):
            if not isinstance(e, OrderUpdate):
                continue
            o = e.order
            before = self.shape.get(o.order_id)
            if o.change_reason is ChangeReason.INSERT or (
                o.change_reason is ChangeReason.AMEND
                and before is not None
                and (o.price != before[0] or o.amount > before[1])
            ):
                self.prio[o.order_id] = (self.now, i)
            self.shape[o.order_id] = (o.price, o.amount)

    def tick(self) -> int:
        self.now += 1
        return self.now

    def live_ids(self) -> list[str]:
        return [o.order_id for o in self.engine.order_book(NAME).orders()]

    def check_priority(self, exclude: str, events: Any) -> None:
        """Maker fills must be a prefix of the pre-trade priority list."""
        self.track(events)
        expected = [i for i in self.pending_order if i != exclude]
        got = maker_fill_ids(events)
        assert got == expected[: len(got)], "makers hit out of price-time order"

    @rule(
        s=who, side=sides, price=prices, n=lots, ioc=st.booleans(), post=st.booleans(),
        reduce=st.booleans(),
    )  # fmt: skip
    def insert_limit(
        self, s: SessionRef, side: Side, price: int, n: int, ioc: bool, post: bool, reduce: bool
    ) -> None:
        self.pending_order = self.expected_fill_order(side, price)
        self.next_cid[s.session_id] += 1
        out = self.engine.insert(
            self.tick(), s, instrument_name=NAME, direction=side, amount=n / 100, price=price,
            time_in_force=TimeInForce.IOC if ioc else TimeInForce.GTC,
            post_only=post and not ioc, client_order_id=self.next_cid[s.session_id],
            reduce_only=reduce,
        )  # fmt: skip
        if reduce and out.error is not None:
            assert out.error.code == 57  # no position to reduce on that side
            return
        assert out.error is None, out.error
        if post and not ioc:
            self.track(out.events)
            assert maker_fill_ids(out.events) == []
        else:
            self.check_priority("", out.events)

    @rule(s=who, side=sides, n=lots)
    def insert_market(self, s: SessionRef, side: Side, n: int) -> None:
        self.pending_order = self.expected_fill_order(side, None)
        out = self.engine.insert(
            self.tick(), s, instrument_name=NAME, direction=side, amount=n / 100,
            order_type=OrderType.MARKET,
        )  # fmt: skip
        if not self.pending_order:
            assert out.error is not None and out.error.code == 41
            return
        assert out.error is None
        self.check_priority("", out.events)

    @rule(data=st.data(), price=prices, n=st.integers(min_value=0, max_value=40))
    def amend(self, data: st.DataObject, price: int, n: int, only_reduce: bool = False) -> None:
        ids = self.live_ids()
        if only_reduce:
            ids = [i for i in ids if self.engine._live[i].reduce_only]
        if not ids:
            return
        order_id = data.draw(st.sampled_from(ids))
        snap = self.engine.order(order_id)
        assert snap is not None
        owner = next(s for s in SESSIONS if s.account == self.engine._live[order_id].account)
        self.pending_order = self.expected_fill_order(snap.direction, price)
        out = self.engine.amend(self.tick(), owner, order_id=order_id, price=price, amount=n / 100)
        assert out.error is None or out.error.code == 14
        if out.error is None:
            self.check_priority(order_id, out.events)
            result = out.result
            assert result is not None
            if n / 100 <= snap.filled_amount + 1e-12:
                assert result.remaining_amount == 0 and result.close_time_ns is not None

    @rule(data=st.data(), price=prices, n=st.integers(min_value=0, max_value=40))
    def amend_reduce_only(self, data: st.DataObject, price: int, n: int) -> None:
        """Reduce-only orders are rare in random flow; amend them on purpose."""
        self.amend(data, price, n, only_reduce=True)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        ids = self.live_ids()
        if not ids:
            return
        order_id = data.draw(st.sampled_from(ids))
        account = self.engine._live[order_id].account
        owner = next(s for s in SESSIONS if s.account == account)
        out = self.engine.cancel(self.tick(), owner, order_id=order_id)
        assert out.error is None and out.result is not None and out.result.remaining_amount == 0
        again = self.engine.cancel(self.tick(), owner, order_id=order_id)
        assert again.error is not None and again.error.code == 1

    @rule(trade_amount=st.integers(min_value=1, max_value=60))
    def set_protection(self, trade_amount: int) -> None:
        out = self.engine.set_mm_protection(
            self.tick(), SESSIONS[3], product="FTUSD", trade_amount=trade_amount / 100,
            quote_amount=0.6,
        )  # fmt: skip
        assert out.error is None

    @rule(
        bids=st.lists(st.tuples(prices, lots), max_size=3, unique_by=lambda t: t[0]),
        asks=st.lists(st.tuples(prices, lots), max_size=3, unique_by=lambda t: t[0]),
        post=st.booleans(),
    )
    def mass_quote(
        self, bids: list[tuple[int, int]], asks: list[tuple[int, int]], post: bool
    ) -> None:
        entry = QuoteEntry(
            NAME,
            QuoteSide(tuple((p, n / 100) for p, n in bids)),
            QuoteSide(tuple((p, n / 100) for p, n in asks)),
        )
        out = self.engine.mass_quote(self.tick(), SESSIONS[3], [entry], post_only=post)
        self.track(out.events)
        assert out.error is None and out.result is not None
        assert out.result.n_success + out.result.n_fail == 2

    @rule()
    def end_session(self) -> None:
        self.track(self.engine.end_session(self.tick(), 2))

    @invariant()
    def book_consistent(self) -> None:
        book = self.engine.order_book(NAME)
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask, "crossed book at rest"
        for side in (Side.BUY, Side.SELL):
            for price, total in book.levels(side):
                queue = book.queue(side, price)
                priorities = [self.prio[o.order_id] for o in queue]
                assert priorities == sorted(priorities), "queue not in time priority"
                assert queue and total == sum(o.amount - o.filled for o in queue)
                for o in queue:
                    assert o.is_live and o.resting and o.amount - o.filled > 0
                    assert o.filled + o.remaining == o.amount

    @invariant()
    def reduce_only_orders_never_exceed_position(self) -> None:
        for o in self.engine.order_book(NAME).orders():
            if o.reduce_only:
                pos = self.engine.position_lots(o.account, NAME)
                assert pos * int(o.side) < 0 and o.amount - o.filled <= abs(pos)

    @invariant()
    def open_amounts_match_working_orders(self) -> None:
        for account in self.engine.accounts():
            orders = self.engine.open_orders(account)
            buy = sum(o.remaining_amount for o in orders if o.direction is Side.BUY)
            sell = sum(o.remaining_amount for o in orders if o.direction is Side.SELL)
            got = self.engine.open_amounts(account, NAME)
            assert got == (pytest.approx(buy), pytest.approx(sell))

    @invariant()
    def conservation(self) -> None:
        total = sum(self.engine.position_lots(a, NAME) for a in self.engine.accounts())
        assert total == 0
        by_trade: dict[str, list[Any]] = defaultdict(list)
        fees_recorded = 0.0
        for account in self.engine.accounts():
            for rec in self.engine.trade_history(account):
                by_trade[rec.trade_id].append(rec)
                fees_recorded += rec.fee
        for recs in by_trade.values():
            assert sorted(r.maker_taker.value for r in recs) == ["maker", "taker"]
            assert recs[0].amount == recs[1].amount and recs[0].price == recs[1].price
            assert recs[0].direction == -recs[1].direction
        fees_charged = sum(
            self.engine.account_summary(a).session_fees for a in self.engine.accounts()
        )
        assert fees_charged == pytest.approx(fees_recorded, abs=1e-9)


EngineMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestEngineProperties = EngineMachine.TestCase
