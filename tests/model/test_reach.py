"""The taker-reach intensity fit: censoring-aware MLE on sweeps, and our own fills as a
second source."""

from __future__ import annotations

import numpy as np
import pytest

from thalex_mm.model.estimators.reach import ASK, ReachIntensity

S = 1_000_000_000


def _simulate(est: ReachIntensity, *, seconds: int, seed: int, levels: list[float],
              own: float | None, tape: bool = True) -> None:  # fmt: skip
    """Takers at A = 2/s reaching Exponential(k = 0.05) into asks at ``levels`` USD from a
    fair price of 80,000 (``own``: our best ask among them), in 20 ms steps."""
    rng = np.random.default_rng(seed)
    fair = 80_000.0
    book = sorted(levels)
    for step in range(seconds * 50):
        ts = step * S // 50
        est.observe_book(ts, fair, fair - book[0], fair + book[0], None,
                         None if own is None else fair + own)  # fmt: skip
        for _ in range(rng.poisson(2.0 / 50)):
            reach = rng.exponential(20.0)
            hit = [d for d in book if d <= reach]
            if not hit:
                continue
            beyond = [d for d in book if d > reach]
            if tape:
                est.on_sweep(ts, ASK, max(hit), beyond[0] if beyond else None, float(len(hit)))
            if own is not None and own <= reach:
                est.on_own_fill(ts, ASK, 1.0)
    est.refit(seconds * S)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fit_recovers_A_and_k_from_censored_sweeps(seed: int) -> None:
    est = ReachIntensity(1.0, half_life_s=1e6)
    _simulate(est, seconds=600, seed=seed, levels=[16, 28, 40, 52, 64], own=None)
    A, k = est.params(ASK)
    assert pytest.approx(2.0, rel=0.15) == A  # ≈ 500 visible sweeps: SE ≈ 6 %
    assert k == pytest.approx(0.05, rel=0.15)


def test_a_thin_tape_takes_A_from_our_own_fills_at_our_quoted_distance() -> None:
    # no public tape (e.g. a venue that does not publish it); our ask alone at 24 USD is
    # filled at A·e^(−k·24): with the prior k = 0.05 our own fills recover A
    est = ReachIntensity(1.0, half_life_s=1e6, default_k=0.05, default_A=1.0)
    _simulate(est, seconds=600, seed=3, levels=[24.0], own=24.0, tape=False)
    A, _ = est.params(ASK)
    assert "own fills" in est.status(ASK)
    assert pytest.approx(2.0, rel=0.15) == A
