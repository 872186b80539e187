"""The simulated venue: queue position, fills at our price, post-only, amend priority."""

from __future__ import annotations

import pytest

from thalex_mm.backtest.venue import QueueModel, SimulatedVenue
from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side
from thalex_mm.errors import UserError

SPEC = InstrumentSpec("BTCUSDT", InstrumentKind.PERPETUAL, "BTCUSDT", 0.1, 0.001, 0.001)


def _venue(queue: str = "risk-averse", partial: bool = True) -> SimulatedVenue:
    v = SimulatedVenue(SPEC, QueueModel.parse(queue), -0.00005, 0.0004, partial_fills=partial)
    for bid, price, qty in ((True, 600_000, 0.5), (True, 599_990, 2.0), (False, 600_010, 0.3),
                            (False, 600_020, 1.0)):  # fmt: skip
        v.set_level(bid, price, qty)
    return v


def _bid(v: SimulatedVenue, price: int = 600_000, lots: int = 10, aid: int = 1) -> str:
    (reply,) = v.apply(act.Insert(aid, "BTCUSDT", aid, Side.BUY, price, lots), 0)
    assert isinstance(reply, ev.OrderUpdate) and reply.reply_to == aid
    return reply.order_id


def _filled(events: list[ev.Event]) -> float:
    return sum(
        f.amount_lots * SPEC.amount_step
        for e in events
        if isinstance(e, ev.OrderUpdate)
        for f in e.fills
    )


def test_risk_averse_fills_only_after_trades_eat_the_queue_ahead() -> None:
    v = _venue()
    oid = _bid(v)  # 0.5 ahead of our 0.01
    assert v.orders[oid].ahead == pytest.approx(0.5)
    assert _filled(v.on_trade(Side.SELL, 600_000, 0.3, 1)) == 0.0
    assert v.orders[oid].ahead == pytest.approx(0.2)
    events = v.on_trade(Side.SELL, 600_000, 0.205, 2)  # 0.005 reaches us: a partial fill
    assert _filled(events) == pytest.approx(0.005)
    assert v.position == pytest.approx(0.005)
    assert v.fees == pytest.approx(-0.00005 * 60_000.0 * 0.005)  # a rebate


def test_no_partial_fills_fills_the_whole_order_when_its_turn_comes() -> None:
    v = _venue(partial=False)
    _bid(v)
    assert _filled(v.on_trade(Side.SELL, 600_000, 0.501, 1)) == pytest.approx(0.01)


def test_a_trade_through_our_price_or_the_book_moving_through_fills_at_our_price() -> None:
    v = _venue()
    _bid(v)
    events = v.on_trade(Side.SELL, 599_990, 0.001, 1)  # through: the whole order, as maker
    assert _filled(events) == pytest.approx(0.01)
    assert v.fills[-1].price == pytest.approx(60_000.0)
    v2 = _venue()
    _bid(v2)
    v2.set_level(False, 600_000, 0.2)  # the ask side came down to our bid
    assert _filled(v2.on_book_through(1)) == pytest.approx(0.01)


def test_a_shrinking_level_caps_the_queue_risk_averse_or_splits_it_by_the_power_model() -> None:
    v = _venue()
    oid = _bid(v)
    v.level_changed(Side.BUY, 600_000, 0.5, 0.4)  # cancellations: assumed behind us
    assert v.orders[oid].ahead == pytest.approx(0.4)
    v.level_changed(Side.BUY, 600_000, 0.4, 0.1)  # now the level is smaller than our queue
    assert v.orders[oid].ahead == pytest.approx(0.1)
    p = _venue("power:3")
    pid = _bid(p)
    p.orders[pid].ahead = 0.3  # 0.3 ahead, 0.2 behind of a 0.5 level
    p.level_changed(Side.BUY, 600_000, 0.5, 0.4)
    share = 0.3**3 / (0.3**3 + 0.2**3)
    assert p.orders[pid].ahead == pytest.approx(0.3 - 0.1 * share)


def test_post_only_that_would_cross_is_cancelled_on_arrival() -> None:
    v = _venue()
    (reply,) = v.apply(act.Insert(7, "BTCUSDT", 7, Side.BUY, 600_010, 10), 0)
    assert isinstance(reply, ev.OrderUpdate)
    assert reply.status is ev.OrderStatus.CANCELLED and reply.delete_reason == "immediate_cancel"
    assert not v.orders


def test_an_amend_keeps_its_place_only_at_the_same_price_and_no_larger() -> None:
    v = _venue()
    oid = _bid(v, lots=20)
    v.orders[oid].ahead = 0.1
    v.apply(act.Amend(2, "BTCUSDT", 1, oid, 600_000, 10), 1)  # smaller, same price
    assert v.orders[oid].ahead == pytest.approx(0.1)
    v.apply(act.Amend(3, "BTCUSDT", 1, oid, 599_990, 10), 2)  # new price: back of its queue
    assert v.orders[oid].ahead == pytest.approx(2.0)


@pytest.mark.parametrize("text", ["fifo", "power:0", "power:x", "power:"])
def test_an_unknown_queue_model_is_one_line(text: str) -> None:
    with pytest.raises(UserError, match="--queue"):
        QueueModel.parse(text)


def test_the_best_levels_follow_the_book_as_it_changes() -> None:
    v = _venue()
    assert (v.best_bid(), v.best_ask()) == (600_000, 600_010)
    v.set_level(True, 600_000, 0.0)
    assert v.best_bid() == 599_990  # the best emptied: the next one
    v.set_level(False, 600_005, 0.1)
    assert v.best_ask() == 600_005
    assert v.mid() == pytest.approx(0.5 * (599_990 + 600_005) * 0.1)


def test_thalex_message_rates_throttle_with_error_4() -> None:
    v = _venue().with_thalex_limits(0)
    replies = [
        v.apply(act.Insert(i, "BTCUSDT", i, Side.BUY, 590_000 - i, 1), 1_000)[0]
        for i in range(1, 61)
    ]
    rejected = [r for r in replies if isinstance(r, ev.ActionRejected)]
    assert len(rejected) == 10 and all(r.code == 4 for r in rejected)  # 50 a second
    assert v.throttled == 10
    later = v.apply(act.Insert(99, "BTCUSDT", 99, Side.BUY, 580_000, 1), 1_000 + 100_000_000)
    assert isinstance(later[0], ev.OrderUpdate)  # 0.1 s later five tokens are back
