"""Cyclic garbage-collector settings for a long-running quoter.

Per-message objects are mostly msgspec Structs with ``gc=False`` (never tracked), so with
Python's default thresholds the collector spends its time rescanning the long-lived heap
built at start-up. Measured in the tick-to-order bench (2-vCPU VM, 10,000 market msg/s):
about 5 young collections a second (~75 us each, up to ~400 us), a middle one every ~2 s
(~1 ms) and full ones of ~15 ms: each one a stall of the event loop. Once the session is up,
``settle`` collects once, freezes what is left (``gc.freeze``: never scanned again) and
raises the young threshold, so collections become rare and cheap; cycles are still
collected. ``restore`` undoes it (the next run, or the test that follows, starts clean).
"""

from __future__ import annotations

import ctypes
import gc
import sys

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


class HeapSettings:
    """Applies and undoes the collector settings; ``young_threshold`` 0 leaves them alone."""

    __slots__ = ("_saved", "young_threshold")

    def __init__(self, young_threshold: int) -> None:
        self.young_threshold = young_threshold
        self._saved: tuple[int, int, int] | None = None

    @property
    def settled(self) -> bool:
        return self._saved is not None

    def settle(self) -> None:
        if self.young_threshold <= 0 or self._saved is not None:
            return
        self._saved = gc.get_threshold()
        gc.collect()
        gc.freeze()
        _, middle, old = self._saved
        gc.set_threshold(self.young_threshold, middle, old)

    def restore(self) -> None:
        if self._saved is None:
            return
        gc.set_threshold(*self._saved)
        gc.unfreeze()
        self._saved = None


def set_malloc_mmap_threshold(size: int) -> bool:
    """glibc only: a block of ``size`` bytes or more that the heap has no free room for gets
    a mapping of its own (unmapped when freed) instead of growing the heap at its top, at a
    fixed threshold (this turns glibc's sliding one off). Why: with the sliding threshold,
    large short-lived buffers (socket reads of up to 256 KB) grow the heap instead, and the
    heap grew in ~0.3 MB steps over minutes while the memory in use stayed flat (a 14-minute
    session, 100 instruments). Process-wide and one-way; False where it could not be set."""
    if size <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, size))
