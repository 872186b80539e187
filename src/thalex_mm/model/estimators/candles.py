"""Volume candles (a bar closes every ``volume_per_candle`` of traded amount) and their signals.

Volume bars sample the market by activity rather than by clock, so returns per bar are closer
to identically distributed. A trade larger than what the open bar still needs is split: it
fills that bar at its price and carries on into the next. Per trade the work is O(1) plus
O(bars it closes).

Signals over the last ``history`` closed bars, with r = ln(closeᵢ / closeᵢ₋₁) (the first bar's
reference is its own open), kept as running sums:

* ``momentum``: Σ r, the log price change across the window (signed trend);
* ``momentum_z``: Σ r / (std(r)·√n), how strong that trend is against bar-to-bar noise;
* ``reversal``: −(r_last − mean(r)) / std(r): positive after an unusually sharp drop (expect
  a bounce), negative after a sharp rise;
* ``exhaustion``: with a strong trend (|momentum z| ≥ 1), how little its last bar moved
  against the window's mean absolute bar move, signed like the trend (+1: an up-trend that
  stalled);
* ``imbalance``: (buy − sell aggressor volume) / volume over the window.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from thalex_mm.model.estimators._state import expect_kind, req_float, req_int


@dataclass(slots=True)
class VolumeCandle:
    start_ns: int
    end_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    buy_volume: float  # volume of buyer-initiated trades
    sell_volume: float
    notional: float  # Σ price·amount, for the VWAP

    @property
    def vwap(self) -> float:
        return self.notional / self.volume if self.volume > 0.0 else self.close


class VolumeCandles:
    """Builds volume candles from trades and keeps the last ``history`` closed ones."""

    __slots__ = (
        "_closed_since_resum",
        "_current",
        "_rets",
        "_sum_buy",
        "_sum_r",
        "_sum_r2",
        "_sum_sell",
        "_sum_vol",
        "candles",
        "history",
        "rejected",
        "volume_per_candle",
    )

    def __init__(self, volume_per_candle: float, history: int = 50) -> None:
        if not (0.0 < volume_per_candle < math.inf):
            raise ValueError(
                f"volume_per_candle must be a positive finite number, got {volume_per_candle}"
            )
        if history < 2:
            raise ValueError(f"history must be >= 2, got {history}")
        self.volume_per_candle = float(volume_per_candle)
        self.history = history
        self.candles: deque[VolumeCandle] = deque()
        self._rets: deque[float] = deque()
        self._current: VolumeCandle | None = None
        self._sum_r = self._sum_r2 = 0.0
        self._sum_vol = self._sum_buy = self._sum_sell = 0.0
        self._closed_since_resum = 0
        self.rejected = 0

    def on_trade(self, ts_ns: int, price: float, amount: float, side: int = 0) -> int:
        """Add a trade (side +1 buyer-initiated, −1 seller, 0 unknown); returns bars closed."""
        if not (0.0 < price < math.inf and 0.0 < amount < math.inf) or side not in (-1, 0, 1):
            self.rejected += 1
            return 0
        closed = 0
        remaining = amount
        while remaining > 0.0:
            bar = self._current
            if bar is None:
                bar = self._current = VolumeCandle(
                    ts_ns, ts_ns, price, price, price, price, 0.0, 0.0, 0.0, 0.0
                )
            room = self.volume_per_candle - bar.volume
            take = remaining if remaining < room else room
            bar.end_ns = ts_ns
            bar.high = max(bar.high, price)
            bar.low = min(bar.low, price)
            bar.close = price
            bar.volume += take
            bar.notional += take * price
            if side > 0:
                bar.buy_volume += take
            elif side < 0:
                bar.sell_volume += take
            remaining -= take
            # Relative tolerance: splitting must not leave a dust bar from float rounding.
            if bar.volume >= self.volume_per_candle * (1.0 - 1e-12):
                self._close(bar)
                closed += 1
                if remaining <= self.volume_per_candle * 1e-12:
                    break
        return closed

    def _close(self, bar: VolumeCandle) -> None:
        prev_close = self.candles[-1].close if self.candles else bar.open
        r = math.log(bar.close / prev_close)
        self.candles.append(bar)
        self._rets.append(r)
        self._sum_r += r
        self._sum_r2 += r * r
        self._sum_vol += bar.volume
        self._sum_buy += bar.buy_volume
        self._sum_sell += bar.sell_volume
        if len(self.candles) > self.history:
            old = self.candles.popleft()
            r_old = self._rets.popleft()
            self._sum_r -= r_old
            self._sum_r2 -= r_old * r_old
            self._sum_vol -= old.volume
            self._sum_buy -= old.buy_volume
            self._sum_sell -= old.sell_volume
        self._current = None
        self._closed_since_resum += 1
        if self._closed_since_resum >= self.history:
            self._resum()

    def _resum(self) -> None:
        """Recompute the running sums exactly (amortised O(1)), cancelling float drift."""
        self._sum_r = math.fsum(self._rets)
        self._sum_r2 = math.fsum(r * r for r in self._rets)
        self._sum_vol = math.fsum(c.volume for c in self.candles)
        self._sum_buy = math.fsum(c.buy_volume for c in self.candles)
        self._sum_sell = math.fsum(c.sell_volume for c in self.candles)
        self._closed_since_resum = 0

    # --- signals -----------------------------------------------------------------------------
    @property
    def current(self) -> VolumeCandle | None:
        """The open (incomplete) candle, if any."""
        return self._current

    @property
    def bar_std(self) -> float | None:
        """The standard deviation of the window's bar log returns (None below two bars)."""
        n = len(self._rets)
        if n < 2:
            return None
        var = (self._sum_r2 - self._sum_r * self._sum_r / n) / (n - 1)
        return math.sqrt(var) if var > 0.0 else None

    @property
    def momentum(self) -> float | None:
        return self._sum_r if self._rets else None

    @property
    def momentum_z(self) -> float | None:
        std = self.bar_std
        if std is None:
            return None
        return self._sum_r / (std * math.sqrt(len(self._rets)))

    @property
    def reversal(self) -> float | None:
        std = self.bar_std
        if std is None:
            return None
        mean = self._sum_r / len(self._rets)
        return -(self._rets[-1] - mean) / std

    @property
    def exhaustion(self) -> float | None:
        """How much a strong trend has stalled in its last bar, signed like the trend: with
        |momentum z| ≥ 1, sign(momentum)·(1 − min(1, |r_last| / mean |r|)); 0 otherwise.
        Near +1: an up-trend whose last bar barely moved (its buyers running out)."""
        z = self.momentum_z
        rets = self._rets
        if z is None or not rets:
            return None
        if abs(z) < 1.0:
            return 0.0
        mean_abs = math.fsum(abs(r) for r in rets) / len(rets)
        if mean_abs <= 0.0:
            return 0.0
        stall = 1.0 - min(1.0, abs(rets[-1]) / mean_abs)
        return math.copysign(stall, z)

    @property
    def imbalance(self) -> float | None:
        if self._sum_vol <= 0.0:
            return None
        return (self._sum_buy - self._sum_sell) / self._sum_vol

    # --- persistence -------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "volume_candles",
            "version": 1,
            "volume_per_candle": self.volume_per_candle,
            "history": self.history,
            "candles": [asdict(c) for c in self.candles],
            "returns": list(self._rets),
            "current": asdict(self._current) if self._current is not None else None,
            "rejected": self.rejected,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> VolumeCandles:
        expect_kind(state, "volume_candles")
        est = cls(req_float(state, "volume_per_candle"), req_int(state, "history"))
        raw = state.get("candles")
        rets = state.get("returns")
        if not isinstance(raw, list) or not isinstance(rets, list) or len(raw) != len(rets):
            raise ValueError("state fields 'candles' and 'returns' must be lists of equal length")
        if len(raw) > est.history:
            raise ValueError(f"state holds {len(raw)} candles, more than history={est.history}")
        est.candles.extend(_candle(c) for c in raw)
        for r in rets:
            if isinstance(r, bool) or not isinstance(r, int | float) or not math.isfinite(r):
                raise ValueError(f"state field 'returns' holds a non-number {r!r}")
            est._rets.append(float(r))
        current = state.get("current")
        est._current = None if current is None else _candle(current)
        est.rejected = req_int(state, "rejected")
        est._resum()
        return est


def _candle(raw: Any) -> VolumeCandle:
    if not isinstance(raw, dict):
        raise ValueError(f"a candle in the state must be a dict, got {type(raw).__name__}")
    try:
        candle = VolumeCandle(
            start_ns=int(raw["start_ns"]),
            end_ns=int(raw["end_ns"]),
            **{
                key: float(raw[key])
                for key in (
                    "open",
                    "high",
                    "low",
                    "close",
                    "volume",
                    "buy_volume",
                    "sell_volume",
                    "notional",
                )
            },
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad candle in state: {exc!r}") from exc
    prices = (candle.open, candle.high, candle.low, candle.close)
    if not all(0.0 < p < math.inf for p in prices) or not (0.0 <= candle.volume < math.inf):
        raise ValueError(f"bad candle in state: prices must be > 0, got {prices}")
    return candle
