"""Small measuring tools for the system benchmarks: loop lag, percentiles, RSS, log bytes.

Event-loop lag is measured two ways, because a timer alone cannot resolve microseconds:
epoll (and libuv under uvloop) time out in whole milliseconds, so a 1 ms ticker's lateness
has a floor of about +-1 ms of rounding whatever the load. The ticker is reported as asked
for, and each tick also drops a ``call_soon`` probe into the loop: the time until the probe
runs is how long anything that just became ready waits behind the loop's current work (I/O
callbacks, the engine handling frames, other tasks), measured with ``perf_counter_ns``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import time
from array import array
from collections.abc import Sequence

_NS_PER_MS = 1_000_000


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def slope_per_minute(times_s: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares slope of ``values`` against time, per minute; 0.0 with < 2 points."""
    n = len(times_s)
    if n < 2 or n != len(values):
        return 0.0
    mean_t = sum(times_s) / n
    mean_v = sum(values) / n
    var = sum((t - mean_t) ** 2 for t in times_s)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in zip(times_s, values, strict=True))
    return cov / var * 60.0


def memory_mb(status_path: str = "/proc/self/status") -> dict[str, float]:
    """VmRSS and its parts, MB: RssAnon (heap: where a leak shows), RssFile (mapped files,
    e.g. the journal's memory-mapped segment as it fills), RssShmem. Empty off Linux."""
    out: dict[str, float] = {}
    try:
        with open(status_path, encoding="ascii") as handle:
            for line in handle:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    out[key] = int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return {}
    return out


def rss_mb(status_path: str = "/proc/self/status") -> float:
    """Resident set size now (VmRSS), MB; falls back to the peak from getrusage."""
    rss = memory_mb(status_path).get("VmRSS")
    if rss is not None:
        return rss
    import resource  # noqa: PLC0415

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class SampleStore:
    """Fixed-capacity int64 samples tagged with a phase, allocated and touched up front so
    that recording does not itself grow the process's memory (the memory benchmark watches
    that). Samples beyond the capacity are counted and dropped."""

    def __init__(self, capacity: int) -> None:
        self.values = array("q", [0]) * capacity
        self.tags = array("h", [0]) * capacity
        self.count = 0
        self.overflow = 0
        self.phases: list[str] = []

    def add(self, phase: str, value: int) -> None:
        i = self.count
        if i >= len(self.values):
            self.overflow += 1
            return
        phases = self.phases
        tag = phases.index(phase) if phase in phases else len(phases)
        if tag == len(phases):
            phases.append(phase)
        self.values[i] = value
        self.tags[i] = tag
        self.count = i + 1

    def by_phase(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {p: [] for p in self.phases}
        for i in range(self.count):
            out[self.phases[self.tags[i]]].append(self.values[i])
        return out


class SeriesStore:
    """Fixed-capacity (seconds, value) samples, allocated and touched up front like
    ``SampleStore``: a list of tuples grows the process by ~240 B a sample, which at one a
    second reads as 0.015 MB/min of "growth" in the memory benchmark that is the bench's own.
    Samples beyond the capacity are counted and dropped."""

    def __init__(self, capacity: int) -> None:
        self.times = array("d", [0.0]) * capacity
        self.values = array("d", [0.0]) * capacity
        self.count = 0
        self.overflow = 0

    def add(self, seconds: float, value: float) -> None:
        i = self.count
        if i >= len(self.times):
            self.overflow += 1
            return
        self.times[i] = seconds
        self.values[i] = value
        self.count = i + 1

    def pairs(self) -> list[tuple[float, float]]:
        """The samples so far, oldest first (built once, when the measurement is over)."""
        return list(zip(self.times[: self.count], self.values[: self.count], strict=True))


class LagRecorder:
    """A 1 ms ticker on the running loop; samples are tagged with ``phase`` ("" = skip)."""

    def __init__(self, interval_s: float = 0.001, capacity: int = 400_000) -> None:
        self.interval_s = interval_s
        self.phase = "measure"
        self.late = SampleStore(capacity)
        self.probe = SampleStore(capacity)
        self._task: asyncio.Task[None] | None = None

    @property
    def late_ns(self) -> dict[str, list[int]]:
        return self.late.by_phase()

    @property
    def probe_ns(self) -> dict[str, list[int]]:
        return self.probe.by_phase()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick(), name="lag-ticker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _probe(self, phase: str, t0: int) -> None:
        self.probe.add(phase, time.perf_counter_ns() - t0)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        clock = time.perf_counter_ns
        interval_ns = int(self.interval_s * 1e9)
        sleep = asyncio.sleep
        while True:
            t0 = clock()
            await sleep(self.interval_s)
            t1 = clock()
            phase = self.phase
            if phase:
                self.late.add(phase, t1 - t0 - interval_ns)
                loop.call_soon(self._probe, phase, t1)

    def summary_us(self, phases: Sequence[str] | None = None) -> dict[str, float]:
        """p50/p99/max of the ticker's lateness and of the probe's wait, microseconds."""
        late_by, probe_by = self.late_ns, self.probe_ns
        names = list(late_by) if phases is None else list(phases)
        late = [v for p in names for v in late_by.get(p, ())]
        probe = [v for p in names for v in probe_by.get(p, ())]
        return {
            "tick_late_p50": percentile(late, 50) / 1e3,
            "tick_late_p99": percentile(late, 99) / 1e3,
            "tick_late_max": (max(late) / 1e3) if late else math.nan,
            "probe_p50": percentile(probe, 50) / 1e3,
            "probe_p99": percentile(probe, 99) / 1e3,
            "probe_max": (max(probe) / 1e3) if probe else math.nan,
            "ticks": float(len(late)),
        }


class CountingStream(io.TextIOBase):
    """A text stream that keeps only what a log handler wrote: bytes, lines, a few samples."""

    def __init__(self, keep_lines: int = 20) -> None:
        super().__init__()
        self.bytes = 0
        self.lines = 0
        self.samples: list[str] = []
        self.max_write = 0  # the longest single write (one formatted record), bytes
        self._keep = keep_lines

    def write(self, text: str) -> int:
        size = len(text.encode("utf-8"))
        self.bytes += size
        self.max_write = max(self.max_write, size)
        self.lines += text.count("\n")
        if len(self.samples) < self._keep:
            self.samples.append(text[:300])
        return len(text)

    def writable(self) -> bool:
        return True
