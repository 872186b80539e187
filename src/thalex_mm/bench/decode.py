"""Benchmark: the venue client's hot path, bytes in -> core events, and action -> bytes out.

Frames shaped like recorded Thalex traffic (a full ``ticker.<instrument>.raw`` payload and
``session.orders`` updates with fills, half each, prices on a random walk) are fed straight
into ``ThalexProtocol.receive`` with the real translator routes attached: envelope decode,
dict dispatch by channel, typed decode, conversion to core events. No sockets.

Also measured, to justify the design: the protocol without the event conversion, a bare
one-pass *tagged* decode (one msgspec Struct per channel, ``channel_name`` as the tag) and a
bare two-pass decode (envelope with ``msgspec.Raw`` payload, then a typed decode chosen by
channel). The tagged decode measured about twice as fast, so the protocol uses it for routed
notifications and keeps the envelope for replies and everything else.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec

from thalex_mm.core import actions as act
from thalex_mm.domain import Side
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.protocol import ThalexProtocol
from thalex_mm.venue.thalex.rpc import Incoming
from thalex_mm.venue.thalex.translate import Translator

TICKER_CHANNEL = "ticker.BTC-PERPETUAL.raw"
ORDERS_CHANNEL = "session.orders"
BTC = wire.Instrument(
    instrument_name="BTC-PERPETUAL",
    type="perpetual",
    product="FBTCUSD",
    tick_size=1.0,
    volume_tick_size=0.001,
    min_order_amount=0.001,
    underlying="BTCUSD",
)


def _frames(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    enc = msgspec.json.Encoder()
    mid = 100_000.0
    out: list[bytes] = []
    for i in range(n):
        mid = round(mid + rng.choice((-2.0, -1.0, 0.0, 1.0, 2.0)))
        if i % 2 == 0:
            ticker = {
                "best_bid_price": mid - 5,
                "best_bid_amount": round(rng.uniform(0.01, 2), 3),
                "best_ask_price": mid + 5,
                "best_ask_amount": round(rng.uniform(0.01, 2), 3),
                "last_price": mid,
                "mark_price": mid + 0.37,
                "mark_timestamp": 1737464800.5 + i,
                "delta": 1,
                "index": mid - 12.3,
                "volume_24h": 123.4,
                "value_24h": 12340000,
                "low_price_24h": 98000,
                "high_price_24h": 101000,
                "change_24h": 500,
                "collar_low": mid - 3000,
                "collar_high": mid + 3000,
                "open_interest": 456.7,
                "funding_rate": 0.00002,
                "funding_mark": 1.23,
                "realised_funding_24h": 2.1,
                "average_funding_rate_24h": 0.000015,
            }
            out.append(enc.encode({"channel_name": TICKER_CHANNEL, "notification": ticker}))
        else:
            filled = rng.random() < 0.5
            order = {
                "order_id": f"001BF14D{i:08X}",
                "client_order_id": 1000 + i % 50,
                "label": "q",
                "instrument_name": "BTC-PERPETUAL",
                "direction": "buy" if i % 4 == 1 else "sell",
                "order_type": "limit",
                "time_in_force": "good_till_cancelled",
                "price": mid - 10,
                "amount": 0.1,
                "filled_amount": 0.04 if filled else 0,
                "remaining_amount": 0.06 if filled else 0.1,
                "status": "partially_filled" if filled else "open",
                "fills": [
                    {
                        "trade_id": f"0080000000000000{i:016X}",
                        "price": mid - 10,
                        "amount": 0.04,
                        "time": 1737464802.7,
                        "maker_taker": "maker",
                        "leg_index": 0,
                    }
                ]
                if filled
                else [],
                "change_reason": "fill" if filled else "amend",
                "insert_reason": "client_request",
                "create_time": 1737464800.123,
                "persistent": False,
            }
            out.append(enc.encode({"channel_name": ORDERS_CHANNEL, "notification": [order]}))
    return out


def _protocol(convert: bool) -> ThalexProtocol:
    def ignore(*_: Any) -> None:
        return None

    proto = ThalexProtocol(ignore, 0)
    if convert:
        translator = Translator(ignore)
        translator.set_instruments([BTC])
        for channel in (TICKER_CHANNEL, ORDERS_CHANNEL):
            entry = translator.handler_for(channel)
            assert entry is not None
            proto.route(channel, entry[0], entry[1])
    else:
        proto.route(TICKER_CHANNEL, wire.Ticker, ignore)
        proto.route(ORDERS_CHANNEL, list[wire.OrderStatus], ignore)
    return proto


def _tagged_decoder() -> Callable[[bytes], Any]:
    """The alternative: one Struct per subscribed channel, tagged by its channel name."""
    ticker_note = msgspec.defstruct(
        "TickerNote",
        [("notification", wire.Ticker), ("snapshot", bool, False)],
        tag_field="channel_name",
        tag=TICKER_CHANNEL,
    )
    orders_note = msgspec.defstruct(
        "OrdersNote",
        [("notification", list[wire.OrderStatus]), ("snapshot", bool, False)],
        tag_field="channel_name",
        tag=ORDERS_CHANNEL,
    )
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(ticker_note | orders_note)
    return decoder.decode


def _envelope_decoder() -> Callable[[bytes], Any]:
    """The two-pass way: envelope with the payload as ``msgspec.Raw``, then a typed decode
    picked by a dict lookup on the channel name (what the protocol falls back to)."""
    envelope = msgspec.json.Decoder(Incoming)
    typed: dict[str, msgspec.json.Decoder[Any]] = {
        TICKER_CHANNEL: msgspec.json.Decoder(wire.Ticker),
        ORDERS_CHANNEL: msgspec.json.Decoder(list[wire.OrderStatus]),
    }

    def decode(frame: bytes) -> Any:
        env = envelope.decode(frame)
        return typed[env.channel_name or ""].decode(env.notification)

    return decode


def _rate(feed: Callable[[bytes], Any], frames: list[bytes], rounds: int) -> float:
    rates: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            start = time.perf_counter_ns()
            for frame in frames:
                feed(frame)
            elapsed = time.perf_counter_ns() - start
            rates.append(len(frames) * 1e9 / elapsed)
    finally:
        if gc_was_enabled:
            gc.enable()
    return statistics.median(rates)


def _reply_rate(n: int, rounds: int) -> float:
    """Replies to inserts (OrderStatus results) matched by id and turned into OrderUpdates;
    they take the envelope path after the tagged fast path declines them."""
    translator = Translator(lambda e: None)
    translator.set_instruments([BTC])

    def on_reply(req: Any, result: Any, error: Any, now_ns: int) -> None:
        translator.on_reply(req.context, result, error, now_ns)

    proto = ThalexProtocol(on_reply, 0)
    proto.set_result_type("private/insert", wire.OrderStatus)
    for channel in (TICKER_CHANNEL, ORDERS_CHANNEL):  # routes exist, as in a live session
        entry = translator.handler_for(channel)
        assert entry is not None
        proto.route(channel, entry[0], entry[1])
    enc = msgspec.json.Encoder()
    orders = [
        msgspec.json.decode(f, type=dict[str, Any])["notification"][0]
        for f in _frames(2 * n, seed=11)[1::2]
    ]
    rates: list[float] = []
    for _ in range(rounds):
        reqs = [
            proto.submit(
                "private/insert",
                None,
                0,
                act.Insert(i, "BTC-PERPETUAL", i, Side.BUY, 99_000, 100),
                urgent=True,
            )
            for i in range(n)
        ]
        proto.take_outgoing()
        frames = [enc.encode({"id": r.id, "result": o}) for r, o in zip(reqs, orders, strict=True)]
        rates.append(_rate(lambda f: proto.receive(f, 0), frames, 1))
    return statistics.median(rates)


def _encode_amend_us(n: int, rounds: int) -> float:
    """One Amend action -> wire bytes: translation plus the protocol's request encoding."""
    translator = Translator(lambda e: None)
    translator.set_instruments([BTC])
    proto = ThalexProtocol(lambda *a: None, 0)
    proto.ready = True
    amends = [
        act.Amend(i, "BTC-PERPETUAL", None, f"OID{i}", 99_000 + i % 100, 100) for i in range(n)
    ]
    medians: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for amend in amends:
            for method, params, ctx in translator.requests_for(amend, 0):
                proto.submit(method, params, 0, ctx, urgent=True)  # skip the throttle
            proto.take_outgoing()
        medians.append((time.perf_counter_ns() - start) / n / 1000)
        proto.connection_lost(0)  # forget the pending table between rounds
        proto.ready = True
    return statistics.median(medians)


def run(quick: bool) -> dict[str, float | int | str]:
    n = 20_000 if quick else 200_000
    rounds = 3 if quick else 7
    frames = _frames(n, seed=7)
    full = _protocol(convert=True)
    bare = _protocol(convert=False)
    tagged = _tagged_decoder()
    metrics: dict[str, float | int | str] = {
        "decode_dispatch_msgs_per_s": round(_rate(lambda f: full.receive(f, 0), frames, rounds)),
        "decode_only_msgs_per_s": round(_rate(lambda f: bare.receive(f, 0), frames, rounds)),
        "tagged_decode_only_msgs_per_s": round(_rate(tagged, frames, rounds)),
        "envelope_decode_only_msgs_per_s": round(_rate(_envelope_decoder(), frames, rounds)),
        "reply_decode_dispatch_msgs_per_s": round(_reply_rate(n // 4, rounds)),
        "encode_amend_us_median": round(_encode_amend_us(n // 10, rounds), 3),
        "decode_frames": n,
    }
    if full.stats.bad_frames or bare.stats.bad_frames:
        raise RuntimeError("benchmark frames failed to decode")
    return metrics


if __name__ == "__main__":
    for name, value in run(quick=True).items():
        print(f"{name}: {value}")
