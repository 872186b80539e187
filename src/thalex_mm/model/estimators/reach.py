"""Fill intensity λ(δ) = A·e^(−kδ) per side, fitted from how far takers reach into the book.

The A–S/GLFT intensity is a statement about takers: a taker arrives at rate A and reaches a
depth R ~ Exponential(k) from the fair price, so a resting order δ away is hit at A·e^(−kδ).
What the tape shows is censored by where liquidity rests: a sweep that took every level up to
a (its deepest print, measured from the fair price before it) and stopped before the next
resting level b reached R ∈ [a, b); a taker whose reach fell short of the best level left no
trace at all. Counting prints by depth therefore measures where liquidity rests (and moves
with our own quotes), not how far takers reach.

This estimator writes the likelihood of exactly what is seen, per side:

    ln L(A, k) = Σ_sweeps ln(A·(e^(−k·a) − e^(−k·b))) − A·∫ e^(−k·d(t)) dt

where d(t) is the distance from fair to the best resting level the takers of that side face
(the integral is the expected number of visible sweeps). A is profiled out (Â = n / ∫…) and
k found by a one-dimensional search of the concave profile. Distances are binned to the tick;
sweeps and exposure decay with ``half_life_s`` (lazy weights, rebased before they overflow).
Because the censoring is modelled, our own quotes in the book do not bias the fit; as a
second guard, while our own fills make more than ``own_share_limit`` of a side's traded
volume the refit may not raise that side's k or A (it may not quote tighter on the strength
of its own prints). Our own fills against our quoted distance are a second source: with the
time our best quote spent at each distance, A_own = fills / Σ T_j·e^(−k·d_j) at the fit's k
(``own_estimate``; its ratio to the tape's A is in the status), and it supplies A while the
tape is still too thin for a fit.

Sides are named by our quotes: ``BID`` is filled by sell takers, ``ASK`` by buy takers.
Prices and distances are in price units, time in ns (passed in), A per second, k per price
unit. Refits run at most every ``refit_interval_s`` and use numpy on the bins (a few hundred
numbers), so the per-event work is O(1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from thalex_mm.model.estimators._state import (
    expect_kind,
    get_float_list,
    get_int,
    req_float,
    req_int,
)

BID = 0  # our bids: hit by sell takers
ASK = 1  # our asks: lifted by buy takers
_NS = 1e-9
_REBASE_EXPONENT = 30.0
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_SEARCH_STEPS = 48


class _Side:
    """The decayed sufficient statistics of one side and its current fit."""

    __slots__ = (
        "A",
        "exposure",
        "fitted",
        "k",
        "n",
        "own",
        "own_A",
        "own_fills",
        "own_last_ns",
        "own_where",
        "quoted",
        "status",
        "sweeps",
        "total",
        "where",
    )

    def __init__(self, n_bins: int, A: float, k: float) -> None:
        self.exposure = [0.0] * (n_bins + 1)  # weighted seconds with the best level at bin j
        self.quoted = [0.0] * (n_bins + 1)  # weighted seconds with our best quote at bin j
        self.own_where = -1  # bin of our best quote now (-1: none)
        self.own_fills = 0.0  # weighted count of sweeps that filled us on this side
        self.own_last_ns = -1  # the last of them (one sweep fills several of our levels)
        self.own_A = math.nan  # A from our own fills at our quoted distances, at the fit's k
        self.sweeps: dict[tuple[int, int], float] = {}  # (a bin, b bin or -1 = none) -> weight
        self.n = 0.0  # weighted sweep count
        self.own = 0.0  # weighted lots of our own fills on this side
        self.total = 0.0  # weighted lots traded by takers on this side
        self.where = -1  # bin of the best level now (-1: that side of the book is empty)
        self.A = A
        self.k = k
        self.fitted = False
        self.status = "no data"

    def scale(self, factor: float) -> None:
        self.exposure = [e * factor for e in self.exposure]
        self.quoted = [e * factor for e in self.quoted]
        self.own_fills *= factor
        self.sweeps = {key: w * factor for key, w in self.sweeps.items()}
        self.n *= factor
        self.own *= factor
        self.total *= factor


class ReachIntensity:
    """Per-side (A per second, k per price unit) from taker sweeps and book exposure."""

    __slots__ = (
        "_last_ns",
        "_ref_ns",
        "_sides",
        "_tau_s",
        "default_A",
        "default_k",
        "half_life_s",
        "k_max",
        "k_min",
        "last_fit_ns",
        "max_depth_bins",
        "min_sweeps",
        "own_share_limit",
        "refit_interval_s",
        "rejected",
        "tick",
    )

    def __init__(
        self,
        tick: float,
        *,
        half_life_s: float = 300.0,
        refit_interval_s: float = 5.0,
        max_depth_ticks: int = 1000,
        min_sweeps: float = 30.0,
        default_A: float = 1.0,
        default_k: float = 1.0,
        own_share_limit: float = 0.5,
        k_min: float | None = None,
        k_max: float | None = None,
    ) -> None:
        for name, value in (
            ("tick", tick),
            ("half_life_s", half_life_s),
            ("refit_interval_s", refit_interval_s),
            ("min_sweeps", min_sweeps),
            ("default_A", default_A),
            ("default_k", default_k),
        ):
            if not (0.0 < value < math.inf):
                raise ValueError(f"{name} must be a positive finite number, got {value}")
        if not (isinstance(max_depth_ticks, int) and max_depth_ticks >= 2):
            raise ValueError(f"max_depth_ticks must be an integer >= 2, got {max_depth_ticks!r}")
        if not (0.0 < own_share_limit <= 1.0):
            raise ValueError(f"own_share_limit must be in (0, 1], got {own_share_limit}")
        self.tick = float(tick)
        self.half_life_s = float(half_life_s)
        self.refit_interval_s = float(refit_interval_s)
        self.max_depth_bins = max_depth_ticks
        self.min_sweeps = float(min_sweeps)
        self.default_A = float(default_A)
        self.default_k = float(default_k)
        self.own_share_limit = float(own_share_limit)
        self.k_min = 1e-4 / tick if k_min is None else float(k_min)
        self.k_max = 10.0 / tick if k_max is None else float(k_max)
        if not (0.0 < self.k_min < self.k_max < math.inf):
            raise ValueError(f"need 0 < k_min < k_max, got {self.k_min}, {self.k_max}")
        self._tau_s = self.half_life_s / math.log(2.0)
        self._sides = (
            _Side(max_depth_ticks, self.default_A, self.default_k),
            _Side(max_depth_ticks, self.default_A, self.default_k),
        )
        self._ref_ns: int | None = None  # weights are e^((t − ref)/τ)
        self._last_ns: int | None = None  # last exposure update
        self.last_fit_ns: int | None = None
        self.rejected = 0

    # --- the current estimates ------------------------------------------------------------
    def params(self, side: int) -> tuple[float, float]:
        """(A, k) of ``side`` (BID or ASK): the fit, or the defaults before a good one."""
        s = self._sides[side]
        return s.A, s.k

    def fitted(self, side: int) -> bool:
        return self._sides[side].fitted

    def status(self, side: int) -> str:
        return self._sides[side].status

    def sweeps(self, side: int) -> float:
        """Decayed number of sweeps seen on ``side``."""
        return self._sides[side].n

    # --- per event -----------------------------------------------------------------------
    def _weight(self, ts_ns: int) -> float:
        ref = self._ref_ns
        if ref is None:
            self._ref_ns = ref = ts_ns
        exponent = (ts_ns - ref) * _NS / self._tau_s
        if exponent > _REBASE_EXPONENT:
            factor = math.exp(-exponent)
            for s in self._sides:
                s.scale(factor)
            self._ref_ns = ts_ns
            exponent = 0.0
        return math.exp(exponent)

    def _bin(self, distance: float) -> int:
        j = int(distance / self.tick + 0.5)
        if j < 0:
            return 0
        return j if j < self.max_depth_bins else self.max_depth_bins

    def observe_book(  # noqa: PLR0917 - positional: called on every book event
        self,
        ts_ns: int,
        fair: float,
        best_bid: float | None,
        best_ask: float | None,
        own_bid: float | None = None,
        own_ask: float | None = None,
    ) -> None:
        """The book as the takers see it from ``ts_ns`` on: the best resting prices (ours
        included; None for an empty side) and the fair price they reach from; ``own_*``:
        our own best quotes (the second source: our fills against our quoted distance)."""
        if not (0.0 < fair < math.inf):
            self.rejected += 1
            return
        last = self._last_ns
        if last is not None and ts_ns < last:
            self.rejected += 1
            return
        if last is not None and ts_ns > last:
            w = self._weight(ts_ns) * (ts_ns - last) * _NS
            for s in self._sides:
                if s.where >= 0:
                    s.exposure[s.where] += w
                if s.own_where >= 0:
                    s.quoted[s.own_where] += w
        self._last_ns = ts_ns
        bid_side, ask_side = self._sides
        bid_side.where = -1 if best_bid is None else self._bin(fair - best_bid)
        ask_side.where = -1 if best_ask is None else self._bin(best_ask - fair)
        bid_side.own_where = -1 if own_bid is None else self._bin(fair - own_bid)
        ask_side.own_where = -1 if own_ask is None else self._bin(own_ask - fair)

    def on_sweep(
        self, ts_ns: int, side: int, reached: float, next_level: float | None, lots: float
    ) -> None:
        """One taker sweep against ``side``: it took every level up to ``reached`` (the
        distance of its deepest print from fair) and stopped before ``next_level`` (the
        distance of the next resting level; None when none was known), ``lots`` in all."""
        if not (-math.inf < reached < math.inf) or lots < 0.0:
            self.rejected += 1
            return
        s = self._sides[side]
        a = self._bin(reached)
        if next_level is None or not math.isfinite(next_level):
            b = -1
        else:
            b = self._bin(next_level)
            if b <= a:
                b = a + 1
            if b > self.max_depth_bins:
                b = -1
        w = self._weight(ts_ns)
        key = (a, b)
        s.sweeps[key] = s.sweeps.get(key, 0.0) + w
        s.n += w
        s.total += w * lots
        self.maybe_refit(ts_ns)

    def on_own_fill(self, ts_ns: int, side: int, lots: float) -> None:
        """Lots of our own order on ``side`` filled (they are also in the public tape)."""
        if lots > 0.0:
            w = self._weight(ts_ns)
            s = self._sides[side]
            s.own += w * lots
            if ts_ns != s.own_last_ns:  # the fills of one sweep arrive together: one event
                s.own_last_ns = ts_ns
                s.own_fills += w

    def own_estimate(self, side: int) -> float:
        """A from our own fills against the time our best quote spent at each distance,
        at the side's current k: a second source beside the tape (NaN without data)."""
        return self._sides[side].own_A

    def resume(self) -> None:
        """After a restore: do not count the time since the saved state as exposure."""
        self._last_ns = None
        for s in self._sides:
            s.where = -1

    # --- fitting -------------------------------------------------------------------------
    def maybe_refit(self, ts_ns: int) -> bool:
        last = self.last_fit_ns
        if last is not None and (ts_ns - last) * _NS < self.refit_interval_s:
            return False
        self.refit(ts_ns)
        return True

    def refit(self, ts_ns: int) -> None:
        self.last_fit_ns = ts_ns
        for s in self._sides:
            self._fit_side(s)

    def _own_a(self, s: _Side, k: float) -> float:
        quoted = np.asarray(s.quoted)
        if s.own_fills <= 0.0 or not quoted.any():
            return math.nan
        depths = np.arange(quoted.size) * self.tick
        return s.own_fills / float(quoted @ np.exp(-k * depths))

    def _fit_side(self, s: _Side) -> None:
        if s.n < self.min_sweeps:
            s.own_A = self._own_a(s, s.k)
            if s.own_fills >= self.min_sweeps and s.own_A > 0.0:
                # the tape is thin but we have fills of our own: A from them, at the prior k
                s.A = s.own_A
                s.status = f"thin tape ({s.n:.0f} sweeps): A from {s.own_fills:.0f} own fills"
                return
            s.status = f"thin data: {s.n:.0f} sweeps (need {self.min_sweeps:.0f})"
            return
        exposure = np.asarray(s.exposure)
        if not exposure.any():
            s.status = "no exposure: the book side was never seen"
            return
        tick = self.tick
        depths = np.arange(exposure.size) * tick
        keys = np.asarray(list(s.sweeps.keys()), dtype=np.float64)
        weights = np.asarray(list(s.sweeps.values()))
        a = keys[:, 0] * tick
        bounded = keys[:, 1] >= 0.0
        gap = np.where(bounded, (keys[:, 1] - keys[:, 0]) * tick, 1.0)
        n = s.n

        def profile(log_k: float) -> float:
            k = math.exp(log_k)
            interval = -k * a + np.where(bounded, np.log1p(-np.exp(-k * gap)), 0.0)
            return float(weights @ interval) - n * math.log(float(exposure @ np.exp(-k * depths)))

        lo, hi = math.log(self.k_min), math.log(self.k_max)
        x1 = hi - _GOLDEN * (hi - lo)
        x2 = lo + _GOLDEN * (hi - lo)
        f1, f2 = profile(x1), profile(x2)
        for _ in range(_SEARCH_STEPS):
            if f1 < f2:
                lo, x1, f1 = x1, x2, f2
                x2 = lo + _GOLDEN * (hi - lo)
                f2 = profile(x2)
            else:
                hi, x2, f2 = x2, x1, f1
                x1 = hi - _GOLDEN * (hi - lo)
                f1 = profile(x1)
        k = math.exp(0.5 * (lo + hi))
        A = n / float(exposure @ np.exp(-k * depths))
        if not (math.isfinite(A) and A > 0.0):
            s.status = f"rejected fit: A={A}"
            return
        at_edge = k <= self.k_min * 1.01 or k >= self.k_max * 0.99
        own_share = s.own / s.total if s.total > 0.0 else 0.0
        if own_share > self.own_share_limit and s.fitted:
            k = min(k, s.k)
            A = min(A, s.A)
            s.status = f"own prints dominate ({own_share:.0%}): k and A not raised"
        else:
            s.status = f"ok: {n:.0f} sweeps" + (" (k at its bound)" if at_edge else "")
        s.A, s.k = A, k
        s.own_A = self._own_a(s, k)
        if s.own_A == s.own_A and s.own_fills >= self.min_sweeps:
            s.status += f"; own fills imply A = {s.own_A:.3g} ({s.own_A / A:.2f} x the tape's)"
        s.fitted = True

    # --- persistence ---------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        sides = []
        for s in self._sides:
            sides.append(
                {
                    "exposure": list(s.exposure),
                    "sweeps": [[a, b, w] for (a, b), w in s.sweeps.items()],
                    "n": s.n,
                    "own": s.own,
                    "quoted": list(s.quoted),
                    "own_fills": s.own_fills,
                    "total": s.total,
                    "A": s.A,
                    "k": s.k,
                    "fitted": s.fitted,
                    "status": s.status,
                }
            )
        return {
            "kind": "reach_intensity",
            "version": 1,
            "tick": self.tick,
            "half_life_s": self.half_life_s,
            "refit_interval_s": self.refit_interval_s,
            "max_depth_ticks": self.max_depth_bins,
            "min_sweeps": self.min_sweeps,
            "default_A": self.default_A,
            "default_k": self.default_k,
            "own_share_limit": self.own_share_limit,
            "k_min": self.k_min,
            "k_max": self.k_max,
            "ref_ns": self._ref_ns,
            "sides": sides,
            "rejected": self.rejected,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ReachIntensity:
        expect_kind(state, "reach_intensity")
        est = cls(
            req_float(state, "tick"),
            half_life_s=req_float(state, "half_life_s"),
            refit_interval_s=req_float(state, "refit_interval_s"),
            max_depth_ticks=req_int(state, "max_depth_ticks"),
            min_sweeps=req_float(state, "min_sweeps"),
            default_A=req_float(state, "default_A"),
            default_k=req_float(state, "default_k"),
            own_share_limit=req_float(state, "own_share_limit"),
            k_min=req_float(state, "k_min"),
            k_max=req_float(state, "k_max"),
        )
        est._ref_ns = get_int(state, "ref_ns", allow_none=True)
        raw_sides = state.get("sides")
        if not isinstance(raw_sides, list) or len(raw_sides) != 2:
            raise ValueError("state field 'sides' must hold two sides")
        for s, raw in zip(est._sides, raw_sides, strict=True):
            if not isinstance(raw, dict):
                raise ValueError("each side's state must be a dict")
            exposure = get_float_list(raw, "exposure")
            if len(exposure) != est.max_depth_bins + 1 or min(exposure) < 0.0:
                raise ValueError("side field 'exposure' must hold max_depth_ticks+1 values >= 0")
            s.exposure = exposure
            sweeps = raw.get("sweeps")
            if not isinstance(sweeps, list):
                raise ValueError("side field 'sweeps' must be a list")
            for item in sweeps:
                if not (isinstance(item, list) and len(item) == 3):
                    raise ValueError("side field 'sweeps' must hold [a, b, weight] triples")
                a, b, w = item
                if not (isinstance(a, int) and isinstance(b, int) and isinstance(w, int | float)):
                    raise ValueError("side field 'sweeps' holds a bad triple")
                s.sweeps[(a, b)] = float(w)
            s.n = req_float(raw, "n")
            s.own = req_float(raw, "own")
            quoted = get_float_list(raw, "quoted")
            if len(quoted) != est.max_depth_bins + 1 or min(quoted) < 0.0:
                raise ValueError("side field 'quoted' must hold max_depth_ticks+1 values >= 0")
            s.quoted = quoted
            s.own_fills = req_float(raw, "own_fills")
            s.total = req_float(raw, "total")
            s.A = req_float(raw, "A")
            s.k = req_float(raw, "k")
            if not (s.A > 0.0 and s.k > 0.0):
                raise ValueError("side fields 'A' and 'k' must be > 0")
            fitted = raw.get("fitted")
            if not isinstance(fitted, bool):
                raise ValueError("side field 'fitted' must be true or false")
            s.fitted = fitted
            s.status = str(raw.get("status", ""))
        est.rejected = req_int(state, "rejected")
        return est
