"""Order feeds, fills, cancel-on-disconnect, heartbeats and mass quotes through sessions."""

from __future__ import annotations

from _protocol_kit import PERP, Harness, find_reply, notes

from thalex_mm.venue.thalex.codes import ErrorCode

ORDER_CHANNELS = ["session.orders", "account.orders", "account.persistent_orders"]


def order(direction: str, price: float, amount: float = 0.01, **extra: object) -> dict[str, object]:
    return {
        "direction": direction,
        "instrument_name": PERP,
        "amount": amount,
        "price": price,
        **extra,
    }


def test_order_updates_go_to_the_right_sessions() -> None:
    h = Harness()
    mine, sibling, stranger = h.open(), h.open(), h.open()
    h.login(mine, cod=True)
    h.login(sibling, cod=False)
    h.login(stranger, "K000000002")
    for session in (mine, sibling, stranger):
        out = h.send(session, "private/subscribe", {"channels": ORDER_CHANNELS}, id=1)
        assert [n for n in notes(out, "session.orders")] == [[]]  # empty snapshot
    out = h.send(mine, "private/insert", order("buy", 70_000, client_order_id=7), id=2)
    (session_note,) = notes(out, "session.orders")
    assert session_note[0]["client_order_id"] == 7 and session_note[0]["persistent"] is False
    assert notes(out, "account.orders") == [session_note]
    assert notes(out, "account.persistent_orders") == []  # non-persistent order
    # feeds precede the reply (protocol.md §4.8)
    assert out.index(find_reply(out, 2)) == len(out) - 1
    sibling_out = h.drain(sibling)
    assert notes(sibling_out, "account.orders") == [session_note]
    assert notes(sibling_out, "session.orders") == []
    assert h.drain(stranger) == []
    # a persistent order shows on account.persistent_orders
    h.send(sibling, "private/insert", order("buy", 69_000), id=3)
    assert len(notes(h.drain(mine), "account.persistent_orders")) == 1


def test_fills_reach_both_sides_feeds_portfolio_and_trade_history() -> None:
    h = Harness()
    maker, taker = h.open(), h.open()
    h.login(maker)
    h.login(taker, "K000000002")
    channels = ["session.orders", "account.portfolio", "account.trade_history"]
    for session in (maker, taker):
        out = h.send(session, "private/subscribe", {"channels": channels}, id=1)
        assert notes(out, "account.portfolio") == [[]]
    h.send(maker, "private/insert", order("buy", 70_000, 0.02, client_order_id=1), id=2)
    out = h.send(
        taker, "private/sell", {"instrument_name": PERP, "amount": 0.015, "price": 69_000}, id=3
    )
    reply = find_reply(out, 3)["result"]
    assert reply["status"] == "filled" and reply["fills"][0]["maker_taker"] == "taker"
    assert notes(out, "account.portfolio")[0][0]["position"] == -0.015
    (trade,) = notes(out, "account.trade_history")[0]
    assert trade["direction"] == "sell" and trade["price"] == 70_000
    maker_out = h.drain(maker)
    (update,) = notes(maker_out, "session.orders")[0]
    assert update["change_reason"] == "fill" and update["status"] == "partially_filled"
    assert update["fills"] == [
        {
            "trade_id": trade["trade_id"],
            "price": 70_000,
            "amount": 0.015,
            "maker_taker": "maker",
            "leg_index": 0,
            "time": update["fills"][0]["time"],
        }
    ]
    assert update["filled_amount"] + update["remaining_amount"] == update["amount"]
    assert notes(maker_out, "account.portfolio")[0][0]["position"] == 0.015
    history = h.call(maker, "private/trade_history", id=4)
    assert [t["trade_id"] for t in history["trades"]] == [trade["trade_id"]]


def test_amend_and_cancel_by_client_order_id_and_order_not_found() -> None:
    h = Harness()
    session = h.open()
    h.login(session)
    placed = h.call(session, "private/insert", order("buy", 70_000, client_order_id=5), id=1)
    amended = h.call(
        session, "private/amend", {"client_order_id": 5, "price": 70_010, "amount": 0.02}, id=2
    )
    assert amended["order_id"] == placed["order_id"] and amended["price"] == 70_010
    assert amended["change_reason"] == "amend"
    cancelled = h.call(session, "private/cancel", {"order_id": placed["order_id"]}, id=3)
    assert cancelled["status"] == "cancelled" and cancelled["delete_reason"] == "client_cancel"
    again = h.call(session, "private/cancel", {"client_order_id": 5}, id=4)
    assert again["error"]["code"] == ErrorCode.ORDER_NOT_FOUND
    both = h.call(session, "private/cancel", {"client_order_id": 5, "order_id": "x"}, id=5)
    assert both["error"]["code"] == ErrorCode.INVALID_REQUEST
    unknown = h.call(session, "private/cancel", {"order_id": "f" * 64}, id=6)
    assert unknown["error"]["code"] == ErrorCode.ORDER_NOT_FOUND
    assert len(unknown["error"]["message"]) <= 300


def test_engine_validation_errors_come_back_as_error_replies() -> None:
    h = Harness()
    session = h.open()
    h.login(session)
    off_tick = h.call(session, "private/insert", order("buy", 70_000.5), id=1)
    assert off_tick["error"]["code"] == ErrorCode.PRICE_NOT_ALIGNED
    off_lot = h.call(session, "private/insert", order("buy", 70_000, 0.0105), id=2)
    assert off_lot["error"]["code"] == ErrorCode.INVALID_AMOUNT
    unknown = h.call(session, "private/insert", order("buy", 1) | {"instrument_name": "X"}, id=3)
    assert unknown["error"]["code"] == ErrorCode.UNKNOWN_INSTRUMENT
    h.call(session, "private/insert", order("buy", 70_000, client_order_id=9), id=4)
    duplicate = h.call(session, "private/insert", order("buy", 69_000, client_order_id=9), id=5)
    assert duplicate["error"]["code"] == ErrorCode.DUPLICATE_ORDER_ID
    combo = h.call(session, "private/insert", {"direction": "buy", "amount": 1, "legs": []}, id=6)
    assert combo["error"]["code"] == ErrorCode.INVALID_REQUEST
    assert len(h.engine.open_orders("A000000001")) == 1


def test_disconnect_cancels_only_the_sessions_non_persistent_orders() -> None:
    h = Harness()
    quoter, watcher = h.open(), h.open()
    h.login(quoter, cod=True)
    h.login(watcher, cod=False)
    h.send(watcher, "private/subscribe", {"channels": ["account.orders"]}, id=1)
    for i in range(2):
        h.call(quoter, "private/insert", order("buy", 70_000 - i), id=10 + i)
    kept = h.call(watcher, "private/insert", order("buy", 60_000), id=20)
    h.drain(watcher)
    h.hub.close_session(quoter, h.wall_ns)
    assert [o.order_id for o in h.engine.open_orders("A000000001")] == [kept["order_id"]]
    (deleted,) = notes(h.drain(watcher), "account.orders")
    assert [o["delete_reason"] for o in deleted] == ["session_end", "session_end"]
    assert all(o["status"] == "cancelled" and o["remaining_amount"] == 0 for o in deleted)


def test_heartbeat_timeout_ends_a_silent_cancel_on_disconnect_session() -> None:
    h = Harness()
    quiet, chatty = h.open(), h.open()
    h.login(quiet)  # timeout_secs 5
    h.login(chatty)
    h.call(quiet, "private/insert", order("buy", 70_000), id=1)
    assert h.advance(3000) == []
    chatty.touch(h.wall_ns)  # e.g. a WebSocket ping
    assert h.advance(2500) == [quiet]  # 5.5 s of silence
    assert quiet.closed and not chatty.closed
    assert h.engine.open_orders("A000000001") == []
    assert h.advance(2000) == []  # chatty was last heard 4.5 s ago
    assert h.advance(1000) == [chatty]


def test_cancel_session_needs_cancel_on_disconnect() -> None:
    h = Harness()
    persistent, quoter = h.open(), h.open()
    h.login(persistent, cod=False)
    h.login(quoter, cod=True)
    h.call(quoter, "private/insert", order("buy", 70_000), id=1)
    refused = h.call(persistent, "private/cancel_session", id=2)
    assert refused["error"]["code"] == ErrorCode.PERSISTENT_SESSION
    assert h.call(quoter, "private/cancel_session", id=3) is None
    assert h.engine.open_orders("A000000001") == []


def test_mass_quote_both_side_forms_and_protection_feed() -> None:
    h = Harness()
    quoter = h.open()
    h.login(quoter)
    h.send(
        quoter, "private/subscribe", {"channels": ["session.orders", "session.mm_protection"]}, id=1
    )
    no_group = h.call(
        quoter, "private/mass_quote", {"quotes": [{"i": PERP, "b": {"p": 70_000, "a": 0.01}}]}, id=2
    )
    assert no_group["n_fail"] == 1 and no_group["errors"][0]["code"] == ErrorCode.PROT_NOT_SET
    params = {"product": "FBTCUSD", "trade_amount": 0.05, "quote_amount": 0.1}
    out = h.send(quoter, "private/set_mm_protection", params, id=3)
    assert find_reply(out, 3)["result"] is None
    assert notes(out, "session.mm_protection")[0][0]["reason"] == "refill"
    quotes = {
        "quotes": [
            {"i": PERP, "b": {"p": 70_000, "a": 0.01}, "a": [[70_100, 0.02], [70_200, 0.03]]},
        ],
        "label": "mq",
    }
    out = h.send(quoter, "private/mass_quote", quotes, id=4)
    assert find_reply(out, 4)["result"] == {"n_success": 2, "n_fail": 0, "errors": []}
    inserted = [o for batch in notes(out, "session.orders") for o in batch]
    assert sorted((o["direction"], o["price"], o["amount"]) for o in inserted) == [
        ("buy", 70_000, 0.01),
        ("sell", 70_100, 0.02),
        ("sell", 70_200, 0.03),
    ]
    assert {o["label"] for o in inserted} == {"mq"}
    too_big = h.call(
        quoter, "private/mass_quote", {"quotes": [{"i": PERP, "b": {"p": 70_000, "a": 0.5}}]}, id=5
    )
    assert too_big["errors"][0]["code"] == ErrorCode.QUOTE_EXCEEDS_PROT_GROUP_SIZE
    assert h.call(quoter, "private/cancel_mass_quote", {"product": "FBTCUSD"}, id=6) is None
    assert h.engine.open_orders("A000000001") == []


def test_mass_quote_params_are_checked_before_the_engine() -> None:
    h = Harness()
    quoter = h.open()
    h.login(quoter)
    too_many = {"quotes": [{"i": PERP} for _ in range(101)]}
    assert h.call(quoter, "private/mass_quote", too_many, id=1)["error"]["code"] == 6
    eleven = {"quotes": [{"i": PERP, "b": [[70_000 - i, 0.01] for i in range(11)]}]}
    assert h.call(quoter, "private/mass_quote", eleven, id=2)["error"]["code"] == 6
    bad_level = {"quotes": [{"i": PERP, "b": [[70_000]]}]}
    assert h.call(quoter, "private/mass_quote", bad_level, id=3)["error"]["code"] == 6
