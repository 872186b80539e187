"""Tick-to-order latency samples in a fixed-size ring (no growth, no allocation per sample).

A sample is the time from a market-data frame read off the socket (``perf_counter_ns``
as its bytes arrive, before decode) to the write of the order frame it caused
(``perf_counter_ns`` right after the write call). Only the newest ``capacity`` samples are
kept; percentiles are computed on demand (status lines, the summary), never on the hot path.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt


class LatencyRing:
    """Nanosecond samples; ``add`` is O(1) and never allocates."""

    __slots__ = ("_buf", "_next", "capacity", "count")

    def __init__(self, capacity: int = 65_536) -> None:
        if capacity < 1:
            raise ValueError(f"latency capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        # written through now: np.zeros gets untouched pages from calloc, which the first
        # pass of samples would fault in one by one, a slow rise of the process's memory
        # (about 0.1 MB/min in a 100-instrument run) that looked like a leak
        self._buf: npt.NDArray[np.int64] = np.empty(capacity, dtype=np.int64)
        self._buf.fill(0)
        self._next = 0
        self.count = 0  # samples ever added (may exceed capacity)

    def add(self, ns: int) -> None:
        i = self._next
        self._buf[i] = ns
        i += 1
        self._next = 0 if i == self.capacity else i
        self.count += 1

    def samples(self) -> npt.NDArray[np.int64]:
        """The kept samples (a copy), oldest order not guaranteed."""
        n = min(self.count, self.capacity)
        return self._buf[:n].copy()

    def ordered(self) -> npt.NDArray[np.int64]:
        """The kept samples oldest first (a copy): for growth checks over a run."""
        if self.count <= self.capacity:
            return self._buf[: self.count].copy()
        i = self._next
        return np.concatenate((self._buf[i:], self._buf[:i]))

    def newest(self, n: int) -> npt.NDArray[np.int64]:
        """The newest ``n`` samples (fewer if fewer are kept), oldest first (a copy)."""
        n = min(n, self.count, self.capacity)
        i = self._next
        if n <= i:
            return self._buf[i - n : i].copy()
        return np.concatenate((self._buf[self.capacity - (n - i) :], self._buf[:i]))

    def percentile_us(self, q: float) -> float | None:
        """The q-th percentile (0..100) of the kept samples in microseconds, None if empty."""
        n = min(self.count, self.capacity)
        if n == 0:
            return None
        return float(np.percentile(self._buf[:n], q)) / 1000.0


PHASES = ("queue", "handle", "encode", "write")


class TickToOrder:
    """Joins a market-data frame's receive time to the write of the batch that carried the
    orders it caused.

    ``mark(rx_ns, frame_ns, batch)`` is called when a market-data event produced actions;
    ``batch`` is the writer's batch counter at that moment, so the first batch written *after*
    it holds those orders. Marks made while one is open are ignored (the open one is older).

    With ``phases`` the sample is also split at four points (``phase_rings``, same order as
    ``PHASES``): *queue* from the socket read to the start of this frame (frames read in the
    same batch before it), *handle* decode + core until the orders exist, *encode* their
    requests and frames until the socket write starts, *write* the write call itself; and
    ``frame_counts`` holds the number of frames in each sample's batch (the work it carried).
    """

    __slots__ = (
        "_batch", "_decided_ns", "_frame_ns", "_rx_ns", "frame_counts", "phase_rings", "ring",
    )  # fmt: skip

    def __init__(self, capacity: int = 65_536, *, phases: bool = False) -> None:
        self.ring = LatencyRing(capacity)
        self.phase_rings = tuple(LatencyRing(capacity) for _ in PHASES) if phases else ()
        self.frame_counts = LatencyRing(capacity) if phases else None
        self._rx_ns = 0
        self._frame_ns = 0
        self._decided_ns = 0
        self._batch = 0

    def mark(self, rx_ns: int, frame_ns: int, batch: int) -> bool:
        """Open a sample (True) unless one is open or the receive time is unknown."""
        if self._rx_ns == 0 and rx_ns > 0:
            self._rx_ns = rx_ns
            self._frame_ns = frame_ns
            self._batch = batch
            if self.phase_rings:
                self._decided_ns = time.perf_counter_ns()
            return True
        return False

    def written(self, batch: int, write_ns: int, tx_ns: int, frames: int = 1) -> bool:
        """The batch ``batch`` (``frames`` frames) was written from ``write_ns`` to ``tx_ns``;
        True if that closed the open sample (or none was open: nothing left to wait for)."""
        rx = self._rx_ns
        if not rx:
            return True
        if batch <= self._batch:
            return False
        self._rx_ns = 0
        if tx_ns >= rx:
            self.ring.add(tx_ns - rx)
            rings = self.phase_rings
            frame, decided = self._frame_ns, self._decided_ns
            if rings and rx <= frame <= decided <= write_ns <= tx_ns:
                rings[0].add(frame - rx)
                rings[1].add(decided - frame)
                rings[2].add(write_ns - decided)
                rings[3].add(tx_ns - write_ns)
                if self.frame_counts is not None:
                    self.frame_counts.add(frames)
        return True

    def reset(self) -> None:
        """Forget an open mark (e.g. its orders were failed before being written)."""
        self._rx_ns = 0
