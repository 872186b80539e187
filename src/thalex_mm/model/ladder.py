"""The quote ladder: from the model's distances to N integer (tick, lot) levels per side.

Where the levels sit (``placement``):

* ``"model"`` (default): level i of a side sits where the model would quote after the levels
  in front of it had filled, δ(q ± lots ahead), so a sweep through several levels is priced as
  consistently as one through the first. The model supplies its per-lot step (GLFT ω, A–S
  γσ²τ, in price units per model lot); lots ahead are counted in model lots.
* ``"model_fibonacci"``: gaps between neighbouring levels of ``spacing`` (Fibonacci 1, 2, 3,
  5, … by default) times the model's per-lot step times one level's model lots: wider than
  the model's own placement, for books where deep sweeps are toxic.
* ``"ticks"``: fixed gaps ``base_step_ticks · spacing`` ticks behind the best level (the
  original system's Fibonacci ticks), whatever the model says.

Neighbouring levels are always at least one tick apart. Sizes are ``base_size_lots ·
multiplier[i]``, shrunk on the side that would grow the inventory by ``exp(−η·|q|)``; a level
whose rounded size falls below the instrument's minimum is dropped. Bids round down and asks
up to the tick, the best bid and ask are at least ``min_spread_ticks`` apart, and levels
further than ``max_distance_ticks`` from the mid are dropped, so the result never crosses
itself and never holds a non-positive price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from thalex_mm.domain import InstrumentSpec, Level

__all__ = [
    "LadderParams",
    "Level",
    "Placement",
    "PreparedLadder",
    "build_ladder",
    "fibonacci_gaps",
]

_new_tuple = tuple.__new__
_PLACEMENTS = ("model", "model_fibonacci", "ticks")
Placement = Literal["model", "model_fibonacci", "ticks"]


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
    placement: Placement = "model"
    base_step_ticks: int | None = None  # "ticks" placement only: the gap unit, ticks (1)
    spacing: tuple[int, ...] = ()  # gaps in units (ticks placement: base steps; model_fibonacci:
    # per-lot steps x one level's lots); empty -> Fibonacci. Not used by "model".
    base_size_lots: int = 1
    size_multipliers: tuple[float, ...] = ()  # per level, empty -> all 1.0
    eta: float = 0.0  # inventory size shaping size*exp(-eta*q), q in model lots
    min_spread_ticks: int = 1  # min distance between best bid and best ask
    max_distance_ticks: int | None = None  # levels further than this from mid are dropped

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if not (isinstance(self.levels, int) and self.levels >= 1):
            raise ValueError(f"ladder.levels must be an integer >= 1, got {self.levels!r}")
        if self.placement not in _PLACEMENTS:
            raise ValueError(
                f"ladder.placement must be one of {', '.join(_PLACEMENTS)}, got {self.placement!r}"
            )
        if self.base_step_ticks is not None:
            if self.placement != "ticks":
                raise ValueError(
                    'ladder.base_step_ticks only applies with ladder.placement = "ticks" '
                    '(levels are now placed by the model; set placement = "ticks" to keep '
                    "fixed tick gaps)"
                )
            if not (isinstance(self.base_step_ticks, int) and self.base_step_ticks >= 1):
                raise ValueError(
                    f"ladder.base_step_ticks must be an integer >= 1, got {self.base_step_ticks!r}"
                )
        if self.spacing:
            if self.placement == "model":
                raise ValueError(
                    'ladder.spacing does not apply with ladder.placement = "model" '
                    '(use "model_fibonacci" or "ticks")'
                )
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

    def sizes(self) -> tuple[float, ...]:
        """Each level's unshaped size in instrument lots (before rounding)."""
        mults = self.size_multipliers or (1.0,) * self.levels
        return tuple(self.base_size_lots * m for m in mults[: self.levels])

    def offsets_ticks(self) -> tuple[int, ...]:
        """``"ticks"`` placement: each level's distance in ticks behind the best level."""
        gaps = self.spacing or fibonacci_gaps(self.levels - 1)
        step = self.base_step_ticks or 1
        out = [0]
        for g in gaps[: self.levels - 1]:
            out.append(out[-1] + g * step)
        return tuple(out)

    def offsets_units(self, lots_per_model_lot: float) -> tuple[float, ...]:
        """Model placements: each level's distance behind the best level in model lots (to
        be multiplied by the model's per-lot step); ``lots_per_model_lot`` converts."""
        sizes = [s / lots_per_model_lot for s in self.sizes()]
        out = [0.0]
        if self.placement == "model":
            for s in sizes[:-1]:
                out.append(out[-1] + s)
        else:
            gaps = self.spacing or fibonacci_gaps(self.levels - 1)
            for g, s in zip(gaps[: self.levels - 1], sizes, strict=False):
                out.append(out[-1] + g * s)
        return tuple(out)


class PreparedLadder:
    """LadderParams with everything that does not depend on the market precomputed."""

    __slots__ = (
        "_base_sizes",
        "_eta",
        "_max_dist",
        "_min_lots",
        "_min_spread",
        "_model",
        "_offsets",
        "_spec",
        "_tick",
        "_unit_ok",
        "_unit_sizes",
        "_units",
    )

    def __init__(
        self, params: LadderParams, spec: InstrumentSpec, lots_per_model_lot: float = 1.0
    ) -> None:
        self._spec = spec
        self._tick = spec.tick_size
        self._model = params.placement != "ticks"
        self._offsets = params.offsets_ticks()
        self._units = params.offsets_units(lots_per_model_lot)
        self._base_sizes = params.sizes()
        self._unit_sizes = tuple(int(b + 0.5) for b in self._base_sizes)  # unshaped sizes
        self._min_lots = spec.min_lots
        self._unit_ok = min(self._unit_sizes) >= self._min_lots
        self._eta = params.eta
        self._min_spread = params.min_spread_ticks
        md = params.max_distance_ticks
        self._max_dist = math.inf if md is None else float(md)

    def _shaped(self, grows: bool, q: float) -> tuple[tuple[int, ...] | list[int], bool]:
        """Sizes of one side: shrunk by exp(−η|q|) only on the side that grows |q|."""
        eta = self._eta
        if eta and grows and q:
            f = math.exp(-eta * abs(q))
            sizes = [int(b * f + 0.5) for b in self._base_sizes]
            return sizes, min(sizes) >= self._min_lots
        return self._unit_sizes, self._unit_ok

    def build(  # noqa: PLR0917 - positional: the tick path calls it per quote
        self,
        mid: float,
        bid_distance: float,
        ask_distance: float,
        q: float,
        bid_step: float = 0.0,
        ask_step: float = 0.0,
    ) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """Levels for the model's best distances from ``mid`` (price units) and its per-lot
        steps (price units per model lot; used by the model placements)."""
        spec = self._spec
        floor_t = spec.price_to_ticks_floor
        ceil_t = spec.price_to_ticks_ceil
        best_bid = floor_t(mid - bid_distance)
        best_ask = ceil_t(mid + ask_distance)
        m = self._min_spread
        if best_ask - best_bid < m:
            total = best_bid + best_ask
            best_bid = (total - m) // 2
            best_ask = -((-(total + m)) // 2)
        n = len(self._offsets)
        if self._model and n > 1:
            units = self._units
            bid_prices = [best_bid]
            ask_prices = [best_ask]
            b_base = mid - bid_distance
            a_base = mid + ask_distance
            for i in range(1, n):
                u = units[i]
                p = floor_t(b_base - bid_step * u)
                prev = bid_prices[-1] - 1
                bid_prices.append(p if p < prev else prev)
                p = ceil_t(a_base + ask_step * u)
                prev = ask_prices[-1] + 1
                ask_prices.append(p if p > prev else prev)
        else:
            bid_prices = [best_bid - o for o in self._offsets]
            ask_prices = [best_ask + o for o in self._offsets]
        mid_ticks = mid / self._tick
        lo = mid_ticks - self._max_dist
        hi = mid_ticks + self._max_dist
        min_lots = self._min_lots
        new = _new_tuple
        bid_sizes, bid_ok = self._shaped(True, q if q > 0.0 else 0.0)
        ask_sizes, ask_ok = self._shaped(True, q if q < 0.0 else 0.0)
        # Fast path: every level valid (the usual case), one comprehension per side.
        deepest_bid = bid_prices[-1]
        if bid_ok and deepest_bid > 0 and deepest_bid >= lo and best_bid <= hi:
            bids = tuple([new(Level, pair) for pair in zip(bid_prices, bid_sizes, strict=True)])
        else:
            bid_list: list[Level] = []
            for p, lots in zip(bid_prices, bid_sizes, strict=True):
                if p <= 0 or p < lo:
                    break
                if lots >= min_lots and p <= hi:
                    bid_list.append(new(Level, (p, lots)))
            bids = tuple(bid_list)
        deepest_ask = ask_prices[-1]
        if ask_ok and best_ask > 0 and best_ask >= lo and deepest_ask <= hi:
            asks = tuple([new(Level, pair) for pair in zip(ask_prices, ask_sizes, strict=True)])
        else:
            ask_list: list[Level] = []
            for p, lots in zip(ask_prices, ask_sizes, strict=True):
                if p > hi:
                    break
                if lots >= min_lots and p > 0 and p >= lo:
                    ask_list.append(new(Level, (p, lots)))
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
    bid_step: float = 0.0,
    ask_step: float = 0.0,
    lots_per_model_lot: float = 1.0,
) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
    """The ladder around model best prices ``bid_price``/``ask_price`` (price units), with the
    model's per-lot steps for the model placements.

    ``q`` is the inventory in the model's lots (only its sign and size matter for shaping).
    Raises ValueError for non-finite prices.
    """
    for name, value in (("bid_price", bid_price), ("ask_price", ask_price), ("mid", mid)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    if not math.isfinite(q):
        raise ValueError(f"q must be finite, got {q}")
    ladder = PreparedLadder(params, spec, lots_per_model_lot)
    return ladder.build(mid, mid - bid_price, ask_price - mid, q, bid_step, ask_step)
