"""The prefaulter maps a segment's next pages ahead of the appends, in bounded chunks."""

from __future__ import annotations

import mmap
import resource
from pathlib import Path

import pytest

from thalex_mm.journal import open_journal
from thalex_mm.journal.records import RiskEvent
from thalex_mm.journal.segment import Prefaulter, create_segment_file, map_segment

PAGE = mmap.PAGESIZE


def _segment(tmp_path: Path, size: int) -> mmap.mmap:
    return map_segment(create_segment_file(tmp_path, 1, size))


def test_steps_are_page_aligned_bounded_and_stop_at_the_window(tmp_path: Path) -> None:
    mm = _segment(tmp_path, 64 * PAGE)
    pre = Prefaulter(ahead=10 * PAGE + 100, chunk=4 * PAGE)
    if not pre.enabled:
        pytest.skip("madvise is not available on this platform")
    done = []
    while step := pre.step(mm, offset=3 * PAGE + 17):
        done.append(step)
        assert pre.populated_to % PAGE == 0
    # from the offset's page to the last whole page before offset + ahead, 4 pages at a time
    assert done == [4 * PAGE, 4 * PAGE, 2 * PAGE]
    assert pre.populated_to == 13 * PAGE
    # the writer moved on: the window follows it, and never runs past the segment's end
    assert pre.step(mm, offset=60 * PAGE) == 4 * PAGE
    assert pre.populated_to == 64 * PAGE
    assert pre.step(mm, offset=63 * PAGE) == 0
    pre.reset()
    assert pre.populated_to == 0
    mm.close()


def test_populating_leaves_the_bytes_alone_and_saves_the_faults(tmp_path: Path) -> None:
    mm = _segment(tmp_path, 256 * PAGE)
    mm[0:5] = b"hello"
    pre = Prefaulter(ahead=256 * PAGE, chunk=256 * PAGE)
    if not pre.enabled:
        pytest.skip("madvise is not available on this platform")
    assert pre.step(mm, 0) == 256 * PAGE
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for page in range(1, 256):
        mm[page * PAGE] = 1
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert mm[0:5] == b"hello" and mm[PAGE + 1] == 0
    assert pre.enabled  # the kernel took the advice (Linux 5.14+), else it would be off
    assert faults < 64, f"{faults} page faults writing 255 pre-populated pages"
    mm.close()


def test_journal_prefault_follows_appends_and_rotation(tmp_path: Path) -> None:
    journal = open_journal(
        f"sqlite:///{tmp_path / 'j.db'}", writer="thread", segment_size=64 * PAGE
    )
    try:
        if not journal._prefaulter.enabled:
            pytest.skip("madvise is not available on this platform")
        assert journal.prefault() > 0
        first = journal._segment
        while journal._segment == first:  # fill the first segment, rotate into the next
            journal.append(
                RiskEvent(ts_ns=1, strategy="mm", instrument="I", kind="state", detail="x" * 200)
            )
        assert journal._prefaulter.populated_to == 0  # a fresh segment starts unpopulated
        assert journal.prefault() > 0
    finally:
        journal.close()
