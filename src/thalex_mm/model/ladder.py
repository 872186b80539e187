"""The quote ladder: from two model prices to N integer (tick, lot) levels per side.

Level i sits ``base_step_ticks · (spacing[0] + … + spacing[i−1])`` ticks behind the best
level of its side (so the gaps between neighbouring levels follow the spacing sequence,
Fibonacci 1, 2, 3, 5, 8, … by default). Sizes are ``base_size_lots · multiplier[i]``, shrunk
on the side that would grow the inventory by ``exp(−η·|q|)``; a level whose rounded size
falls below the instrument's minimum is dropped. Bids round down and asks up to the tick, the
best bid and ask are at least ``min_spread_ticks`` apart, and levels further than
``max_distance_ticks`` from the mid are dropped, so the result never crosses itself and never
holds a non-positive price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from thalex_mm.domain import InstrumentSpec


class Level(NamedTuple):
    price_ticks: int
    amount_lots: int


_new_tuple = tuple.__new__


def fibonacci_gaps(n: int) -> tuple[int, ...]:
    """The first ``n`` terms of 1, 2, 3, 5, 8, 13, … (the default gaps between levels)."""
    out: list[int] = []
    a, b = 1, 2
    for _ in range(n):
        out.append(a)
        a, b = b, a + b
    return tuple(out)


@dataclass(frozen=True, slots=True)
class LadderParams:
    levels: int = 6  # per side
    base_step_ticks: int = 1  # spacing unit between levels
    spacing: tuple[int, ...] = ()  # gaps between levels in base steps; empty -> Fibonacci
    base_size_lots: int = 1
    size_multipliers: tuple[float, ...] = ()  # per level, empty -> all 1.0
    eta: float = 0.0  # inventory size shaping size*exp(-eta*q), q in lots of lot_size
    min_spread_ticks: int = 1  # min distance between best bid and best ask
    max_distance_ticks: int | None = None  # levels further than this from mid are dropped

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if not (isinstance(self.levels, int) and self.levels >= 1):
            raise ValueError(f"ladder.levels must be an integer >= 1, got {self.levels!r}")
        if not (isinstance(self.base_step_ticks, int) and self.base_step_ticks >= 1):
            raise ValueError(
                f"ladder.base_step_ticks must be an integer >= 1, got {self.base_step_ticks!r}"
            )
        if self.spacing:
            if len(self.spacing) < self.levels - 1:
                raise ValueError(
                    f"ladder.spacing needs at least levels-1 = {self.levels - 1} gaps, "
                    f"got {len(self.spacing)}"
                )
            if not all(isinstance(g, int) and g >= 1 for g in self.spacing):
                raise ValueError(f"ladder.spacing must hold integers >= 1, got {self.spacing!r}")
        if not (isinstance(self.base_size_lots, int) and self.base_size_lots >= 1):
            raise ValueError(
                f"ladder.base_size_lots must be an integer >= 1, got {self.base_size_lots!r}"
            )
        if self.size_multipliers:
            if len(self.size_multipliers) < self.levels:
                raise ValueError(
                    f"ladder.size_multipliers needs {self.levels} values (one per level), "
                    f"got {len(self.size_multipliers)}"
                )
            if not all(0.0 < m < math.inf for m in self.size_multipliers):
                raise ValueError(
                    "ladder.size_multipliers must be positive finite numbers, "
                    f"got {self.size_multipliers!r}"
                )
        if not (0.0 <= self.eta < math.inf):
            raise ValueError(f"ladder.eta must be a finite number >= 0, got {self.eta!r}")
        if not (isinstance(self.min_spread_ticks, int) and self.min_spread_ticks >= 1):
            raise ValueError(
                f"ladder.min_spread_ticks must be an integer >= 1, got {self.min_spread_ticks!r}"
            )
        if self.max_distance_ticks is not None and not (
            isinstance(self.max_distance_ticks, int) and self.max_distance_ticks >= 1
        ):
            raise ValueError(
                "ladder.max_distance_ticks must be None or an integer >= 1, "
                f"got {self.max_distance_ticks!r}"
            )

    def offsets_ticks(self) -> tuple[int, ...]:
        """Distance in ticks of each level behind the best level of its side (first is 0)."""
        gaps = self.spacing or fibonacci_gaps(self.levels - 1)
        out = [0]
        for g in gaps[: self.levels - 1]:
            out.append(out[-1] + g * self.base_step_ticks)
        return tuple(out)


class PreparedLadder:
    """LadderParams with everything that does not depend on the market precomputed."""

    __slots__ = (
        "_base_sizes",
        "_deepest",
        "_eta",
        "_max_dist",
        "_min_lots",
        "_min_spread",
        "_offsets",
        "_unit_ok",
        "_unit_pairs",
        "_unit_sizes",
    )

    def __init__(self, params: LadderParams, spec: InstrumentSpec) -> None:
        mults = params.size_multipliers or (1.0,) * params.levels
        self._offsets = params.offsets_ticks()
        self._deepest = self._offsets[-1]
        self._base_sizes = tuple(params.base_size_lots * m for m in mults[: params.levels])
        self._unit_sizes = tuple(int(b + 0.5) for b in self._base_sizes)  # unshaped sizes
        self._min_lots = spec.min_lots
        self._unit_ok = min(self._unit_sizes) >= self._min_lots
        self._unit_pairs = tuple(zip(self._offsets, self._unit_sizes, strict=True))
        self._eta = params.eta
        self._min_spread = params.min_spread_ticks
        md = params.max_distance_ticks
        self._max_dist = math.inf if md is None else float(md)

    def build(
        self, best_bid: int, best_ask: int, mid_ticks: float, q: float
    ) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """Levels for best prices already rounded to ticks (bid down, ask up)."""
        m = self._min_spread
        if best_ask - best_bid < m:
            total = best_bid + best_ask
            best_bid = (total - m) // 2
            best_ask = -((-(total + m)) // 2)
        eta = self._eta
        min_lots = self._min_lots
        max_dist = self._max_dist
        lo = mid_ticks - max_dist
        hi = mid_ticks + max_dist
        offsets = self._offsets
        new = _new_tuple
        # Sizes per side: shrink only the side that would grow the inventory.
        if eta and q > 0.0:
            f = math.exp(-eta * q)
            bid_sizes: tuple[int, ...] | list[int] = [int(b * f + 0.5) for b in self._base_sizes]
            bid_ok = min(bid_sizes) >= min_lots
        else:
            bid_sizes, bid_ok = self._unit_sizes, self._unit_ok
        if eta and q < 0.0:
            f = math.exp(eta * q)
            ask_sizes: tuple[int, ...] | list[int] = [int(b * f + 0.5) for b in self._base_sizes]
            ask_ok = min(ask_sizes) >= min_lots
        else:
            ask_sizes, ask_ok = self._unit_sizes, self._unit_ok
        # Fast path: every level valid (the usual case), one comprehension per side.
        deepest_bid = best_bid - self._deepest
        if bid_ok and deepest_bid > 0 and deepest_bid >= lo and best_bid <= hi:
            pairs = (
                self._unit_pairs
                if bid_sizes is self._unit_sizes
                else zip(offsets, bid_sizes, strict=True)
            )
            bids = tuple([new(Level, (best_bid - o, n)) for o, n in pairs])
        else:
            bid_list: list[Level] = []
            for o, n in zip(offsets, bid_sizes, strict=True):
                p = best_bid - o
                if p <= 0 or p < lo:
                    break
                if n >= min_lots and p <= hi:
                    bid_list.append(new(Level, (p, n)))
            bids = tuple(bid_list)
        deepest_ask = best_ask + self._deepest
        if ask_ok and best_ask > 0 and best_ask >= lo and deepest_ask <= hi:
            pairs = (
                self._unit_pairs
                if ask_sizes is self._unit_sizes
                else zip(offsets, ask_sizes, strict=True)
            )
            asks = tuple([new(Level, (best_ask + o, n)) for o, n in pairs])
        else:
            ask_list: list[Level] = []
            for o, n in zip(offsets, ask_sizes, strict=True):
                p = best_ask + o
                if p > hi:
                    break
                if n >= min_lots and p > 0 and p >= lo:
                    ask_list.append(new(Level, (p, n)))
            asks = tuple(ask_list)
        return bids, asks


def build_ladder(
    bid_price: float,
    ask_price: float,
    mid: float,
    q: float,
    *,
    params: LadderParams,
    spec: InstrumentSpec,
) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
    """The ladder around model best prices ``bid_price``/``ask_price`` (price units).

    ``q`` is the inventory in the model's lots (only its sign and size matter for shaping).
    Raises ValueError for non-finite prices.
    """
    for name, value in (("bid_price", bid_price), ("ask_price", ask_price), ("mid", mid)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    if not math.isfinite(q):
        raise ValueError(f"q must be finite, got {q}")
    ladder = PreparedLadder(params, spec)
    return ladder.build(
        spec.price_to_ticks_floor(bid_price),
        spec.price_to_ticks_ceil(ask_price),
        mid / spec.tick_size,
        q,
    )
