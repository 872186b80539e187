import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.model.estimators import VampEstimator, VolumeCandles, side_vwap, vamp

NS = 1_000_000_000


# --- VAMP ----------------------------------------------------------------------------------
def test_vamp_by_hand() -> None:
    bids = [(99.0, 1.0), (98.0, 5.0)]
    asks = [(101.0, 0.5), (102.0, 0.5), (104.0, 10.0)]
    # sell 2 into bids: 1@99 + 1@98 = 98.5; buy 2 from asks: .5@101 + .5@102 + 1@104 = 102.75
    assert side_vwap(bids, 2.0) == pytest.approx(98.5)
    assert side_vwap(asks, 2.0) == pytest.approx(102.75)
    assert vamp(bids, asks, 2.0) == pytest.approx((98.5 + 102.75) / 2)


def test_vamp_leans_toward_the_thin_side() -> None:
    heavy_bids = [(99.0, 100.0)]
    thin_asks = [(101.0, 0.1), (105.0, 100.0)]
    v = vamp(heavy_bids, thin_asks, 5.0)
    assert v is not None and v > 100.0  # thin asks: price pressure upwards


@given(
    bids=st.lists(st.tuples(st.floats(1, 100), st.floats(0.01, 10)), min_size=1, max_size=8),
    asks=st.lists(st.tuples(st.floats(101, 200), st.floats(0.01, 10)), min_size=1, max_size=8),
    depth=st.floats(0.001, 50),
)
@settings(max_examples=200)
def test_vamp_lies_within_the_touched_levels(
    bids: list[tuple[float, float]], asks: list[tuple[float, float]], depth: float
) -> None:
    bids = sorted(bids, reverse=True)
    asks = sorted(asks)
    v = vamp(bids, asks, depth)
    assert v is not None
    assert min(p for p, _ in bids) <= v <= max(p for p, _ in asks)
    # symmetric book -> VAMP is the plain mid
    mirrored = [(300.0 - p, a) for p, a in bids]
    assert vamp(bids, mirrored, depth) == pytest.approx(150.0)


def test_vamp_rejects_bad_books_and_keeps_last_value() -> None:
    assert vamp([], [(101.0, 1.0)], 1.0) is None
    assert vamp([(101.0, 1.0)], [(100.0, 1.0)], 1.0) is None  # crossed
    assert vamp([(float("nan"), 1.0)], [(101.0, 1.0)], 1.0) is None
    est = VampEstimator(1.0)
    assert est.update(NS, [(99.0, 1.0)], [(101.0, 1.0)]) == pytest.approx(100.0)
    assert est.update(2 * NS, [], [(101.0, 1.0)]) is None
    assert est.value == pytest.approx(100.0) and est.ts_ns == NS and est.rejected == 1
    again = VampEstimator.from_state(json.loads(json.dumps(est.to_state())))
    assert (again.value, again.ts_ns, again.rejected) == (est.value, est.ts_ns, 1)
    with pytest.raises(ValueError, match="depth_amount"):
        VampEstimator(0.0)


# --- volume candles -------------------------------------------------------------------------
def test_candles_split_large_trades_and_conserve_volume() -> None:
    vc = VolumeCandles(volume_per_candle=1.0, history=10)
    assert vc.on_trade(1, 100.0, 0.4, +1) == 0
    assert vc.on_trade(2, 101.0, 2.1, -1) == 2  # fills 0.6 + 1.0, leaves 0.5 open
    c0, c1 = vc.candles
    assert (c0.open, c0.high, c0.low, c0.close) == (100.0, 101.0, 100.0, 101.0)
    assert c0.buy_volume == pytest.approx(0.4) and c0.sell_volume == pytest.approx(0.6)
    assert c0.vwap == pytest.approx(0.4 * 100 + 0.6 * 101)
    assert c1.volume == pytest.approx(1.0) and c1.open == 101.0
    assert vc.current is not None and vc.current.volume == pytest.approx(0.5)


def test_exact_fill_leaves_no_dust_candle() -> None:
    vc = VolumeCandles(volume_per_candle=0.1, history=5)
    for i in range(3):
        vc.on_trade(i, 100.0, 0.1)
    assert len(vc.candles) == 3 and vc.current is None


@given(seed=st.integers(0, 10_000), history=st.integers(2, 20))
@settings(max_examples=50, deadline=None)
def test_signals_match_brute_force(seed: int, history: int) -> None:
    rng = random.Random(seed)
    vc = VolumeCandles(volume_per_candle=1.0, history=history)
    price = 100.0
    for i in range(300):
        price *= math.exp(rng.gauss(0, 0.01))
        side = rng.choice((-1, 1))
        vc.on_trade(i, price, rng.uniform(0.05, 0.7), side)
    all_closed = [(c.open, c.close, c.buy_volume, c.sell_volume) for c in vc.candles]
    assert len(vc.candles) == history
    closes = [c[1] for c in all_closed]
    rets = list(vc._rets)
    # returns are close-to-close: check every one but the first against the closes
    for r, a, b in zip(rets[1:], closes, closes[1:], strict=False):
        assert r == pytest.approx(math.log(b / a), abs=1e-12)
    n = len(rets)
    mean = sum(rets) / n
    std = math.sqrt(sum((r - mean) ** 2 for r in rets) / (n - 1))
    assert vc.momentum == pytest.approx(sum(rets), abs=1e-12)
    assert vc.momentum_z == pytest.approx(sum(rets) / (std * math.sqrt(n)), rel=1e-6)
    assert vc.reversal == pytest.approx(-(rets[-1] - mean) / std, rel=1e-6)
    buys = sum(c[2] for c in all_closed)
    sells = sum(c[3] for c in all_closed)
    assert vc.imbalance == pytest.approx((buys - sells) / (buys + sells), abs=1e-9)


def test_reversal_sign_after_a_sharp_drop() -> None:
    vc = VolumeCandles(volume_per_candle=1.0, history=10)
    price = 100.0
    for i in range(10):
        price *= 1.001 if i % 2 else 0.999
        vc.on_trade(i, price, 1.0)
    vc.on_trade(11, price * 0.97, 1.0)  # a 3 % drop in one bar
    assert vc.reversal is not None and vc.reversal > 2.0
    assert vc.momentum is not None and vc.momentum < 0.0


def test_candle_state_round_trip_and_bad_input() -> None:
    vc = VolumeCandles(volume_per_candle=1.0, history=5)
    rng = random.Random(3)
    trades = [
        (i, 100 + rng.uniform(-1, 1), rng.uniform(0.1, 0.9), rng.choice((-1, 1))) for i in range(60)
    ]
    other = VolumeCandles(volume_per_candle=1.0, history=5)
    for t in trades[:30]:
        vc.on_trade(*t)
        other.on_trade(*t)
    resumed = VolumeCandles.from_state(json.loads(json.dumps(vc.to_state())))
    for t in trades[30:]:
        resumed.on_trade(*t)
        other.on_trade(*t)
    assert resumed.momentum == pytest.approx(other.momentum, abs=1e-12)
    assert resumed.reversal == pytest.approx(other.reversal, rel=1e-9)
    assert resumed.imbalance == pytest.approx(other.imbalance, abs=1e-12)
    assert not resumed.on_trade(100, float("nan"), 1.0)
    assert not resumed.on_trade(100, 100.0, 0.0)
    assert not resumed.on_trade(100, 100.0, 1.0, side=2)
    assert resumed.rejected == 3
    with pytest.raises(ValueError, match="candle"):
        VolumeCandles.from_state({**vc.to_state(), "current": {"open": 1}})
    with pytest.raises(ValueError, match="history"):
        VolumeCandles(1.0, history=1)


def test_exhaustion_is_a_strong_trend_whose_last_bar_stalled() -> None:
    c = VolumeCandles(volume_per_candle=1.0, history=6)
    for i in range(6):  # six bars up, 1 % each: a strong trend
        c.on_trade(i, 100.0 * 1.01 ** (i + 1), 1.0, 1)
    assert c.exhaustion == pytest.approx(0.0, abs=1e-9)  # still moving: not exhausted
    c.on_trade(7, c.candles[-1].close * 1.001, 1.0, 1)  # the next bar barely moves
    # the window: the last six bar returns, five of log 1.01 and the stalled log 1.001
    window = [math.log(1.01)] * 5 + [math.log(1.001)]
    by_hand = 1.0 - abs(window[-1]) / (sum(abs(r) for r in window) / len(window))
    assert c.momentum_z is not None and c.momentum_z >= 1.0
    assert c.exhaustion == pytest.approx(by_hand)
    assert c.exhaustion > 0.8
    flat = VolumeCandles(volume_per_candle=1.0, history=6)
    for i in range(6):  # no trend: no exhaustion
        flat.on_trade(i, 100.0 + (0.5 if i % 2 else -0.5), 1.0, 1)
    assert flat.exhaustion == 0.0
