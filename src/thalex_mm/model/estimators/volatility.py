"""Volatility of the mid, σ in price units per √second, updated in O(1) per observation.

Both estimators use the realised-variance ratio σ² = Σ r² / Σ dt (r = mid change, dt =
seconds between observations) rather than averaging r²/dt, so irregular spacing and bursts
of same-timestamp updates (dt = 0) cannot blow the estimate up. Invalid input (NaN or
non-positive mid, time going backwards) is ignored and counted in ``rejected``; ``sigma`` is
None until ``min_samples`` returns have been seen.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from thalex_mm.model.estimators._state import (
    expect_kind,
    get_float,
    get_float_list,
    get_int,
    req_float,
    req_int,
)

_LN2 = math.log(2.0)
_NS = 1e-9


class _MidReturns:
    """Turns mid observations into returns (dt seconds, r price units) for ``_add``, rejecting
    unusable input: NaN, infinite or non-positive mids and time going backwards."""

    __slots__ = ("_last_mid", "_last_ts", "rejected")

    def __init__(self) -> None:
        self._last_ts: int | None = None
        self._last_mid = 0.0
        self.rejected = 0

    def update(self, ts_ns: int, mid: float) -> bool:
        """Feed one mid observation; False (and ``rejected`` += 1) when it is unusable."""
        if not (0.0 < mid < math.inf):
            self.rejected += 1
            return False
        last_ts = self._last_ts
        if last_ts is not None:
            if ts_ns < last_ts:
                self.rejected += 1
                return False
            self._add((ts_ns - last_ts) * _NS, mid - self._last_mid)
        self._last_ts = ts_ns
        self._last_mid = mid
        return True

    def _add(self, dt: float, r: float) -> None:
        raise NotImplementedError


class EwmaVolatility(_MidReturns):
    """Time-aware EWMA: both sums decay by 2^(−dt/half_life) between observations."""

    __slots__ = ("_sum_dt", "_sum_r2", "half_life_s", "min_samples", "samples")

    def __init__(self, half_life_s: float = 60.0, min_samples: int = 10) -> None:
        if not (0.0 < half_life_s < math.inf):
            raise ValueError(f"half_life_s must be a positive finite number, got {half_life_s}")
        if min_samples < 1:
            raise ValueError(f"min_samples must be >= 1, got {min_samples}")
        self.half_life_s = float(half_life_s)
        super().__init__()
        self.min_samples = min_samples
        self._sum_r2 = 0.0
        self._sum_dt = 0.0
        self.samples = 0

    def _add(self, dt: float, r: float) -> None:
        decay = math.exp(-_LN2 * dt / self.half_life_s)
        self._sum_r2 = self._sum_r2 * decay + r * r
        self._sum_dt = self._sum_dt * decay + dt
        self.samples += 1

    @property
    def sigma(self) -> float | None:
        """σ in price units per √second, or None while warming up."""
        if self.samples < self.min_samples or self._sum_dt <= 0.0:
            return None
        return math.sqrt(self._sum_r2 / self._sum_dt)

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "ewma_volatility",
            "version": 1,
            "half_life_s": self.half_life_s,
            "min_samples": self.min_samples,
            "last_ts_ns": self._last_ts,
            "last_mid": self._last_mid,
            "sum_r2": self._sum_r2,
            "sum_dt": self._sum_dt,
            "samples": self.samples,
            "rejected": self.rejected,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EwmaVolatility:
        expect_kind(state, "ewma_volatility")
        est = cls(req_float(state, "half_life_s"), req_int(state, "min_samples"))
        est._last_ts = get_int(state, "last_ts_ns", allow_none=True)
        est._last_mid = req_float(state, "last_mid")
        est._sum_r2 = req_float(state, "sum_r2")
        est._sum_dt = req_float(state, "sum_dt")
        est.samples = req_int(state, "samples")
        est.rejected = req_int(state, "rejected")
        if est._sum_r2 < 0.0 or est._sum_dt < 0.0:
            raise ValueError("state fields 'sum_r2' and 'sum_dt' must be >= 0")
        return est


class WindowVolatility(_MidReturns):
    """σ over the last ``window`` returns; running sums, re-added every window to stop drift."""

    __slots__ = ("_dts", "_r2s", "_since_resum", "_sum_dt", "_sum_r2", "min_samples", "window")

    def __init__(self, window: int = 300, min_samples: int = 10) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if not (1 <= min_samples <= window):
            raise ValueError(
                f"min_samples must be between 1 and window={window}, got {min_samples}"
            )
        self.window = window
        self.min_samples = min_samples
        self._r2s: deque[float] = deque()
        self._dts: deque[float] = deque()
        self._sum_r2 = 0.0
        self._sum_dt = 0.0
        self._since_resum = 0
        super().__init__()

    def _add(self, dt: float, r: float) -> None:
        r2 = r * r
        self._r2s.append(r2)
        self._dts.append(dt)
        self._sum_r2 += r2
        self._sum_dt += dt
        if len(self._r2s) > self.window:
            self._sum_r2 -= self._r2s.popleft()
            self._sum_dt -= self._dts.popleft()
        self._since_resum += 1
        if self._since_resum >= self.window:  # amortised O(1): cancel float drift
            self._sum_r2 = math.fsum(self._r2s)
            self._sum_dt = math.fsum(self._dts)
            self._since_resum = 0

    @property
    def count(self) -> int:
        return len(self._r2s)

    @property
    def sigma(self) -> float | None:
        """σ in price units per √second, or None while fewer than ``min_samples`` returns."""
        if len(self._r2s) < self.min_samples or self._sum_dt <= 0.0:
            return None
        return math.sqrt(max(self._sum_r2, 0.0) / self._sum_dt)

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "window_volatility",
            "version": 1,
            "window": self.window,
            "min_samples": self.min_samples,
            "last_ts_ns": self._last_ts,
            "last_mid": self._last_mid,
            "r2": list(self._r2s),
            "dt": list(self._dts),
            "rejected": self.rejected,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> WindowVolatility:
        expect_kind(state, "window_volatility")
        est = cls(req_int(state, "window"), req_int(state, "min_samples"))
        r2 = get_float_list(state, "r2")
        dts = get_float_list(state, "dt")
        if len(r2) != len(dts) or len(r2) > est.window:
            raise ValueError("state fields 'r2' and 'dt' must have equal length <= window")
        if any(v < 0.0 for v in r2) or any(v < 0.0 for v in dts):
            raise ValueError("state fields 'r2' and 'dt' must hold values >= 0")
        est._r2s.extend(r2)
        est._dts.extend(dts)
        est._sum_r2 = math.fsum(r2)
        est._sum_dt = math.fsum(dts)
        est._last_ts = get_int(state, "last_ts_ns", allow_none=True)
        last_mid = get_float(state, "last_mid")
        est._last_mid = 0.0 if last_mid is None else last_mid
        est.rejected = req_int(state, "rejected")
        return est


class GridVolatility:
    """σ from a price sampled on a fixed time grid, robust to microstructure noise.

    Tick-by-tick changes of a quoted mid are mostly noise (makers re-quoting, a sweep
    emptying the top for an instant), which inflates a tick-by-tick estimate several times
    over. Here the price in force at each grid point (every ``interval_s``) is the sample; a
    quiet stretch counts as zero returns, so the estimate is per unit of time however often
    the feed updates. Two EWMAs of the grid returns (realised variance over time, as in
    ``EwmaVolatility``): a slow one (``half_life_s``), the estimate, and a fast one
    (``fast_half_life_s``) that detects a stressed regime: when the fast σ exceeds
    ``stressed_ratio`` × the slow σ, ``sigma`` is the fast σ and ``stressed`` is True, so
    the model widens at once instead of after a slow half-life. Invalid input (NaN,
    non-positive, time going backwards) is ignored and counted in ``rejected``.
    """

    __slots__ = (
        "_fast",
        "_grid_index",
        "_grid_price",
        "_last_price",
        "_slow",
        "fast_half_life_s",
        "half_life_s",
        "interval_s",
        "min_samples",
        "rejected",
        "samples",
        "stressed_ratio",
    )

    def __init__(
        self,
        interval_s: float = 1.0,
        half_life_s: float = 120.0,
        *,
        fast_half_life_s: float = 15.0,
        stressed_ratio: float = 1.5,
        min_samples: int = 20,
    ) -> None:
        for name, value in (
            ("interval_s", interval_s),
            ("half_life_s", half_life_s),
            ("fast_half_life_s", fast_half_life_s),
        ):
            if not (0.0 < value < math.inf):
                raise ValueError(f"{name} must be a positive finite number, got {value}")
        if not (1.0 <= stressed_ratio < math.inf):
            raise ValueError(f"stressed_ratio must be a finite number >= 1, got {stressed_ratio}")
        if min_samples < 1:
            raise ValueError(f"min_samples must be >= 1, got {min_samples}")
        self.interval_s = float(interval_s)
        self.half_life_s = float(half_life_s)
        self.fast_half_life_s = float(fast_half_life_s)
        self.stressed_ratio = float(stressed_ratio)
        self.min_samples = min_samples
        self._slow = [0.0, 0.0]  # decayed Σ r², Σ dt
        self._fast = [0.0, 0.0]
        self._grid_index: int | None = None  # last grid point sampled
        self._grid_price = 0.0  # the price at that grid point
        self._last_price = 0.0  # the price in force now
        self.samples = 0
        self.rejected = 0

    def update(self, ts_ns: int, price: float) -> bool:
        """Feed the price in force from ``ts_ns`` on; False (and counted) when unusable."""
        if not (0.0 < price < math.inf):
            self.rejected += 1
            return False
        g = int(ts_ns * 1e-9 / self.interval_s)
        last = self._grid_index
        if last is None:
            self._grid_index = g
            self._grid_price = self._last_price = price
            return True
        if g < last:
            self.rejected += 1
            return False
        if g > last:
            # grid points last+1 .. g saw the previous price: one return, then g-last-1 zeros
            r = self._last_price - self._grid_price
            self._add(r, 1)
            if g - last > 1:
                self._add(0.0, g - last - 1)
            self._grid_index = g
            self._grid_price = self._last_price
        self._last_price = price
        return True

    def _add(self, r: float, n: int) -> None:
        """``n`` grid returns: the first is ``r``, the others zero."""
        dt = self.interval_s
        for sums, half_life in (
            (self._slow, self.half_life_s),
            (self._fast, self.fast_half_life_s),
        ):
            d = 2.0 ** (-dt / half_life)
            dn = d**n
            # n steps of (x → x·d + dt): x·dⁿ + dt·(1 − dⁿ)/(1 − d); r² enters with the first
            sums[0] = sums[0] * dn + r * r * d ** (n - 1)
            sums[1] = sums[1] * dn + dt * (1.0 - dn) / (1.0 - d)
        self.samples += n

    @staticmethod
    def _sigma(sums: list[float]) -> float | None:
        return math.sqrt(sums[0] / sums[1]) if sums[1] > 0.0 else None

    @property
    def slow_sigma(self) -> float | None:
        return self._sigma(self._slow) if self.samples >= self.min_samples else None

    @property
    def fast_sigma(self) -> float | None:
        return self._sigma(self._fast) if self.samples >= self.min_samples else None

    @property
    def stressed(self) -> bool:
        slow, fast = self.slow_sigma, self.fast_sigma
        return slow is not None and fast is not None and fast > self.stressed_ratio * slow

    @property
    def sigma(self) -> float | None:
        """σ in price units per √second (the fast one in a stressed regime), or None while
        fewer than ``min_samples`` grid returns were seen."""
        slow, fast = self.slow_sigma, self.fast_sigma
        if slow is None or fast is None:
            return None
        return fast if fast > self.stressed_ratio * slow else slow

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "grid_volatility",
            "version": 1,
            "interval_s": self.interval_s,
            "half_life_s": self.half_life_s,
            "fast_half_life_s": self.fast_half_life_s,
            "stressed_ratio": self.stressed_ratio,
            "min_samples": self.min_samples,
            "slow": list(self._slow),
            "fast": list(self._fast),
            "grid_index": self._grid_index,
            "grid_price": self._grid_price,
            "last_price": self._last_price,
            "samples": self.samples,
            "rejected": self.rejected,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> GridVolatility:
        expect_kind(state, "grid_volatility")
        est = cls(
            req_float(state, "interval_s"),
            req_float(state, "half_life_s"),
            fast_half_life_s=req_float(state, "fast_half_life_s"),
            stressed_ratio=req_float(state, "stressed_ratio"),
            min_samples=req_int(state, "min_samples"),
        )
        slow = get_float_list(state, "slow")
        fast = get_float_list(state, "fast")
        if len(slow) != 2 or len(fast) != 2 or min(slow + fast) < 0.0:
            raise ValueError("state fields 'slow' and 'fast' must hold two values >= 0")
        est._slow, est._fast = slow, fast
        est._grid_index = get_int(state, "grid_index", allow_none=True)
        est._grid_price = req_float(state, "grid_price")
        est._last_price = req_float(state, "last_price")
        est.samples = req_int(state, "samples")
        est.rejected = req_int(state, "rejected")
        return est

    def resume(self, ts_ns: int) -> None:
        """After a restore: continue from ``ts_ns`` without counting the gap as quiet time
        (the price may have moved while nothing was watching)."""
        self._grid_index = None
