"""One quoting decision: market inputs + parameters -> a ladder of bids and asks (or no quote).

``compute_quotes`` is the innermost step of every reaction, so it is plain-float ``math``
code with the parameter-only work (ladder offsets, sizes) and the (γ, k, A)-only work
(logarithms and powers) cached between calls. Bad market inputs (NaN, non-positive prices,
k ≤ 0, ...) give ``NoQuote`` with a reason, never a crossed or negative quote; bad
parameters raise ValueError at construction.

Units. ``gamma_usd`` is the risk aversion per unit of the quote currency (1/USD for the BTC
and ETH perpetuals), whatever the lot size. The model's lot is ``lot_size`` contracts (by
default one ladder level, ``base_size_lots`` × the instrument's amount step): the formulas
run on q = position / lot_size lots with γ = ``gamma_usd`` × lot_size, the risk aversion of
one fill of that size (Guéant 2017, trade size Δ). Distances are in price units; ``fee`` is the
maker fee per contract in price units (rate × price; negative for a rebate).

Models, per side s with that side's (A_s, k_s) (bids are filled by sell takers):

* ``glft``: δᵇ = f + c1_b + (q + ½)·ω_b, δᵃ = f + c1_a − (q − ½)·ω_a from the mid, with
  c1 = (1/γ)·ln(1 + γ/k) and ω = sqrt(σ²γ/(2kA)·(1 + γ/k)^(1 + k/γ)) (Guéant 2017).
* ``avellaneda_stoikov``: r = s − q·γ·σ²·τ, half spread ½γσ²τ + (1/γ)·ln(1 + γ/k_s) + f
  around r, with τ = ``horizon_s`` used as a rolling horizon.
* ``linear``: a fixed quoter (hftbacktest's reference example): each side
  ``half_spread_ticks`` from the mid, both moved down ``skew_ticks_per_lot`` per whole model
  lot held; no σ, A, k or fee term (its distances are what the config says; the signals
  still apply).

The fee shifts every distance out by exactly f: a fill at δ earns δ − f, so the optimal
distance for A·e^(−kδ) fills is f + (the fee-free optimum). Signals shift the centre
(``shift``, price units, + when the price is expected to rise) and widen both sides
(``widen``, price units).
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
_MODELS = ("glft", "avellaneda_stoikov", "linear")


@dataclass(frozen=True, slots=True)
class QuoteParams:
    model: Literal["glft", "avellaneda_stoikov", "linear"] = "glft"
    gamma_usd: float = 1.0  # risk aversion per unit of the quote currency (1/USD)
    lot_size: float | None = None  # contracts per model lot q; None: one ladder level
    horizon_s: float = 60.0  # A–S (T - t) used as a rolling horizon, seconds
    ladder: LadderParams = field(default_factory=LadderParams)
    # "linear" (a fixed quoter, e.g. hftbacktest's reference): half spread and skew in ticks
    half_spread_ticks: float = 5.0  # distance of each side from the mid, ticks
    skew_ticks_per_lot: float = 1.0  # both sides move down this much per model lot held
    cap_at_touch: bool = False  # never quote better than the market's best bid / ask

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.model not in _MODELS:
            raise ValueError(f"model must be one of {_MODELS}, got {self.model!r}")
        if isinstance(self.gamma_usd, bool) or not (0.0 < self.gamma_usd < _INF):
            raise ValueError(f"gamma_usd must be a positive finite number, got {self.gamma_usd!r}")
        if self.lot_size is not None and not (0.0 < self.lot_size < _INF):
            raise ValueError(
                f"lot_size must be a positive finite number or unset, got {self.lot_size!r}"
            )
        if not (0.0 < self.horizon_s < _INF):
            raise ValueError(f"horizon_s must be a positive finite number, got {self.horizon_s!r}")
        if not isinstance(self.ladder, LadderParams):
            raise ValueError(f"ladder must be a LadderParams, got {type(self.ladder).__name__}")
        if isinstance(self.half_spread_ticks, bool) or not (0.0 <= self.half_spread_ticks < _INF):
            raise ValueError(
                f"half_spread_ticks must be a finite number >= 0, got {self.half_spread_ticks!r}"
            )
        if isinstance(self.skew_ticks_per_lot, bool) or not (0.0 <= self.skew_ticks_per_lot < _INF):
            raise ValueError(
                f"skew_ticks_per_lot must be a finite number >= 0, got {self.skew_ticks_per_lot!r}"
            )

    def model_lot(self, spec: InstrumentSpec) -> float:
        """Contracts per model lot: ``lot_size``, or one ladder level of ``spec``."""
        if self.lot_size is not None:
            return self.lot_size
        return self.ladder.base_size_lots * spec.amount_step

    def gamma_per_lot(self, spec: InstrumentSpec) -> float:
        """γ of the formulas: the risk aversion of one model lot's fill (1 / price unit)."""
        return self.gamma_usd * self.model_lot(spec)


@dataclass(frozen=True, slots=True)
class MarketInputs:
    """What the model quotes on. ``A``/``k`` are the bid side's (sell takers'), and the ask
    side's too unless ``ask_A``/``ask_k`` are given."""

    mid: float  # price
    sigma: float  # price units per sqrt(second)
    A: float  # arrivals per second
    k: float  # per price unit
    position: float  # signed, in amount units (e.g. BTC)
    fee: float = 0.0  # maker fee per contract, price units (negative: rebate)
    ask_A: float | None = None  # noqa: N815 - the model's notation (A, k)
    ask_k: float | None = None
    shift: float = 0.0  # signals: move the centre by this much (price units)
    widen: float = 0.0  # signals: push both sides out by this much (price units, >= 0)


@dataclass(frozen=True, slots=True)
class QuoteDecision:
    reservation_price: float
    bid_distance: float  # model distance of the best bid from mid, price units (fee included)
    ask_distance: float
    bids: tuple[Level, ...]  # best first, strictly decreasing prices
    asks: tuple[Level, ...]  # best first, strictly increasing prices
    bid_step: float = 0.0  # model price change per extra model lot on each side
    ask_step: float = 0.0


@dataclass(frozen=True, slots=True)
class NoQuote:
    reason: str


def _check_inputs(inputs: MarketInputs) -> str | None:
    """The reason the inputs cannot be quoted on, or None (NaN fails every comparison)."""
    mid, sigma, A, k = inputs.mid, inputs.sigma, inputs.A, inputs.k
    if not (0.0 < mid < _INF):
        return f"mid must be a positive finite price, got {mid}"
    if not (0.0 <= sigma < _INF):
        return f"sigma must be a non-negative finite number, got {sigma}"
    if not (0.0 < k < _INF):
        return f"k must be a positive finite number, got {k}"
    if not (0.0 < A < _INF):
        return f"A must be a positive finite number, got {A}"
    if inputs.ask_k is not None and not (0.0 < inputs.ask_k < _INF):
        return f"ask k must be a positive finite number, got {inputs.ask_k}"
    if inputs.ask_A is not None and not (0.0 < inputs.ask_A < _INF):
        return f"ask A must be a positive finite number, got {inputs.ask_A}"
    if not (-_INF < inputs.position < _INF):
        return f"position must be finite, got {inputs.position}"
    if not (-_INF < inputs.fee < _INF and -_INF < inputs.shift < _INF):
        return f"fee and shift must be finite, got {inputs.fee}, {inputs.shift}"
    if not (0.0 <= inputs.widen < _INF):
        return f"widen must be a finite number >= 0, got {inputs.widen}"
    return None


class _SideCoefficients:
    """c1 and the ω factor of one side, recomputed only when its (k, A) change."""

    __slots__ = ("A", "c1", "factor", "k")

    def __init__(self) -> None:
        self.k = math.nan
        self.A = math.nan
        self.c1 = 0.0
        self.factor = 0.0

    def update(self, gamma: float, k: float, A: float) -> None:
        if k != self.k or A != self.A:
            self.factor = glft_omega_factor(gamma, k, A)
            self.c1 = math.log1p(gamma / k) / gamma
            self.k = k
            self.A = A


class QuoteEngine:
    """compute_quotes for one (params, spec), with the parameter-only work done once."""

    __slots__ = (
        "_ask",
        "_bid",
        "_gamma",
        "_glft",
        "_inv_lot",
        "_ladder",
        "_linear",
        "_tau",
        "lot_size",
        "params",
        "spec",
    )

    def __init__(self, params: QuoteParams, spec: InstrumentSpec) -> None:
        params.validate()
        self.params = params
        self.spec = spec
        self.lot_size = params.model_lot(spec)
        self._ladder = PreparedLadder(params.ladder, spec, self.lot_size / spec.amount_step)
        self._glft = params.model == "glft"
        self._linear = params.model == "linear"
        self._gamma = params.gamma_per_lot(spec)
        self._inv_lot = 1.0 / self.lot_size
        self._tau = params.horizon_s
        self._bid = _SideCoefficients()
        self._ask = _SideCoefficients()

    def quote(self, inputs: MarketInputs) -> QuoteDecision | NoQuote:
        reason = _check_inputs(inputs)
        if reason is not None:
            return NoQuote(reason)
        mid = inputs.mid
        sigma = inputs.sigma
        q = inputs.position * self._inv_lot
        gamma = self._gamma
        k_a = inputs.k if inputs.ask_k is None else inputs.ask_k
        A_a = inputs.A if inputs.ask_A is None else inputs.ask_A
        bid = self._bid
        ask = self._ask
        try:
            bid.update(gamma, inputs.k, inputs.A)
            ask.update(gamma, k_a, A_a)
        except (ValueError, OverflowError) as exc:
            return NoQuote(f"model coefficients: {exc}")
        out = inputs.fee + inputs.widen
        shift = inputs.shift
        if self._linear:  # whole lots, fixed distances in ticks: no σ, A, k
            tick = self.spec.tick_size
            q = float(round(q))
            step = self.params.skew_ticks_per_lot * tick
            half = self.params.half_spread_ticks * tick
            out = inputs.widen  # fixed distances: the fee does not move them
            bid_d = out + half + q * step - shift
            ask_d = out + half - q * step + shift
            r = mid - q * step + shift
            bids, asks = self._ladder.build(mid, bid_d, ask_d, q, step, step)
            if not bids and not asks:
                return NoQuote("every ladder level was dropped (size, max distance or price <= 0)")
            return QuoteDecision(r, bid_d, ask_d, bids, asks, step, step)
        if self._glft:
            bid_step = sigma * math.sqrt(bid.factor)
            ask_step = sigma * math.sqrt(ask.factor)
            bid_d = out + bid.c1 + (q + 0.5) * bid_step - shift
            ask_d = out + ask.c1 - (q - 0.5) * ask_step + shift
            r = mid - q * 0.5 * (bid_step + ask_step) + shift
        else:
            risk = gamma * sigma * sigma * self._tau
            bid_step = ask_step = risk
            skew = q * risk
            bid_d = out + 0.5 * risk + bid.c1 + skew - shift
            ask_d = out + 0.5 * risk + ask.c1 - skew + shift
            r = mid - skew + shift
        if not (-_INF < bid_d < _INF and -_INF < ask_d < _INF):
            return NoQuote(f"model distances not finite (bid {bid_d}, ask {ask_d})")
        bids, asks = self._ladder.build(mid, bid_d, ask_d, q, bid_step, ask_step)
        if not bids and not asks:
            return NoQuote("every ladder level was dropped (size, max distance or price <= 0)")
        return QuoteDecision(r, bid_d, ask_d, bids, asks, bid_step, ask_step)


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
