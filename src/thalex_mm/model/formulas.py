"""Closed-form quoting formulas: Avellaneda–Stoikov (finite horizon) and GLFT (infinite).

Units throughout: prices in price units (e.g. USD), ``sigma`` in price units per √second,
``A`` in arrivals per second, ``k`` per price unit, time in seconds and ``q`` the inventory
in lots of the model's lot size Δ; ``gamma`` here is the risk aversion of one lot's fill,
γ = γ_USD·Δ (1 / price unit), which ``QuoteParams.gamma_per_lot`` computes from the
configured ``gamma_usd``. These are plain-float functions (``math`` only): they run
once per quote, where numpy's per-call overhead would dominate.
"""

from __future__ import annotations

import math
from typing import NamedTuple


def _check_gamma_k(gamma: float, k: float) -> None:
    if not (0.0 < gamma < math.inf):
        raise ValueError(f"gamma must be a positive finite number, got {gamma}")
    if not (0.0 < k < math.inf):
        raise ValueError(f"k must be a positive finite number, got {k}")


def reservation_price(mid: float, q: float, gamma: float, sigma: float, tau: float) -> float:
    """A–S reservation (indifference) price r = s − q·γ·σ²·(T − t), with ``tau`` = T − t."""
    return mid - q * gamma * sigma * sigma * tau


def optimal_spread(gamma: float, sigma: float, tau: float, k: float) -> float:
    """A–S total spread γσ²(T − t) + (2/γ)·ln(1 + γ/k), centred on the reservation price."""
    _check_gamma_k(gamma, k)
    return gamma * sigma * sigma * tau + (2.0 / gamma) * math.log1p(gamma / k)


def as_distances(
    q: float, *, gamma: float, sigma: float, tau: float, k: float, fee: float = 0.0
) -> tuple[float, float]:
    """A–S (bid distance, ask distance) from the mid (mid − bid, ask − mid) at inventory q;
    a maker ``fee`` per contract (price units) moves both out by exactly that much.

    Either may be negative when the inventory term outweighs the half spread (the quote
    then sits on the far side of the mid, to shed inventory).
    """
    half = 0.5 * optimal_spread(gamma, sigma, tau, k)
    skew = q * gamma * sigma * sigma * tau  # mid − r
    return skew + half + fee, half - skew + fee


class GlftCoefficients(NamedTuple):
    """The two GLFT constants: δᵇ = c1 + (2q+1)/2·ω and δᵃ = c1 − (2q−1)/2·ω."""

    c1: float  # (1/γ)·ln(1 + γ/k), the half spread at zero inventory without risk term
    omega: float  # ω = sqrt(σ²γ/(2kA)·(1 + γ/k)^(1 + k/γ))


def glft_omega_factor(gamma: float, k: float, A: float) -> float:
    """γ/(2kA)·(1 + γ/k)^(1 + k/γ), so that ω = σ·sqrt(factor); depends only on (γ, k, A)."""
    _check_gamma_k(gamma, k)
    if not (0.0 < A < math.inf):
        raise ValueError(f"A must be a positive finite number, got {A}")
    # (1 + γ/k)^(1 + k/γ) computed in log space: it stays finite (→ e·(1+γ/k)) for small γ/k.
    log_base = math.log1p(gamma / k)
    return gamma / (2.0 * k * A) * math.exp((1.0 + k / gamma) * log_base)


def glft_coefficients(gamma: float, sigma: float, k: float, A: float) -> GlftCoefficients:
    """The GLFT closed-form constants (Guéant, Lehalle & Fernandez-Tapia 2013; Guéant 2017)."""
    if not (0.0 <= sigma < math.inf):
        raise ValueError(f"sigma must be a non-negative finite number, got {sigma}")
    factor = glft_omega_factor(gamma, k, A)
    return GlftCoefficients(math.log1p(gamma / k) / gamma, sigma * math.sqrt(factor))


def glft_half_spreads(q: float, coeffs: GlftCoefficients, fee: float = 0.0) -> tuple[float, float]:
    """GLFT (bid distance, ask distance) from the mid for inventory ``q`` lots; a maker
    ``fee`` per contract (price units) moves both out by exactly that much (a fill at δ
    earns δ − fee, so the fee-free optimum applies to δ − fee)."""
    c1, omega = coeffs
    return fee + c1 + (q + 0.5) * omega, fee + c1 - (q - 0.5) * omega
