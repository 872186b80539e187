"""Per-session message-rate limits (protocol.md §5.3).

Thalex allows 10 matching-engine messages per second per connection (50 once the session is
cancel-on-disconnect) and 1000 cancels per second; the limit is both the burst and the
sustained rate, and a request over it fails with error 4. A token bucket models exactly that:
it holds at most ``rate`` tokens and refills at ``rate`` per second. Time is passed in. The
bucket is the client's own (``venue/thalex/throttle.py``): one token bucket for both sides
of the wire.
"""

from __future__ import annotations

from dataclasses import dataclass

from thalex_mm.venue.thalex.throttle import TokenBucket

PERSISTENT_RATE = 10
NON_PERSISTENT_RATE = 50
CANCEL_RATE = 1000


@dataclass(slots=True)
class SessionLimits:
    """The two buckets of one connection."""

    orders: TokenBucket
    cancels: TokenBucket

    @classmethod
    def new(cls, now_ns: int, scale: float = 1.0) -> SessionLimits:
        """``scale`` multiplies every limit (a test or load-generator override; 1 = Thalex)."""
        return cls(
            orders=TokenBucket(PERSISTENT_RATE * scale, PERSISTENT_RATE * scale, now_ns),
            cancels=TokenBucket(CANCEL_RATE * scale, CANCEL_RATE * scale, now_ns),
        )

    def make_non_persistent(self, now_ns: int, scale: float = 1.0) -> int:
        """Raise the order rate as cancel-on-disconnect does; returns the rate to report."""
        rate = NON_PERSISTENT_RATE * scale  # a higher rate raises the burst by the difference
        self.orders.reconfigure(rate, rate, now_ns)
        return NON_PERSISTENT_RATE
