"""The order state machine, the market state and the quoter's risk shaping."""

from __future__ import annotations

import math

import pytest
from _core_testkit import MS, NAME, SPEC, ladder

from thalex_mm.core.config import QuoterConfig
from thalex_mm.core.events import BookTop, BookUpdate, OrderStatus, OrderUpdate, Ticker
from thalex_mm.core.market_state import MarketState
from thalex_mm.core.orders import Order, OrderState
from thalex_mm.core.quoter import Quoter
from thalex_mm.core.risk import RiskPermit
from thalex_mm.domain import Side
from thalex_mm.model.quote import LadderParams, QuoteParams


def order() -> Order:
    return Order(NAME, 7, Side.BUY, 100, 5, action_id=1, now_ns=0)


def update(status=OrderStatus.OPEN, price=100, amount=5, filled=0, reply_to=0) -> OrderUpdate:
    remaining = amount - filled if status.is_active else 0
    return OrderUpdate(0, NAME, "o7", 7, Side.BUY, status, price, amount, filled, remaining,
                       reply_to=reply_to)  # fmt: skip


def test_insert_is_pending_until_its_own_reply():
    o = order()
    assert o.state == OrderState.PENDING_INSERT and o.in_flight
    o.on_update(update())  # the feed saw it first: still unanswered
    assert o.state == OrderState.PENDING_INSERT and o.order_id == "o7"
    with pytest.raises(RuntimeError):
        o.send_amend(2, 101, 5, 1)  # the in-flight rule
    assert o.on_update(update(reply_to=1))
    assert o.state == OrderState.LIVE and not o.in_flight


def test_amend_cycle_and_worst_case_views():
    o = order()
    o.on_update(update(reply_to=1))
    o.send_amend(2, 103, 8, 1)
    assert o.state == OrderState.PENDING_AMEND
    assert o.worst_price() == 103 and o.worst_remaining() == 8  # either may be on the book
    o.on_update(update(reply_to=99))  # a reply to something else changes nothing
    assert o.state == OrderState.PENDING_AMEND
    o.on_update(update(price=103, amount=8, reply_to=2))
    assert (o.state, o.price_ticks, o.remaining_lots) == (OrderState.LIVE, 103, 8)


@pytest.mark.parametrize(("code", "state"), [(1, OrderState.CLOSED), (4, OrderState.LIVE)])
def test_rejected_amend(code, state):
    o = order()
    o.on_update(update(reply_to=1))
    o.send_amend(2, 103, 5, 1)
    o.on_rejected(code)
    assert o.state == state and o.price_ticks == 100


def test_fill_after_cancel_sent_then_cancel_reply():
    o = order()
    o.on_update(update(reply_to=1))
    o.send_cancel(2, 1)
    o.on_update(update(OrderStatus.PARTIALLY_FILLED, filled=2))  # a fill races the cancel
    assert o.state == OrderState.PENDING_CANCEL and o.filled_lots == 2
    o.on_update(update(OrderStatus.CANCELLED_PARTIALLY_FILLED, filled=2, reply_to=2))
    assert o.state == OrderState.CLOSED
    o.on_update(update(OrderStatus.OPEN))  # late: closed is final
    assert o.state == OrderState.CLOSED


def test_feed_close_wins_over_pending_and_filled_never_shrinks():
    o = order()
    o.on_update(update(reply_to=1))
    o.on_update(update(OrderStatus.PARTIALLY_FILLED, filled=3))
    o.on_update(update(OrderStatus.PARTIALLY_FILLED, filled=1))  # an older message
    assert o.filled_lots == 3
    o.send_amend(2, 99, 6, 1)
    o.on_update(update(OrderStatus.FILLED, filled=5))
    assert o.state == OrderState.CLOSED


def test_book_levels_and_best_prices():
    m = MarketState(SPEC)
    m.on_book(BookUpdate(MS, NAME, ((99, 2), (98, 3)), ((101, 1), (103, 4)), snapshot=True))
    assert (m.bid_ticks, m.bid_lots, m.ask_ticks, m.ask_lots) == (99, 2, 101, 1)
    m.on_book(BookUpdate(2 * MS, NAME, ((99, 0), (100, 5)), ((101, 0),)))
    assert (m.bid_ticks, m.bid_lots, m.ask_ticks, m.ask_lots) == (100, 5, 103, 4)
    m.on_book(BookUpdate(3 * MS, NAME, ((100, 0),), ()))
    assert (m.bid_ticks, m.bid_lots) == (98, 3)
    bids, asks = m.levels(1)
    assert bids == [(98.0, 0.003)] and asks == [(103.0, 0.004)]
    assert m.mid() == pytest.approx(100.5)


def test_stale_and_missing_data_guard():
    m = MarketState(SPEC)
    assert m.stale_reason(0, 1000 * MS) is not None
    m.on_top(BookTop(MS, NAME, 99, 1, 101, 1))
    assert "mark" in (m.stale_reason(MS, 1000 * MS) or "")
    m.on_ticker(Ticker(2 * MS, NAME, 100.0, 100.0, 0.0001))
    assert m.stale_reason(3 * MS, 1000 * MS) is None
    assert m.funding_rate == 0.0001
    assert "no market data" in (m.stale_reason(1003 * MS, 1000 * MS) or "")
    m.on_top(BookTop(1004 * MS, NAME, 101, 1, 101, 1))
    assert "crossed" in (m.stale_reason(1004 * MS, 1000 * MS) or "")


def make_quoter() -> tuple[Quoter, MarketState]:
    params = QuoteParams(
        gamma_usd=100, lot_size=0.001, ladder=LadderParams(levels=3, base_size_lots=4)
    )
    q = Quoter(SPEC, params, QuoterConfig(sigma_default=2.0, fit_intensity=False, k=0.5))
    m = MarketState(SPEC)
    m.on_ticker(Ticker(MS, NAME, 1000.0, 1000.0))
    m.on_top(BookTop(MS, NAME, 999, 5, 1001, 5))
    q.on_market(MS, m)
    return q, m


def permit(**kw) -> RiskPermit:
    p = RiskPermit()
    p.buy_room = p.sell_room = 1000
    for k, v in kw.items():
        setattr(p, k, v)
    return p


def test_quoter_respects_permissions_room_and_size_factor():
    q, m = make_quoter()
    bids, asks = q.desired(0, m, permit())
    assert len(bids) == 3 and len(asks) == 3 and bids[0][0] < asks[0][0]
    bids2, asks2 = q.desired(0, m, permit(allow_buy=False, sell_room=6))
    assert bids2 == () and sum(lv[1] for lv in asks2) == 6 and len(asks2) == 2
    bids3, _ = q.desired(0, m, permit(size_factor=0.5))
    assert all(lv[1] == 2 for lv in bids3)


def test_quoter_never_crosses_the_opposite_best():
    q, m = make_quoter()
    # a big short position: the model wants to buy above the market's best ask
    bids, _ = q.desired(-400, m, permit())
    assert bids and bids[0][0] < m.ask_ticks
    assert [lv[0] for lv in bids] == sorted((lv[0] for lv in bids), reverse=True)


def test_quoter_waits_for_volatility_without_a_default():
    params = QuoteParams(lot_size=0.001)
    q = Quoter(SPEC, params, QuoterConfig(fit_intensity=False))
    m = MarketState(SPEC)
    m.on_ticker(Ticker(MS, NAME, 1000.0, 1000.0))
    m.on_top(BookTop(MS, NAME, 999, 5, 1001, 5))
    q.on_market(MS, m)
    result = q.desired(0, m, permit())
    assert not isinstance(result, tuple) and "volatility" in result.reason
    assert math.isclose(q.last_mid, 1000.0)


def test_take_profit_level_sits_at_the_touch_in_front():
    q, m = make_quoter()
    _, asks = q.desired(10, m, permit(take_profit_side=Side.SELL, take_profit_lots=7))
    # one tick inside the 999/1001 spread, so it is first in the queue, yet post-only safe
    assert asks[0] == ladder((1000, 7))[0]
    assert asks[0][0] > m.bid_ticks and all(lv[0] > asks[0][0] for lv in asks[1:])
