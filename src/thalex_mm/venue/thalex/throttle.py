"""Client-side rate limiting for the Thalex message limits, with time passed in.

Thalex counts per connection (protocol.md §5.3):

- matching-engine messages (insert, amend, mass_quote, ...): 10/s on a persistent session,
  50/s once ``private/set_cancel_on_disconnect`` made it non-persistent;
- cancel requests: 1000/s;
- the limit is both the burst and the sustained limit, and once it is hit *every* following
  message fails with error code 4 for a while.

So each class gets a token bucket (capacity = one second of its rate, times ``headroom`` so
network jitter that bunches our messages together does not trip the venue), and an error 4
puts the whole connection into a cool-down that doubles with each consecutive throttle error.
Requests are never retried by the throttle: the caller decides (the core re-plans quotes).
Everything here is pure: ``now_ns`` arrives as an argument.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

NS_PER_S = 1_000_000_000

PERSISTENT_ORDER_RATE = 10.0
NON_PERSISTENT_ORDER_RATE = 50.0
CANCEL_RATE = 1000.0


class RequestClass(enum.IntEnum):
    """Which venue limit a request counts against."""

    ORDER = 0  # matching-engine messages; also every other request (conservative)
    CANCEL = 1  # cancel, cancel_all, cancel_session, cancel_mass_quote


_CANCEL_METHODS = frozenset(
    {
        "private/cancel",
        "private/cancel_all",
        "private/cancel_session",
        "private/cancel_mass_quote",
    }
)


def classify(method: str) -> RequestClass:
    """The limit ``method`` counts against. Non-trading requests count as orders: safe side."""
    return RequestClass.CANCEL if method in _CANCEL_METHODS else RequestClass.ORDER


class TokenBucket:
    """``rate_per_s`` tokens per second, holding at most ``capacity``; starts full."""

    __slots__ = ("_capacity", "_last_ns", "_ns_per_token", "_tokens")

    def __init__(self, rate_per_s: float, capacity: float, now_ns: int) -> None:
        if not (rate_per_s > 0 and capacity >= 1):
            raise ValueError(
                f"token bucket needs rate > 0 and capacity >= 1, got {rate_per_s}, {capacity}"
            )
        self._ns_per_token = NS_PER_S / rate_per_s
        self._capacity = float(capacity)
        self._tokens = float(capacity)
        self._last_ns = now_ns

    @property
    def rate_per_s(self) -> float:
        return NS_PER_S / self._ns_per_token

    @property
    def capacity(self) -> float:
        return self._capacity

    def reconfigure(self, rate_per_s: float, capacity: float, now_ns: int) -> None:
        """Change the rate (e.g. 10/s -> 50/s after cancel_on_disconnect), keeping spent tokens."""
        self._refill(now_ns)
        spent = self._capacity - self._tokens
        self._ns_per_token = NS_PER_S / rate_per_s
        self._capacity = float(capacity)
        self._tokens = max(0.0, self._capacity - spent)

    def _refill(self, now_ns: int) -> None:
        elapsed = now_ns - self._last_ns
        if elapsed > 0:
            tokens = self._tokens + elapsed / self._ns_per_token
            self._tokens = tokens if tokens < self._capacity else self._capacity
            self._last_ns = now_ns

    def empty_until(self, until_ns: int) -> None:
        """No tokens now, and none accrue before ``until_ns``."""
        self._tokens = 0.0
        self._last_ns = until_ns

    def try_take(self, now_ns: int) -> bool:
        """Spend one token if one is available at ``now_ns``."""
        self._refill(now_ns)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def ready_at_ns(self, now_ns: int) -> int:
        """The earliest time a token is available (``now_ns`` if one is available now)."""
        self._refill(now_ns)
        missing = 1.0 - self._tokens
        if missing <= 0.0:
            return now_ns
        return now_ns + int(missing * self._ns_per_token) + 1


@dataclass(frozen=True, slots=True)
class ThrottleConfig:
    """``headroom`` scales every documented rate down (1.0 = exactly the documented limits).

    ``rate_scale`` multiplies the documented rates: only for a venue known to allow more
    (the local exchange started with the same ``rate_scale``, e.g. for load benchmarks).
    """

    headroom: float = 0.9
    rate_scale: float = 1.0
    backoff_initial_ns: int = 500_000_000
    backoff_max_ns: int = 10 * NS_PER_S

    def __post_init__(self) -> None:
        if not (0 < self.headroom <= 1):
            raise ValueError(f"throttle headroom must be in (0, 1], got {self.headroom}")
        if not (0 < self.rate_scale < float("inf")):
            raise ValueError(f"throttle rate_scale must be positive, got {self.rate_scale}")
        if not (0 < self.backoff_initial_ns <= self.backoff_max_ns):
            raise ValueError("throttle backoff: need 0 < initial <= max")


class Throttle:
    """The per-connection limits: one bucket per request class plus the error-4 cool-down."""

    __slots__ = ("_backoff_ns", "_buckets", "_config", "_cooldown_until_ns", "throttle_errors")

    def __init__(self, now_ns: int, config: ThrottleConfig | None = None) -> None:
        self._config = config or ThrottleConfig()
        h = self._config.headroom * self._config.rate_scale
        order_rate = PERSISTENT_ORDER_RATE * h
        cancel_rate = CANCEL_RATE * h
        self._buckets = (
            TokenBucket(order_rate, max(1.0, order_rate), now_ns),
            TokenBucket(cancel_rate, max(1.0, cancel_rate), now_ns),
        )
        self._cooldown_until_ns = 0
        self._backoff_ns = 0
        self.throttle_errors = 0

    def bucket(self, request_class: RequestClass) -> TokenBucket:
        return self._buckets[request_class]

    def set_non_persistent(self, now_ns: int, message_rate: float | None = None) -> None:
        """The session became non-persistent; the venue reports the new rate (normally 50)."""
        cfg = self._config
        rate = (message_rate or NON_PERSISTENT_ORDER_RATE) * cfg.headroom * cfg.rate_scale
        self._buckets[RequestClass.ORDER].reconfigure(rate, max(1.0, rate), now_ns)

    def try_acquire(self, request_class: RequestClass, now_ns: int) -> bool:
        """True when a request of this class may be sent now (and counts it)."""
        if now_ns < self._cooldown_until_ns:
            return False
        return self._buckets[request_class].try_take(now_ns)

    def ready_at_ns(self, request_class: RequestClass, now_ns: int) -> int:
        """When the next request of this class may go out."""
        ready = self._buckets[request_class].ready_at_ns(now_ns)
        return ready if ready > self._cooldown_until_ns else self._cooldown_until_ns

    def in_cooldown(self, now_ns: int) -> bool:
        return now_ns < self._cooldown_until_ns

    def on_throttle_error(self, now_ns: int) -> int:
        """The venue answered error 4: stop sending for a doubling back-off; returns its end."""
        self.throttle_errors += 1
        if now_ns < self._cooldown_until_ns:
            # Replies to requests already in flight during the cool-down: not a new offence.
            return self._cooldown_until_ns
        cfg = self._config
        self._backoff_ns = (
            cfg.backoff_initial_ns
            if self._backoff_ns == 0
            else min(self._backoff_ns * 2, cfg.backoff_max_ns)
        )
        self._cooldown_until_ns = now_ns + self._backoff_ns
        for bucket in self._buckets:  # the venue's own window is spent: restart from empty
            bucket.empty_until(self._cooldown_until_ns)
        return self._cooldown_until_ns

    def on_accepted(self, now_ns: int) -> None:
        """A request sent after the cool-down succeeded: the next error 4 starts small again."""
        if now_ns >= self._cooldown_until_ns:
            self._backoff_ns = 0
