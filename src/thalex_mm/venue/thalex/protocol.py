"""Sans-I/O Thalex JSON-RPC: bytes in, typed callbacks out; requests in, bytes out.

No sockets, clocks or logging here; the transport (``client.py``) passes ``now_ns`` in and
moves bytes. What this object owns:

- request ids (one counter per client, never reused across reconnects) and the pending-request
  table, so replies are matched by id in any order;
- one decode per incoming frame: a small envelope Struct whose payload fields stay
  ``msgspec.Raw``, then one typed decode of that payload chosen by a dict lookup (channel name
  for notifications, method of the pending request for replies);
- the throttle: requests wait in a per-class queue until their token bucket allows them, an
  error 4 pauses everything, and a queued request that waited too long is failed (the caller
  re-plans rather than sending stale quotes);
- a ``ready`` gate: order requests submitted while not ready (logging in, resyncing) are
  failed at once instead of being sent before the state is known.

Local failures are reported like venue errors but with negative codes (``LocalError``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from thalex_mm.venue.thalex.protocol_types import (
    LocalError,
    NotificationHandler,
    PendingRequest,
    ProtocolStats,
    ReplyHandler,
    RpcError,
)
from thalex_mm.venue.thalex.throttle import RequestClass, Throttle, ThrottleConfig

__all__ = [
    "LocalError",
    "NotificationHandler",
    "PendingRequest",
    "ProtocolStats",
    "ReplyHandler",
    "RpcError",
    "ThalexProtocol",
]

THROTTLE_ERROR_CODE = 4


# msgspec's errors, and invalid UTF-8 in a string it decodes (issue #16's fuzzing: such a
# byte in a book's trade side raised out of `receive`; nothing checks a binary frame's UTF-8)
_UNDECODABLE = (msgspec.DecodeError, UnicodeDecodeError)
# what a decoded but absurd value (1e308 lots, NaN prices) raises where the translator turns
# it into ticks and lots: that frame is a bad one too (found by the same fuzzing)
_OUT_OF_RANGE = (OverflowError, ValueError)


class _Envelope(msgspec.Struct, gc=False):
    """Every frame the venue sends; payloads are left raw for the typed second decode."""

    id: int | None = None
    channel_name: str | None = None
    notification: msgspec.Raw = msgspec.Raw()
    snapshot: bool = False
    result: msgspec.Raw = msgspec.Raw()
    error: RpcError | None = None


class _Request(msgspec.Struct, gc=False):
    method: str
    params: Any
    id: int


_EMPTY_PARAMS: dict[str, Any] = {}


class ThalexProtocol:
    """The connection's state machine without I/O. See the module docstring."""

    def __init__(
        self,
        on_reply: ReplyHandler,
        now_ns: int,
        *,
        throttle_config: ThrottleConfig | None = None,
        queue_ttl_ns: int = 2_000_000_000,
        max_queued: int = 10_000,
    ) -> None:
        self._on_reply = on_reply
        self._throttle_config = throttle_config
        self.throttle = Throttle(now_ns, throttle_config)
        self._queue_ttl_ns = queue_ttl_ns
        self._max_queued = max_queued
        self._decoder = msgspec.json.Decoder(_Envelope)
        self._encoder = msgspec.json.Encoder()
        self._routes: dict[str, tuple[msgspec.json.Decoder[Any], NotificationHandler]] = {}
        self._result_decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        self._notes: dict[str, tuple[type[msgspec.Struct], NotificationHandler]] = {}
        self._fast_decoder: msgspec.json.Decoder[Any] | None = None
        self._fast_handlers: dict[type[msgspec.Struct], NotificationHandler] = {}
        self._pending: dict[int, PendingRequest] = {}
        self._queues: tuple[deque[PendingRequest], deque[PendingRequest]] = (deque(), deque())
        self._outgoing: list[bytes] = []
        self._next_id = 1
        self.ready = False
        self._pumping = False
        self.stats = ProtocolStats()
        # called with the decode error of each frame that did not decode (None: only counted)
        self.on_bad_frame: Callable[[str], None] | None = None

    # --- configuration ---------------------------------------------------------------------
    def route(self, channel: str, payload_type: Any, handler: NotificationHandler) -> None:
        """Decode notifications on ``channel`` as ``payload_type`` and pass them to ``handler``."""
        self._routes[channel] = (msgspec.json.Decoder(payload_type), handler)
        note_type = msgspec.defstruct(
            "Notification",
            [("notification", payload_type), ("snapshot", bool, False)],
            tag_field="channel_name",
            tag=channel,
            gc=False,
        )
        self._notes[channel] = (note_type, handler)
        self._rebuild_fast_decoder()

    def unroute(self, channel: str) -> None:
        self._routes.pop(channel, None)
        self._notes.pop(channel, None)
        self._rebuild_fast_decoder()

    def _rebuild_fast_decoder(self) -> None:
        """One tagged union over the routed channels: a notification decodes in one pass.

        Measured (bench/decode.py) at about twice the speed of envelope + Raw + typed decode;
        frames it cannot take (replies, unrouted channels, bad frames) fall back to the envelope.
        """
        if not self._notes:
            self._fast_decoder = None
            self._fast_handlers = {}
            return
        types = [note_type for note_type, _ in self._notes.values()]
        union: Any = types[0]
        for note_type in types[1:]:
            union = union | note_type
        self._fast_decoder = msgspec.json.Decoder(union)
        self._fast_handlers = {note_type: handler for note_type, handler in self._notes.values()}

    def set_result_type(self, method: str, result_type: Any) -> None:
        """Decode successful replies to ``method`` as ``result_type`` (else they stay Raw)."""
        self._result_decoders[method] = msgspec.json.Decoder(result_type)

    # --- outgoing --------------------------------------------------------------------------
    def submit(
        self,
        method: str,
        params: Any,
        now_ns: int,
        context: Any = None,
        *,
        gated: bool = True,
        urgent: bool = False,
    ) -> PendingRequest:
        """Queue a request; it goes out (see ``take_outgoing``) once the throttle allows.

        ``gated`` requests (orders) are failed with NOT_READY while the session is not ready;
        the session's own requests (login, subscribe, resync) pass ``gated=False``. ``urgent``
        requests skip the queue and the throttle: only for ``cancel_session`` at shutdown, when
        leaving orders behind is worse than one more throttle error.
        """
        req = PendingRequest(self._next_id, method, params, context, now_ns)
        self._next_id += 1
        if urgent:
            self._send(req, now_ns)
            return req
        if gated and not self.ready:
            self._fail(
                req, LocalError.NOT_READY, "session not ready (connecting or resyncing)", now_ns
            )
            return req
        queues = self._queues
        queue = queues[req.request_class]
        if len(queue) >= self._max_queued:
            self._fail(
                req, LocalError.QUEUE_FULL, "too many requests waiting for the throttle", now_ns
            )
            return req
        if not queues[0] and not queues[1] and not self._pumping:
            # Nothing waits (the usual case): what ``pump`` would do, without the queue trip.
            if self.throttle.try_acquire(req.request_class, now_ns):
                self._send(req, now_ns)
            else:
                queue.append(req)
            return req
        queue.append(req)
        self.pump(now_ns)
        return req

    def pump(self, now_ns: int) -> None:
        """Move every request the throttle allows now from the queues to the outgoing list.

        Requests that waited longer than the queue TTL are failed, after the loop, so a caller
        that submits again from its reply handler cannot recurse into this loop.
        """
        if self._pumping:
            return
        self._pumping = True
        expired: list[PendingRequest] = []
        try:
            throttle = self.throttle
            for request_class in (RequestClass.CANCEL, RequestClass.ORDER):
                queue = self._queues[request_class]
                while queue:
                    head = queue[0]
                    if (
                        request_class is RequestClass.ORDER
                        and now_ns - head.submitted_ns > self._queue_ttl_ns
                    ):
                        expired.append(queue.popleft())
                        continue
                    if not throttle.try_acquire(request_class, now_ns):
                        break
                    queue.popleft()
                    self._send(head, now_ns)
        finally:
            self._pumping = False
        for req in expired:
            self._fail(req, LocalError.THROTTLE_EXPIRED, "expired waiting for the throttle", now_ns)

    def _send(self, req: PendingRequest, now_ns: int) -> None:
        req.sent_ns = now_ns
        self._pending[req.id] = req
        params = req.params if req.params is not None else _EMPTY_PARAMS
        self._outgoing.append(self._encoder.encode(_Request(req.method, params, req.id)))

    def take_outgoing(self) -> list[bytes]:
        """The encoded frames to write now, in order (the list is handed over)."""
        out = self._outgoing
        self._outgoing = []
        return out

    def next_wakeup_ns(self, now_ns: int) -> int | None:
        """When ``pump`` can next make progress, or None if nothing is queued."""
        wake: int | None = None
        for request_class in (RequestClass.CANCEL, RequestClass.ORDER):
            if self._queues[request_class]:
                at = self.throttle.ready_at_ns(request_class, now_ns)
                if request_class is RequestClass.ORDER:
                    at = min(
                        at, self._queues[request_class][0].submitted_ns + self._queue_ttl_ns + 1
                    )
                wake = at if wake is None else min(wake, at)
        return wake

    @property
    def queued(self) -> int:
        return len(self._queues[0]) + len(self._queues[1])

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    # --- incoming --------------------------------------------------------------------------
    def receive(self, frame: bytes | str, now_ns: int) -> None:
        """Decode one frame and dispatch it. A malformed frame is counted and skipped."""
        stats = self.stats
        stats.frames += 1
        fast = self._fast_decoder
        if fast is not None and frame[:5] != b'{"id"':  # a reply would only fail the fast path
            try:
                note = fast.decode(frame)
            except _UNDECODABLE:  # also ValidationError: not a routed notification
                pass
            else:
                stats.notifications += 1
                try:
                    self._fast_handlers[type(note)](note.notification, note.snapshot, now_ns)
                except _OUT_OF_RANGE as exc:
                    self._bad_frame(f"{type(note).__name__}: value out of range: {exc}")
                return
        try:
            env = self._decoder.decode(frame)
        except _UNDECODABLE as exc:
            self._bad_frame(str(exc))
            return
        channel = env.channel_name
        if channel is not None:
            stats.notifications += 1
            route = self._routes.get(channel)
            if route is None:
                stats.unknown_channels += 1
                return
            try:
                payload = route[0].decode(env.notification)
            except _UNDECODABLE as exc:
                self._bad_frame(f"{channel}: {exc}")
                return
            try:
                route[1](payload, env.snapshot, now_ns)
            except _OUT_OF_RANGE as exc:
                self._bad_frame(f"{channel}: value out of range: {exc}")
            return
        self._on_reply_frame(env, now_ns)

    def _bad_frame(self, error: str) -> None:
        """Count a frame that did not decode; the hook (the client's: log, look for lost
        fills) runs only on this rare path."""
        stats = self.stats
        stats.bad_frames += 1
        stats.last_bad_frame_error = error
        hook = self.on_bad_frame
        if hook is not None:
            hook(error)

    def _on_reply_frame(self, env: _Envelope, now_ns: int) -> None:
        stats = self.stats
        stats.replies += 1
        req = self._pending.pop(env.id, None) if env.id is not None else None
        if req is None:
            stats.unmatched_replies += 1
            if env.error is not None and env.error.code == THROTTLE_ERROR_CODE:
                stats.throttle_errors += 1
                self.throttle.on_throttle_error(now_ns)
            return
        error = env.error
        if error is not None:
            if error.code == THROTTLE_ERROR_CODE:
                stats.throttle_errors += 1
                self.throttle.on_throttle_error(now_ns)
            self._on_reply(req, None, error, now_ns)
            return
        if not env.result:
            self._fail(req, LocalError.BAD_REPLY, "reply has neither result nor error", now_ns)
            return
        decoder = self._result_decoders.get(req.method)
        if decoder is None:
            result: Any = env.result
        else:
            try:
                result = decoder.decode(env.result)
            except _UNDECODABLE as exc:
                self._bad_frame(f"{req.method} result: {exc}")
                self._fail(req, LocalError.BAD_REPLY, "reply result did not decode", now_ns)
                return
        self.throttle.on_accepted(now_ns)
        if req.method == "private/set_cancel_on_disconnect":
            self.throttle.set_non_persistent(now_ns, _message_rate(env.result))
        try:
            self._on_reply(req, result, None, now_ns)
        except _OUT_OF_RANGE as exc:  # the action stays in flight until its reply timeout
            self._bad_frame(f"{req.method} result: value out of range: {exc}")

    # --- connection lifecycle --------------------------------------------------------------
    def connection_lost(self, now_ns: int) -> None:
        """Fail everything in flight or queued; the venue drops a non-persistent session's orders.

        The throttle starts afresh (a new connection has its own limits) and the session is not
        ready until the transport has logged in and resynced again.
        """
        self.ready = False
        lost = list(self._pending.values())
        self._pending.clear()
        for queue in self._queues:
            lost.extend(queue)
            queue.clear()
        self._outgoing = []
        self.throttle = Throttle(now_ns, self._throttle_config)
        for req in lost:
            self._fail(req, LocalError.CONNECTION_LOST, "connection lost", now_ns)

    def _fail(self, req: PendingRequest, code: LocalError, message: str, now_ns: int) -> None:
        self._on_reply(req, None, RpcError(int(code), message), now_ns)


class _MessageRate(msgspec.Struct):
    message_rate: float | None = None


def _message_rate(raw: msgspec.Raw) -> float | None:
    try:
        return msgspec.json.decode(raw, type=_MessageRate).message_rate
    except _UNDECODABLE:
        return None
