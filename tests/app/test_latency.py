"""The tick-to-order ring: fixed size, newest samples kept, percentiles as numpy computes them."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.app.latency import PHASES, LatencyRing, TickToOrder
from thalex_mm.app.run_stats import RunStats
from thalex_mm.bench.sampling import memory_mb
from thalex_mm.domain import InstrumentKind, InstrumentSpec


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
    # orders submitted while batch 5 was the last one written
    assert t.mark(rx_ns=1_000, frame_ns=1_100, batch=5)
    assert not t.written(batch=5, write_ns=1_400, tx_ns=1_500)  # batch 5 predates them
    assert t.ring.count == 0
    assert not t.mark(rx_ns=1_200, frame_ns=1_250, batch=5)  # the open one is older: kept
    assert t.written(batch=6, write_ns=3_000, tx_ns=4_000)
    assert t.ring.samples().tolist() == [3_000]
    assert t.written(batch=7, write_ns=8_000, tx_ns=9_000)  # nothing open: no sample
    assert t.ring.count == 1
    assert t.phase_rings == () and t.frame_counts is None  # phases only when asked for


def test_reset_forgets_an_open_mark() -> None:
    t = TickToOrder(4)
    t.mark(rx_ns=100, frame_ns=100, batch=0)
    t.reset()
    t.written(batch=1, write_ns=400, tx_ns=500)
    assert t.ring.count == 0
    assert not t.mark(rx_ns=0, frame_ns=0, batch=1)  # no receive stamp (not a frame): ignored
    t.written(batch=2, write_ns=550, tx_ns=600)
    assert t.ring.count == 0


def test_phases_split_the_sample_and_add_up_to_it() -> None:
    t = TickToOrder(8, phases=True)
    before = time.perf_counter_ns()
    rx, frame = before - 5_000, before - 3_000  # read 5 us ago; its handling began 3 us ago
    assert t.mark(rx_ns=rx, frame_ns=frame, batch=0)  # the decision is stamped now
    after = time.perf_counter_ns()
    write = after + 7_000
    tx = write + 11_000
    t.written(batch=1, write_ns=write, tx_ns=tx, frames=12)
    queue, handle, encode, write_ = (int(r.samples()[0]) for r in t.phase_rings)
    assert t.frame_counts is not None and t.frame_counts.samples().tolist() == [12]
    assert len(t.phase_rings) == len(PHASES) == 4
    assert queue == 2_000 and write_ == 11_000
    # the decision stamp lies between the two clock reads around mark()
    assert 3_000 <= handle <= 3_000 + (after - before)
    assert encode == (write - frame) - handle
    assert queue + handle + encode + write_ == int(t.ring.samples()[0]) == tx - rx


def test_run_stats_closes_only_open_instrument_samples() -> None:
    specs = [
        InstrumentSpec(f"I{n}-PERPETUAL", InstrumentKind.PERPETUAL, "X", 1.0, 0.1, 0.1)
        for n in range(50)
    ]
    stats = RunStats(specs, 16)
    now = time.perf_counter_ns()
    a, b = stats.by_name["I3-PERPETUAL"], stats.by_name["I7-PERPETUAL"]
    stats.mark_tick(a, now - 900, now - 800, batch=0)
    stats.mark_tick(b, now - 500, now - 400, batch=0)
    stats.mark_tick(a, now - 100, now - 50, batch=0)  # already open: not listed twice
    assert len(stats._open) == 2
    stats.batch_written(1, now + 1_000, now + 2_000, 3)
    assert stats._open == []
    assert a.tick_to_order.ring.samples().tolist() == [2_900]
    assert b.tick_to_order.ring.samples().tolist() == [2_500]
    assert stats.tick_to_order.ring.samples().tolist() == [2_900]  # the oldest tick
    others = [st for st in stats.by_name.values() if st not in (a, b)]
    assert all(st.tick_to_order.ring.count == 0 for st in others)
    stats.mark_tick(b, now + 3_000, now + 3_100, batch=1)
    stats.reset_ticks()
    stats.batch_written(2, now + 4_000, now + 5_000, 1)
    assert b.tick_to_order.ring.count == 1 and stats._open == []


@pytest.mark.skipif(not memory_mb(), reason="needs /proc/self/status (Linux)")
def test_a_ring_is_resident_from_the_start_so_memory_does_not_creep_as_it_fills() -> None:
    before = memory_mb()["RssAnon"]
    ring = LatencyRing(8 << 20)  # 64 MiB of samples
    after_create = memory_mb()["RssAnon"]
    for i in range(0, 8 << 20, 512):  # one sample per 4 KiB page, all the way round
        ring._buf[i] = i
    after_fill = memory_mb()["RssAnon"]
    assert after_create - before > 0.9 * 64  # MB: all of it there at construction ...
    assert after_fill - after_create < 0.1 * 64  # ... and filling it adds nearly nothing
