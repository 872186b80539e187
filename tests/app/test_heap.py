"""Collector settings are applied once, after start-up, and undone at the end of a run."""

from __future__ import annotations

import gc
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
