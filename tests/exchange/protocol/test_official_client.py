"""The local exchange driven over real sockets by the official `thalex` 1.3.0 client.

Every frame the clients receive is validated against the official schemas (`_protocol_kit`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import thalex
import websockets
from _protocol_kit import PERP, OfficialClient

from thalex_mm.exchange.local import ExchangeConfig, GeneratedKey, LocalExchange
from thalex_mm.exchange.market.replay import DATA_DIR
from thalex_mm.venue.thalex.auth import generate_key_pair
from thalex_mm.venue.thalex.codes import ErrorCode

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def exchange() -> AsyncIterator[LocalExchange]:
    async with LocalExchange(ExchangeConfig(market=False, tick_ms=2)) as ex:
        yield ex


@pytest.fixture(scope="module")
def keys() -> list[tuple[bytes, bytes]]:
    return [generate_key_pair() for _ in range(2)]


def register(ex: LocalExchange, pair: tuple[bytes, bytes], key_id: str) -> GeneratedKey:
    account = ex.add_api_key(key_id, pair[1])
    return GeneratedKey(key_id, pair[0], pair[1], account)


async def connect(ex: LocalExchange, key: GeneratedKey | None, cod: bool = True) -> OfficialClient:
    client = OfficialClient(ex.url)
    await client.connect()
    if key is not None:
        await client.login(key.key_id, key.private_pem.decode(), id=1)
        assert (await client.reply(1))["result"] == {"account_number": key.account}
        if cod:
            await client.set_cancel_on_disconnect(5, id=2)
            assert (await client.reply(2))["result"] == {"message_rate": 50}
    return client


async def wait_until(condition: object, timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_trading_flow_with_fills_on_order_and_portfolio_feeds(
    exchange: LocalExchange, keys: list[tuple[bytes, bytes]]
) -> None:
    mm_key = register(exchange, keys[0], "K100000001")
    taker_key = register(exchange, keys[1], "K100000002")
    mm = await connect(exchange, mm_key)
    taker = await connect(exchange, taker_key, cod=False)
    await mm.public_subscribe([f"book.{PERP}.none.all.raw", "instruments"], id=3)
    await mm.private_subscribe(
        ["session.orders", "account.portfolio", "account.trade_history"], id=4
    )
    assert (await mm.reply(4))["result"] == [
        "session.orders",
        "account.portfolio",
        "account.trade_history",
    ]
    assert await mm.notification("session.orders") == []

    await mm.insert(
        thalex.Direction.BUY, PERP, 0.2, price=70_000, client_order_id=101, label="P", id=101
    )
    placed = (await mm.reply(101))["result"]
    assert placed["status"] == "open" and placed["label"] == "P" and placed["persistent"] is False
    await mm.amend(0.3, 70_010, client_order_id=101, id=102)
    assert (await mm.reply(102))["result"]["price"] == 70_010

    await taker.sell(PERP, 0.1, price=69_000, id=201)
    taker_result = (await taker.reply(201))["result"]
    assert taker_result["filled_amount"] == 0.1 and taker_result["fills"][0]["price"] == 70_010

    fill = await mm.notification("session.orders", lambda n: n[0]["change_reason"] == "fill")
    assert fill[0]["fills"][0]["maker_taker"] == "maker"
    assert fill[0]["filled_amount"] == 0.1 and fill[0]["remaining_amount"] == 0.2
    line = await mm.notification("account.portfolio", lambda n: len(n) > 0)
    assert line[0]["instrument_name"] == PERP and line[0]["position"] == 0.1
    (trade,) = await mm.notification("account.trade_history")
    assert trade["trade_id"] == fill[0]["fills"][0]["trade_id"]

    await mm.cancel(client_order_id=101, id=103)
    cancelled = (await mm.reply(103))["result"]
    assert cancelled["status"] == "cancelled_partially_filled"
    await mm.cancel(client_order_id=101, id=104)
    assert (await mm.reply(104))["error"]["code"] == ErrorCode.ORDER_NOT_FOUND

    await mm.portfolio(id=105)
    assert (await mm.reply(105))["result"][0]["position"] == 0.1
    await mm.disconnect()
    await taker.disconnect()


async def test_mass_quote_through_the_official_client(
    exchange: LocalExchange, keys: list[tuple[bytes, bytes]]
) -> None:
    key = register(exchange, keys[0], "K100000003")
    mm = await connect(exchange, key)
    await mm.private_subscribe(["session.orders", "session.mm_protection"], id=3)
    await mm.set_mm_protection(thalex.Product.BTC_FUTURES, trade_amount=0.5, quote_amount=1.0, id=4)
    assert (await mm.reply(4))["result"] is None
    quote = thalex.Quote(PERP, thalex.SideQuote(70_000, 0.1), thalex.SideQuote(70_100, 0.1))
    await mm.mass_quote([quote], label="mq", post_only=True, id=5)
    assert (await mm.reply(5))["result"] == {"n_success": 2, "n_fail": 0, "errors": []}
    inserted = await mm.notification(
        "session.orders", lambda n: n and n[0]["change_reason"] == "insert"
    )
    assert {(o["direction"], o["price"]) for o in inserted} == {("buy", 70_000), ("sell", 70_100)}
    # a=0 deletes one side only
    await mm.mass_quote([thalex.Quote(PERP, thalex.SideQuote(70_000, 0), None)], id=6)
    assert (await mm.reply(6))["result"]["n_success"] == 1
    await wait_until(lambda: len(exchange.engine.open_orders(key.account)) == 1)
    await mm.cancel_mass_quote(thalex.Product.BTC_FUTURES, id=7)
    assert (await mm.reply(7))["result"] is None
    assert exchange.engine.open_orders(key.account) == []
    await mm.disconnect()


async def test_throttling_is_error_4_over_the_socket(
    exchange: LocalExchange, keys: list[tuple[bytes, bytes]]
) -> None:
    key = register(exchange, keys[0], "K100000004")
    client = await connect(exchange, key, cod=False)
    for i in range(15):  # pipelined, no waiting: the first 10 pass, then throttled
        await client.insert(thalex.Direction.BUY, PERP, 0.001, price=60_000 + i, id=300 + i)
    codes = []
    for i in range(15):
        reply = await client.reply(300 + i)
        codes.append(reply["error"]["code"] if "error" in reply else 0)
    assert codes[:10] == [0] * 10
    # the bucket refills at 10/s, so a slow machine may let one more through
    assert set(codes[10:]) <= {0, ErrorCode.THROTTLE_EXCEEDED}
    assert codes[10:].count(ErrorCode.THROTTLE_EXCEEDED) >= 4
    await client.disconnect()


async def test_closing_the_socket_cancels_the_sessions_non_persistent_orders(
    exchange: LocalExchange, keys: list[tuple[bytes, bytes]]
) -> None:
    key = register(exchange, keys[0], "K100000005")
    quoter = await connect(exchange, key, cod=True)
    keeper = await connect(exchange, None)
    await keeper.login(key.key_id, key.private_pem.decode(), id=1)
    await keeper.reply(1)
    await keeper.private_subscribe(["account.orders"], id=2)
    await keeper.reply(2)
    for i in range(3):
        await quoter.insert(thalex.Direction.SELL, PERP, 0.01, price=71_000 + i, id=10 + i)
        await quoter.reply(10 + i)
    await keeper.buy(PERP, 0.01, price=60_000, id=20)
    kept = (await keeper.reply(20))["result"]["order_id"]
    await quoter.disconnect()
    ended = await keeper.notification(
        "account.orders", lambda n: bool(n) and n[0].get("delete_reason") == "session_end"
    )
    assert len(ended) == 3
    assert [o.order_id for o in exchange.engine.open_orders(key.account)] == [kept]
    await keeper.disconnect()


async def test_bad_input_gets_error_replies_and_the_connection_stays_up(
    exchange: LocalExchange,
) -> None:
    client = await connect(exchange, None)
    await client.ws.send("{nope")
    assert (await client.wait_for(lambda m: "error" in m))["id"] is None
    await client._send("public/teleport", 2)
    assert (await client.reply(2))["error"]["code"] == ErrorCode.UNKNOWN_METHOD
    await client.ws.send(
        json.dumps({"method": "public/book", "id": 3, "params": {"instrument_name": 7}})
    )
    assert (await client.reply(3))["error"]["code"] == ErrorCode.INVALID_REQUEST
    await client.ws.send(json.dumps({"method": "public/instrument", "id": 4, "params": {}}))
    assert "instrument_name" in (await client.reply(4))["error"]["message"]
    await client.ws.send(
        json.dumps({"method": "public/system_info", "id": 5, "x": "y" * (2 << 20)})
    )
    assert "1 MiB" in (await client.wait_for(lambda m: "error" in m))["error"]["message"]
    await client.ws.send(b'{"method": "public/system_info", "id": 6}')  # a binary frame
    assert (await client.reply(6))["result"]["environment"] == "testnet"
    await client.ws.send(b'{"method":"public/tick\xffer","id":9,"params":{}}')  # not UTF-8
    assert (await client.reply(9))["error"]["code"] == ErrorCode.INVALID_REQUEST
    await client.instrument(PERP, id=7)
    assert (await client.reply(7))["result"]["tick_size"] == 1
    assert exchange.hub.internal_error_count == 0
    await client.disconnect()


async def test_login_with_a_key_the_exchange_does_not_trust_is_error_19(
    exchange: LocalExchange, keys: list[tuple[bytes, bytes]]
) -> None:
    exchange.add_api_key("K100000006", keys[0][1])
    client = await connect(exchange, None)
    await client.login("K100000006", keys[1][0].decode(), id=1)  # signed with the wrong key
    assert (await client.reply(1))["error"]["code"] == ErrorCode.AUTHENTICATION_FAILED
    await client.login("K999999999", keys[0][0].decode(), id=2)  # unknown key id
    assert (await client.reply(2))["error"]["code"] == ErrorCode.AUTHENTICATION_FAILED
    await client.disconnect()


async def test_websocket_pings_keep_a_cancel_on_disconnect_session_alive(
    exchange: LocalExchange, keys: list[tuple[bytes, bytes]]
) -> None:
    key = register(exchange, keys[0], "K100000007")
    client = await connect(exchange, key, cod=False)
    await client.set_cancel_on_disconnect(1, id=2)
    await client.reply(2)
    await client.buy(PERP, 0.01, price=60_000, id=3)
    await client.reply(3)
    for _ in range(7):  # 1.4 s with a ping every 0.2 s: never 1 s of silence
        pong = await client.ws.ping()
        await asyncio.wait_for(pong, 1)  # the exchange answers pings
        await asyncio.sleep(0.2)
    assert len(exchange.engine.open_orders(key.account)) == 1
    # now silent: the exchange ends the session and closes the socket
    await wait_until(lambda: exchange.engine.open_orders(key.account) == [], timeout=3)
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(client.ws.recv(), 2)


async def test_only_the_api_path_is_served(exchange: LocalExchange) -> None:
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(exchange.url.replace("/ws/api/v2", "/other"))


async def test_synthetic_market_feeds_validate_against_the_spec() -> None:
    config = ExchangeConfig(seed=3, time_scale=5, tick_ms=2)
    async with LocalExchange(config) as ex:
        client = await connect(ex, None)
        channels = [
            f"ticker.{PERP}.raw",
            f"lwt.{PERP}.100ms",
            f"book.{PERP}.none.10.raw",
            "price_index.BTCUSD",
            "recent_trades.BTCUSD.all",
        ]
        await client.public_subscribe(channels, id=1)
        assert (await client.reply(1))["result"] == channels
        for channel in channels:
            await client.notification(channel, timeout=5)
        ticker = await client.notification(channels[0])
        assert ticker["best_bid_price"] < ticker["best_ask_price"]
        await client.book(PERP, id=2)
        book = (await client.reply(2))["result"]
        assert 0 < len(book["bids"]) <= 5 and book["bids"][0][0] < book["asks"][0][0]
        await client.disconnect()


REPLAY_WINDOW = "binance-usdm_BTCUSDT_2024-07-18_2357-0005"


@pytest.mark.skipif(
    not (DATA_DIR / f"{REPLAY_WINDOW}_trades.csv.gz").exists(),
    reason="recorded market data not available",
)
async def test_replayed_trades_reach_the_public_feeds() -> None:
    config = ExchangeConfig(replay=REPLAY_WINDOW, time_scale=20, tick_ms=2)
    async with LocalExchange(config) as ex:
        client = await connect(ex, None)
        await client.public_subscribe(
            ["recent_trades.BTC-PERPETUAL.single", "price_index.BTCUSD"], id=1
        )
        index = await client.notification("price_index.BTCUSD")
        trades = await client.notification("recent_trades.BTC-PERPETUAL.single", bool, timeout=10)
        # recorded BTCUSDT prices of July 2024, not the synthetic 80 000 start
        assert 50_000 < index["price"] < 75_000
        assert all(abs(t[0] - index["price"]) / index["price"] < 0.02 for t in trades)
        await client.disconnect()


async def test_simple_quoter_style_flow_without_request_ids(
    exchange: LocalExchange, keys: list[tuple[bytes, bytes]]
) -> None:
    """Like the official simple_quoter example: no ids, fixed client order ids, amend to 0."""
    key = register(exchange, keys[0], "K100000008")
    client = OfficialClient(exchange.url)
    await client.connect()
    await client.login(key.key_id, key.private_pem.decode())
    login = await client.wait_for(lambda m: "result" in m or "error" in m)
    assert login == {"id": None, "result": {"account_number": key.account}}
    await client.set_cancel_on_disconnect(6)
    await client.private_subscribe(["session.orders", "account.portfolio"])
    assert await client.notification("session.orders") == []

    def status_of(status: str) -> object:
        return lambda n: bool(n) and n[-1]["client_order_id"] == 1001 and n[-1]["status"] == status

    await client.insert(
        thalex.Direction.BUY, PERP, 0.1, client_order_id=1001, price=70_000, label="simple_quoter"
    )
    await client.notification("session.orders", status_of("open"))
    await client.amend(0, 70_000, client_order_id=1001)  # "amend to 0 is an automatic cancel"
    await client.notification("session.orders", status_of("cancelled"))
    await client.insert(  # the id is free again once its order closed
        thalex.Direction.BUY, PERP, 0.1, client_order_id=1001, price=69_990, label="simple_quoter"
    )
    await client.notification("session.orders", status_of("open"))
    replies = [m for m in client.pending if "channel_name" not in m]
    assert replies and all(m["id"] is None and "result" in m for m in replies)
    await client.cancel_session()
    await client.notification("session.orders", status_of("cancelled"))
    await client.disconnect()
