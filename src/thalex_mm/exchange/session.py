"""One protocol session per WebSocket connection, sans-I/O.

`Session.receive(text, wall_ns)` parses one request frame, runs the method and appends the
outgoing frames (notifications caused by the request, then the reply) to ``outbox``; the server
only moves bytes. A session holds the login (account), the cancel-on-disconnect flag and its
heartbeat timeout, the subscriptions and the rate-limit buckets; its ``session_id`` is the
namespace of its ``client_order_id``s in the engine.

Every failure becomes an error reply with the request's id; a request can never raise out of
`receive` (unexpected exceptions are answered with code 20 and counted for the server to log).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import jwt

from thalex_mm.exchange.channels import ChannelError, ChannelKind, ChannelSpec
from thalex_mm.exchange.engine import SessionRef
from thalex_mm.exchange.ratelimit import SessionLimits
from thalex_mm.exchange.stats import SessionCounters
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.auth import AuthError
from thalex_mm.venue.thalex.codes import ErrorCode
from thalex_mm.venue.thalex.requests import ChannelsParams, LoginParams, SetCancelOnDisconnectParams
from thalex_mm.venue.thalex.rpc import (
    FrameError,
    RequestFrame,
    decode_params,
    decode_request,
    error_frame,
    result_frame,
)

if TYPE_CHECKING:
    from thalex_mm.exchange.hub import ExchangeHub

MAX_MESSAGE_BYTES = 1 << 20  # Thalex (and the official client) cap a message at 1 MiB
TEMPORARY_FAILURE = 20
MAX_SUBSCRIPTIONS = 1000  # public channels per session; each one costs work on every change
EXP_LEEWAY_S = 5.0  # a login token's exp may be this far in the past (clock skew)

Handler = Callable[["Session", RequestFrame, int], bytes]


class Bucket:
    """Which rate-limit bucket a method spends from."""

    NONE = 0
    ORDERS = 1
    CANCELS = 2


class Session:
    """Protocol state of one connection."""

    def __init__(self, hub: ExchangeHub, session_id: int, wall_ns: int) -> None:
        self.hub = hub
        self.session_id = session_id
        self.outbox: list[bytes] = []
        self.account: str | None = None
        self.key_id: str | None = None
        self.persistent = True
        self.cod_timeout_ns: int | None = None
        self.last_rx_ns = wall_ns
        self.limits = SessionLimits.new(wall_ns, hub.rate_scale)
        self.public_channels: set[str] = set()
        self.private_channels: set[ChannelKind] = set()
        self.closed = False
        self.ref = SessionRef(account="", session_id=session_id, persistent=True)
        self.counters = SessionCounters()

    # ---- output --------------------------------------------------------------------------
    def push(self, frame: bytes) -> None:
        if self.closed:
            self.counters.frames_unsent_at_close += 1
            return
        if not self.outbox:
            self.hub.mark_ready(self)
        self.outbox.append(frame)
        self.counters.frames_out += 1

    def note_coalesced(self, count: int) -> None:
        """Paced market data merged ``count`` changes into the frame just pushed."""
        self.counters.coalesced += count

    def take_output(self) -> list[bytes]:
        out, self.outbox = self.outbox, []
        return out

    # ---- input ---------------------------------------------------------------------------
    def touch(self, wall_ns: int) -> None:
        """Anything arrived (a message or a ping): the heartbeat is alive."""
        self.last_rx_ns = wall_ns

    def receive(self, data: str | bytes, wall_ns: int) -> None:
        self.touch(wall_ns)
        if self.closed:
            return
        if len(data) > MAX_MESSAGE_BYTES:
            self.push(error_frame(b"null", ErrorCode.INVALID_REQUEST, "message exceeds 1 MiB"))
            return
        if isinstance(data, bytes):  # a binary frame: nothing checked its UTF-8 yet
            binary = data
            try:
                data = binary.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.push(invalid_utf8_reply(binary, exc))
                return
        try:
            frame = decode_request(data)
        except FrameError as exc:
            self.push(error_frame(exc.request_id, exc.code, exc.message))
            return
        request_id = bytes(frame.id)
        try:
            reply = self._dispatch(frame, wall_ns)
        except FrameError as exc:
            reply = error_frame(request_id, exc.code, exc.message)
        except Exception as exc:  # a bug must not take the exchange down
            self.hub.record_internal_error(exc)
            reply = error_frame(request_id, TEMPORARY_FAILURE, "internal error")
        if len(reply) > MAX_MESSAGE_BYTES:
            reply = error_frame(request_id, ErrorCode.INVALID_REQUEST, "result exceeds 1 MiB")
        if reply:  # empty: the method pushed its reply itself (subscribe, before snapshots)
            self.push(reply)
        try:
            self.hub.flush_public(self.hub.sim_ns(wall_ns))
        except Exception as exc:  # a feed bug must not cost this connection
            self.hub.record_internal_error(exc)

    def _dispatch(self, frame: RequestFrame, wall_ns: int) -> bytes:
        entry = self.hub.methods.get(frame.method)
        if entry is None:
            shown = frame.method if len(frame.method) <= 60 else frame.method[:57] + "..."
            raise FrameError(ErrorCode.UNKNOWN_METHOD, f"unknown method {shown!r}")
        handler, private, bucket = entry
        if private and self.account is None:
            raise FrameError(ErrorCode.NOT_LOGGED_IN, f"{frame.method} requires public/login")
        if bucket == Bucket.ORDERS and not self.limits.orders.try_take(wall_ns):
            raise FrameError(ErrorCode.THROTTLE_EXCEEDED, "message rate exceeded (throttled)")
        if bucket == Bucket.CANCELS and not self.limits.cancels.try_take(wall_ns):
            raise FrameError(ErrorCode.THROTTLE_EXCEEDED, "cancel rate exceeded (throttled)")
        faults = self.hub.faults
        if faults is not None and bucket != Bucket.NONE:
            refused = faults.refuse(bucket == Bucket.ORDERS, wall_ns)
            if refused is not None:
                raise FrameError(*refused)
        if handler is None:  # session-level methods need the wall clock
            return self._session_method(frame, wall_ns)
        return handler(self, frame, self.hub.sim_ns(wall_ns))

    # ---- session-level methods -----------------------------------------------------------
    def _session_method(self, frame: RequestFrame, wall_ns: int) -> bytes:
        method = frame.method
        request_id = bytes(frame.id)
        if method == "public/login":
            return result_frame(request_id, self._login(frame, wall_ns))
        if method == "private/set_cancel_on_disconnect":
            params = decode_params(frame, SetCancelOnDisconnectParams)
            rate = self.limits.make_non_persistent(wall_ns, self.hub.rate_scale)
            self.persistent = False
            self.cod_timeout_ns = params.timeout_secs * 1_000_000_000
            self.ref = SessionRef(self.ref.account, self.session_id, persistent=False)
            return result_frame(request_id, wire.CancelOnDisconnectResult(message_rate=rate))
        if method in ("public/subscribe", "private/subscribe"):
            return self._subscribe(frame, wall_ns, private=method == "private/subscribe")
        return self._unsubscribe(frame)

    def _login(self, frame: RequestFrame, wall_ns: int) -> wire.LoginResult:
        params = decode_params(frame, LoginParams)
        try:
            api_key = self.hub.keyring.verify(params.token, wall_ns / 1e9)
            check_expiry(params.token, wall_ns / 1e9)
        except AuthError as exc:
            message = f"authentication failed: {exc}"
            raise FrameError(ErrorCode.AUTHENTICATION_FAILED, message) from None
        account = api_key.account
        if params.account is not None and params.account != account:
            raise FrameError(
                ErrorCode.AUTHENTICATION_FAILED,
                "authentication failed: account not available to this API key",
            )
        if self.account is not None and self.account != account:
            raise FrameError(ErrorCode.INVALID_REQUEST, "session is already logged in")
        if self.account is None:
            self.account = account
            self.key_id = api_key.key_id
            self.ref = SessionRef(account, self.session_id, persistent=self.persistent)
            self.hub.on_login(self)
        return wire.LoginResult(account_number=account)

    def _subscribe(self, frame: RequestFrame, wall_ns: int, private: bool) -> bytes:
        params = decode_params(frame, ChannelsParams)
        specs: list[ChannelSpec] = []
        for name in params.channels:
            try:
                spec = self.hub.parse_channel(name)
            except ChannelError as exc:
                raise FrameError(exc.code, exc.message) from None
            if spec.private != private:
                use = "private/subscribe" if spec.private else "public/subscribe"
                raise FrameError(ErrorCode.INVALID_REQUEST, f"subscribe to {name!r} with {use}")
            specs.append(spec)
        if len(self.public_channels) + len(specs) > MAX_SUBSCRIPTIONS:
            raise FrameError(
                ErrorCode.INVALID_REQUEST, f"at most {MAX_SUBSCRIPTIONS} channels per session"
            )
        # Reply first, then the snapshots (protocol.md §2.5).
        self.push(result_frame(bytes(frame.id), [s.name for s in specs]))
        sim_ns = self.hub.sim_ns(wall_ns)
        for spec in specs:
            if spec.private:
                if spec.kind not in self.private_channels:
                    self.private_channels.add(spec.kind)
                    self.hub.private_snapshot(self, spec.kind, sim_ns)
            elif spec.name not in self.public_channels:
                self.public_channels.add(spec.name)
                self.hub.feeds.subscribe(spec, self, sim_ns)
        return b""

    def _unsubscribe(self, frame: RequestFrame) -> bytes:
        params = decode_params(frame, ChannelsParams)
        removed: list[str] = []
        for name in params.channels:
            if name in self.public_channels:
                self.public_channels.discard(name)
                self.hub.feeds.unsubscribe(name, self)
                removed.append(name)
            else:
                kind = _private_kind(name)
                if kind is not None and kind in self.private_channels:
                    self.private_channels.discard(kind)
                    removed.append(name)
        return result_frame(bytes(frame.id), removed)

    def drop_subscriptions(self) -> None:
        for name in self.public_channels:
            self.hub.feeds.unsubscribe(name, self)
        self.public_channels.clear()
        self.private_channels.clear()

    def __repr__(self) -> str:  # never shows keys
        return f"Session(id={self.session_id}, account={self.account!r})"


def check_expiry(token: str, now_s: float) -> None:
    """AuthError when the (already verified) token carries an ``exp`` that has passed
    (issue #16 defect 10: it was ignored). Thalex tokens need no exp; one that has one must be
    a number and not more than `EXP_LEEWAY_S` in the past."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AuthError("token is not a valid JWT") from None
    exp = claims.get("exp")
    if exp is None:
        return
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        raise AuthError("token exp must be a number (Unix seconds)")
    if exp + EXP_LEEWAY_S < now_s:
        raise AuthError("token has expired (exp is in the past)")


_REPLACEMENT = "\ufffd".encode()


def invalid_utf8_reply(data: bytes, exc: UnicodeDecodeError) -> bytes:
    """Error 6 for a binary frame that is not UTF-8 (issue #16): it is not run, but its id is
    echoed when the id itself is intact, so the client can match the reply; an id containing
    an invalid byte becomes null, never echoed (the reply must stay valid UTF-8)."""
    # Replacing invalid bytes never touches ASCII, so the JSON structure survives.
    try:
        request_id = bytes(decode_request(data.decode("utf-8", errors="replace")).id)
    except FrameError as err:
        request_id = err.request_id
    if _REPLACEMENT in request_id:
        request_id = b"null"
    return error_frame(
        request_id, ErrorCode.INVALID_REQUEST, f"invalid UTF-8 in the frame at byte {exc.start}"
    )


def _private_kind(name: str) -> ChannelKind | None:
    try:
        kind = ChannelKind(name)
    except ValueError:
        return None
    return kind if kind.private else None
