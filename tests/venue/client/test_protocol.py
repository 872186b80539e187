"""ThalexProtocol without sockets: ids, pending table, dispatch, bad frames, throttle, gating."""

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.protocol import (
    LocalError,
    PendingRequest,
    RpcError,
    ThalexProtocol,
)
from thalex_mm.venue.thalex.throttle import NS_PER_S, ThrottleConfig

MS = 1_000_000


class Recorder:
    def __init__(self) -> None:
        self.replies: list[tuple[PendingRequest, Any, RpcError | None]] = []

    def __call__(self, req: PendingRequest, result: Any, error: RpcError | None, now: int) -> None:
        self.replies.append((req, result, error))


def make(ready: bool = True, **kw: Any) -> tuple[ThalexProtocol, Recorder]:
    rec = Recorder()
    proto = ThalexProtocol(rec, 0, throttle_config=ThrottleConfig(headroom=1.0), **kw)
    proto.ready = ready
    return proto, rec


def sent(proto: ThalexProtocol) -> list[dict[str, Any]]:
    return [msgspec.json.decode(f) for f in proto.take_outgoing()]


@settings(max_examples=40, deadline=None)
@given(st.permutations(list(range(8))))
def test_replies_are_matched_by_id_in_any_order(order: list[int]) -> None:
    proto, rec = make()
    proto.set_result_type("public/ticker", wire.Ticker)
    reqs = [
        proto.submit("public/ticker", {"instrument_name": f"I{i}"}, 0, f"ctx{i}") for i in range(8)
    ]
    frames = sent(proto)
    assert [f["id"] for f in frames] == [r.id for r in reqs]
    assert len({r.id for r in reqs}) == 8
    for i in order:
        mark = 100.0 + i
        reply = {
            "id": reqs[i].id,
            "result": {"mark_price": mark, "mark_timestamp": 1.0, "delta": 1, "index": 2},
        }
        proto.receive(msgspec.json.encode(reply), 1)
    assert [r[0].context for r in rec.replies] == [f"ctx{i}" for i in order]
    for req, result, error in rec.replies:
        assert error is None and isinstance(result, wire.Ticker)
        assert result.mark_price == 100.0 + int(req.context[3:])
    assert proto.in_flight == 0


def test_notifications_are_dispatched_by_channel_to_typed_handlers() -> None:
    proto, _ = make()
    got: dict[str, list[Any]] = {"t": [], "o": []}
    proto.route("ticker.BTC-PERPETUAL.raw", wire.Ticker, lambda p, s, n: got["t"].append((p, s, n)))
    proto.route(
        "session.orders", list[wire.OrderStatus], lambda p, s, n: got["o"].append((p, s, n))
    )
    proto.receive(b'{"channel_name":"session.orders","notification":[],"snapshot":true}', 5)
    proto.receive(
        b'{"channel_name":"ticker.BTC-PERPETUAL.raw","notification":'
        b'{"mark_price":1.5,"mark_timestamp":2,"delta":1,"index":3}}',
        6,
    )
    proto.receive(b'{"channel_name":"ticker.ETH-PERPETUAL.raw","notification":{}}', 7)
    assert got["o"] == [([], True, 5)]
    ((ticker, snap, now),) = got["t"]
    assert isinstance(ticker, wire.Ticker) and ticker.mark_price == 1.5 and not snap and now == 6
    assert proto.stats.unknown_channels == 1


def test_unknown_fields_are_tolerated_everywhere() -> None:
    proto, rec = make()
    proto.set_result_type("private/amend", wire.OrderStatus)
    got: list[Any] = []
    proto.route("system", wire.SystemEvent, lambda p, s, n: got.append(p))
    req = proto.submit("private/amend", {}, 0, "a")
    proto.receive(
        b'{"channel_name":"system","notification":{"event":"reconnect","new_field":[1,{"x":2}]},'
        b'"server_time":123}',
        1,
    )
    order = {
        "order_id": "X1",
        "order_type": "limit",
        "time_in_force": "good_till_cancelled",
        "direction": "buy",
        "amount": 0.1,
        "filled_amount": 0,
        "remaining_amount": 0.1,
        "status": "open",
        "fills": [],
        "change_reason": "amend",
        "insert_reason": "client_request",
        "create_time": 1.0,
        "persistent": False,
        "brand_new_field": {"nested": True},
    }
    proto.receive(msgspec.json.encode({"id": req.id, "result": order, "usIn": 1, "usOut": 2}), 2)
    assert got == [wire.SystemEvent(event="reconnect")]
    assert rec.replies[0][1].order_id == "X1"
    assert proto.stats.bad_frames == 0


GOOD = b'{"channel_name":"c","notification":{"event":"ok"}}'


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"not json",
        b'{"channel_name":"c","notification":',  # truncated
        b'{"channel_name":42}',  # wrong type
        b'{"channel_name":"c","notification":{"event":7}}',  # payload of the wrong type
        b"[1,2,3]",
        b'{"id":"zz","result":1}',
    ],
)
def test_malformed_frame_is_counted_and_the_next_frame_still_works(frame: bytes) -> None:
    proto, _ = make()
    got: list[Any] = []
    proto.route("c", wire.SystemEvent, lambda p, s, n: got.append(p.event))
    proto.receive(frame, 0)
    proto.receive(GOOD, 1)
    assert got == ["ok"]
    assert proto.stats.bad_frames + proto.stats.unmatched_replies >= 1


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise(frame: bytes) -> None:
    proto, _ = make()
    proto.route("c", wire.SystemEvent, lambda p, s, n: None)
    proto.receive(frame, 0)


def test_error_reply_reaches_the_caller_and_bad_result_fails_the_request() -> None:
    proto, rec = make()
    proto.set_result_type("private/cancel", wire.OrderStatus)
    a = proto.submit("private/cancel", {}, 0, "a")
    b = proto.submit("private/cancel", {}, 0, "b")
    proto.receive(
        msgspec.json.encode({"id": a.id, "error": {"code": 1, "message": "order not found"}}), 1
    )
    proto.receive(msgspec.json.encode({"id": b.id, "result": {"order_id": 5}}), 1)
    assert rec.replies[0][2] == RpcError(1, "order not found")
    assert rec.replies[1][2] is not None and rec.replies[1][2].code == LocalError.BAD_REPLY
    assert proto.in_flight == 0


def test_orders_are_refused_until_ready_but_session_requests_pass() -> None:
    proto, rec = make(ready=False)
    proto.submit("private/insert", {}, 0, "order")
    proto.submit("public/login", {"token": "t"}, 0, "login", gated=False)
    assert [f["method"] for f in sent(proto)] == ["public/login"]
    assert rec.replies[0][0].context == "order"
    assert rec.replies[0][2] is not None and rec.replies[0][2].code == LocalError.NOT_READY


def test_throttle_queues_and_releases_at_the_rate() -> None:
    proto, _ = make()
    for i in range(25):
        proto.submit("private/insert", {"n": i}, 0, i)
    assert len(sent(proto)) == 10  # a persistent session: 10/s burst
    wake = proto.next_wakeup_ns(0)
    assert wake is not None and 0 < wake <= NS_PER_S // 10 + 1
    proto.pump(wake)
    assert len(sent(proto)) == 1
    proto.pump(wake + NS_PER_S // 2)
    assert len(sent(proto)) == 5
    assert proto.queued == 9


def test_after_error_4_the_client_backs_off_instead_of_retrying() -> None:
    cfg = ThrottleConfig(headroom=1.0, backoff_initial_ns=500 * MS)
    rec = Recorder()
    proto = ThalexProtocol(rec, 0, throttle_config=cfg, queue_ttl_ns=10 * NS_PER_S)
    proto.ready = True
    reqs = [proto.submit("private/insert", {}, 0, i) for i in range(30)]
    first = sent(proto)
    assert len(first) == 10
    # the venue throttles the third request (its own view of the rate differs from ours)
    proto.receive(
        msgspec.json.encode({"id": reqs[2].id, "error": {"code": 4, "message": "throttled"}}),
        10 * MS,
    )
    assert rec.replies[-1][0] is reqs[2]
    assert rec.replies[-1][2] == RpcError(4, "throttled")  # reported, not retried
    later: list[dict[str, Any]] = []
    for t in range(10 * MS, 500 * MS, MS):  # the transport pumps every millisecond
        proto.pump(t)
        later += sent(proto)
    assert later == []  # silence for the whole cool-down
    for t in range(510 * MS, 2 * NS_PER_S, MS):
        proto.pump(t)
        later += sent(proto)
    assert 0 < len(later) <= 16  # then the rate again, starting from an empty bucket
    assert reqs[2].id not in {f["id"] for f in later}  # the throttled request is not resent


def test_queued_orders_expire_but_cancels_wait() -> None:
    proto, rec = make(queue_ttl_ns=100 * MS)
    for i in range(12):
        proto.submit("private/amend", {}, 0, f"amend{i}")
    proto.throttle.on_throttle_error(0)
    proto.submit("private/cancel", {}, 0, "cancel")
    sent(proto)
    proto.pump(200 * MS)
    expired = [
        r[0].context for r in rec.replies if r[2] and r[2].code == LocalError.THROTTLE_EXPIRED
    ]
    assert expired == ["amend10", "amend11"]
    proto.pump(NS_PER_S)
    assert [f["method"] for f in sent(proto)] == ["private/cancel"]


def test_connection_lost_fails_everything_outstanding_once() -> None:
    proto, rec = make()
    for i in range(15):
        proto.submit("private/insert", {}, 0, i)
    sent(proto)
    proto.connection_lost(1)
    assert sorted(r[0].context for r in rec.replies) == list(range(15))
    assert all(r[2] is not None and r[2].code == LocalError.CONNECTION_LOST for r in rec.replies)
    assert proto.in_flight == 0 and proto.queued == 0 and not proto.ready
    # a late reply for an old id is ignored, and new ids never collide with old ones
    proto.receive(b'{"id":1,"result":{}}', 2)
    assert len(rec.replies) == 15
    proto.ready = True
    new = proto.submit("public/ticker", {}, 3, "new")
    assert new.id == 16


def test_cancel_on_disconnect_reply_raises_the_order_rate() -> None:
    proto, _ = make(ready=False)
    req = proto.submit(
        "private/set_cancel_on_disconnect", {"timeout_secs": 6}, 0, None, gated=False
    )
    sent(proto)
    proto.receive(msgspec.json.encode({"id": req.id, "result": {"message_rate": 50}}), 1)
    proto.ready = True
    for _ in range(60):
        proto.submit("private/insert", {}, 1, None)
    assert len(sent(proto)) == 49  # 50 minus the one set_cancel_on_disconnect itself used


def test_urgent_requests_skip_gate_and_throttle() -> None:
    proto, _ = make(ready=False)
    proto.throttle.on_throttle_error(0)
    proto.submit("private/cancel_session", None, 1, None, urgent=True)
    (frame,) = sent(proto)
    assert frame == {"method": "private/cancel_session", "params": {}, "id": 1}


def test_pending_request_repr_never_shows_params() -> None:
    proto, _ = make()
    req = proto.submit("public/login", {"token": "SECRET-TOKEN"}, 0, None, gated=False)
    assert "SECRET" not in repr(req)


TICKER_FIELDS = st.fixed_dictionaries(
    {
        "mark_price": st.floats(1, 1e6),
        "mark_timestamp": st.floats(0, 2e9),
        "delta": st.floats(-2, 2),
        "index": st.floats(1, 1e6),
    },
    optional={
        "best_bid_price": st.floats(1, 1e6),
        "best_ask_amount": st.floats(0, 100),
        "funding_rate": st.floats(-0.01, 0.01),
        "unknown_extra": st.text(max_size=5),
    },
)


@settings(max_examples=50, deadline=None)
@given(TICKER_FIELDS, st.booleans(), st.booleans())
def test_dispatched_payload_equals_a_direct_typed_decode(
    payload: dict[str, Any], snapshot: bool, channel_last: bool
) -> None:
    proto, _ = make()
    got: list[tuple[Any, bool]] = []
    proto.route("ticker.X.raw", wire.Ticker, lambda p, s, n: got.append((p, s)))
    proto.route("other", wire.SystemEvent, lambda p, s, n: None)
    body: dict[str, Any] = {"notification": payload}
    if snapshot:
        body["snapshot"] = True
    frame = (
        {**body, "channel_name": "ticker.X.raw"}
        if channel_last
        else {"channel_name": "ticker.X.raw", **body}
    )
    proto.receive(msgspec.json.encode(frame), 0)
    expected = msgspec.json.decode(msgspec.json.encode(payload), type=wire.Ticker)
    assert got == [(expected, snapshot)]


def test_unrouted_channel_is_no_longer_dispatched() -> None:
    proto, _ = make()
    got: list[Any] = []
    proto.route("c", wire.SystemEvent, lambda p, s, n: got.append(p))
    proto.receive(GOOD, 0)
    proto.unroute("c")
    proto.receive(GOOD, 1)
    assert len(got) == 1 and proto.stats.unknown_channels == 1


def test_replies_still_match_while_channels_are_routed() -> None:
    proto, rec = make()
    proto.route("c", wire.SystemEvent, lambda p, s, n: None)
    req = proto.submit("public/ticker", {}, 0, "ctx")
    proto.receive(msgspec.json.encode({"id": req.id, "result": [1, 2]}), 1)
    assert rec.replies[0][0].context == "ctx" and bytes(rec.replies[0][1]) == b"[1,2]"
