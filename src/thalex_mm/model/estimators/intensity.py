"""Order-arrival intensity λ(δ) = A·e^(−kδ), fitted from trades versus their distance to the mid.

Per trade (O(1)): the trade's depth d = |price − mid| goes into a histogram bin of width
``bin_width`` (price units); trades deeper than the range land in an overflow bin. Counts decay
with ``half_life_s`` (lazily: new trades get a growing weight, rebased now and then), so the
fit follows the market. On a schedule (``refit_interval_s``) the tail counts N(δⱼ) = trades at
depth ≥ δⱼ, δⱼ = j·bin_width, are turned into rates per second by the decayed observation time
and fitted by weighted least squares on ln λ = ln A − k·δ (weights = counts, the inverse
variance of a Poisson log-count). With too few trades or points, or a non-decaying fit, the
previous (A, k) stay, or the configured defaults before any good fit; ``status`` says why.
"""

from __future__ import annotations

import math
from typing import Any

from thalex_mm.model.estimators._state import (
    expect_kind,
    get_float_list,
    get_int,
    req_float,
    req_int,
)

_NS = 1e-9
_REBASE_EXPONENT = 30.0  # rebase the lazy weights before exp() gets anywhere near overflow


class IntensityEstimator:
    """Fits (A per second, k per price unit) of λ(δ) = A·e^(−kδ) from trades."""

    __slots__ = (
        "A",
        "_counts",
        "_ref_ns",
        "_start_ns",
        "_tau_s",
        "bin_width",
        "default_A",
        "default_k",
        "fitted",
        "half_life_s",
        "k",
        "k_max",
        "k_min",
        "last_fit_ns",
        "min_points",
        "min_trades_per_point",
        "n_bins",
        "refit_interval_s",
        "rejected",
        "status",
    )

    def __init__(
        self,
        bin_width: float,
        n_bins: int = 20,
        *,
        half_life_s: float = 600.0,
        refit_interval_s: float = 10.0,
        min_points: int = 3,
        min_trades_per_point: float = 5.0,
        default_A: float = 1.0,
        default_k: float = 1.0,
        k_min: float = 1e-9,
        k_max: float = 1e9,
    ) -> None:
        checks = (
            ("bin_width", bin_width),
            ("half_life_s", half_life_s),
            ("refit_interval_s", refit_interval_s),
            ("min_trades_per_point", min_trades_per_point),
            ("default_A", default_A),
            ("default_k", default_k),
            ("k_min", k_min),
            ("k_max", k_max),
        )
        for name, value in checks:
            if not (0.0 < value < math.inf):
                raise ValueError(f"{name} must be a positive finite number, got {value}")
        if n_bins < 2:
            raise ValueError(f"n_bins must be >= 2, got {n_bins}")
        if not (2 <= min_points <= n_bins):
            raise ValueError(f"min_points must be between 2 and n_bins={n_bins}, got {min_points}")
        if not (k_min <= default_k <= k_max):
            raise ValueError(f"default_k={default_k} must lie in [k_min, k_max]")
        self.bin_width = float(bin_width)
        self.n_bins = n_bins
        self.half_life_s = float(half_life_s)
        self.refit_interval_s = float(refit_interval_s)
        self.min_points = min_points
        self.min_trades_per_point = float(min_trades_per_point)
        self.default_A = float(default_A)
        self.default_k = float(default_k)
        self.k_min = float(k_min)
        self.k_max = float(k_max)
        self._tau_s = self.half_life_s / math.log(2.0)
        self._counts = [0.0] * (n_bins + 1)  # last = overflow (deeper than the range)
        self._ref_ns: int | None = None  # weights are e^((t − ref)/τ)
        self._start_ns: int | None = None  # first observation: the exposure starts here
        self.A = self.default_A
        self.k = self.default_k
        self.fitted = False
        self.last_fit_ns: int | None = None
        self.status = "no data"
        self.rejected = 0

    # --- per event ---------------------------------------------------------------------------
    def observe(self, ts_ns: int) -> None:
        """Mark the start of observation (exposure counts from the first call or trade)."""
        if self._start_ns is None:
            self._start_ns = ts_ns
            self._ref_ns = ts_ns

    def on_trade(self, ts_ns: int, price: float, mid: float) -> bool:
        """Record one trade at ``price`` while the mid was ``mid``; refits when due."""
        if not (0.0 < price < math.inf and 0.0 < mid < math.inf):
            self.rejected += 1
            return False
        start = self._start_ns
        ref = self._ref_ns
        if start is None or ref is None:
            self._start_ns = self._ref_ns = ref = ts_ns
        elif ts_ns < start:
            self.rejected += 1
            return False
        exponent = (ts_ns - ref) * _NS / self._tau_s
        if exponent > _REBASE_EXPONENT:
            self._rebase(ts_ns)
            exponent = 0.0
        idx = int(abs(price - mid) / self.bin_width)
        self._counts[min(idx, self.n_bins)] += math.exp(exponent)
        self.maybe_refit(ts_ns)
        return True

    def maybe_refit(self, ts_ns: int) -> bool:
        """Refit when ``refit_interval_s`` has passed since the last attempt; True if it ran."""
        last = self.last_fit_ns
        if last is not None and (ts_ns - last) * _NS < self.refit_interval_s:
            return False
        if self._start_ns is None:
            return False
        self.refit(ts_ns)
        return True

    def rate(self, delta: float) -> float:
        """λ(δ) per second with the current (A, k)."""
        return self.A * math.exp(-self.k * delta)

    # --- fitting -----------------------------------------------------------------------------
    def _rebase(self, ts_ns: int) -> None:
        ref = ts_ns if self._ref_ns is None else self._ref_ns
        scale = math.exp(-(ts_ns - ref) * _NS / self._tau_s)
        self._counts = [c * scale for c in self._counts]
        self._ref_ns = ts_ns

    def tail_rates(self, ts_ns: int) -> list[tuple[float, float, float]]:
        """(δⱼ, decayed trades at depth ≥ δⱼ, rate per second) for every grid point."""
        if self._start_ns is None or self._ref_ns is None or ts_ns <= self._start_ns:
            return []
        to_now = math.exp(-(ts_ns - self._ref_ns) * _NS / self._tau_s)
        exposure = self._tau_s * -math.expm1(-(ts_ns - self._start_ns) * _NS / self._tau_s)
        out: list[tuple[float, float, float]] = []
        tail = self._counts[self.n_bins] * to_now
        tails = [0.0] * self.n_bins
        for j in range(self.n_bins - 1, -1, -1):
            tail += self._counts[j] * to_now
            tails[j] = tail
        for j, n in enumerate(tails):
            out.append((j * self.bin_width, n, n / exposure))
        return out

    def refit(self, ts_ns: int) -> bool:
        """Fit (A, k) now; True when the fit was accepted."""
        self.last_fit_ns = ts_ns
        points = [(d, n, r) for d, n, r in self.tail_rates(ts_ns) if n >= self.min_trades_per_point]
        if len(points) < self.min_points:
            self.status = (
                f"thin data: {len(points)} depth points with >= "
                f"{self.min_trades_per_point:g} trades (need {self.min_points})"
            )
            return False
        sw = sx = sy = sxx = sxy = 0.0
        for d, n, r in points:
            y = math.log(r)
            sw += n
            sx += n * d
            sy += n * y
            sxx += n * d * d
            sxy += n * d * y
        denom = sw * sxx - sx * sx
        if denom <= 0.0:
            self.status = "degenerate fit: all points at one depth"
            return False
        slope = (sw * sxy - sx * sy) / denom
        intercept = (sy - slope * sx) / sw
        k = -slope
        if not (k > 0.0 and math.isfinite(intercept)):
            self.status = f"rejected fit: intensity does not decay with depth (k={k:.4g})"
            return False
        self.k = min(max(k, self.k_min), self.k_max)
        self.A = math.exp(intercept)
        self.fitted = True
        self.status = f"ok: {len(points)} points"
        return True

    # --- persistence -------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "intensity",
            "version": 1,
            "bin_width": self.bin_width,
            "n_bins": self.n_bins,
            "half_life_s": self.half_life_s,
            "refit_interval_s": self.refit_interval_s,
            "min_points": self.min_points,
            "min_trades_per_point": self.min_trades_per_point,
            "default_A": self.default_A,
            "default_k": self.default_k,
            "k_min": self.k_min,
            "k_max": self.k_max,
            "counts": list(self._counts),
            "ref_ns": self._ref_ns,
            "start_ns": self._start_ns,
            "A": self.A,
            "k": self.k,
            "fitted": self.fitted,
            "last_fit_ns": self.last_fit_ns,
            "status": self.status,
            "rejected": self.rejected,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> IntensityEstimator:
        expect_kind(state, "intensity")
        est = cls(
            req_float(state, "bin_width"),
            req_int(state, "n_bins"),
            half_life_s=req_float(state, "half_life_s"),
            refit_interval_s=req_float(state, "refit_interval_s"),
            min_points=req_int(state, "min_points"),
            min_trades_per_point=req_float(state, "min_trades_per_point"),
            default_A=req_float(state, "default_A"),
            default_k=req_float(state, "default_k"),
            k_min=req_float(state, "k_min"),
            k_max=req_float(state, "k_max"),
        )
        counts = get_float_list(state, "counts")
        if len(counts) != est.n_bins + 1 or any(c < 0.0 for c in counts):
            raise ValueError(
                f"state field 'counts' must hold n_bins+1 = {est.n_bins + 1} values >= 0"
            )
        est._counts = counts
        est._ref_ns = get_int(state, "ref_ns", allow_none=True)
        est._start_ns = get_int(state, "start_ns", allow_none=True)
        if (est._ref_ns is None) != (est._start_ns is None):
            raise ValueError("state fields 'ref_ns' and 'start_ns' must be both set or both null")
        est.A = req_float(state, "A")
        est.k = req_float(state, "k")
        if not (est.A > 0.0 and est.k > 0.0):
            raise ValueError("state fields 'A' and 'k' must be > 0")
        fitted = state.get("fitted")
        if not isinstance(fitted, bool):
            raise ValueError(f"state field 'fitted' must be true or false, got {fitted!r}")
        est.fitted = fitted
        est.last_fit_ns = get_int(state, "last_fit_ns", allow_none=True)
        est.status = str(state.get("status", ""))
        est.rejected = req_int(state, "rejected")
        return est
