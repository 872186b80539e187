"""The tick-to-order ring: fixed size, newest samples kept, percentiles as numpy computes them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.app.latency import LatencyRing, TickToOrder


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 64),
    samples=st.lists(st.integers(0, 10**9), max_size=200),
    q=st.sampled_from([50.0, 99.0]),
)
def test_ring_keeps_the_newest_samples_and_matches_numpy(
    capacity: int, samples: list[int], q: float
) -> None:
    ring = LatencyRing(capacity)
    buffer_before = ring._buf
    for s in samples:
        ring.add(s)
    assert ring._buf is buffer_before and len(ring._buf) == capacity  # no growth
    assert ring.count == len(samples)
    kept = samples[-capacity:]
    assert sorted(ring.samples().tolist()) == sorted(kept)
    got = ring.percentile_us(q)
    if not kept:
        assert got is None
    else:
        assert got == pytest.approx(float(np.percentile(kept, q)) / 1000.0)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        LatencyRing(0)


def test_tick_to_order_joins_a_tick_to_the_next_batch_written() -> None:
    t = TickToOrder(16)
    t.mark(rx_ns=1_000, batch=5)  # orders submitted while batch 5 was the last one written
    t.written(batch=5, tx_ns=1_500)  # batch 5 itself predates the orders: no sample
    assert t.ring.count == 0
    t.mark(rx_ns=1_200, batch=5)  # a newer tick while one is open does not replace it
    t.written(batch=6, tx_ns=4_000)
    assert t.ring.samples().tolist() == [3_000]
    t.written(batch=7, tx_ns=9_000)  # nothing open: no sample
    assert t.ring.count == 1


def test_reset_forgets_an_open_mark() -> None:
    t = TickToOrder(4)
    t.mark(rx_ns=100, batch=0)
    t.reset()
    t.written(batch=1, tx_ns=500)
    assert t.ring.count == 0
    t.mark(rx_ns=0, batch=1)  # no receive stamp (not from a frame): ignored
    t.written(batch=2, tx_ns=600)
    assert t.ring.count == 0
