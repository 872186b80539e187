"""The shared vocabulary: sides and instrument specifications.

Prices and amounts cross the venue boundary as floats (JSON numbers). Inside the core, the
model's ladder, the order manager and the matching engine they are integers: prices in ticks
and amounts in lots (multiples of the amount step). Integer ticks make equality, rounding and
book keys exact; the conversions live here so every part rounds the same way.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import NamedTuple

# Thalex rounds incoming prices and amounts to 8 decimal digits before checking alignment.
_ALIGN_DECIMALS = 8
# A quotient within this distance of an integer counts as that integer (binary float noise).
_GRID_EPS = 1e-6


def _finite_quotient(value: float, step: float) -> float:
    scaled = value / step
    if not math.isfinite(scaled):
        raise ValueError(f"{value!r} is not a finite multiple of {step!r}")
    return scaled


def _grid_floor(value: float, step: float) -> int:
    scaled = _finite_quotient(value, step)
    nearest = round(scaled)
    return nearest if abs(scaled - nearest) < _GRID_EPS else math.floor(scaled)


def _grid_ceil(value: float, step: float) -> int:
    scaled = _finite_quotient(value, step)
    nearest = round(scaled)
    return nearest if abs(scaled - nearest) < _GRID_EPS else math.ceil(scaled)


def _grid_exact(value: float, step: float) -> int | None:
    scaled = round(value, _ALIGN_DECIMALS) / step
    if not math.isfinite(scaled):
        return None
    nearest = round(scaled)
    return nearest if abs(scaled - nearest) < _GRID_EPS else None


class Level(NamedTuple):
    """One level of a ladder or a quote: a price in ticks and an amount in lots."""

    price_ticks: int
    amount_lots: int


class Side(enum.IntEnum):
    """Order side; the value is the sign of the position change a fill causes."""

    BUY = 1
    SELL = -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def wire(self) -> str:
        """The Thalex API spelling ("buy" / "sell")."""
        return "buy" if self is Side.BUY else "sell"

    @classmethod
    def from_wire(cls, text: str) -> Side:
        if text == "buy":
            return cls.BUY
        if text == "sell":
            return cls.SELL
        raise ValueError(f"unknown side {text!r} (expected 'buy' or 'sell')")


class InstrumentKind(enum.StrEnum):
    PERPETUAL = "perpetual"
    FUTURE = "future"


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """What the core needs to know about one tradable instrument.

    ``tick_size`` and ``amount_step`` are the venue's price tick and volume tick;
    ``min_amount`` is the smallest order amount the venue accepts.
    """

    name: str
    kind: InstrumentKind
    underlying: str
    tick_size: float
    amount_step: float
    min_amount: float
    product: str = ""  # MM-protection product group, e.g. "FBTCUSD"
    expiry_ts: float | None = None  # seconds since epoch, futures only

    def __post_init__(self) -> None:
        for field_name in ("tick_size", "amount_step", "min_amount"):
            value = getattr(self, field_name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(
                    f"{self.name}: {field_name} must be a positive number, got {value}"
                )

    # --- price <-> ticks -------------------------------------------------------------------
    def price_to_ticks_floor(self, price: float) -> int:
        """Largest tick at or below ``price`` (for bids)."""
        return _grid_floor(price, self.tick_size)

    def price_to_ticks_ceil(self, price: float) -> int:
        """Smallest tick at or above ``price`` (for asks)."""
        return _grid_ceil(price, self.tick_size)

    def price_to_ticks_exact(self, price: float) -> int | None:
        """The tick index of an aligned price, or None when the price is off the tick grid."""
        return _grid_exact(price, self.tick_size)

    def ticks_to_price(self, ticks: int) -> float:
        return round(ticks * self.tick_size, _ALIGN_DECIMALS)

    # --- amount <-> lots -------------------------------------------------------------------
    def amount_to_lots_floor(self, amount: float) -> int:
        return _grid_floor(amount, self.amount_step)

    def amount_to_lots_exact(self, amount: float) -> int | None:
        """The lot count of an aligned amount, or None when it is off the amount grid."""
        return _grid_exact(amount, self.amount_step)

    def lots_to_amount(self, lots: int) -> float:
        return round(lots * self.amount_step, _ALIGN_DECIMALS)

    @property
    def min_lots(self) -> int:
        return max(1, _grid_ceil(self.min_amount, self.amount_step))
