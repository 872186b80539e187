"""The runner-side feed's bookkeeping that a real run rarely reaches."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from thalex_mm.app.latency import LatencyRing
from thalex_mm.app.live import Histogram, LiveFeed, _Slot
from thalex_mm.monitor import layout

from .conftest import write_snapshot


def test_rejection_codes_are_bounded(tmp_path: Path) -> None:
    feed = LiveFeed(write_snapshot(tmp_path / "f.snap"), 100.0)
    inst = SimpleNamespace(
        name="BTC-PERPETUAL", market=None, position=None, risk=SimpleNamespace(permit=None),
        orders=SimpleNamespace(bids=[], asks=[]),
    )  # fmt: skip
    st = SimpleNamespace(tick_to_order=SimpleNamespace(ring=LatencyRing(8)))
    slot = _Slot(0, inst, st)  # type: ignore[arg-type]
    feed._slots["BTC-PERPETUAL"] = slot
    for code in range(1, 20):
        feed.rejected("BTC-PERPETUAL", code)
    feed.rejected("BTC-PERPETUAL", 1)
    feed.rejected("ETH-PERPETUAL", 1)  # not ours: ignored
    assert len(slot.rejects) == layout.REJECT_CODES
    assert slot.rejects[1] == 2 and slot.rejects[-1] == 19 - (layout.REJECT_CODES - 1)
    assert sum(slot.rejects.values()) == 20
    feed.writer.close()


def test_the_histogram_counts_each_sample_once_in_its_bucket() -> None:
    ring = LatencyRing(1000)
    hist = Histogram(ring)
    for ns in (4_000, 5_000, 5_001, 10_000_000, 20_000_000):  # 5 us is in the 5 us bucket
        ring.add(ns)
    hist.update()
    hist.update()  # nothing new: nothing counted twice
    assert hist.count == 5 and hist.sum_ns == 30_014_001
    assert hist.buckets[0] == 2 and hist.buckets[1] == 1
    assert hist.buckets[-2] == 1 and hist.buckets[-1] == 1
    for _ in range(500):  # many at once: the numpy path
        ring.add(7_000)
    hist.update()
    assert hist.count == 505 and hist.buckets[1] == 501
    for _ in range(2000):  # more than the ring keeps: only what it kept is counted
        ring.add(1_000)
    hist.update()
    assert hist.count == 1505 and hist.buckets[0] == 1002
