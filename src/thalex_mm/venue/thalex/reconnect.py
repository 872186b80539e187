"""Reconnect policy: exponential back-off with jitter, and what a fresh session must do first.

After any reconnect the venue has already cancelled the old session's non-persistent orders
(cancel_on_disconnect), and anything we believed about orders and positions may be stale. So a
new session runs the same fixed sequence before it may quote again: log in, switch to
cancel-on-disconnect, subscribe, then resync instruments, open orders and the portfolio.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Delays ``initial_s * multiplier**n``, capped at ``max_s``, each scaled by a random factor
    in ``[1 - jitter, 1 + jitter]`` so many clients do not reconnect in lock-step."""

    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s):
            raise ValueError("backoff: need 0 < initial_s <= max_s")
        if self.multiplier < 1:
            raise ValueError("backoff: multiplier must be >= 1")
        if not (0 <= self.jitter < 1):
            raise ValueError("backoff: jitter must be in [0, 1)")


class Backoff:
    """The delay before each reconnect attempt; ``reset`` once a session got ready."""

    __slots__ = ("_attempt", "_policy", "_rng")

    def __init__(self, policy: BackoffPolicy | None = None, rng: random.Random | None = None):
        self._policy = policy or BackoffPolicy()
        self._rng = rng or random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempt

    def next_delay_s(self) -> float:
        p = self._policy
        base = min(p.max_s, p.initial_s * p.multiplier**self._attempt)
        self._attempt += 1
        if p.jitter == 0:
            return base
        return min(p.max_s, base * self._rng.uniform(1 - p.jitter, 1 + p.jitter))

    def reset(self) -> None:
        self._attempt = 0


class SessionPhase(enum.Enum):
    """Where the client is in the connect → ready cycle (order requests pass only in READY)."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    LOGGING_IN = "logging in"
    SUBSCRIBING = "subscribing"
    RESYNCING = "resyncing"
    READY = "ready"
    CLOSING = "closing"
    CLOSED = "closed"


# The resync requests, in order, after every (re)connect (instruments first: orders and
# positions are converted with their tick and lot sizes).
RESYNC_PUBLIC_METHODS: tuple[str, ...] = ("public/instruments",)
RESYNC_PRIVATE_METHODS: tuple[str, ...] = ("private/open_orders", "private/portfolio")
