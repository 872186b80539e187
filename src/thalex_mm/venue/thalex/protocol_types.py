"""The plain types ThalexProtocol hands to its callers: requests, errors, counters."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import msgspec

from thalex_mm.venue.thalex.throttle import classify


class LocalError(enum.IntEnum):
    """Failures decided by the client, never sent by the venue (which uses codes >= 1)."""

    CONNECTION_LOST = -1
    NOT_READY = -2
    THROTTLE_EXPIRED = -3
    QUEUE_FULL = -4
    BAD_REPLY = -5
    UNKNOWN_INSTRUMENT = -6


class RpcError(msgspec.Struct, frozen=True):
    """A JSON-RPC error object; extra members (some errors carry data) are ignored."""

    code: int
    message: str = ""


class PendingRequest:
    """A request this client sent (or queued). ``context`` is the caller's, e.g. a core action."""

    __slots__ = ("context", "id", "method", "params", "request_class", "sent_ns", "submitted_ns")

    def __init__(
        self, req_id: int, method: str, params: Any, context: Any, submitted_ns: int
    ) -> None:
        self.id = req_id
        self.method = method
        self.params = params
        self.context = context
        self.request_class = classify(method)
        self.submitted_ns = submitted_ns
        self.sent_ns = 0

    def __repr__(self) -> str:  # params may hold a login token: never shown
        return f"PendingRequest(id={self.id}, method={self.method!r})"


# on_reply(request, result, error, now_ns): result is the typed result (or Raw when no type
# was registered for the method) and None on error.
ReplyHandler = Callable[[PendingRequest, Any, RpcError | None, int], None]
# A channel handler gets the typed payload, the snapshot flag and the receive time.
NotificationHandler = Callable[[Any, bool, int], None]


class ProtocolStats:
    __slots__ = (
        "bad_frames",
        "frames",
        "last_bad_frame_error",
        "notifications",
        "replies",
        "throttle_errors",
        "unknown_channels",
        "unmatched_replies",
    )

    def __init__(self) -> None:
        self.frames = 0
        self.notifications = 0
        self.replies = 0
        self.bad_frames = 0
        self.unknown_channels = 0
        self.unmatched_replies = 0
        self.throttle_errors = 0
        self.last_bad_frame_error = ""
