"""The shared wire Structs: both directions, optional fields left out, unknown fields ignored."""

from __future__ import annotations

import json

import msgspec
import pytest

from thalex_mm.venue.thalex import catalog, messages, requests
from thalex_mm.venue.thalex.rpc import encode

# Examples from protocol.md §2-3 (the Thalex docs), as a real server sends them.
ORDER = {
    "order_id": "001BF14D00000003",
    "client_order_id": 101,
    "label": "P",
    "instrument_name": "BTC-PERPETUAL",
    "direction": "buy",
    "order_type": "limit",
    "time_in_force": "good_till_cancelled",
    "price": 99950,
    "amount": 0.1,
    "filled_amount": 0.04,
    "remaining_amount": 0.06,
    "status": "partially_filled",
    "fills": [
        {
            "trade_id": "008000000000000017A0CACBF5A3BF38",
            "price": 99950,
            "amount": 0.04,
            "time": 1737464802.7,
            "maker_taker": "maker",
            "leg_index": 0,
        }
    ],
    "change_reason": "fill",
    "insert_reason": "client_request",
    "create_time": 1737464800.123,
    "persistent": False,
}
TICKER = {
    "best_bid_price": 99990,
    "best_bid_amount": 0.4,
    "best_ask_price": 100010,
    "best_ask_amount": 1,
    "last_price": 100000,
    "mark_price": 100003.2,
    "mark_timestamp": 1737464800.5,
    "delta": 1,
    "index": 99980.1,
    "funding_rate": 0.00002,
    "some_future_field": {"x": 1},
}


def test_order_status_round_trips_and_ignores_unknown_fields() -> None:
    raw = json.dumps(ORDER | {"new_field_from_a_later_api": [1, 2]})
    order = msgspec.json.decode(raw, type=messages.OrderStatus)
    assert order.fills[0].maker_taker == "maker" and order.client_order_id == 101
    assert json.loads(encode(order)) == ORDER


def test_optional_fields_are_left_out_but_zero_values_are_kept() -> None:
    ticker = messages.Ticker(mark_price=1.0, mark_timestamp=2.0, delta=0.0, index=0.0)
    assert json.loads(encode(ticker)) == {
        "mark_price": 1.0,
        "mark_timestamp": 2.0,
        "delta": 0.0,
        "index": 0.0,
    }
    fill = messages.OrderFill(trade_id="t", price=1.0, amount=1.0, maker_taker="taker", leg_index=0)
    assert json.loads(encode(fill))["leg_index"] == 0


def test_catalog_decodes_channel_payloads_and_results_by_name() -> None:
    ticker = catalog.decode_notification("ticker.BTC-PERPETUAL.raw", json.dumps(TICKER).encode())
    assert isinstance(ticker, messages.Ticker) and ticker.best_ask_price == 100010
    book = catalog.decode_notification(
        "book.BTC-PERPETUAL.none.all.raw",
        b'{"bid_changes":[[99990,0,0]],"trades":[[100000,0.05,"buy",1.5,false]],"time":2.0}',
    )
    assert book.bid_changes == [(99990, 0, 0)] and book.trades[0][2] == "buy"
    orders = catalog.decode_notification("session.orders", json.dumps([ORDER]).encode())
    assert orders[0].status == "partially_filled"
    lwt = catalog.decode_notification("lwt.BTC-PERPETUAL.1000ms", b'{"b":[1,2,2],"m":3}')
    assert lwt.b == (1, 2, 2) and lwt.a is None
    result = catalog.decode_result("private/mass_quote", b'{"n_success":4,"n_fail":0,"errors":[]}')
    assert result == messages.MassQuoteResult(n_success=4, n_fail=0, errors=[])
    assert catalog.decode_result("private/cancel_session", b"null") is None
    with pytest.raises(KeyError):
        catalog.decode_notification("rfqs", b"[]")


def test_mass_quote_params_accept_both_side_forms() -> None:
    params = msgspec.json.decode(
        b'{"quotes":[{"i":"X","b":{"p":1,"a":2},"a":[[3,4],[5,6]]},{"i":"Y"}],"label":"mq"}',
        type=requests.MassQuoteParams,
    )
    first, second = params.quotes
    assert first.b == requests.SingleLevelQuote(p=1, a=2)
    assert first.a == [(3, 4), (5, 6)]
    assert second.b is None and second.a is None
    assert json.loads(encode(params)) == {
        "quotes": [
            {"i": "X", "b": {"p": 1.0, "a": 2.0}, "a": [[3.0, 4.0], [5.0, 6.0]]},
            {"i": "Y"},
        ],
        "label": "mq",
    }


@pytest.mark.parametrize(
    "bad",
    [
        b'{"amount": 1, "direction": "up"}',
        b'{"amount": 1, "client_order_id": -1}',
        b'{"amount": 1, "client_order_id": 1.5}',
        b'{"amount": 1, "label": "has space"}',
        b'{"amount": 1e300}',
        b'{"price": 1}',
    ],
)
def test_insert_params_reject_what_thalex_rejects(bad: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(bad, type=requests.InsertParams)
