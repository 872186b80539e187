"""Wire <-> core conversion: actions become the right params, messages the right events."""

import logging
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.domain import Level, Side
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.protocol import LocalError, RpcError
from thalex_mm.venue.thalex.translate import Translator, spec_from_instrument

BTC = wire.Instrument(
    instrument_name="BTC-PERPETUAL",
    type="perpetual",
    product="FBTCUSD",
    tick_size=1.0,
    volume_tick_size=0.001,
    min_order_amount=0.001,
    underlying="BTCUSD",
)
ETH_FUT = wire.Instrument(
    instrument_name="ETH-27MAR26",
    type="future",
    product="FETHUSD",
    tick_size=0.1,
    volume_tick_size=0.01,
    min_order_amount=0.01,
    underlying="ETHUSD",
    expiration_timestamp=1774598400,
)
OPTION = wire.Instrument(
    instrument_name="BTC-27MAR26-100000-C", type="option", tick_size=5.0, volume_tick_size=0.1
)


def make() -> tuple[Translator, list[ev.Event]]:
    out: list[ev.Event] = []
    tr = Translator(out.append)
    tr.set_instruments([BTC, ETH_FUT, OPTION])
    return tr, out


def encode(obj: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(obj))
    return decoded


def test_only_perpetuals_and_futures_get_specs() -> None:
    tr, _ = make()
    assert set(tr.specs) == {"BTC-PERPETUAL", "ETH-27MAR26"}
    assert tr.specs["ETH-27MAR26"].expiry_ts == 1774598400.0
    assert spec_from_instrument(OPTION) is None


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10**7), st.integers(1, 10**6), st.sampled_from(list(Side)))
def test_insert_converts_ticks_and_lots_back_exactly(ticks: int, lots: int, side: Side) -> None:
    tr, _ = make()
    insert = act.Insert(7, "ETH-27MAR26", 42, side, ticks, lots, label="q1")
    ((method, params, ctx),) = tr.requests_for(insert, 0)
    body = encode(params)
    spec = tr.specs["ETH-27MAR26"]
    assert method == "private/insert" and ctx is insert
    assert spec.price_to_ticks_exact(body["price"]) == ticks
    assert spec.amount_to_lots_exact(body["amount"]) == lots
    assert body["direction"] == side.wire and body["post_only"] is True
    assert body["client_order_id"] == 42 and body["label"] == "q1"
    assert "time_in_force" not in body


def test_ioc_hedge_is_never_post_only() -> None:
    tr, _ = make()
    hedge = act.Insert(1, "BTC-PERPETUAL", 3, Side.SELL, 100, 5, immediate_or_cancel=True)
    body = encode(tr.requests_for(hedge, 0)[0][1])
    assert body["time_in_force"] == "immediate_or_cancel" and "post_only" not in body


def test_amend_and_cancel_address_by_order_id_else_client_order_id() -> None:
    tr, _ = make()
    by_oid = encode(tr.requests_for(act.Amend(1, "BTC-PERPETUAL", 9, "OID", 101, 20), 0)[0][1])
    assert by_oid == {"price": 101.0, "amount": 0.02, "order_id": "OID"}
    by_coid = encode(tr.requests_for(act.Cancel(2, "BTC-PERPETUAL", 9, ""), 0)[0][1])
    assert by_coid == {"client_order_id": 9}


def test_mass_quote_sends_both_sides_and_empty_side_removes() -> None:
    tr, _ = make()
    mq = act.MassQuote(3, "BTC-PERPETUAL", (Level(99, 10), Level(98, 20)), (), label="mm")
    ((method, params, _),) = tr.requests_for(mq, 0)
    assert method == "private/mass_quote"
    assert encode(params) == {
        "quotes": [{"i": "BTC-PERPETUAL", "b": [[99.0, 0.01], [98.0, 0.02]], "a": []}],
        "label": "mm",
        "post_only": True,
    }


def test_cancel_all_with_mass_quotes_sends_two_requests() -> None:
    tr, _ = make()
    reqs = tr.requests_for(act.CancelAll(4, "kill", include_mass_quotes=True), 0)
    assert [r[0] for r in reqs] == ["private/cancel_all", "private/cancel_mass_quote"]


def test_action_on_unknown_instrument_is_rejected_locally() -> None:
    tr, out = make()
    assert tr.requests_for(act.Cancel(5, "DOGE-PERPETUAL", 1, ""), 9) == []
    (rej,) = out
    assert isinstance(rej, ev.ActionRejected) and rej.action_id == 5
    assert rej.code == LocalError.UNKNOWN_INSTRUMENT and rej.now_ns == 9


ORDER = {
    "order_id": "O1",
    "client_order_id": 42,
    "instrument_name": "BTC-PERPETUAL",
    "direction": "sell",
    "order_type": "limit",
    "time_in_force": "good_till_cancelled",
    "price": 100010,
    "amount": 0.1,
    "filled_amount": 0.04,
    "remaining_amount": 0.06,
    "status": "partially_filled",
    "fills": [
        {"trade_id": "T1", "price": 100010, "amount": 0.04, "maker_taker": "maker", "leg_index": 0}
    ],
    "change_reason": "fill",
    "insert_reason": "client_request",
    "create_time": 1.0,
    "persistent": False,
}


def test_reply_to_insert_becomes_order_update_with_reply_to() -> None:
    tr, out = make()
    insert = act.Insert(11, "BTC-PERPETUAL", 42, Side.SELL, 100010, 100)
    result = msgspec.json.decode(msgspec.json.encode(ORDER), type=wire.OrderStatus)
    tr.on_reply(insert, result, None, 77)
    (upd,) = out
    assert isinstance(upd, ev.OrderUpdate)
    assert (upd.reply_to, upd.now_ns, upd.side, upd.status) == (
        11,
        77,
        Side.SELL,
        ev.OrderStatus.PARTIALLY_FILLED,
    )
    assert (upd.price_ticks, upd.amount_lots, upd.filled_lots, upd.remaining_lots) == (
        100010,
        100,
        40,
        60,
    )
    assert upd.fills == (ev.Fill("T1", Side.SELL, 100010, 40, True),)


def test_error_reply_becomes_action_rejected() -> None:
    tr, out = make()
    tr.on_reply(act.Cancel(12, "BTC-PERPETUAL", 1, ""), None, RpcError(1, "order not found"), 5)
    assert out == [ev.ActionRejected(5, 12, 1, "order not found")]


def test_mass_quote_and_ack_replies() -> None:
    tr, out = make()
    mq = act.MassQuote(13, "BTC-PERPETUAL", (), ())
    res = wire.MassQuoteResult(
        n_success=1,
        n_fail=1,
        errors=[wire.MassQuoteError(code=44, message="too big", side="ask", price=101.0)],
    )
    tr.on_reply(mq, res, None, 1)
    tr.on_reply(act.SetMMProtection(14, "FBTCUSD", 1.0, 2.0), None, None, 2)
    assert out[0] == ev.MassQuoteResult(
        1, 13, 1, 1, (ev.MassQuoteError(44, "too big", Side.SELL, 101),)
    )
    assert out[1] == ev.ActionAcknowledged(2, 14)


def test_ticker_rounds_bid_down_and_ask_up_and_feed_orders_have_no_reply_to() -> None:
    tr, out = make()
    _, on_ticker = tr.handler_for("ticker.ETH-27MAR26.raw")  # type: ignore[misc]
    ticker = wire.Ticker(
        mark_price=3000.05,
        mark_timestamp=1.0,
        delta=1.0,
        index=2999.0,
        best_bid_price=2999.95,
        best_bid_amount=1.234,
        best_ask_price=3000.15,
        best_ask_amount=0.5,
    )
    on_ticker(ticker, False, 3)
    assert out[-1] == ev.Ticker(3, "ETH-27MAR26", 3000.05, 2999.0, 0.0, 29999, 123, 30002, 50)
    o_type, on_orders = tr.handler_for("session.orders")  # type: ignore[misc]
    orders = msgspec.json.decode(msgspec.json.encode([ORDER]), type=o_type)
    on_orders(orders, False, 4)
    assert isinstance(out[-1], ev.OrderUpdate) and out[-1].reply_to == 0
    assert tr.handler_for("price_index.BTCUSD") is None


def test_book_handler_emits_levels_and_trades() -> None:
    tr, out = make()
    _, on_book = tr.handler_for("book.BTC-PERPETUAL.none.all.raw")  # type: ignore[misc]
    upd = wire.BookUpdate(
        bid_changes=[(99990.0, 0.4, 0.4)],
        ask_changes=[(100010.0, 0.0, 0.0)],
        trades=[(100000.0, 0.05, "buy", 1.0, False)],
    )
    on_book(upd, False, 8)
    assert out == [
        ev.BookUpdate(8, "BTC-PERPETUAL", ((99990, 400),), ((100010, 0),), False),
        ev.PublicTrade(8, "BTC-PERPETUAL", 100000, 50, Side.BUY, 1_000_000_000),
    ]


def test_resynced_keeps_known_instruments_only() -> None:
    tr, _ = make()
    orders = msgspec.json.decode(
        msgspec.json.encode([ORDER, {**ORDER, "instrument_name": "XRP-PERPETUAL"}]),
        type=list[wire.OrderStatus],
    )
    port = [
        wire.PortfolioEntry(instrument_name="BTC-PERPETUAL", position=-0.25, average_price=100.0),
        wire.PortfolioEntry(instrument_name="XRP-PERPETUAL", position=3.0),
    ]
    res = tr.resynced(9, orders, port)
    assert [o.order_id for o in res.open_orders] == ["O1"]
    assert res.positions == (ev.PortfolioEntry("BTC-PERPETUAL", -250, 100.0, 0.0, 0.0, 0.0),)


def test_one_feed_message_with_several_orders_is_emitted_as_one_batch() -> None:
    tr, out = make()
    batches: list[list[ev.Event]] = []
    o_type, on_orders = tr.handler_for("session.orders")  # type: ignore[misc]
    two = msgspec.json.decode(
        msgspec.json.encode([ORDER, {**ORDER, "order_id": "X2", "client_order_id": 2}]),
        type=o_type,
    )
    one = msgspec.json.decode(msgspec.json.encode([ORDER]), type=o_type)
    on_orders(two, False, 4)  # no batch sink: one event at a time
    assert [type(e) for e in out] == [ev.OrderUpdate, ev.OrderUpdate]
    tr.emit_batch = batches.append
    out.clear()
    on_orders(two, False, 5)
    on_orders(one, False, 6)  # a single update needs no batch
    assert len(batches) == 1 and [u.order_id for u in batches[0]] == [ORDER["order_id"], "X2"]  # type: ignore[attr-defined]
    assert len(out) == 1 and out[0].now_ns == 6


def test_an_unknown_order_status_is_one_log_line_and_the_rest_is_handled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tr, out = make()
    o_type, on_orders = tr.handler_for("session.orders")  # type: ignore[misc]
    odd = {**ORDER, "status": "expired"}
    message = msgspec.json.decode(
        msgspec.json.encode([odd, {**ORDER, "order_id": "X2", "client_order_id": 2}]),
        type=o_type,
    )
    with caplog.at_level(logging.DEBUG):
        on_orders(message, False, 4)
        on_orders(message, False, 5)  # the same value again: counted, not logged
    assert [u.order_id for u in out] == ["X2", "X2"]  # type: ignore[attr-defined]
    assert tr.dropped_unknown_status == 2
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "'expired'" in record.getMessage() and "\n" not in record.getMessage()
    # a reply with it: the outcome is unknown, as for a reply that did not decode
    out.clear()
    result = msgspec.json.decode(msgspec.json.encode(odd), type=wire.OrderStatus)
    tr.on_reply(act.Insert(11, "BTC-PERPETUAL", 42, Side.SELL, 100010, 100), result, None, 6)
    assert out == [ev.ActionRejected(6, 11, LocalError.BAD_REPLY, "order status 'expired'")]
