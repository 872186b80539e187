import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.model.formulas import (
    as_distances,
    glft_coefficients,
    glft_half_spreads,
    glft_omega_factor,
    optimal_spread,
    reservation_price,
)

pos = st.floats(min_value=1e-3, max_value=1e3)


def test_reservation_price_matches_paper_example() -> None:
    # s = 100, q = 2, γ = 0.1, σ = 2, T − t = 0.5: r = 100 − 2·0.1·4·0.5 = 99.6
    assert reservation_price(100.0, 2.0, 0.1, 2.0, 0.5) == pytest.approx(99.6)
    assert reservation_price(100.0, 0.0, 0.1, 2.0, 0.5) == 100.0
    assert reservation_price(100.0, -2.0, 0.1, 2.0, 0.5) == pytest.approx(100.4)


def test_optimal_spread_paper_value_and_limits() -> None:
    # Paper §3.3, γ = 0.1, k = 1.5: time-averaged spread 1.49 (τ averages 0.5).
    assert optimal_spread(0.1, 2.0, 0.5, 1.5) == pytest.approx(1.49, abs=0.005)
    # γ → 0: (2/γ)·ln(1 + γ/k) → 2/k, the risk-neutral spread.
    assert optimal_spread(1e-9, 2.0, 0.0, 1.5) == pytest.approx(2.0 / 1.5, rel=1e-6)
    # At τ = 0 only the arrival term remains.
    assert optimal_spread(0.5, 2.0, 0.0, 1.5) == pytest.approx(4.0 * math.log(1.0 + 0.5 / 1.5))


@pytest.mark.parametrize(("gamma", "k"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.0), (1.0, -2.0)])
def test_optimal_spread_rejects_bad_gamma_k(gamma: float, k: float) -> None:
    with pytest.raises(ValueError, match=r"^(gamma|k) must be"):
        optimal_spread(gamma, 1.0, 1.0, k)


@given(q=st.floats(-50, 50), gamma=pos, sigma=st.floats(0, 10), tau=st.floats(0, 100), k=pos)
@settings(max_examples=200)
def test_as_distances_are_centred_on_reservation_price(
    q: float, gamma: float, sigma: float, tau: float, k: float
) -> None:
    bid_d, ask_d = as_distances(q, gamma=gamma, sigma=sigma, tau=tau, k=k)
    mid = 1000.0
    r = reservation_price(mid, q, gamma, sigma, tau)
    spread = optimal_spread(gamma, sigma, tau, k)
    bid, ask = mid - bid_d, mid + ask_d
    assert ask - bid == pytest.approx(spread, rel=1e-9, abs=1e-9)
    assert (bid + ask) / 2 == pytest.approx(r, rel=1e-12, abs=1e-6)


def test_glft_formula_by_hand() -> None:
    gamma, sigma, k, A = 0.1, 2.0, 1.5, 140.0
    c1, omega = glft_coefficients(gamma, sigma, k, A)
    assert c1 == pytest.approx(math.log(1 + gamma / k) / gamma)
    expected_omega = math.sqrt(sigma**2 * gamma / (2 * k * A) * (1 + gamma / k) ** (1 + k / gamma))
    assert omega == pytest.approx(expected_omega, rel=1e-12)
    bid_d, ask_d = glft_half_spreads(3.0, glft_coefficients(gamma, sigma, k, A))
    assert bid_d == pytest.approx(c1 + 3.5 * omega)
    assert ask_d == pytest.approx(c1 - 2.5 * omega)


@given(q=st.floats(-100, 100), gamma=pos, sigma=st.floats(0, 10), k=pos, A=pos)
@settings(max_examples=200)
def test_glft_skew_and_spread_structure(
    q: float, gamma: float, sigma: float, k: float, A: float
) -> None:
    coeffs = glft_coefficients(gamma, sigma, k, A)
    bid_d, ask_d = glft_half_spreads(q, coeffs)
    # Total spread does not depend on inventory; the centre moves by q·ω against it.
    assert bid_d + ask_d == pytest.approx(2 * coeffs.c1 + coeffs.omega, rel=1e-9)
    scale = abs(coeffs.c1) + coeffs.omega * (abs(q) + 1.0)  # size of the cancelling terms
    assert bid_d - ask_d == pytest.approx(2 * q * coeffs.omega, abs=1e-12 * scale + 1e-12)
    assert math.isfinite(bid_d) and math.isfinite(ask_d)


def test_glft_small_gamma_limit_is_finite() -> None:
    # (1 + γ/k)^(1 + k/γ) → e as γ/k → 0; computed in log space so it does not overflow.
    factor = glft_omega_factor(1e-12, 1e3, 1.0)
    assert factor == pytest.approx(1e-12 / (2e3) * math.e, rel=1e-6)


def test_glft_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="A must be"):
        glft_omega_factor(0.1, 1.0, 0.0)
    with pytest.raises(ValueError, match="sigma must be"):
        glft_coefficients(0.1, float("nan"), 1.0, 1.0)
    with pytest.raises(ValueError, match="gamma"):
        glft_coefficients(float("nan"), 1.0, 1.0, 1.0)
