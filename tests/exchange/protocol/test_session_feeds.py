"""Subscriptions and market-data channels: names, snapshots, book diffs, delays, tickers."""

from __future__ import annotations

import pytest
from _protocol_kit import PERP, Harness, find_reply, notes

from thalex_mm.venue.thalex.codes import ErrorCode


def set_prices(h: Harness, index: float, mark: float) -> None:
    now = h.sim_ns
    h.hub.publish(h.engine.set_index(now, "BTCUSD", index), now)
    h.hub.publish(h.engine.set_mark(now, PERP, mark, funding_rate=0.0001), now)
    h.hub.flush_public(now)


def rest(h: Harness, session: object, direction: str, price: float, amount: float = 0.01) -> None:
    params = {"direction": direction, "instrument_name": PERP, "amount": amount, "price": price}
    reply = h.call(session, "private/insert", params, id=777)  # type: ignore[arg-type]
    assert reply["status"] == "open", reply


def apply_changes(levels: dict[float, float], changes: list[list[float]]) -> None:
    for price, amount, _outright in changes:
        if amount == 0:
            levels.pop(price, None)
        else:
            levels[price] = amount


@pytest.mark.parametrize(
    ("channel", "code"),
    [
        ("ticker.NOPE-PERPETUAL.raw", ErrorCode.UNKNOWN_INSTRUMENT),
        ("ticker.BTC-PERPETUAL.7ms", ErrorCode.INVALID_REQUEST),
        ("ticker.BTC-PERPETUAL", ErrorCode.INVALID_REQUEST),
        ("book.BTC-PERPETUAL.none.0.raw", ErrorCode.INVALID_REQUEST),
        ("book.BTC-PERPETUAL.0.5.all.raw", ErrorCode.INVALID_REQUEST),  # finer than the tick
        ("book.BTC-PERPETUAL.2.5.all.raw", ErrorCode.INVALID_REQUEST),  # not a tick multiple
        ("book.BTC-PERPETUAL.nan.all.raw", ErrorCode.INVALID_REQUEST),
        ("price_index.XYZUSD", ErrorCode.UNKNOWN_INSTRUMENT),
        ("recent_trades.BTC-PERPETUAL.all", ErrorCode.INVALID_REQUEST),
        ("session.orders", ErrorCode.INVALID_REQUEST),  # private via public/subscribe
        ("nonsense", ErrorCode.INVALID_REQUEST),
    ],
)
def test_bad_channels_fail_the_whole_subscribe(channel: str, code: int) -> None:
    h = Harness()
    session = h.open()
    out = h.send(session, "public/subscribe", {"channels": ["instruments", channel]}, id=1)
    assert out == [find_reply(out, 1)]
    assert out[0]["error"]["code"] == code
    assert session.public_channels == set()


def test_private_subscribe_needs_login_and_unsubscribe_reports_what_it_removed() -> None:
    h = Harness()
    session = h.open()
    reply = h.call(session, "private/subscribe", {"channels": ["session.orders"]}, id=1)
    assert reply["error"]["code"] == ErrorCode.NOT_LOGGED_IN
    h.login(session)
    h.send(session, "private/subscribe", {"channels": ["session.orders"]}, id=2)
    h.send(session, "public/subscribe", {"channels": ["instruments"]}, id=3)
    removed = h.call(
        session, "unsubscribe", {"channels": ["instruments", "session.orders", "system"]}, id=4
    )
    assert removed == ["instruments", "session.orders"]
    rest(h, session, "buy", 70_000)
    assert notes(h.seen[-1:], "session.orders") == []


def test_instruments_snapshot_lists_every_instrument_as_added() -> None:
    h = Harness()
    session = h.open()
    out = h.send(session, "public/subscribe", {"channels": ["instruments"]}, id=1)
    (snapshot,) = [m for m in out if m.get("channel_name") == "instruments"]
    assert snapshot["snapshot"] is True
    listed = {e["added"]["instrument_name"] for e in snapshot["notification"]}
    assert listed == {i.name for i in h.engine.instruments()}


def test_raw_book_channel_snapshot_then_diffs_rebuild_the_book() -> None:
    h = Harness()
    trader, viewer = h.open(), h.open()
    h.login(trader, cod=False)
    h.hub.rate_scale = 100.0
    rest(h, trader, "buy", 70_000)
    out = h.send(viewer, "public/subscribe", {"channels": [f"book.{PERP}.none.all.raw"]}, id=1)
    (snap,) = [m for m in out if m.get("channel_name", "").startswith("book")]
    assert snap["snapshot"] is True
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    apply_changes(bids, snap["notification"].get("bid_changes", []))
    for price in (70_001, 70_000, 69_990):
        rest(h, trader, "buy", price, 0.02)
    rest(h, trader, "sell", 70_100, 0.05)
    h.call(trader, "private/sell", {"instrument_name": PERP, "amount": 0.03, "price": 70_000}, id=5)
    updates = notes(h.drain(viewer), f"book.{PERP}.none.all.raw")
    assert len(updates) == 5  # one message per change, nothing coalesced on raw
    for update in updates:
        apply_changes(bids, update.get("bid_changes", []))
        apply_changes(asks, update.get("ask_changes", []))
    book = h.engine.book(PERP, depth=None)
    assert book is not None
    assert bids == dict(book.bids) and asks == dict(book.asks)
    assert updates[-1]["trades"][0][:3] == [70_001, 0.02, "sell"]
    assert updates[-1]["total_bid_amount"] == pytest.approx(sum(a for _, a in book.bids))


def test_book_nlevels_and_grouping_show_the_top_of_the_grouped_book() -> None:
    h = Harness()
    trader, viewer = h.open(), h.open()
    h.login(trader, cod=False)
    h.hub.rate_scale = 100.0
    for price in (70_009, 70_004, 70_001, 69_995, 69_990):
        rest(h, trader, "buy", price)
    channels = [f"book.{PERP}.none.2.raw", f"book.{PERP}.10.2.raw"]
    out = h.send(viewer, "public/subscribe", {"channels": channels}, id=1)
    top2, grouped = (notes(out, c)[0] for c in channels)
    assert [level[0] for level in top2["bid_changes"]] == [70_009, 70_004]
    assert grouped["bid_changes"] == [[70_000, 0.03, 0.03], [69_990, 0.02, 0.02]]
    h.call(trader, "private/cancel_all", id=2)
    top2_update = notes(h.drain(viewer), channels[0])
    # everything left: two levels removed, nothing enters
    assert sorted(top2_update[-1]["bid_changes"]) == [[70_004, 0, 0], [70_009, 0, 0]]


def test_delayed_channel_coalesces_changes_into_one_message_per_interval() -> None:
    h = Harness()
    trader, viewer = h.open(), h.open()
    h.login(trader, cod=False)
    h.hub.rate_scale = 100.0
    channel = f"book.{PERP}.none.all.1000ms"
    h.send(viewer, "public/subscribe", {"channels": [channel]}, id=1)
    for price in (70_000, 70_001, 70_002):
        rest(h, trader, "buy", price)
    assert notes(h.drain(viewer), channel) == []  # inside the first interval
    h.advance(1000)
    (update,) = notes(h.drain(viewer), channel)
    assert sorted(level[0] for level in update["bid_changes"]) == [70_000, 70_001, 70_002]
    h.advance(1000)
    assert notes(h.drain(viewer), channel) == []  # nothing changed, nothing sent


def test_ticker_lwt_and_index_follow_marks_and_the_book() -> None:
    h = Harness()
    trader, viewer = h.open(), h.open()
    h.login(trader, cod=False)
    set_prices(h, 70_000, 70_007)
    channels = [f"ticker.{PERP}.raw", f"lwt.{PERP}.raw", "price_index.BTCUSD"]
    out = h.send(viewer, "public/subscribe", {"channels": channels}, id=1)
    ticker = notes(out, channels[0])[0]
    assert ticker["mark_price"] == 70_007 and ticker["index"] == 70_000
    assert "best_bid_price" not in ticker  # empty book: the field is left out
    assert notes(out, "price_index.BTCUSD")[0]["price"] == 70_000
    rest(h, trader, "buy", 70_001, 0.5)
    viewer_out = h.drain(viewer)
    assert notes(viewer_out, channels[0])[-1]["best_bid_price"] == 70_001
    assert notes(viewer_out, channels[1])[-1]["b"] == [70_001, 0.5, 0.5]
    set_prices(h, 70_100, 70_110)
    viewer_out = h.drain(viewer)
    assert notes(viewer_out, "price_index.BTCUSD")[-1]["price"] == 70_100
    assert notes(viewer_out, channels[1])[-1]["m"] == 70_110
    assert h.call(viewer, "public/ticker", {"instrument_name": PERP}, id=2)["mark_price"] == 70_110
    assert h.call(viewer, "public/index", {"underlying": "BTCUSD"}, id=3)["price"] == 70_100


def test_portfolio_lines_are_resent_on_position_change_or_a_mark_move_over_1_percent() -> None:
    h = Harness()
    maker, taker = h.open(), h.open()
    h.login(maker)
    h.login(taker, "K000000002")
    set_prices(h, 70_000, 70_000)
    h.send(maker, "private/subscribe", {"channels": ["account.portfolio"]}, id=1)
    rest(h, maker, "buy", 70_000, 0.1)
    h.call(taker, "private/sell", {"instrument_name": PERP, "amount": 0.1, "price": 70_000}, id=2)
    (line,) = notes(h.drain(maker), "account.portfolio")[0]
    assert line["position"] == 0.1
    set_prices(h, 70_300, 70_300)  # +0.43 %: not resent
    assert notes(h.drain(maker), "account.portfolio") == []
    set_prices(h, 71_000, 71_000)  # +1.43 % since the last line
    (moved,) = notes(h.drain(maker), "account.portfolio")[0]
    assert moved["mark_price"] == 71_000 and moved["position"] == 0.1


def test_account_summary_is_sent_on_subscribe_and_periodically_after_changes() -> None:
    h = Harness()
    maker, taker = h.open(), h.open()
    h.login(maker)
    h.login(taker, "K000000002")
    set_prices(h, 70_000, 70_000)
    out = h.send(maker, "private/subscribe", {"channels": ["account.summary"]}, id=1)
    first = notes(out, "account.summary")[0]
    h.advance(1001)
    assert notes(h.drain(maker), "account.summary") == []  # nothing changed: nothing sent
    rest(h, maker, "buy", 70_000, 0.1)
    h.call(taker, "private/sell", {"instrument_name": PERP, "amount": 0.1, "price": 70_000}, id=2)
    assert notes(h.drain(maker), "account.summary") == []  # not on every event ...
    h.advance(1001)
    (later,) = notes(h.drain(maker), "account.summary")  # ... but once per interval
    assert later["cash"][0]["balance"] != first["cash"][0]["balance"]  # fees were paid
    set_prices(h, 70_500, 70_500)  # no trade, only the mark moves
    h.advance(1001)
    (moved,) = notes(h.drain(maker), "account.summary")
    assert moved["unrealised_pnl"] == pytest.approx(later["unrealised_pnl"] + 0.1 * 500)


def test_delayed_ticker_sends_at_most_one_message_per_interval_with_the_latest_state() -> None:
    h = Harness()
    trader, viewer = h.open(), h.open()
    h.login(trader, cod=False)
    set_prices(h, 70_000, 70_000)
    channel = f"ticker.{PERP}.1000ms"
    out = h.send(viewer, "public/subscribe", {"channels": [channel]}, id=1)
    assert len(notes(out, channel)) == 1  # the current ticker right away
    for step, price in enumerate((70_001, 70_002, 70_003)):
        h.advance(200)
        rest(h, trader, "buy", price)
        set_prices(h, 70_000 + step, 70_000 + step)
    assert notes(h.drain(viewer), channel) == []  # 600 ms: still inside the interval
    h.advance(400)
    (latest,) = notes(h.drain(viewer), channel)
    assert latest["best_bid_price"] == 70_003 and latest["mark_price"] == 70_002


def test_recent_trades_snapshot_then_new_trades() -> None:
    h = Harness()
    maker, taker, viewer = h.open(), h.open(), h.open()
    h.login(maker)
    h.login(taker, "K000000002")
    rest(h, maker, "sell", 70_010, 0.05)
    sell = {"instrument_name": PERP, "amount": 0.02, "price": 70_010}
    h.call(taker, "private/buy", sell, id=2)
    channels = [f"recent_trades.{PERP}.single", "recent_trades.BTCUSD.all"]
    out = h.send(viewer, "public/subscribe", {"channels": channels}, id=1)
    for channel in channels:
        (snapshot,) = notes(out, channel)
        assert [t[:3] + t[4:5] for t in snapshot] == [[70_010, 0.02, "buy", PERP]]
    h.call(taker, "private/buy", sell | {"amount": 0.01}, id=3)
    viewer_out = h.drain(viewer)
    for channel in channels:
        (update,) = notes(viewer_out, channel)
        assert [t[1] for t in update] == [0.01]


def test_instruments_filters_and_single_instrument_lookup() -> None:
    h = Harness()
    session = h.open()
    btc = h.call(session, "public/instruments", {"underlying": "BTCUSD"}, id=1)
    assert {i["underlying"] for i in btc} == {"BTCUSD"} and len(btc) == 2
    assert h.call(session, "public/instruments", {"instrument_type": "options"}, id=2) == []
    future = next(i for i in btc if i["type"] == "future")
    by_expiry = h.call(session, "public/instruments", {"expiry_date": future["expiry_date"]}, id=3)
    assert [i["instrument_name"] for i in by_expiry] == [future["instrument_name"]]
    assert h.call(session, "public/instrument", {"instrument_name": PERP}, id=4)["tick_size"] == 1
    missing = h.call(session, "public/instrument", {"instrument_name": "BTC-1JAN99"}, id=5)
    assert missing["error"]["code"] == ErrorCode.UNKNOWN_INSTRUMENT


def test_order_history_pages_with_a_bookmark() -> None:
    h = Harness()
    session = h.open()
    h.login(session, cod=False)
    h.hub.rate_scale = 100.0
    for i in range(5):
        rest(h, session, "buy", 70_000 - i)
        h.wall_ns += 1_000_000
    h.call(session, "private/cancel_all", id=1)
    first = h.call(session, "private/order_history", {"limit": 3}, id=2)
    assert len(first["orders"]) == 3 and first["bookmark"]
    second = h.call(
        session, "private/order_history", {"limit": 3, "bookmark": first["bookmark"]}, id=3
    )
    assert len(second["orders"]) == 2 and "bookmark" not in second
    prices = [o["price"] for o in first["orders"] + second["orders"]]
    assert sorted(prices) == [69_996, 69_997, 69_998, 69_999, 70_000]
    assert all(o["delete_reason"] == "client_bulk_cancel" for o in first["orders"])
    bad = h.call(session, "private/order_history", {"bookmark": "xyz"}, id=4)
    assert bad["error"]["code"] == ErrorCode.INVALID_REQUEST
