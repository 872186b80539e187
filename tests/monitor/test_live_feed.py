"""The runner-side feed's bookkeeping that a real run rarely reaches."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from thalex_mm.app.latency import LatencyRing
from thalex_mm.app.live import Histogram, LiveFeed, _Slot, open_live
from thalex_mm.app.settings import config_from_data
from thalex_mm.errors import UserError
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


def test_the_snapshot_can_be_turned_off_and_its_folder_must_exist(tmp_path: Path) -> None:
    assert open_live(config_from_data({"run": {"snapshot": False}}), "off") is None
    missing = config_from_data({"run": {"snapshot_dir": str(tmp_path / "nope")}})
    with pytest.raises(UserError, match="is not a folder"):
        open_live(missing, "x")
    live = open_live(config_from_data({"run": {"snapshot_dir": str(tmp_path)}}), "on")
    assert live is not None and live.metrics is None
    assert live.path == str(tmp_path / "thalex-mm-on.snap")
    assert "thalex-mm watch" in live.describe()
    live.close()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(Exception, match="snapshot_interval_ms"):
        config_from_data({"run": {"snapshot_interval_ms": -1}})
