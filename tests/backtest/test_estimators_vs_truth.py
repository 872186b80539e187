"""The estimators against the synthetic market's own parameters, where the truth is known.

Each scenario runs the production core for 5 simulated minutes against the local exchange's
synthetic market (sans-I/O, ``backtest/synthetic.py``), quoting or only watching, in a calm
market (σ = 0.5/yr, 7.1 USD/√s at 80,000) or a stressed one (3×), with regime switches and
jumps off so the truth is one number. The market's truth per side: takers arrive at A = 2/s
and reach Exponential(k = 0.4/bp = 0.05/USD) from fair.

Tolerances and Monte Carlo error (measured over seeds 0-3 of each scenario): σ's error is
within ±5 % (its standard error over a 120 s half-life is ≈ 5 %); one side's A or k after
5 minutes has a standard error of ≈ 8 % (≈ 270 visible sweeps, interval-censored by the
book's levels 12 USD apart), so each seed-side must be within 25 % (3 SE) and the mean of
three seeds within 15 % (≈ 3 SE of the mean), and no systematic bias: the mean signed error
over every seed and side within 7 %.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics

import pytest

from thalex_mm.backtest.synthetic import SyntheticSimulation
from thalex_mm.bench.economics import demo_config, market_truth
from thalex_mm.core.config import EngineConfig
from thalex_mm.core.engine import Engine
from thalex_mm.core.quoter import Quoter
from thalex_mm.exchange.market import MarketConfig
from thalex_mm.model.estimators.reach import ASK, BID

SEEDS = (0, 1, 2)
MINUTES = 5.0
NAME = "BTC-PERPETUAL"


def _market(seed: int, stressed: bool) -> MarketConfig:
    return MarketConfig(
        seed=seed, volatility=1.5 if stressed else 0.5, regime_switch_per_hour=0.0,
        jumps_per_day=0.0,
    )  # fmt: skip


@functools.cache
def _quoter(seed: int, stressed: bool, quoting: bool) -> Quoter:
    cfg = dataclasses.replace(demo_config(), quoting=quoting)
    engine = Engine(EngineConfig((cfg,)))
    SyntheticSimulation(engine, _market(seed, stressed), step_ms=50.0).run(MINUTES * 60.0)
    return engine.instruments[NAME].quoter


SCENARIOS = [(s, q) for s in (False, True) for q in (True, False)]
IDS = [f"{'stressed' if s else 'calm'}-{'quoting' if q else 'watching'}" for s, q in SCENARIOS]


@pytest.mark.slow
@pytest.mark.parametrize(("stressed", "quoting"), SCENARIOS, ids=IDS)
def test_sigma_is_within_ten_percent_of_the_market_volatility(
    stressed: bool, quoting: bool
) -> None:
    for seed in SEEDS:
        q = _quoter(seed, stressed, quoting)
        true_sigma, _, _ = market_truth(_market(seed, stressed), 80_000.0)
        sigma = q.volatility.slow_sigma
        assert sigma is not None
        assert sigma == pytest.approx(true_sigma, rel=0.10), (seed, sigma, true_sigma)


@pytest.mark.slow
@pytest.mark.parametrize(("stressed", "quoting"), SCENARIOS, ids=IDS)
def test_intensity_per_side_matches_the_takers(stressed: bool, quoting: bool) -> None:
    _, true_A, true_k = market_truth(_market(0, stressed), 80_000.0)
    errors: list[float] = []
    for side in (BID, ASK):
        fits = [_quoter(seed, stressed, quoting).intensity.params(side) for seed in SEEDS]  # type: ignore[union-attr]
        for A, k in fits:
            assert pytest.approx(true_A, rel=0.25) == A
            assert k == pytest.approx(true_k, rel=0.25)
            errors += [A / true_A - 1.0, k / true_k - 1.0]
        assert statistics.fmean(A for A, _ in fits) == pytest.approx(true_A, rel=0.15)
        assert statistics.fmean(k for _, k in fits) == pytest.approx(true_k, rel=0.15)
    assert abs(statistics.fmean(errors)) < 0.07


@pytest.mark.slow
@pytest.mark.parametrize("stressed", [False, True], ids=["calm", "stressed"])
def test_our_own_fills_give_the_same_intensity_as_the_tape(stressed: bool) -> None:
    """The second source: our fills against the time our best quote spent at each distance
    give A = fills / Σ T·e^(−k·d); it must agree with the takers' true A (measured: within
    ±3 % of the tape's own fit on seeds 0-2)."""
    _, true_A, _ = market_truth(_market(0, stressed), 80_000.0)
    for seed in SEEDS:
        intensity = _quoter(seed, stressed, True).intensity
        assert intensity is not None
        for side in (BID, ASK):
            assert intensity.own_estimate(side) == pytest.approx(true_A, rel=0.25)
            tape_A, _ = intensity.params(side)
            assert intensity.own_estimate(side) == pytest.approx(tape_A, rel=0.15)
