"""Collector settings are applied once, after start-up, and undone at the end of a run."""

from __future__ import annotations

import gc
import platform
import subprocess
import sys
from collections.abc import Iterator

import pytest

from thalex_mm.app.heap import HeapSettings


@pytest.fixture(autouse=True)
def _clean_gc() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)


def test_settle_freezes_the_heap_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    keep = [[n] for n in range(1000)]  # live, tracked objects made "at start-up"
    heap = HeapSettings(50_000)
    heap.settle()
    assert heap.settled
    assert gc.get_threshold() == (50_000, before[1], before[2])
    assert gc.get_freeze_count() >= len(keep)
    heap.settle()  # a second resync changes nothing
    assert gc.get_threshold()[0] == 50_000
    heap.restore()
    assert not heap.settled
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_after_settling_are_still_collected() -> None:
    heap = HeapSettings(50_000)
    heap.settle()

    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2  # the pair is found (it was not frozen)
    heap.restore()


def test_zero_leaves_python_defaults_alone() -> None:
    before = gc.get_threshold()
    heap = HeapSettings(0)
    heap.settle()
    assert not heap.settled and gc.get_threshold() == before and gc.get_freeze_count() == 0
    heap.restore()
    assert gc.get_threshold() == before


_PROBE = """
import ctypes, sys
from thalex_mm.app.heap import set_malloc_mmap_threshold
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
applied = set_malloc_mmap_threshold(int(sys.argv[1]))
before = libc.mallinfo2().hblks
# 20 blocks under glibc's 128 KiB starting threshold: more than the heap has free, so
# glibc must either grow the heap or map them (it maps only what the heap cannot serve)
blocks = [bytearray(120_000) for _ in range(20)]
print(applied, libc.mallinfo2().hblks - before)
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt thresholds are glibc's",
)
def test_the_mmap_threshold_gives_large_blocks_their_own_mapping() -> None:
    def probe(size: int) -> str:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, str(size)], capture_output=True, text=True, check=True
        )
        return out.stdout.split()  # type: ignore[return-value]

    applied, mapped = probe(64 * 1024)
    assert applied == "True" and int(mapped) >= 15  # each a mapping of its own
    assert probe(0) == ["False", "0"]  # glibc's default: the heap grows for them
