import json
import math
import random

import pytest

from thalex_mm.model.estimators import IntensityEstimator

NS = 1_000_000_000


def _poisson_trades(A: float, k: float, seconds: float, seed: int) -> list[tuple[int, float]]:
    """Trades whose depth ≥ δ arrive at rate A·e^(−kδ): rate A in total, depth ~ Exp(k)."""
    rng = random.Random(seed)
    out: list[tuple[int, float]] = []
    t = 0.0
    while True:
        t += rng.expovariate(A)
        if t >= seconds:
            return out
        depth = rng.expovariate(k)
        out.append((int(t * NS), 100.0 + depth * (1 if rng.random() < 0.5 else -1)))


def test_recovers_known_A_and_k() -> None:
    A, k, seconds = 5.0, 0.8, 4000.0
    est = IntensityEstimator(
        bin_width=0.25, n_bins=16, half_life_s=1e9, refit_interval_s=1e9, min_trades_per_point=20
    )
    trades = _poisson_trades(A, k, seconds, seed=11)
    est.observe(0)
    for ts, price in trades:
        assert est.on_trade(ts, price, 100.0)
    assert est.refit(int(seconds * NS)), est.status
    # ~20 000 trades: A and k are recovered to a few per cent
    assert est.k == pytest.approx(k, rel=0.05)
    assert pytest.approx(A, rel=0.05) == est.A
    assert est.rate(1.0) == pytest.approx(A * math.exp(-k), rel=0.05)


def test_rates_are_per_second_with_decay() -> None:
    # 10 trades per second at depth 0 for 100 s, half-life 50 s.
    est = IntensityEstimator(bin_width=1.0, n_bins=4, half_life_s=50.0, refit_interval_s=1e9)
    est.observe(0)
    for i in range(1, 1001):
        est.on_trade(i * NS // 10, 100.0, 100.0)
    rates = est.tail_rates(100 * NS)
    assert rates[0][2] == pytest.approx(10.0, rel=0.02)  # decay cancels in count / exposure
    assert rates[1][1] == 0.0


def test_thin_data_keeps_defaults_then_previous_fit() -> None:
    est = IntensityEstimator(
        bin_width=0.5, n_bins=10, default_A=3.0, default_k=2.0, refit_interval_s=1.0
    )
    for ts, price in _poisson_trades(5.0, 1.0, 2.0, seed=5):  # ~10 trades
        est.on_trade(ts, price, 100.0)
    est.refit(2 * NS)
    assert (est.A, est.k, est.fitted) == (3.0, 2.0, False)
    assert est.status.startswith("thin data")
    for ts, price in _poisson_trades(5.0, 1.0, 3000.0, seed=6):
        est.on_trade(ts + 2 * NS, price, 100.0)
    assert est.fitted  # refit on schedule from on_trade
    fitted = (est.A, est.k)
    # Much later every trade has decayed away: the refit fails and the last good fit stays.
    assert not est.refit(10**6 * NS)
    assert est.status.startswith("thin data")
    assert (est.A, est.k) == fitted


def test_non_decaying_data_is_rejected() -> None:
    est = IntensityEstimator(bin_width=1.0, n_bins=4, min_trades_per_point=1, refit_interval_s=1e9)
    est.observe(0)
    for i in range(100):  # every trade deeper than the range: flat tail, k = 0
        est.on_trade(i * NS, 200.0, 100.0)
    assert not est.refit(100 * NS)
    assert est.status.startswith("rejected fit")
    assert est.k == est.default_k


def test_bad_trades_are_counted_not_used() -> None:
    est = IntensityEstimator(bin_width=1.0)
    assert not est.on_trade(NS, float("nan"), 100.0)
    assert not est.on_trade(NS, 100.0, 0.0)
    assert not est.on_trade(NS, -1.0, 100.0)
    assert est.on_trade(5 * NS, 100.0, 100.0)
    assert not est.on_trade(4 * NS, 100.0, 100.0)  # before the start of observation
    assert est.rejected == 4


def test_long_runs_rebase_without_overflow() -> None:
    est = IntensityEstimator(bin_width=1.0, n_bins=3, half_life_s=1.0, refit_interval_s=1e9)
    for i in range(5000):  # 5000 s = 5000 half-lives: weights would reach 2^5000 unrebased
        est.on_trade(i * NS, 100.5, 100.0)
    rates = est.tail_rates(5000 * NS)
    assert all(math.isfinite(c) for c in est._counts)
    assert rates[0][2] == pytest.approx(1.0, rel=0.5)


def test_state_round_trip_continues_identically() -> None:
    trades = _poisson_trades(4.0, 1.2, 600.0, seed=9)

    def make() -> IntensityEstimator:
        return IntensityEstimator(bin_width=0.3, n_bins=12, refit_interval_s=30.0)

    whole, first = make(), make()
    for ts, price in trades:
        whole.on_trade(ts, price, 100.0)
    half = len(trades) // 2
    for ts, price in trades[:half]:
        first.on_trade(ts, price, 100.0)
    resumed = IntensityEstimator.from_state(json.loads(json.dumps(first.to_state())))
    for ts, price in trades[half:]:
        resumed.on_trade(ts, price, 100.0)
    assert resumed.fitted and whole.fitted
    assert pytest.approx(whole.A, rel=1e-9) == resumed.A
    assert resumed.k == pytest.approx(whole.k, rel=1e-9)


def test_bad_construction_and_state() -> None:
    with pytest.raises(ValueError, match="bin_width"):
        IntensityEstimator(bin_width=0.0)
    with pytest.raises(ValueError, match="min_points"):
        IntensityEstimator(bin_width=1.0, n_bins=4, min_points=5)
    state = IntensityEstimator(bin_width=1.0, n_bins=4).to_state()
    with pytest.raises(ValueError, match="counts"):
        IntensityEstimator.from_state({**state, "counts": [1.0]})
    with pytest.raises(ValueError, match="'A' and 'k'"):
        IntensityEstimator.from_state({**state, "k": -1.0})
