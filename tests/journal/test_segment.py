"""Segment framing: what the producer writes scans back exactly; torn or corrupted frames end
the scan cleanly and are never decoded."""

from __future__ import annotations

import mmap
import threading
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thalex_mm.journal.journal import Journal, open_journal
from thalex_mm.journal.records import Fill, OrderAction, Record
from thalex_mm.journal.segment import (
    FRAME_HEADER,
    HEADER_SIZE,
    Scan,
    ScanEnd,
    create_segment_file,
    list_segments,
    map_segment,
    read_header,
    scan_frames,
    segment_name,
)

_text = st.text(min_size=0, max_size=40)
_float = st.floats(allow_nan=False, allow_infinity=False, width=64)
_records = st.one_of(
    st.builds(
        Fill,
        ts_ns=st.integers(0, 2**63 - 1),
        strategy=_text,
        instrument=_text,
        trade_id=_text,
        order_id=_text,
        client_order_id=st.none() | st.integers(0, 2**62),
        side=st.sampled_from([-1, 1]),
        price=_float,
        amount=_float,
        fee=_float,
        maker_taker=st.sampled_from(["maker", "taker"]),
    ),
    st.builds(
        OrderAction,
        ts_ns=st.integers(0, 2**63 - 1),
        strategy=_text,
        instrument=_text,
        action=st.sampled_from(["insert", "amend", "cancel", "mass_quote"]),
        client_order_id=st.none() | st.integers(0, 2**62),
        price=st.none() | _float,
        levels=st.lists(st.lists(_float, min_size=3, max_size=3), max_size=5),
    ),
)
_DECODER = msgspec.msgpack.Decoder(Record)
_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _write(tmp_path: Path, records: list[Record], segment_size: int = 1 << 20) -> Journal:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    journal = open_journal(url, writer="none", segment_size=segment_size)
    for record in records:
        assert journal.append(record)
    return journal


def _scan_all(mm: mmap.mmap) -> tuple[list[tuple[int, Record]], Scan]:
    scan = Scan(HEADER_SIZE)
    out = [(seq, _DECODER.decode(p)) for seq, p in scan_frames(mm, HEADER_SIZE, len(mm), scan)]
    return out, scan


def _image(journal: Journal) -> tuple[mmap.mmap, list[int]]:
    """A private copy of the active segment, and the end offset of each frame in it."""
    path = dict(list_segments(journal.directory))[journal._segment]
    data = path.read_bytes()
    copy = mmap.mmap(-1, len(data))
    copy[:] = data
    ends, scan = [], Scan(HEADER_SIZE)
    for _ in scan_frames(copy, HEADER_SIZE, len(copy), scan):
        ends.append(scan.offset)
    return copy, ends


@_SETTINGS
@given(records=st.lists(_records, min_size=1, max_size=40))
def test_frames_scan_back_to_the_same_records_in_order(tmp_path_factory, records):
    tmp = tmp_path_factory.mktemp("seg")
    journal = _write(tmp, records, segment_size=8192)
    journal.close()
    got: list[tuple[int, Record]] = []
    run_ids = set()
    for _, path in list_segments(journal.directory):
        data = path.read_bytes()
        mm = mmap.mmap(-1, len(data))
        mm[:] = data
        header = read_header(mm)
        assert header is not None
        if header.run_id:
            run_ids.add(header.run_id)
        frames, scan = _scan_all(mm)
        assert scan.end in (ScanEnd.SEALED, ScanEnd.EMPTY)
        got += frames
    assert run_ids == {journal.run_id}
    assert [seq for seq, _ in got] == list(range(1, len(records) + 1))
    assert [r for _, r in got] == records


@_SETTINGS
@given(records=st.lists(_records, min_size=1, max_size=30), cut=st.floats(0, 1))
def test_a_crash_mid_write_keeps_exactly_the_complete_frames(tmp_path_factory, records, cut):
    journal = _write(tmp_path_factory.mktemp("seg"), records)
    mm, ends = _image(journal)
    journal.close()
    cut_at = HEADER_SIZE + int(cut * (ends[-1] - HEADER_SIZE))
    # A frame survives if all its bytes were written before the cut, or if the bytes it
    # still lacked happen to be zero anyway (then its content is complete: CRC passes).
    complete = sum(1 for end in ends if end <= cut_at or not any(mm[cut_at:end]))
    # the process died after writing the bytes before cut_at: the rest is still zero
    mm[cut_at:] = bytes(len(mm) - cut_at)
    frames, scan = _scan_all(mm)
    assert [r for _, r in frames] == records[:complete]
    assert scan.end in (ScanEnd.EMPTY, ScanEnd.TORN)


@_SETTINGS
@given(
    records=st.lists(_records, min_size=1, max_size=30),
    victim=st.integers(0, 10_000),
    bit=st.integers(0, 7),
    where=st.floats(0, 1),
)
def test_a_corrupted_frame_ends_the_scan_before_it(tmp_path_factory, records, victim, bit, where):
    journal = _write(tmp_path_factory.mktemp("seg"), records)
    mm, ends = _image(journal)
    journal.close()
    k = victim % len(records)
    start = HEADER_SIZE if k == 0 else ends[k - 1]
    # flip one bit anywhere in frame k (header, seq or payload); length flips may make the
    # frame overrun the file or swallow the next ones, which must be detected all the same
    pos = start + int(where * (ends[k] - start - 1))
    mm[pos] ^= 1 << bit
    frames, scan = _scan_all(mm)
    assert [r for _, r in frames] == records[:k]
    assert scan.end in (ScanEnd.TORN, ScanEnd.EMPTY, ScanEnd.SEALED)
    assert scan.offset == start


def test_recovery_drains_a_directory_left_without_a_writer(tmp_path: Path):
    records: list[Record] = [
        Fill(ts_ns=i, strategy="s", instrument="X", trade_id=f"t{i}", order_id="o")
        for i in range(1, 2001)
    ]
    journal = _write(tmp_path, records, segment_size=16384)  # many rotations
    journal.close()
    assert len(list_segments(journal.directory)) > 5
    again = open_journal(f"sqlite:///{tmp_path / 'j.db'}", writer="none")
    assert again.recovered_records == 2000
    again.close()
    third = open_journal(f"sqlite:///{tmp_path / 'j.db'}", writer="none")
    assert third.recovered_records == 0
    third.close()
    frame = FRAME_HEADER  # keep the import honest: frames have a fixed header size
    assert frame == 8


def test_racing_creators_of_one_segment_never_clobber_it(tmp_path: Path):
    """The producer and a writer thread (same pid) may create the same spare at once."""
    size = 1 << 16
    numbers = range(1, 150)
    barrier = threading.Barrier(2)

    def create_and_mark(mark: int) -> None:
        for number in numbers:
            barrier.wait()
            create_segment_file(tmp_path, number, size, fill=mark == 2)  # the writer fills
            mm = map_segment(tmp_path / segment_name(number))
            if mark == 1:
                mm[HEADER_SIZE : HEADER_SIZE + 4] = b"MARK"  # as if the producer wrote a frame
            mm.close()

    threads = [threading.Thread(target=create_and_mark, args=(m,)) for m in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for number in numbers:
        data = (tmp_path / segment_name(number)).read_bytes()
        assert len(data) == size
        assert data[HEADER_SIZE : HEADER_SIZE + 4] == b"MARK"
        assert read_header_bytes(data) == number
    assert not list(tmp_path.glob(".*.tmp"))


def read_header_bytes(data: bytes) -> int:
    mm = mmap.mmap(-1, len(data))
    mm[:] = data
    header = read_header(mm)
    assert header is not None
    return header.number


def _segment_ending_in(size: int, tail: bytes) -> mmap.mmap:
    """An anonymous mapping: one frame from HEADER_SIZE up to ``size - len(tail)``, then
    ``tail`` in the last bytes (the producer seals a segment wherever its frames end)."""
    import struct  # noqa: PLC0415
    import zlib  # noqa: PLC0415

    mm = mmap.mmap(-1, size)
    body_len = size - len(tail) - HEADER_SIZE - FRAME_HEADER
    body = struct.pack("<Q", 7) + bytes(range(256)) * (body_len // 256) + bytes(body_len % 256)
    body = body[:body_len]
    mm[HEADER_SIZE : HEADER_SIZE + FRAME_HEADER] = struct.pack("<II", body_len, zlib.crc32(body))
    mm[HEADER_SIZE + FRAME_HEADER : size - len(tail)] = body
    mm[size - len(tail) :] = tail
    return mm


def test_a_seal_in_the_last_four_bytes_reads_as_sealed_not_torn() -> None:
    """The producer's frames can end exactly 4 bytes short of the segment's end; its seal
    fills them. The scan must call that sealed (it used to say torn and log a warning)."""
    scan = Scan(HEADER_SIZE)
    sealed = _segment_ending_in(4096, b"\xff\xff\xff\xff")
    assert [seq for seq, _ in scan_frames(sealed, HEADER_SIZE, 4096, scan)] == [7]
    assert (scan.end, scan.offset) == (ScanEnd.SEALED, 4092)
    # nothing written there yet: empty; a length that cannot be a frame: torn
    for tail, end in ((bytes(4), ScanEnd.EMPTY), (b"\x10\x00\x00\x00", ScanEnd.TORN)):
        scan = Scan(HEADER_SIZE)
        assert len(list(scan_frames(_segment_ending_in(4096, tail), HEADER_SIZE, 4096, scan))) == 1
        assert scan.end is end
