"""What faults the local exchange injects: the `[faults]` table (off by default).

    [faults]
    seed = 7               # the same seed gives the same schedule and the same draws
    every_s = 20.0         # also one fault drawn from `kinds` about every 20 s (0: none)
    kinds = ["abort", "restart"]
    duplicate = 0.01       # shares of notifications sent twice / swapped with the next
    reorder = 0.01
    delay_ms = 50          # every notification held this long
    corrupt = 0.001        # shares of frames with one byte overwritten / cut short
    truncate = 0.001
    reject = 0.02          # share of order requests refused (code 20)
    after_s = 5.0          # the shares and the delay apply from this long after the start

    [[faults.schedule]]    # one fault at a fixed time after the exchange started
    at_s = 5.0
    kind = "throttle_storm"
    duration_s = 2.0       # storm and stall: how long; maintenance: notice before the close;
                           # restart: how long the exchange is down; others: unused

The kinds: ``close`` (close frame), ``abort`` (TCP reset, no close frame), ``half_open``
(stop reading and writing without closing), ``maintenance`` (the ``system`` reconnect notice,
then a close), ``throttle_storm`` (every order and cancel request gets code 4), ``stall``
(replies held back for ``duration_s``, past the client's timeout), ``restart`` (every
connection dropped, the listener down for ``duration_s``, orders and positions kept) and
``restart_lost`` (the same, then a fresh matching engine: state lost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = (
    "close",
    "abort",
    "half_open",
    "maintenance",
    "throttle_storm",
    "stall",
    "restart",
    "restart_lost",
)
SHARES = ("duplicate", "reorder", "corrupt", "truncate", "reject")
MAX_DURATION_S = 3600.0


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    """One fault at ``at_s`` seconds after the exchange started."""

    at_s: float
    kind: str
    duration_s: float = 1.0

    def __post_init__(self) -> None:
        _number("at_s", self.at_s, 0.0, math.inf)
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not a fault (known: {', '.join(KINDS)})")
        _number("duration_s", self.duration_s, 0.0, MAX_DURATION_S)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """The `[faults]` table; every field's default injects nothing."""

    seed: int = 0
    schedule: tuple[ScheduledFault, ...] = ()
    every_s: float = 0.0
    kinds: tuple[str, ...] = KINDS
    duration_s: float = 1.0  # of the faults `every_s` draws
    delay_ms: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    corrupt: float = 0.0
    truncate: float = 0.0
    reject: float = 0.0
    after_s: float = 0.0  # of the shares and the delay (a client's first session sets up)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        for entry in self.schedule:
            if not isinstance(entry, ScheduledFault):
                raise ValueError(f"schedule entries must be tables, got {entry!r}")
        _number("every_s", self.every_s, 0.0, math.inf)
        if self.every_s and not self.kinds:
            raise ValueError("kinds must name at least one fault when every_s > 0")
        for kind in self.kinds:
            if kind not in KINDS:
                raise ValueError(f"kinds: {kind!r} is not a fault (known: {', '.join(KINDS)})")
        _number("duration_s", self.duration_s, 0.0, MAX_DURATION_S)
        _number("delay_ms", self.delay_ms, 0.0, MAX_DURATION_S * 1000)
        _number("after_s", self.after_s, 0.0, math.inf)
        for name in SHARES:
            _number(name, getattr(self, name), 0.0, 1.0)

    @property
    def active(self) -> bool:
        """Anything to inject at all (an inactive config costs nothing: no injector)."""
        return bool(
            self.schedule
            or self.every_s
            or self.delay_ms
            or any(getattr(self, name) for name in SHARES)
        )


def _number(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not (low <= value <= high) or math.isnan(value):
        raise ValueError(f"{name} must be {low:g}..{high:g}, got {value!r}")
