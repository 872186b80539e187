"""The engine's decode (protocol.py, then translate.py) survives any frame the venue could send.

The corpus is real: every frame a local exchange sends one logged-in session that subscribes to
what the engine subscribes to, quotes, gets filled and queries (replies included, with the ids
the client's own pending requests carry). Hypothesis then feeds the client's sans-I/O protocol
those frames mutated byte by byte, with JSON values swapped for hostile ones (NaN, inf, huge,
negative, wrong types, missing keys), random bytes and random JSON on the engine's channels.
Nothing may raise out of ``receive``; a frame that does not decode is counted once and reported
once to the hook; what reaches the core is typed events. Bounded to a few seconds.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thalex_mm.app.settings import AppConfig, private_channels, public_channels
from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.domain import Side
from thalex_mm.exchange.engine import MatchingEngine, default_instruments
from thalex_mm.exchange.hub import ExchangeHub, SimClock
from thalex_mm.exchange.market import MarketConfig, SyntheticMarket
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.auth import KeyRing, generate_key_pair, make_token
from thalex_mm.venue.thalex.catalog import RESULT_TYPES
from thalex_mm.venue.thalex.protocol import PendingRequest, RpcError, ThalexProtocol
from thalex_mm.venue.thalex.translate import Translator

NS = 1_000_000_000
T0 = 1_800_000_000 * NS
PERP = "BTC-PERPETUAL"
CONFIG = AppConfig()
CHANNELS = (*public_channels(CONFIG), *private_channels(CONFIG))
# the requests the client has in flight, in order: the exchange answers the same ids
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("public/instruments", {}),
    ("private/open_orders", {}),
    ("private/portfolio", {}),
    ("private/trade_history", {"limit": 10, "sort": "descending"}),
]


def _capture() -> tuple[list[bytes], list[wire.Instrument]]:
    """Every frame a local exchange sends a quoting session over 20 simulated seconds."""
    private_pem, public_pem = generate_key_pair()
    keyring = KeyRing()
    keyring.add("K1", public_pem, "A1")
    engine = MatchingEngine(default_instruments(T0))
    market = SyntheticMarket(engine, MarketConfig(seed=4, taker_rate_per_s=30.0))
    hub = ExchangeHub(engine, keyring, SimClock(T0, T0), market=market)
    session = hub.open_session(T0)
    wall = T0
    frames: list[bytes] = []

    def send(method: str, params: dict[str, Any], request_id: int) -> None:
        request = {"method": method, "params": params, "id": request_id}
        session.receive(json.dumps(request), wall)
        hub.take_ready()
        frames.extend(session.take_output())

    send("public/login", {"token": make_token("K1", private_pem, wall / NS)}, 1001)
    send("private/set_cancel_on_disconnect", {"timeout_secs": 6}, 1002)
    send("public/subscribe", {"channels": ["system", *public_channels(CONFIG)]}, 1003)
    send("private/subscribe", {"channels": list(private_channels(CONFIG))}, 1004)
    for n, (method, params) in enumerate(QUERIES, start=1):
        send(method, params, n)
    ticker = engine.ticker(PERP, T0)
    assert ticker is not None
    mid = ticker.mark_price
    assert mid is not None
    inserts = [(Side.BUY, mid - 5), (Side.SELL, mid + 5), (Side.BUY, mid - 30)]
    for n, (side, price) in enumerate(inserts, start=len(QUERIES) + 1):
        params = {"direction": side.wire, "instrument_name": PERP, "amount": 0.002,
                  "price": round(price), "client_order_id": n, "label": "mm"}  # fmt: skip
        send("private/insert", params, n)
    send("private/amend", {"client_order_id": 7, "price": round(mid - 40), "amount": 0.001}, 8)
    send("private/cancel", {"client_order_id": 7}, 9)
    send("private/insert", {"direction": "buy", "instrument_name": "NOPE", "amount": 1}, 10)
    for _ in range(1000):  # 20 s of market in 20 ms steps: ticks, books, fills, portfolio
        wall += 20_000_000
        hub.tick(wall)
        hub.take_ready()
        frames.extend(session.take_output())
    instruments = [wire.Instrument(**i) for i in _instrument_dicts(frames)]
    return frames, instruments


def _instrument_dicts(frames: list[bytes]) -> list[dict[str, Any]]:
    for frame in frames:
        message = json.loads(frame)
        if message.get("id") == 1:
            return [i for i in message["result"] if i.get("instrument_name") == PERP]
    raise AssertionError("no public/instruments reply captured")


CORPUS, INSTRUMENTS = _capture()
DECODED = [json.loads(f) for f in CORPUS]
HOSTILE: list[Any] = [
    None, True, -1, 0, 2**64, -(2**63), 1e308, -1e-308, "", "x" * 300, "NaN", [], {}, [1, "a"],
    {"nested": [None]}, "buy", "sell", "filled", "unknown-status", 0.1 + 0.2,
]  # fmt: skip


class Client:
    """The client's sans-I/O half as `ThalexClient` wires it: routes, result types, replies."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.bad: list[str] = []
        self.translator = Translator(self.events.append, reject=self.events.append)
        self.translator.set_instruments(INSTRUMENTS)
        self.protocol = ThalexProtocol(self._reply, T0)
        for method, result_type in RESULT_TYPES.items():
            if result_type is not None:
                self.protocol.set_result_type(method, result_type)
        self.protocol.route("system", wire.SystemEvent, lambda *_: None)
        for channel in CHANNELS:
            entry = self.translator.handler_for(channel)
            assert entry is not None, channel
            self.protocol.route(channel, entry[0], entry[1])
        self.protocol.on_bad_frame = self.bad.append
        self.protocol.ready = True
        for method, params in QUERIES:
            self.protocol.submit(method, params, T0, None, gated=False)
        mid = 80_000
        for n, side in enumerate([Side.BUY, Side.SELL, Side.BUY], start=len(QUERIES) + 1):
            insert = act.Insert(n, PERP, n, side, mid, 2)
            for method, params, context in self.translator.requests_for(insert, T0):
                self.protocol.submit(method, params, T0, context, gated=False)
        self.protocol.pump(T0)
        self.protocol.take_outgoing()

    def _reply(self, req: PendingRequest, result: Any, error: RpcError | None, now: int) -> None:
        if req.context is not None:
            self.translator.on_reply(req.context, result, error, now)


def test_the_corpus_is_real_and_decodes_cleanly() -> None:
    """The unmutated frames reach the core as typed events and no frame is bad."""
    client = Client()
    for frame in CORPUS:
        client.protocol.receive(frame, T0)
    stats = client.protocol.stats
    assert stats.bad_frames == 0 and client.bad == [], stats.last_bad_frame_error
    assert stats.unknown_channels == 0
    channels = {m.get("channel_name") for m in DECODED} - {None}
    assert {"session.orders", "account.portfolio", "account.trade_history"} <= channels
    assert f"ticker.{PERP}.raw" in channels
    kinds = {type(e).__name__ for e in client.events}
    assert {"OrderUpdate", "PortfolioSnapshot", "FillsReplayed", "Ticker", "BookUpdate"} <= kinds
    assert all(isinstance(e, ev.Event) for e in client.events)


def _mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(max(len(out), 1))
        kind = rng.randrange(4)
        if kind == 0 and out:
            out[at] = rng.randrange(256)
        elif kind == 1:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
        elif kind == 2 and out:
            del out[at]
        else:
            del out[at:]
    return bytes(out)


def _mutate_value(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """Swap, drop or keep each JSON value down the tree (channel names and ids kept)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("channel_name", "id") and depth == 0:
                out[key] = item
            elif rng.random() < 0.1:
                continue  # a missing key
            else:
                out[key] = _mutate_value(item, rng, depth + 1)
        return out
    if isinstance(value, list):
        return [_mutate_value(item, rng, depth + 1) for item in value if rng.random() > 0.05]
    if rng.random() < 0.25:
        return rng.choice(HOSTILE)
    if isinstance(value, float) and rng.random() < 0.1:
        return rng.choice([math.inf, -math.inf, math.nan, -value, value * 1e9])
    return value


def _encode(value: Any) -> bytes:
    """JSON with the non-finite floats as the bare tokens a broken server would send."""
    text = json.dumps(value, allow_nan=True)
    return text.replace("Infinity", "1e999").encode()


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    seed = draw(st.integers(0, 2**32))
    rng = random.Random(seed)
    kind = draw(st.sampled_from(["bytes", "values", "values", "random", "channel", "utf8"]))
    index = draw(st.integers(0, len(CORPUS) - 1))
    if kind == "bytes":
        return _mutate_bytes(CORPUS[index], rng)
    if kind == "utf8":  # an invalid UTF-8 byte inside a string (a name, a status, an id)
        frame = CORPUS[index]
        quotes = [i for i, b in enumerate(frame) if b == ord('"')]
        at = rng.choice(quotes) + 1
        return frame[:at] + rng.choice([b"\xff", b"\xed\xa0", b"\xc3"]) + frame[at:]
    if kind == "values":
        return _encode(_mutate_value(DECODED[index], rng))
    if kind == "channel":  # random JSON under a channel the engine routes
        payload = draw(
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                lambda inner: (
                    st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4)
                ),
                max_leaves=12,
            )
        )
        note = {"channel_name": draw(st.sampled_from(CHANNELS)), "notification": payload}
        return _encode(note)
    return draw(st.binary(max_size=80))


EXAMPLES = int(os.environ.get("THALEX_MM_FUZZ_EXAMPLES", "400"))  # CI budget: a few seconds
FED = {"frames": 0, "bad": 0}


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print(f"\nengine decode fuzz: {FED['frames']} frames, {FED['bad']} bad frames")  # pytest -s


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(frames(), min_size=1, max_size=30))
def test_no_frame_raises_out_of_the_decoder_and_each_bad_one_is_counted_once(
    batch: list[bytes],
) -> None:
    client = Client()
    for frame in CORPUS[:40]:  # a session in progress: instruments known, orders live
        client.protocol.receive(frame, T0)
    for frame in batch:
        stats = client.protocol.stats
        before = (stats.bad_frames, len(client.bad))
        client.protocol.receive(frame, T0)
        bad = stats.bad_frames - before[0]
        FED["frames"] += 1
        FED["bad"] += bad
        assert bad <= 1 and len(client.bad) - before[1] == bad  # counted and reported once
        try:
            json.loads(frame)
        except UnicodeDecodeError:
            pass  # invalid UTF-8 in a key nobody reads is skipped with that key
        except ValueError:
            assert bad == 1, frame  # not JSON: always a bad frame, never silently dropped
    assert all(isinstance(e, ev.Event) for e in client.events)
    client.protocol.receive(CORPUS[-1], T0)  # and it still reads the next good frame


def test_values_no_tick_or_lot_can_hold_are_bad_frames() -> None:
    """Found by the fuzz at 5,000 examples: a book trade of 1e308 lots raised OverflowError
    out of the translator; such a frame is a bad one, counted once, and reading goes on."""
    client = Client()
    for frame in CORPUS[:40]:
        client.protocol.receive(frame, T0)
    book = f"book.{PERP}.none.10.raw"
    hostile = [
        {"trades": [[80001.0, 1e308, "buy", 1800000003.2, False]]},
        {"bid_changes": [[80000.0, 1e308, 1e308]]},
    ]
    for notification in hostile:
        frame = json.dumps({"channel_name": book, "notification": notification}).encode()
        before = client.protocol.stats.bad_frames
        client.protocol.receive(frame, T0)
        assert client.protocol.stats.bad_frames == before + 1
        assert "value out of range" in client.bad[-1]
