"""The Thalex JSON-RPC envelope: request frames in, reply and notification frames out.

Framing (protocol.md §1.2-1.4): requests are ``{"method", "id"?, "params"}``; replies are
``{"id", "result"}`` or ``{"id", "error": {"code", "message"}}`` with the id echoed verbatim
(``null`` when absent); pushes are ``{"channel_name", "notification", "snapshot"?}``.

The id and params are kept as raw JSON (``msgspec.Raw``) so the id is echoed byte-for-byte and
params are decoded exactly once, straight into the method's Struct. Frames are assembled from
pre-encoded pieces so a notification fanned out to many sessions is encoded once.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from thalex_mm.venue.thalex.codes import ErrorCode
from thalex_mm.venue.thalex.messages import RpcError

T = TypeVar("T")

NULL = msgspec.Raw(b"null")
_ABSENT = msgspec.Raw(b"")
_EMPTY_OBJECT = msgspec.Raw(b"{}")

_encoder = msgspec.json.Encoder()
encode = _encoder.encode  # the one JSON encoder, reused


class RequestFrame(msgspec.Struct):
    """A decoded request; ``id`` and ``params`` still raw JSON."""

    method: str
    id: msgspec.Raw = NULL
    params: msgspec.Raw = _EMPTY_OBJECT


class _IdOnly(msgspec.Struct):
    id: msgspec.Raw = NULL


class FrameError(Exception):
    """A request that cannot be answered normally; reply with ``error_frame(id, code, msg)``."""

    def __init__(self, code: int, message: str, request_id: bytes = b"null") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


_frame_decoder = msgspec.json.Decoder(RequestFrame)
_id_decoder = msgspec.json.Decoder(_IdOnly)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def decode_request(data: bytes | str) -> RequestFrame:
    """Parse one request frame, raising FrameError (code 6) with a precise message."""
    try:
        frame = _frame_decoder.decode(data)
    except RecursionError:
        raise FrameError(ErrorCode.INVALID_REQUEST, "malformed JSON: nested too deeply") from None
    except msgspec.DecodeError as exc:
        if isinstance(exc, msgspec.ValidationError):
            request_id = _salvage_id(data)
            raise FrameError(
                ErrorCode.INVALID_REQUEST, f"invalid request: {_short(str(exc))}", request_id
            ) from None
        raise FrameError(ErrorCode.INVALID_REQUEST, f"malformed JSON: {_short(str(exc))}") from None
    raw_params = bytes(frame.params)
    if raw_params == b"null":  # tolerate "params": null like a missing params
        frame.params = _EMPTY_OBJECT
    return frame


def _salvage_id(data: bytes | str) -> bytes:
    """The request id of a frame that failed validation, so the error can still echo it."""
    try:
        return bytes(_id_decoder.decode(data).id)
    except (msgspec.DecodeError, RecursionError):
        return b"null"


_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decode_params(frame: RequestFrame, params_type: type[T]) -> T:
    """Decode ``params`` into the method's Struct; FrameError(6) names the bad field."""
    decoder = _decoders.get(params_type)
    if decoder is None:
        decoder = _decoders[params_type] = msgspec.json.Decoder(params_type)
    try:
        result: T = decoder.decode(frame.params)
    except RecursionError:
        raise FrameError(
            ErrorCode.INVALID_REQUEST, "invalid params: nested too deeply", bytes(frame.id)
        ) from None
    except msgspec.DecodeError as exc:
        message = str(exc).replace("`$`", "`params`").replace("`$.", "`params.")
        raise FrameError(
            ErrorCode.INVALID_REQUEST, f"invalid params: {_short(message)}", bytes(frame.id)
        ) from None
    return result


# --- outgoing frames ------------------------------------------------------------------------
def result_frame(request_id: bytes, result: Any) -> bytes:
    return b'{"id":%b,"result":%b}' % (request_id, encode(result))


def result_frame_raw(request_id: bytes, encoded_result: bytes) -> bytes:
    return b'{"id":%b,"result":%b}' % (request_id, encoded_result)


def error_frame(request_id: bytes, code: int, message: str) -> bytes:
    return b'{"id":%b,"error":%b}' % (request_id, encode(RpcError(code=int(code), message=message)))


def channel_key(channel_name: str) -> bytes:
    """The channel name pre-encoded as a JSON string, computed once per subscription."""
    return encode(channel_name)


def notification_frame(channel: bytes, encoded_payload: bytes, snapshot: bool = False) -> bytes:
    """``channel`` comes from channel_key(); the payload is already JSON."""
    if snapshot:
        return b'{"channel_name":%b,"notification":%b,"snapshot":true}' % (
            channel,
            encoded_payload,
        )
    return b'{"channel_name":%b,"notification":%b}' % (channel, encoded_payload)


# --- client side ----------------------------------------------------------------------------
class Incoming(msgspec.Struct):
    """Any frame from the server. A notification has ``channel_name``; a reply has ``id`` and
    either ``result`` (raw, may be JSON null) or ``error``. ``has_result`` tells null apart from
    absent."""

    channel_name: str | None = None
    notification: msgspec.Raw = _ABSENT
    snapshot: bool = False
    id: int | str | None = None
    result: msgspec.Raw = _ABSENT
    error: RpcError | None = None

    @property
    def has_result(self) -> bool:
        return len(self.result) > 0


_incoming_decoder = msgspec.json.Decoder(Incoming)


def decode_incoming(data: bytes | str) -> Incoming:
    return _incoming_decoder.decode(data)


def request_frame(method: str, params: Any = None, request_id: int | None = None) -> bytes:
    """A request as the official client sends it (``params`` always present, id optional)."""
    encoded_params = b"{}" if params is None else encode(params)
    if request_id is None:
        return b'{"method":%b,"params":%b}' % (encode(method), encoded_params)
    return b'{"method":%b,"params":%b,"id":%d}' % (encode(method), encoded_params, request_id)
