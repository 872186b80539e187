"""Benchmark: what the live snapshot costs the engine (app/live.py, docs/monitoring.md).

One run of the tick-to-order benchmark's setup (the exchange in its own process, 10,000
raw tickers per second, the real ``Runner`` quoting two instruments) with a snapshot
written after *every* market event of a quoted instrument (``snapshot_interval_ms = 0``,
the worst case; the default writes at most every 100 ms). Every ``TOGGLE_S`` the snapshot
is switched on or off, so both arms share the same machine, market and minute:

- ``snapshot_write_us_median`` / ``_p99``: one cycle's write (gathering the fields and the
  seqlocked ``struct.pack_into``) on the run's live state: every 32nd write is followed by
  16 more of the same instrument, timed together (the budget: what the code costs);
- ``snapshot_write_first_us_median`` / ``_p99``: the write a cycle actually pays, timed
  alone right after the event's orders left (caches cold, the clock's ~0.05 us included;
  on a loaded shared machine this is mostly the machine);
- ``snapshot_timer_us_median``: the timer tick's share (run section, a slice of the slow
  sections and histograms);
- ``snapshot_t2o_on_p50_us`` / ``snapshot_t2o_off_p50_us`` (and p99, samples), and
  ``snapshot_tick_to_order_p50_ratio``: on / off; 1.0 is no change (few samples in
  ``--quick``: the full run's ratio is the one to trust).
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from thalex_mm.app.live import LiveFeed
from thalex_mm.bench.tick_to_order import QUOTED, measure
from thalex_mm.monitor.snapshot import SnapshotWriter

TOGGLE_S = 0.25
_MAX_TIMINGS = 1 << 20
_REPEAT = 16


class TimedFeed(LiveFeed):
    """The live feed, timing each write it makes after a cycle and each timer tick."""

    def __init__(self, writer: SnapshotWriter) -> None:
        super().__init__(writer, interval_ms=0.0)
        self.cycle_ns = np.zeros(_MAX_TIMINGS, dtype=np.int64)
        self.timer_ns = np.zeros(_MAX_TIMINGS, dtype=np.int64)
        self.warm_ns = np.zeros(_MAX_TIMINGS, dtype=np.int64)
        self.n_cycle = 0
        self.n_timer = 0
        self.n_warm = 0

    def cycle(self, name: str, now_ns: int) -> None:
        before = self.writes
        t0 = time.perf_counter_ns()
        super().cycle(name, now_ns)
        t1 = time.perf_counter_ns()
        if self.writes != before and self.n_cycle < _MAX_TIMINGS:
            self.cycle_ns[self.n_cycle] = t1 - t0
            self.n_cycle += 1
            if self.n_cycle % 32 == 0 and self.n_warm < _MAX_TIMINGS:
                slot = self._slots[name]
                t0 = time.perf_counter_ns()
                for _ in range(_REPEAT):
                    self._fast(slot, now_ns)
                self.warm_ns[self.n_warm] = (time.perf_counter_ns() - t0) // _REPEAT
                self.n_warm += 1

    def timer(self, now_ns: int, timer_interval_s: float) -> None:
        t0 = time.perf_counter_ns()
        super().timer(now_ns, timer_interval_s)
        if self.enabled and self.n_timer < _MAX_TIMINGS:
            self.timer_ns[self.n_timer] = time.perf_counter_ns() - t0
            self.n_timer += 1


def _pct_us(values: npt.NDArray[np.int64], q: float) -> float:
    return round(float(np.percentile(values, q)) / 1000.0, 3) if len(values) else float("nan")


def run(quick: bool) -> dict[str, float | int | str]:
    seconds = 6.0 if quick else 30.0
    with tempfile.TemporaryDirectory(prefix="thalex-mm-bench-") as tmp:
        writer = SnapshotWriter(
            Path(tmp) / "bench.snap", run_id="bench", instruments=[(n, 0.0, 0.0) for n in QUOTED]
        )
        feed = TimedFeed(writer)
        toggles: list[tuple[int, bool]] = []  # (tick-to-order samples so far, on from here)
        holder: dict[str, Any] = {}

        def setup(runner: Any) -> None:
            runner.live = feed
            holder["runner"] = runner

            async def toggle() -> None:
                while True:
                    await asyncio.sleep(TOGGLE_S)
                    stats = runner.stats
                    if stats is not None:
                        feed.enabled = not feed.enabled
                        toggles.append((stats.tick_to_order.ring.count, feed.enabled))

            holder["task"] = asyncio.get_running_loop().create_task(toggle())

        result = measure(seconds, warmup_s=2.0 if quick else 3.0, setup=setup)
        holder["task"].cancel()
        writer.close()
    runner = holder["runner"]
    ring = runner.stats.tick_to_order.ring
    samples = ring.ordered()
    start = ring.count - len(samples)  # index of samples[0] among all samples ever taken
    first = ring.count - len(result["samples"])  # after the warm-up
    on: list[npt.NDArray[np.int64]] = []
    off: list[npt.NDArray[np.int64]] = []
    for (begin, state), (end, _) in itertools.pairwise(toggles):
        lo, hi = max(begin, first), min(end, ring.count)
        if hi > lo:
            (on if state else off).append(samples[lo - start : hi - start])
    s_on = np.concatenate(on) if on else np.zeros(0, dtype=np.int64)
    s_off = np.concatenate(off) if off else np.zeros(0, dtype=np.int64)
    p50_on, p50_off = _pct_us(s_on, 50), _pct_us(s_off, 50)
    writes = feed.cycle_ns[: feed.n_cycle]
    warm = feed.warm_ns[: feed.n_warm]
    return {
        "snapshot_write_us_median": _pct_us(warm, 50),
        "snapshot_write_us_p99": _pct_us(warm, 99),
        "snapshot_write_first_us_median": _pct_us(writes, 50),
        "snapshot_write_first_us_p99": _pct_us(writes, 99),
        "snapshot_writes": feed.n_cycle,
        "snapshot_timer_us_median": _pct_us(feed.timer_ns[: feed.n_timer], 50),
        "snapshot_t2o_on_p50_us": round(p50_on, 1),
        "snapshot_t2o_off_p50_us": round(p50_off, 1),
        "snapshot_t2o_on_p99_us": round(_pct_us(s_on, 99), 1),
        "snapshot_t2o_off_p99_us": round(_pct_us(s_off, 99), 1),
        "snapshot_t2o_on_samples": len(s_on),
        "snapshot_t2o_off_samples": len(s_off),
        "snapshot_tick_to_order_p50_ratio": round(p50_on / p50_off, 3) if p50_off else float("nan"),
    }
