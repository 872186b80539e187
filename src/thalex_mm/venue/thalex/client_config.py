"""Settings and errors of the Thalex client (kept apart so the app can import them cheaply)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from thalex_mm.venue.thalex.reconnect import BackoffPolicy
from thalex_mm.venue.thalex.throttle import ThrottleConfig


class NoFrameLogging(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets logs every frame at DEBUG, and the login frame carries the token: so the
    connection's logger never reports DEBUG as enabled, whatever the app's log level."""

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - overrides the logging API
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


WS_LOGGER = NoFrameLogging(logging.getLogger("websockets.client"), {})

DEFAULT_PRIVATE_CHANNELS = ("session.orders", "account.portfolio", "session.mm_protection")


class VenueError(Exception):
    """The client could not start (unreachable venue, login refused, failed resync)."""


class RequestFailedError(Exception):
    """A request got an error reply (``code`` > 0 from the venue, < 0 from this client)."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method} failed: {message} (code {code})")
        self.method = method
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Connection settings; the defaults suit the venue's documented limits."""

    public_channels: tuple[str, ...] = ()
    private_channels: tuple[str, ...] = DEFAULT_PRIVATE_CHANNELS
    account: str | None = None
    cancel_on_disconnect_s: int = 6  # the venue drops our orders this long after we go silent
    ping_interval_s: float = 2.0  # well inside cancel_on_disconnect_s
    ping_timeout_s: float = 5.0
    open_timeout_s: float = 10.0
    request_timeout_s: float = 10.0
    close_timeout_s: float = 3.0
    max_frame_bytes: int = 16 * 2**20
    queue_ttl_s: float = 2.0
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)
    user_agent: str = "thalex-mm"

    def __post_init__(self) -> None:
        if not (1 <= self.cancel_on_disconnect_s <= 3600):
            raise ValueError("cancel_on_disconnect_s must be 1..3600 seconds")
        if not (0 < self.ping_interval_s < self.cancel_on_disconnect_s):
            # the venue counts a ping as life: slower pings would cancel our orders while idle
            raise ValueError("ping_interval_s must be positive and below cancel_on_disconnect_s")
        for name in ("ping_timeout_s", "open_timeout_s", "request_timeout_s", "close_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
