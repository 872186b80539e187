"""The JSON-RPC surface of a session, without sockets: framing, errors, login, rate limits."""

from __future__ import annotations

import json

import jwt
import pytest
from _protocol_kit import NS, PERP, PRIVATE_PEM, Harness, find_reply

from thalex_mm.venue.thalex.codes import ErrorCode


def bid(price: float, amount: float = 0.01, cid: int | None = None) -> dict[str, object]:
    params: dict[str, object] = {
        "direction": "buy",
        "instrument_name": PERP,
        "amount": amount,
        "price": price,
    }
    if cid is not None:
        params["client_order_id"] = cid
    return params


@pytest.mark.parametrize(
    ("frame", "echoed_id", "mentions"),
    [
        ("{not json", None, "malformed JSON"),
        ("[1, 2]", None, "object"),
        ('"just a string"', None, "object"),
        ('{"id": 5, "params": {}}', 5, "method"),
        ('{"method": 3, "id": "x"}', "x", "method"),
        ('{"method": "public/ticker", "id": 8, "params": []}', 8, "params"),
        ('{"method": "public/ticker", "id": 9, "params": {}}', 9, "instrument_name"),
        ('{"method": "public/ticker", "id": 10, "params": {"instrument_name": 5}}', 10, "str"),
    ],
)
def test_bad_frames_get_an_error_reply_and_the_session_survives(
    frame: str, echoed_id: object, mentions: str
) -> None:
    h = Harness()
    session = h.open()
    (reply,) = h.raw(session, frame)
    assert reply["id"] == echoed_id
    assert reply["error"]["code"] == ErrorCode.INVALID_REQUEST
    assert mentions in reply["error"]["message"]
    # still usable
    assert h.call(session, "public/system_info", id=2)["environment"] == "testnet"


@pytest.mark.parametrize(
    ("frame", "echoed_id"),
    [
        (b'{"method":"public/tick\xffer","id":9,"params":{}}', 9),  # the repro
        (b'{"method":"public/ticker","id":9,"params":{"instrument_name":"BTC\xff"}}', 9),
        (b'{"method":"public/ticker","id":"9\xff","params":{}}', None),  # never echoed
        (b'{"method":"public/ticker","id":[1,"\xc3"],"params":{}}', None),
        (b"\xff\xfe{}", None),
    ],
)
def test_invalid_utf8_in_a_binary_frame_gets_an_error_reply_and_the_session_survives(
    frame: bytes, echoed_id: object
) -> None:
    """Issue #16 defect 3: UnicodeDecodeError escaped (the server closed the socket with 1011),
    a bad byte in params was an internal error, and an id with one was echoed as invalid
    UTF-8. Now every such frame gets error 6, valid UTF-8, and the session goes on."""
    h = Harness()
    session = h.open()
    h.login(session)
    session.receive(frame, h.wall_ns)
    h.hub.take_ready()
    (raw,) = session.take_output()
    reply = json.loads(raw.decode("utf-8"))  # strict: raises on invalid UTF-8
    assert reply["id"] == echoed_id
    assert reply["error"]["code"] == ErrorCode.INVALID_REQUEST
    assert "invalid UTF-8" in reply["error"]["message"]
    assert h.hub.internal_error_count == 0
    assert h.call(session, "public/system_info", id=2)["environment"] == "testnet"


def test_wrong_param_type_on_a_private_method_names_the_field() -> None:
    h = Harness()
    session = h.open()
    h.login(session)
    params = bid(100_000) | {"amount": "lots"}
    reply = h.call(session, "private/insert", params, id=3)
    assert reply["error"]["code"] == ErrorCode.INVALID_REQUEST
    assert "params.amount" in reply["error"]["message"]
    assert h.engine.open_orders("A000000001") == []


def test_unknown_method_is_error_31() -> None:
    h = Harness()
    session = h.open()
    reply = h.call(session, "private/launch_rocket", id=4)
    assert reply["error"]["code"] == ErrorCode.UNKNOWN_METHOD
    assert "private/launch_rocket" in reply["error"]["message"]


@pytest.mark.parametrize("request_id", ["abc", {"nested": [1, 2]}, 2**40, 0])
def test_request_id_is_echoed_verbatim(request_id: object) -> None:
    h = Harness()
    session = h.open()
    out = h.raw(session, json.dumps({"method": "public/system_info", "id": request_id}))
    assert out[0]["id"] == request_id and "result" in out[0]


def test_missing_id_is_answered_with_null_and_missing_params_are_tolerated() -> None:
    h = Harness()
    session = h.open()
    (reply,) = h.raw(session, '{"method": "public/instruments"}')
    assert reply["id"] is None
    names = {i["instrument_name"] for i in reply["result"]}
    assert PERP in names


def test_oversize_message_is_refused_without_closing() -> None:
    h = Harness()
    session = h.open()
    big = json.dumps({"method": "public/system_info", "id": 1, "params": {"x": "a" * (1 << 20)}})
    (reply,) = h.raw(session, big)
    assert reply["error"]["code"] == ErrorCode.INVALID_REQUEST
    assert "1 MiB" in reply["error"]["message"]
    assert not session.closed
    assert "result" in find_reply(h.send(session, "public/system_info", id=2), 2)


def test_private_methods_need_login() -> None:
    h = Harness()
    session = h.open()
    for method in ("private/portfolio", "private/insert", "private/set_cancel_on_disconnect"):
        reply = h.call(session, method, bid(100_000), id=5)
        assert reply["error"]["code"] == ErrorCode.NOT_LOGGED_IN, method
    h.login(session)
    assert h.call(session, "private/portfolio", id=6) == []


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unknown_kid", ErrorCode.AUTHENTICATION_FAILED),
        ("stale_iat", ErrorCode.AUTHENTICATION_FAILED),
        ("replayed", ErrorCode.AUTHENTICATION_FAILED),
        ("foreign_account", ErrorCode.AUTHENTICATION_FAILED),
        ("not_a_token", ErrorCode.AUTHENTICATION_FAILED),
    ],
)
def test_login_failures_are_error_19_and_leave_the_session_anonymous(case: str, code: int) -> None:
    h = Harness()
    session = h.open()
    params: dict[str, object] = {"token": h.token()}
    if case == "unknown_kid":
        params["token"] = h.token("K999999999")
    elif case == "stale_iat":
        params["token"] = h.token(offset_s=-31)
    elif case == "replayed":
        assert h.call(session, "public/login", params, id=1) == {"account_number": "A000000001"}
        session = h.open()
    elif case == "foreign_account":
        params["account"] = "A000000002"
    elif case == "not_a_token":
        params["token"] = "abc.def"
    reply = h.call(session, "public/login", params, id=2)
    assert reply["error"]["code"] == code
    assert session.account is None
    assert h.call(session, "private/portfolio", id=3)["error"]["code"] == ErrorCode.NOT_LOGGED_IN


def signed(h: Harness, claims: dict[str, object]) -> str:
    """A token of K000000001 with extra claims (iat = the harness clock)."""
    payload = {"iat": h.wall_ns / NS, **claims}
    return jwt.encode(payload, PRIVATE_PEM, algorithm="RS512", headers={"kid": "K000000001"})


@pytest.mark.parametrize(
    ("exp_offset_s", "accepted"),
    [(-60.0, False), (-6.0, False), (-4.0, True), (60.0, True), (None, True)],
)
def test_a_token_whose_exp_has_passed_is_refused_with_error_19(
    exp_offset_s: float | None, accepted: bool
) -> None:
    """Issue #16 defect 10: exp was not checked. It may be 5 s in the past (clock skew)."""
    h = Harness()
    session = h.open()
    claims = {} if exp_offset_s is None else {"exp": h.wall_ns / NS + exp_offset_s}
    reply = h.call(session, "public/login", {"token": signed(h, claims)}, id=1)
    if accepted:
        assert reply == {"account_number": "A000000001"}
        return
    assert reply["error"]["code"] == ErrorCode.AUTHENTICATION_FAILED
    assert "expired" in reply["error"]["message"]
    assert session.account is None


@pytest.mark.parametrize("exp", ["soon", True, None])
def test_a_non_numeric_exp_is_refused(exp: object) -> None:
    h = Harness()
    session = h.open()
    reply = h.call(session, "public/login", {"token": signed(h, {"exp": exp})}, id=1)
    if exp is None:  # "exp": null is no expiry
        assert reply == {"account_number": "A000000001"}
        return
    assert reply["error"]["code"] == ErrorCode.AUTHENTICATION_FAILED
    assert "exp must be a number" in reply["error"]["message"]


def test_order_messages_are_throttled_at_10_per_second_then_recover() -> None:
    h = Harness()
    session = h.open()
    h.login(session, cod=False)
    codes = []
    for i in range(12):
        reply = find_reply(h.send(session, "private/insert", bid(90_000 + i), id=100 + i), 100 + i)
        codes.append(reply["error"]["code"] if "error" in reply else 0)
    assert codes[:10] == [0] * 10
    assert codes[10:] == [ErrorCode.THROTTLE_EXCEEDED] * 2
    assert len(h.engine.open_orders("A000000001")) == 10
    # cancels have their own, larger budget
    cancel = h.call(session, "private/cancel_all", id=200)
    assert cancel == 10
    # the bucket refills at the rate: after 0.5 s five more orders pass
    h.wall_ns += NS // 2
    passed = [
        "result"
        in find_reply(h.send(session, "private/insert", bid(80_000 + i), id=300 + i), 300 + i)
        for i in range(6)
    ]
    assert passed == [True] * 5 + [False]


def test_cancel_on_disconnect_raises_the_rate_to_50() -> None:
    h = Harness()
    session = h.open()
    h.login(session, cod=True)
    ok = 0
    for i in range(55):
        reply = find_reply(h.send(session, "private/insert", bid(90_000 + i), id=i + 1), i + 1)
        ok += "result" in reply
    assert ok == 50


def test_queries_are_not_throttled() -> None:
    h = Harness()
    session = h.open()
    h.login(session, cod=False)
    for i in range(30):
        assert h.call(session, "private/open_orders", id=i + 1) == []
