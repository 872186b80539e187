"""A small fake Thalex server on 127.0.0.1 for the client's async tests.

It verifies the login JWT with pyjwt against the test key's public key, answers the session
and resync requests, records every method per connection, and can drop connections, refuse
new ones, or announce a maintenance reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from thalex_mm.venue.thalex.auth import generate_key_pair
from thalex_mm.venue.thalex.credentials import Credentials

KEY_ID = "K555000111"
PRIVATE_PEM, PUBLIC_PEM = generate_key_pair(2048)
OTHER_PRIVATE_PEM, _ = generate_key_pair(2048)

INSTRUMENTS = [
    {
        "instrument_name": "BTC-PERPETUAL",
        "product": "FBTCUSD",
        "tick_size": 1,
        "volume_tick_size": 0.001,
        "min_order_amount": 0.001,
        "underlying": "BTCUSD",
        "type": "perpetual",
        "base_currency": "USD",
        "create_time": 1630000000,
    }
]


class _Quiet(logging.LoggerAdapter):  # type: ignore[type-arg]
    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


def order_status(params: dict[str, Any], order_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "client_order_id": params.get("client_order_id"),
        "instrument_name": params["instrument_name"],
        "direction": params["direction"],
        "order_type": "limit",
        "time_in_force": "good_till_cancelled",
        "price": params["price"],
        "amount": params["amount"],
        "filled_amount": 0,
        "remaining_amount": params["amount"],
        "status": "open",
        "fills": [],
        "change_reason": "insert",
        "insert_reason": "client_request",
        "create_time": time.time(),
        "persistent": False,
    }


class FakeVenue:
    def __init__(self) -> None:
        self.methods: list[list[str]] = []  # per connection, in arrival order
        self.connection_times: list[float] = []
        self.logins: list[dict[str, Any]] = []  # verified token headers
        self.tokens: list[str] = []
        self.refuse_next = 0  # answer the next N handshakes with HTTP 503
        self.conns: list[ServerConnection] = []
        self.server: Server | None = None
        self.url = ""
        self.last_iat = 0.0
        self.drop_on: str | None = None  # close the connection when this method arrives (once)

    async def start(self) -> None:
        self.server = await serve(
            self._handler,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            logger=_Quiet(logging.getLogger("fake_venue"), {}),
        )
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ws/api/v2"

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self.refuse_next > 0:
            self.refuse_next -= 1
            return conn.respond(503, "maintenance\n")
        return None

    async def drop_all(self) -> None:
        for conn in self.conns:
            await conn.close(1011, "server going away")

    async def push(self, channel: str, notification: Any) -> None:
        frame = json.dumps({"channel_name": channel, "notification": notification})
        await self.conns[-1].send(frame)

    async def wait_for_method(self, method: str, connection: int, timeout: float = 5.0) -> None:
        async def poll() -> None:
            while len(self.methods) <= connection or method not in self.methods[connection]:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(poll(), timeout)

    def _verify(self, token: str) -> bool:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != KEY_ID:
                return False
            claims = jwt.decode(token, PUBLIC_PEM, algorithms=["RS256", "RS384", "RS512"])
        except jwt.PyJWTError:
            return False
        iat = float(claims["iat"])
        if abs(time.time() - iat) > 30 or iat <= self.last_iat:
            return False
        self.last_iat = iat
        self.logins.append(header)
        return True

    async def _handler(self, conn: ServerConnection) -> None:
        calls: list[str] = []
        self.methods.append(calls)
        self.connection_times.append(time.monotonic())
        self.conns.append(conn)
        with contextlib.suppress(ConnectionClosed):
            await self._serve(conn, calls)

    async def _serve(self, conn: ServerConnection, calls: list[str]) -> None:
        logged_in = False
        async for message in conn:
            req = json.loads(message)
            method, req_id, params = req["method"], req.get("id"), req.get("params", {})
            calls.append(method)
            if method == self.drop_on:
                self.drop_on = None
                await conn.close(1011, "dropped mid-request")
                return
            result: Any = None
            error: dict[str, Any] | None = None
            if method == "public/login":
                self.tokens.append(params["token"])
                logged_in = self._verify(params["token"])
                result = {"account_number": "A0001"}
                if not logged_in:
                    error = {"code": 19, "message": "authentication failed"}
            elif method.startswith("private/") and not logged_in:
                error = {"code": 7, "message": "not logged in"}
            elif method == "private/set_cancel_on_disconnect":
                result = {"message_rate": 50}
            elif method == "public/instruments":
                result = INSTRUMENTS
            elif method.endswith("subscribe"):
                result = params["channels"]
            elif method in ("private/open_orders", "private/portfolio"):
                result = []
            elif method == "private/insert":
                result = order_status(params, f"OID{len(calls)}")
            elif method == "private/cancel_session":
                result = None
            else:
                error = {"code": 31, "message": "unknown method"}
            reply = {"id": req_id, "error": error} if error else {"id": req_id, "result": result}
            await conn.send(json.dumps(reply))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def venue() -> AsyncIterator[FakeVenue]:
    fake = FakeVenue()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def credentials() -> Credentials:
    return Credentials(KEY_ID, PRIVATE_PEM, "test fixture")


@pytest.fixture
def wrong_credentials() -> Credentials:
    """The right key id with a key the venue does not know: login must be refused."""
    return Credentials(KEY_ID, OTHER_PRIVATE_PEM, "test fixture")


@pytest.fixture
def fake_venue_class() -> type[FakeVenue]:
    """For tests that run their own event loop (e.g. under uvloop)."""
    return FakeVenue
