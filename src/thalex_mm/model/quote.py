"""One quoting decision: market inputs + parameters -> a ladder of bids and asks (or no quote).

``compute_quotes`` is the innermost step of every reaction, so it is plain-float ``math``
code with the parameter-only work (ladder offsets, sizes) and the (γ, k, A)-only work
(logarithms and powers) cached between calls. Bad market inputs (NaN, non-positive prices,
k ≤ 0, ...) give ``NoQuote`` with a reason, never a crossed or negative quote; bad
parameters raise ValueError at construction.

Models (q = position / lot_size, in lots):

* ``avellaneda_stoikov``: r = s − q·γ·σ²·τ, total spread γσ²τ + (2/γ)·ln(1 + γ/k) centred on
  r, with τ = ``horizon_s`` used as a rolling horizon.
* ``glft``: δᵇ = c1 + (2q + 1)/2·ω, δᵃ = c1 − (2q − 1)/2·ω from the mid, with
  c1 = (1/γ)·ln(1 + γ/k) and ω = sqrt(σ²γ/(2kA)·(1 + γ/k)^(1 + k/γ)) (Guéant 2017).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from thalex_mm.domain import InstrumentSpec
from thalex_mm.model.formulas import glft_omega_factor
from thalex_mm.model.ladder import LadderParams, Level, PreparedLadder, build_ladder

__all__ = [
    "LadderParams",
    "Level",
    "MarketInputs",
    "NoQuote",
    "QuoteDecision",
    "QuoteEngine",
    "QuoteParams",
    "build_ladder",
    "compute_quotes",
]

_INF = math.inf
_MODELS = ("glft", "avellaneda_stoikov")


@dataclass(frozen=True, slots=True)
class QuoteParams:
    model: Literal["glft", "avellaneda_stoikov"] = "glft"
    gamma: float = 0.1
    lot_size: float = 0.001  # position units per "q" lot in the formulas
    horizon_s: float = 60.0  # A–S (T - t) used as a rolling horizon, seconds
    ladder: LadderParams = field(default_factory=LadderParams)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.model not in _MODELS:
            raise ValueError(f"model must be one of {_MODELS}, got {self.model!r}")
        if not (0.0 < self.gamma < _INF):
            raise ValueError(f"gamma must be a positive finite number, got {self.gamma!r}")
        if not (0.0 < self.lot_size < _INF):
            raise ValueError(f"lot_size must be a positive finite number, got {self.lot_size!r}")
        if not (0.0 < self.horizon_s < _INF):
            raise ValueError(f"horizon_s must be a positive finite number, got {self.horizon_s!r}")
        if not isinstance(self.ladder, LadderParams):
            raise ValueError(f"ladder must be a LadderParams, got {type(self.ladder).__name__}")


@dataclass(frozen=True, slots=True)
class MarketInputs:
    mid: float  # price
    sigma: float  # price units per sqrt(second)
    A: float  # arrivals per second
    k: float  # per price unit
    position: float  # signed, in amount units (e.g. BTC)


@dataclass(frozen=True, slots=True)
class QuoteDecision:
    reservation_price: float
    bid_distance: float  # model distance of the best bid from mid, price units
    ask_distance: float
    bids: tuple[Level, ...]  # best first, strictly decreasing prices
    asks: tuple[Level, ...]  # best first, strictly increasing prices


@dataclass(frozen=True, slots=True)
class NoQuote:
    reason: str


def _check_inputs(mid: float, sigma: float, A: float, k: float, position: float) -> str | None:
    """The reason the inputs cannot be quoted on, or None (NaN fails every comparison)."""
    if not (0.0 < mid < _INF):
        return f"mid must be a positive finite price, got {mid}"
    if not (0.0 <= sigma < _INF):
        return f"sigma must be a non-negative finite number, got {sigma}"
    if not (0.0 < k < _INF):
        return f"k must be a positive finite number, got {k}"
    if not (0.0 < A < _INF):
        return f"A must be a positive finite number, got {A}"
    if not (-_INF < position < _INF):
        return f"position must be finite, got {position}"
    return None


class QuoteEngine:
    """compute_quotes for one (params, spec), with the parameter-only work done once."""

    __slots__ = (
        "_as_c",
        "_as_k",
        "_gamma",
        "_glft",
        "_glft_A",
        "_glft_c1",
        "_glft_f",
        "_glft_k",
        "_inv_lot",
        "_ladder",
        "_spec",
        "_tau",
        "params",
        "spec",
    )

    def __init__(self, params: QuoteParams, spec: InstrumentSpec) -> None:
        params.validate()
        self.params = params
        self.spec = spec
        self._spec = spec
        self._ladder = PreparedLadder(params.ladder, spec)
        self._glft = params.model == "glft"
        self._gamma = params.gamma
        self._inv_lot = 1.0 / params.lot_size
        self._tau = params.horizon_s
        self._as_k = math.nan  # cache key of _as_c
        self._as_c = 0.0  # (2/γ)·ln(1 + γ/k)
        self._glft_k = math.nan  # cache key (k, A) of _glft_c1 and _glft_f
        self._glft_A = math.nan
        self._glft_c1 = 0.0
        self._glft_f = 0.0

    def quote(self, inputs: MarketInputs) -> QuoteDecision | NoQuote:
        mid = inputs.mid
        sigma = inputs.sigma
        k = inputs.k
        a_rate = inputs.A
        reason = _check_inputs(mid, sigma, a_rate, k, inputs.position)
        if reason is not None:
            return NoQuote(reason)
        q = inputs.position * self._inv_lot
        gamma = self._gamma
        if self._glft:
            if k != self._glft_k or a_rate != self._glft_A:
                self._glft_f = glft_omega_factor(gamma, k, a_rate)
                self._glft_c1 = math.log1p(gamma / k) / gamma
                self._glft_k = k
                self._glft_A = a_rate
            omega = sigma * math.sqrt(self._glft_f)
            c1 = self._glft_c1
            bid_d = c1 + (q + 0.5) * omega
            ask_d = c1 - (q - 0.5) * omega
            r = mid - q * omega
        else:
            if k != self._as_k:
                self._as_c = (2.0 / gamma) * math.log1p(gamma / k)
                self._as_k = k
            risk = gamma * sigma * sigma * self._tau
            skew = q * risk
            half = 0.5 * (risk + self._as_c)
            bid_d = skew + half
            ask_d = half - skew
            r = mid - skew
        bid_p = mid - bid_d
        ask_p = mid + ask_d
        if not (-_INF < bid_p < _INF and -_INF < ask_p < _INF):
            return NoQuote(f"model prices not finite (bid {bid_p}, ask {ask_p})")
        spec = self._spec
        bids, asks = self._ladder.build(
            spec.price_to_ticks_floor(bid_p),
            spec.price_to_ticks_ceil(ask_p),
            mid / spec.tick_size,
            q,
        )
        if not bids and not asks:
            return NoQuote("every ladder level was dropped (size, max distance or price <= 0)")
        return QuoteDecision(r, bid_d, ask_d, bids, asks)


# Prepared engines keyed by the identity of (params, spec). The engine holds references to
# both, so their ids cannot be reused by other objects while the entry exists.
_engines: dict[tuple[int, int], QuoteEngine] = {}
_MAX_ENGINES = 32


def compute_quotes(
    inputs: MarketInputs, params: QuoteParams, spec: InstrumentSpec
) -> QuoteDecision | NoQuote:
    """The quote decision for ``inputs``; reuses a prepared engine per (params, spec) pair."""
    key = (id(params), id(spec))
    engine = _engines.get(key)
    if engine is None:
        if len(_engines) >= _MAX_ENGINES:
            _engines.clear()
        engine = _engines[key] = QuoteEngine(params, spec)
    return engine.quote(inputs)
