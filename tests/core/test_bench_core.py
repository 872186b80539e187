"""The core benchmark measures what it says: every level is amended in the worst case and
every amend leaves the venue edge as a frame (no timing is asserted here)."""

from __future__ import annotations

from thalex_mm.bench import core as core_bench


def test_core_bench_quick_run_covers_every_path():
    metrics = core_bench.run(quick=True)
    levels = 2 * 6  # the bench quotes 6 + 6 levels
    assert metrics["core_requote_all_actions_per_tick"] == levels
    assert metrics["core_wire_frames_per_requote_all"] == levels
    timings = [k for k in metrics if "_us_" in k]
    assert len(timings) >= 13
    assert all(isinstance(metrics[k], float) and metrics[k] > 0 for k in timings)
    assert 0 < metrics["core_actions_per_tick"] < levels  # the typical tick amends some, not all
