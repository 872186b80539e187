"""VAMP, the volume-adjusted mid price: the mean of the prices at which ``depth_amount`` could
be bought and sold now.

VAMP = (VWAP to sell ``depth_amount`` into the bids + VWAP to buy it from the asks) / 2. It
leans toward the thin side of the book: a heavy bid side keeps the sell VWAP near the best bid
while the buy VWAP climbs into a thin ask side. When a side holds less than ``depth_amount`` its
available volume is used. O(levels consumed) per update, bounded by the book's depth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from thalex_mm.model.estimators._state import expect_kind, get_float, get_int, req_float

PriceAmount = tuple[float, float]


def side_vwap(levels: Sequence[PriceAmount], amount: float) -> float | None:
    """Average price to trade ``amount`` against ``levels`` (best first); None if empty/bad."""
    remaining = amount
    notional = 0.0
    filled = 0.0
    for price, size in levels:
        if not (0.0 < price < math.inf and 0.0 <= size < math.inf):
            return None
        take = size if size < remaining else remaining
        notional += take * price
        filled += take
        remaining -= take
        if remaining <= 0.0:
            break
    if filled <= 0.0:
        return None
    return notional / filled


def vamp(
    bids: Sequence[PriceAmount], asks: Sequence[PriceAmount], depth_amount: float
) -> float | None:
    """The VAMP of a book (levels best first), or None for an empty, bad or crossed book."""
    if not (0.0 < depth_amount < math.inf) or not bids or not asks:
        return None
    if bids[0][0] >= asks[0][0]:
        return None
    sell = side_vwap(bids, depth_amount)
    buy = side_vwap(asks, depth_amount)
    if sell is None or buy is None:
        return None
    return 0.5 * (sell + buy)


class VampEstimator:
    """The last valid VAMP and when it was computed."""

    __slots__ = ("depth_amount", "rejected", "ts_ns", "value")

    def __init__(self, depth_amount: float) -> None:
        if not (0.0 < depth_amount < math.inf):
            raise ValueError(f"depth_amount must be a positive finite number, got {depth_amount}")
        self.depth_amount = float(depth_amount)
        self.value: float | None = None
        self.ts_ns: int | None = None
        self.rejected = 0

    def update(
        self, ts_ns: int, bids: Sequence[PriceAmount], asks: Sequence[PriceAmount]
    ) -> float | None:
        """Recompute from a book snapshot; an unusable book keeps the previous value."""
        value = vamp(bids, asks, self.depth_amount)
        if value is None:
            self.rejected += 1
            return None
        self.value = value
        self.ts_ns = ts_ns
        return value

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "vamp",
            "version": 1,
            "depth_amount": self.depth_amount,
            "value": self.value,
            "ts_ns": self.ts_ns,
            "rejected": self.rejected,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> VampEstimator:
        expect_kind(state, "vamp")
        est = cls(req_float(state, "depth_amount"))
        est.value = get_float(state, "value", allow_none=True)
        est.ts_ns = get_int(state, "ts_ns", allow_none=True)
        rejected = get_int(state, "rejected")
        est.rejected = rejected or 0
        return est
