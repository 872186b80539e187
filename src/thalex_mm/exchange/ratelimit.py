"""Per-session message-rate limits (protocol.md §5.3).

Thalex allows 10 matching-engine messages per second per connection (50 once the session is
cancel-on-disconnect) and 1000 cancels per second; the limit is both the burst and the
sustained rate, and a request over it fails with error 4. A token bucket models exactly that:
it holds at most ``rate`` tokens and refills at ``rate`` per second. Time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

PERSISTENT_RATE = 10
NON_PERSISTENT_RATE = 50
CANCEL_RATE = 1000

_NS = 1_000_000_000


@dataclass(slots=True)
class TokenBucket:
    rate: float
    tokens: float
    last_ns: int

    @classmethod
    def full(cls, rate: float, now_ns: int) -> TokenBucket:
        return cls(rate=rate, tokens=rate, last_ns=now_ns)

    def take(self, now_ns: int) -> bool:
        """Spend one token if there is one; False means the message is throttled."""
        self.refill(now_ns)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def set_rate(self, rate: float, now_ns: int) -> None:
        """A higher rate also raises the burst allowance by the difference."""
        self.refill(now_ns)
        self.tokens = min(rate, self.tokens + max(0.0, rate - self.rate))
        self.rate = rate

    def refill(self, now_ns: int) -> None:
        elapsed = now_ns - self.last_ns
        if elapsed > 0:
            self.tokens = min(self.rate, self.tokens + elapsed * self.rate / _NS)
            self.last_ns = now_ns


@dataclass(slots=True)
class SessionLimits:
    """The two buckets of one connection."""

    orders: TokenBucket
    cancels: TokenBucket

    @classmethod
    def new(cls, now_ns: int, scale: float = 1.0) -> SessionLimits:
        """``scale`` multiplies every limit (a test or load-generator override; 1 = Thalex)."""
        return cls(
            orders=TokenBucket.full(PERSISTENT_RATE * scale, now_ns),
            cancels=TokenBucket.full(CANCEL_RATE * scale, now_ns),
        )

    def make_non_persistent(self, now_ns: int, scale: float = 1.0) -> int:
        """Raise the order rate as cancel-on-disconnect does; returns the rate to report."""
        self.orders.set_rate(NON_PERSISTENT_RATE * scale, now_ns)
        return NON_PERSISTENT_RATE
