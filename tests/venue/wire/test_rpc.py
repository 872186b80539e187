"""The JSON-RPC envelope: request parsing with precise errors, frames built from parts."""

from __future__ import annotations

import json

import pytest

from thalex_mm.venue.thalex import requests
from thalex_mm.venue.thalex.codes import ErrorCode
from thalex_mm.venue.thalex.messages import LoginResult
from thalex_mm.venue.thalex.rpc import (
    FrameError,
    channel_key,
    decode_incoming,
    decode_params,
    decode_request,
    error_frame,
    notification_frame,
    request_frame,
    result_frame,
)


def test_request_id_and_params_stay_raw_until_needed() -> None:
    frame = decode_request(
        '{"method":"public/ticker","id":{"a":[1]},"params":{"instrument_name":"X"}}'
    )
    assert frame.method == "public/ticker"
    assert bytes(frame.id) == b'{"a":[1]}'
    assert decode_params(frame, requests.InstrumentNameParams).instrument_name == "X"


def test_missing_or_null_params_mean_no_params() -> None:
    for text in ('{"method":"m"}', '{"method":"m","params":null}'):
        frame = decode_request(text)
        assert bytes(frame.id) == b"null"
        assert decode_params(frame, requests.EmptyParams) == requests.EmptyParams()


@pytest.mark.parametrize(
    ("text", "request_id", "fragment"),
    [
        ("", b"null", "malformed JSON"),
        ("{", b"null", "malformed JSON"),
        ("17", b"null", "object"),
        ('{"id": 3}', b"3", "method"),
        ('{"id": "q", "method": null}', b'"q"', "method"),
    ],
)
def test_bad_frames_raise_invalid_request_with_the_id_when_known(
    text: str, request_id: bytes, fragment: str
) -> None:
    with pytest.raises(FrameError) as caught:
        decode_request(text)
    assert caught.value.code == ErrorCode.INVALID_REQUEST
    assert caught.value.request_id == request_id
    assert fragment in caught.value.message


def test_absurdly_nested_json_is_an_error_not_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(FrameError) as caught:
        decode_request('{"method":"m","id":' + deep + "}")
    assert caught.value.code == ErrorCode.INVALID_REQUEST
    with pytest.raises(FrameError) as caught:
        decode_request('{"method":"m","id":1,"params":{"a":' + deep + "}}")
    assert caught.value.code == ErrorCode.INVALID_REQUEST


def test_param_errors_name_the_field() -> None:
    frame = decode_request('{"method":"private/amend","id":1,"params":{"price":"high","amount":1}}')
    with pytest.raises(FrameError) as caught:
        decode_params(frame, requests.AmendParams)
    assert "params.price" in caught.value.message and caught.value.request_id == b"1"
    frame = decode_request('{"method":"private/amend","id":2,"params":{"price":1}}')
    with pytest.raises(FrameError) as caught:
        decode_params(frame, requests.AmendParams)
    assert "amount" in caught.value.message


def test_outgoing_frames_are_valid_json_with_the_documented_shape() -> None:
    assert json.loads(result_frame(b'"x"', LoginResult(account_number="A1"))) == {
        "id": "x",
        "result": {"account_number": "A1"},
    }
    assert json.loads(result_frame(b"null", None)) == {"id": None, "result": None}
    assert json.loads(error_frame(b"7", ErrorCode.NOT_LOGGED_IN, 'say "hi"')) == {
        "id": 7,
        "error": {"code": 7, "message": 'say "hi"'},
    }
    key = channel_key('odd "name"')
    assert json.loads(notification_frame(key, b"[1]")) == {
        "channel_name": 'odd "name"',
        "notification": [1],
    }
    assert json.loads(notification_frame(key, b"{}", snapshot=True))["snapshot"] is True


def test_client_side_request_and_incoming_frames() -> None:
    params = requests.CancelParams(client_order_id=5)
    assert json.loads(request_frame("private/cancel", params, 9)) == {
        "method": "private/cancel",
        "params": {"client_order_id": 5},
        "id": 9,
    }
    assert json.loads(request_frame("public/system_info")) == {
        "method": "public/system_info",
        "params": {},
    }
    reply = decode_incoming(b'{"id":4,"result":null}')
    assert reply.has_result and bytes(reply.result) == b"null" and reply.channel_name is None
    error = decode_incoming(b'{"id":4,"error":{"code":1,"message":"order not found"}}')
    assert not error.has_result and error.error is not None and error.error.code == 1
    note = decode_incoming(b'{"channel_name":"system","notification":{"event":"reconnect"}}')
    assert note.channel_name == "system" and bytes(note.notification) == b'{"event":"reconnect"}'
