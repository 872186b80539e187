"""LatencyRing.ordered: the kept samples oldest first, for the growth check over a run."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.app.latency import LatencyRing


@settings(max_examples=80, deadline=None)
@given(capacity=st.integers(1, 32), samples=st.lists(st.integers(0, 10**9), max_size=120))
def test_ordered_is_the_newest_samples_in_arrival_order(capacity: int, samples: list[int]) -> None:
    ring = LatencyRing(capacity)
    for s in samples:
        ring.add(s)
    ordered = ring.ordered()
    expected = samples[-capacity:] if samples else []
    assert ordered.tolist() == expected
    ordered[:] = -1  # a copy: the ring is untouched
    assert sorted(ring.samples().tolist()) == sorted(samples[-capacity:])
