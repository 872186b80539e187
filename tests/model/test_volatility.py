import itertools
import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.model.estimators import EwmaVolatility, WindowVolatility

VolCls = type[EwmaVolatility] | type[WindowVolatility]

NS = 1_000_000_000


def _random_walk(sigma: float, n: int, seed: int, dt_s: float = 0.1) -> list[tuple[int, float]]:
    """Mid path with Gaussian steps of std σ·√dt at irregular (exponential) spacing."""
    rng = random.Random(seed)
    ts, mid = 0, 50_000.0
    out = [(ts, mid)]
    for _ in range(n):
        dt = rng.expovariate(1.0 / dt_s)
        ts += max(1, int(dt * NS))
        mid += rng.gauss(0.0, sigma * math.sqrt(dt))
        out.append((ts, mid))
    return out


@pytest.mark.parametrize("cls", [EwmaVolatility, WindowVolatility])
def test_recovers_known_sigma(cls: VolCls) -> None:
    sigma = 3.0
    est = cls(300.0, 10) if cls is EwmaVolatility else cls(20_000, 10)
    for ts, mid in _random_walk(sigma, 20_000, seed=1):
        assert est.update(ts, mid)
    # 20 000 returns: relative standard error of σ̂ ≈ 1/√(2n) ≈ 0.5 % (EWMA sees fewer)
    assert est.sigma == pytest.approx(sigma, rel=0.06)


def test_window_matches_brute_force_over_last_n() -> None:
    path = _random_walk(2.0, 500, seed=3)
    est = WindowVolatility(window=50, min_samples=5)
    for ts, mid in path:
        est.update(ts, mid)
    tail = path[-51:]
    r2 = [(b[1] - a[1]) ** 2 for a, b in itertools.pairwise(tail)]
    dts = [(b[0] - a[0]) / NS for a, b in itertools.pairwise(tail)]
    assert est.count == 50
    assert est.sigma == pytest.approx(math.sqrt(sum(r2) / sum(dts)), rel=1e-9)


def test_ewma_weights_recent_returns_more() -> None:
    est = EwmaVolatility(half_life_s=1.0, min_samples=1)
    ts, mid = 0, 100.0
    est.update(ts, mid)
    for _ in range(100):  # calm: 0.01 per 0.1 s
        ts += NS // 10
        mid += 0.01
        est.update(ts, mid)
    calm = est.sigma
    for _ in range(30):  # 3 s (three half-lives) of a 100x wilder market
        ts += NS // 10
        mid += 1.0
        est.update(ts, mid)
    assert calm is not None and est.sigma is not None
    # After three half-lives the calm past still holds weight 2^-3 of the elapsed time.
    w_old = 2.0**-3
    expected_var = (1 - w_old) * (1.0 / 0.1) + w_old * (1e-4 / 0.1)
    assert est.sigma == pytest.approx(math.sqrt(expected_var), rel=0.01)
    assert calm == pytest.approx(math.sqrt(1e-4 / 0.1), rel=1e-6)


@pytest.mark.parametrize("cls", [EwmaVolatility, WindowVolatility])
def test_bad_input_is_rejected_not_absorbed(cls: VolCls) -> None:
    est = cls(60.0, 1) if cls is EwmaVolatility else cls(10, 1)
    assert est.sigma is None  # empty
    assert est.update(1 * NS, 100.0)
    assert est.sigma is None  # one observation, no return yet
    assert est.update(2 * NS, 101.0)
    before = est.sigma
    for bad in (float("nan"), 0.0, -5.0, math.inf):
        assert not est.update(3 * NS, bad)
    assert not est.update(0, 100.0)  # time going backwards
    assert est.rejected == 5
    assert est.sigma == before == pytest.approx(1.0)


def test_same_timestamp_burst_does_not_blow_up() -> None:
    est = WindowVolatility(window=10, min_samples=1)
    est.update(0, 100.0)
    est.update(0, 100.5)  # dt = 0
    assert est.sigma is None  # no elapsed time yet
    est.update(NS, 100.5)
    assert est.sigma == pytest.approx(0.5)


@pytest.mark.parametrize("cls", [EwmaVolatility, WindowVolatility])
@given(seed=st.integers(0, 10_000), split=st.integers(1, 199))
@settings(max_examples=30, deadline=None)
def test_state_round_trip_continues_identically(cls: VolCls, seed: int, split: int) -> None:
    path = _random_walk(1.5, 200, seed)
    arg = 30.0 if cls is EwmaVolatility else 50  # half-life in s, or window in returns
    whole, first = cls(arg, 5), cls(arg, 5)  # type: ignore[arg-type]
    for ts, mid in path:
        whole.update(ts, mid)
    for ts, mid in path[:split]:
        first.update(ts, mid)
    resumed = cls.from_state(json.loads(json.dumps(first.to_state())))
    for ts, mid in path[split:]:
        resumed.update(ts, mid)
    assert resumed.sigma == pytest.approx(whole.sigma, rel=1e-9)


def test_from_state_rejects_bad_state() -> None:
    good = EwmaVolatility().to_state()
    with pytest.raises(ValueError, match="expected 'ewma_volatility'"):
        EwmaVolatility.from_state(WindowVolatility().to_state())
    with pytest.raises(ValueError, match="sum_r2"):
        EwmaVolatility.from_state({**good, "sum_r2": "x"})
    with pytest.raises(ValueError, match="equal length"):
        WindowVolatility.from_state({**WindowVolatility().to_state(), "r2": [1.0]})
    with pytest.raises(ValueError, match="half_life_s"):
        EwmaVolatility(half_life_s=0.0)
