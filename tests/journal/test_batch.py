"""Batches: what one event produced, appended as one frame, comes back as one row per record
with its own sequence number, in order, exactly once; a batch cut short by a crash is lost
whole, never in part."""

from __future__ import annotations

import mmap
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thalex_mm.journal.journal import Journal, open_journal
from thalex_mm.journal.query import Reader
from thalex_mm.journal.records import Fill, OrderAction, Record
from thalex_mm.journal.segment import (
    BATCH_FLAG,
    HEADER_SIZE,
    Scan,
    list_segments,
    scan_frames,
)

_text = st.text(max_size=30)
_records = st.one_of(
    st.builds(
        Fill,
        ts_ns=st.integers(0, 2**62),
        strategy=_text,
        instrument=_text,
        trade_id=_text,
        order_id=_text,
        price=st.floats(allow_nan=False, allow_infinity=False),
    ),
    st.builds(
        OrderAction,
        ts_ns=st.integers(0, 2**62),
        strategy=_text,
        instrument=_text,
        action=st.sampled_from(["insert", "amend", "cancel", "mass_quote"]),
        levels=st.lists(st.lists(st.floats(-1e9, 1e9), min_size=3, max_size=3), max_size=40),
    ),
)
_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _rows(url: str, run_id: str) -> list[tuple[int, int]]:
    """(seq, ts_ns) of every fill and order row of ``run_id``, by seq."""
    with Reader(url) as reader:
        rows = reader.rows("SELECT seq, ts_ns FROM fills WHERE run_id = ?", (run_id,))
        rows += reader.rows("SELECT seq, ts_ns FROM orders WHERE run_id = ?", (run_id,))
    return sorted((int(seq), int(ts)) for seq, ts in rows)


@_SETTINGS
@given(groups=st.lists(st.lists(_records, max_size=25), min_size=1, max_size=12))
def test_batches_and_single_records_drain_to_one_row_each_in_order(tmp_path_factory, groups):
    tmp = tmp_path_factory.mktemp("batch")
    url = f"sqlite:///{tmp / 'j.db'}"
    # 8 KiB segments: batches rotate segments, and the largest do not fit one and are split
    journal = open_journal(url, writer="none", segment_size=8192, segment_dir=tmp / "seg")
    expected: list[Record] = []
    for drawn in groups:
        # fills are kept once per (trade id, order id): give each its own
        group = [
            msgspec.structs.replace(r, trade_id=f"t{len(expected) + i}")
            if isinstance(r, Fill)
            else r
            for i, r in enumerate(drawn)
        ]
        if len(group) == 1 and len(expected) % 2:
            journal.append(group[0])
        else:
            journal.append_batch(group)
        expected += group
    assert journal.appended == len(expected)
    journal.close()
    again = open_journal(url, writer="none", segment_dir=tmp / "seg")  # recovery drains
    assert again.recovered_records == len(expected)
    again.close()
    got = _rows(url, journal.run_id)
    assert got == [(i, r.ts_ns) for i, r in enumerate(expected, start=1)]


def _frames(mm: mmap.mmap) -> list[list[Record]]:
    """The records of each valid frame of a segment image, batches unpacked."""
    single, batch = msgspec.msgpack.Decoder(Record), msgspec.msgpack.Decoder(list[Record])
    out: list[list[Record]] = []
    for seq, payload in scan_frames(mm, HEADER_SIZE, len(mm), Scan(HEADER_SIZE)):
        out.append(batch.decode(payload) if seq & BATCH_FLAG else [single.decode(payload)])
    return out


def _image(journal: Journal) -> mmap.mmap:
    data = dict(list_segments(journal.directory))[journal._segment].read_bytes()
    copy = mmap.mmap(-1, len(data))
    copy[:] = data
    return copy


def _fill(i: int) -> Fill:
    return Fill(ts_ns=i, strategy="s", instrument="X", trade_id=f"t{i}", order_id=f"o{i}")


def test_a_batch_cut_short_is_lost_whole_and_the_frames_before_it_are_kept(tmp_path: Path):
    journal = open_journal(f"sqlite:///{tmp_path / 'j.db'}", writer="none")
    journal.append(_fill(1))
    start = journal._off
    journal.append_batch([_fill(2), _fill(3), _fill(4)])
    end = journal._off
    journal.append(_fill(5))
    image = _image(journal)
    journal.close()
    assert [[r.ts_ns for r in f] for f in _frames(image)] == [[1], [2, 3, 4], [5]]
    for cut in (start + 1, start + 8, (start + end) // 2, end - 1):
        torn = mmap.mmap(-1, len(image))
        torn[:cut] = image[:cut]  # the process died with the batch frame half written
        assert [[r.ts_ns for r in f] for f in _frames(torn)] == [[1]], cut


def test_an_empty_batch_writes_nothing_and_one_record_is_a_plain_frame(tmp_path: Path):
    journal = open_journal(f"sqlite:///{tmp_path / 'j.db'}", writer="none")
    journal.append_batch([])
    assert journal.appended == 0 and journal._off == HEADER_SIZE
    journal.append_batch([_fill(7)])
    image = _image(journal)
    journal.close()
    seqs = [seq for seq, _ in scan_frames(image, HEADER_SIZE, len(image), Scan(HEADER_SIZE))]
    assert seqs == [1]  # no batch flag: the same frame ``append`` writes
