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


def test_a_filled_segment_is_a_valid_empty_segment(tmp_path: Path, monkeypatch) -> None:
    from thalex_mm.journal import segment as segment_module  # noqa: PLC0415

    size = 3 * (1 << 20) + 5 * PAGE  # not a multiple of the fill chunk
    written: list[tuple[int, int]] = []  # (offset, bytes) of every pwrite
    real_pwrite = segment_module.os.pwrite

    def counting_pwrite(fd: int, data: bytes, offset: int) -> int:
        written.append((offset, len(data)))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(segment_module.os, "pwrite", counting_pwrite)
    filled = create_segment_file(tmp_path, 7, size, fill=True)
    fill_writes = written[:-1]  # the last write is the header
    assert sum(n for _, n in fill_writes) == size  # every byte written out, once
    assert (
        sorted(fill_writes)[0][0] == 0
        and sorted(fill_writes)[-1][0] + sorted(fill_writes)[-1][1] == size
    )
    written.clear()
    reserved = create_segment_file(tmp_path, 8, size)
    assert len(written) == 1  # reserved only: just the header
    assert filled.stat().st_size == reserved.stat().st_size == size
    a, b = filled.read_bytes(), reserved.read_bytes()
    assert a[:8] == b[:8]  # the same magic and version
    assert a[64:] == b[64:] == bytes(size - 64)  # zeros after the header, as when reserved


def test_only_segments_made_off_the_event_loop_are_filled(tmp_path: Path, monkeypatch) -> None:
    """The writer's spares and the first segment are filled; a rotation that finds no
    spare only reserves its segment, so the event loop never writes a whole segment."""
    from thalex_mm.journal import journal as journal_module  # noqa: PLC0415
    from thalex_mm.journal import writer as writer_module  # noqa: PLC0415

    calls: list[tuple[str, int, bool]] = []

    def spy(who: str):
        def create(directory: Path, number: int, size: int, *, fill: bool = False) -> Path:
            calls.append((who, number, fill))
            return create_segment_file(directory, number, size, fill=fill)

        return create

    monkeypatch.setattr(journal_module, "create_segment_file", spy("engine"))
    monkeypatch.setattr(writer_module, "create_segment_file", spy("writer"))
    url = f"sqlite:///{tmp_path / 'j.db'}"
    journal = open_journal(url, writer="none", segment_dir=tmp_path / "seg", segment_size=1 << 16)
    for i in range(5000):  # several segments' worth, with no writer to make spares
        assert journal.append(RiskEvent(ts_ns=i, strategy="s", instrument="X", kind="k"))
    journal.close()
    engine_calls = [c for c in calls if c[0] == "engine"]
    assert engine_calls[0][2] is True  # the first segment, at open
    assert len(engine_calls) >= 3 and not any(fill for _, _, fill in engine_calls[1:])
    calls.clear()
    journal = open_journal(
        url, writer="thread", segment_dir=tmp_path / "seg2", segment_size=1 << 16
    )
    for i in range(50):
        journal.append(RiskEvent(ts_ns=i, strategy="s", instrument="X", kind="k"))
    assert journal.flush(10)
    journal.close()
    assert ("writer", 2, True) in calls  # the spare after segment 1


def test_a_failed_fill_leaves_no_file_behind(tmp_path: Path, monkeypatch) -> None:
    from thalex_mm.journal import segment as segment_module  # noqa: PLC0415

    def disk_full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(segment_module.os, "pwrite", disk_full)
    with pytest.raises(OSError, match="No space"):
        create_segment_file(tmp_path, 3, 1 << 20, fill=True)
    assert list(tmp_path.iterdir()) == []  # neither the segment nor its temporary file
