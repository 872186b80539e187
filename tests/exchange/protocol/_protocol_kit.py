"""Test kit for the protocol layer: a sans-I/O harness and an official-client wrapper.

Every frame either of them sees is checked against the official Thalex schemas, so any test
that runs through them also tests wire conformance.
"""

from __future__ import annotations

import asyncio
import json
import types
from collections.abc import Callable, Sequence
from typing import Any

import thalex
from _thalex_schema import check_frame, has_method

from thalex_mm.exchange.engine import ExchangeInstrument, MatchingEngine, default_instruments
from thalex_mm.exchange.hub import ExchangeHub, Market, SimClock
from thalex_mm.exchange.session import Session
from thalex_mm.venue.thalex.auth import KeyRing, generate_key_pair, make_token

NS = 1_000_000_000
MS = 1_000_000
T0 = 1_800_000_000 * NS  # a fixed wall clock start, so runs are reproducible
PRIVATE_PEM, PUBLIC_PEM = generate_key_pair()  # once per test run: RSA generation is slow
KEYS = {"K000000001": "A000000001", "K000000002": "A000000002"}
PERP = "BTC-PERPETUAL"


class Harness:
    """A hub with two API keys, driven by hand: frames in, decoded (and validated) frames out."""

    def __init__(
        self,
        *,
        rate_scale: float = 1.0,
        market: Market | None = None,
        time_scale: float = 1.0,
        instruments: Sequence[ExchangeInstrument] | None = None,
    ) -> None:
        self.wall_ns = T0
        self.engine = MatchingEngine(
            default_instruments(T0) if instruments is None else instruments
        )
        self.keyring = KeyRing()
        for key_id, account in KEYS.items():
            self.keyring.add(key_id, PUBLIC_PEM, account)
        self.hub = ExchangeHub(
            self.engine,
            self.keyring,
            SimClock(T0, T0, time_scale),
            market=market,
            rate_scale=rate_scale,
        )
        self.method_of: dict[int, dict[Any, str]] = {}
        self.seen: list[dict[str, Any]] = []

    @property
    def sim_ns(self) -> int:
        return self.hub.sim_ns(self.wall_ns)

    def advance(self, ms: float) -> list[Session]:
        self.wall_ns += int(ms * MS)
        return self.hub.tick(self.wall_ns)

    def open(self) -> Session:
        session = self.hub.open_session(self.wall_ns)
        self.method_of[session.session_id] = {}
        return session

    def raw(self, session: Session, data: str | bytes) -> list[dict[str, Any]]:
        self._note_method(session, data)
        session.receive(data, self.wall_ns)
        return self.drain(session)

    def _note_method(self, session: Session, data: str | bytes) -> None:
        """Remember which method a request id is for, so its reply is schema-checked."""
        mapping = self.method_of.setdefault(session.session_id, {})
        try:
            frame = json.loads(data)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        key = frame.get("id")
        if isinstance(key, bool) or not isinstance(key, int | str):
            return
        method = frame.get("method")
        if isinstance(method, str) and has_method(method):
            mapping[key] = method
        else:
            mapping.pop(key, None)

    def send(
        self, session: Session, method: str, params: Any = None, id: Any = None
    ) -> list[dict[str, Any]]:
        frame: dict[str, Any] = {"method": method, "params": {} if params is None else params}
        if id is not None:
            frame["id"] = id
        return self.raw(session, json.dumps(frame))

    def call(self, session: Session, method: str, params: Any = None, id: Any = 1) -> Any:
        """Send and return the reply (``result`` or the whole error frame)."""
        reply = find_reply(self.send(session, method, params, id), id)
        return reply.get("result", reply)

    def drain(self, session: Session) -> list[dict[str, Any]]:
        self.hub.take_ready()
        out = [json.loads(frame) for frame in session.take_output()]
        for message in out:
            check_frame(message, self.method_of.get(session.session_id))
        self.seen.extend(out)
        return out

    def token(self, key_id: str = "K000000001", offset_s: float = 0.0) -> str:
        return make_token(key_id, PRIVATE_PEM, self.wall_ns / NS + offset_s)

    def login(self, session: Session, key_id: str = "K000000001", cod: bool = True) -> None:
        result = self.call(session, "public/login", {"token": self.token(key_id)}, id=9001)
        assert result == {"account_number": KEYS[key_id]}, result
        if cod:
            result = self.call(session, "private/set_cancel_on_disconnect", {"timeout_secs": 5})
            assert result == {"message_rate": 50}
        self.wall_ns += 1000  # the next token of this key needs a later iat


def find_reply(messages: list[dict[str, Any]], id: Any) -> dict[str, Any]:
    replies = [m for m in messages if "channel_name" not in m and m.get("id") == id]
    assert len(replies) == 1, f"expected one reply with id {id!r} in {messages}"
    return replies[0]


def notes(messages: list[dict[str, Any]], channel: str) -> list[Any]:
    return [m["notification"] for m in messages if m.get("channel_name") == channel]


class OfficialClient(thalex.Thalex):  # type: ignore[misc]
    """The official `thalex` 1.3.0 client pointed at a local URL (protocol.md §7.5 option A),
    recording which method each request id was for so replies can be schema-checked."""

    def __init__(self, url: str) -> None:
        super().__init__(network=types.SimpleNamespace(value=url))
        self.method_of: dict[Any, str] = {}
        self.pending: list[dict[str, Any]] = []

    async def _send(self, method: str, id: int | None, **kwargs: Any) -> None:
        if id is not None:
            self.method_of[id] = method
        await super()._send(method, id, **kwargs)

    async def next_message(self, timeout: float = 3.0) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.receive(), timeout))
        check_frame(message, self.method_of)
        return message

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 3.0
    ) -> dict[str, Any]:
        """The first message (already received or new) that matches; others are kept."""
        for i, message in enumerate(self.pending):
            if match(message):
                return self.pending.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.next_message(max(0.01, deadline - loop.time()))
            if match(message):
                return message
            self.pending.append(message)

    async def reply(self, id: int, timeout: float = 3.0) -> dict[str, Any]:
        return await self.wait_for(lambda m: "channel_name" not in m and m.get("id") == id, timeout)

    async def notification(
        self,
        channel: str,
        match: Callable[[Any], bool] = lambda _: True,
        timeout: float = 3.0,
    ) -> Any:
        message = await self.wait_for(
            lambda m: m.get("channel_name") == channel and match(m["notification"]), timeout
        )
        return message["notification"]
