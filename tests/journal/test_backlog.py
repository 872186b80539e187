"""The back-pressure backlog is the bytes really waiting, not a count of segment numbers
(#16.6: after a crash loop a clean run saw 17 x 32 MiB "behind" with nothing to drain)."""

from __future__ import annotations

from pathlib import Path

from thalex_mm.journal.journal import open_journal
from thalex_mm.journal.records import Fill
from thalex_mm.journal.segment import HEADER_SIZE, create_segment_file, pack_position

FILL = Fill(ts_ns=1, strategy="s", instrument="X", trade_id="T", order_id="O")


def test_skipped_segment_numbers_are_not_a_backlog(tmp_path: Path) -> None:
    # a crash loop leaves an empty spare segment numbered well ahead; recovery skips to it
    segments = tmp_path / "j-segments"
    segments.mkdir()
    create_segment_file(segments, 20, 32 * 1024 * 1024)
    journal = open_journal(f"sqlite:///{tmp_path / 'j.db'}", writer="none")
    try:
        segment = journal._segment
        assert segment == 21
        # the drained position 17 segment numbers back, none of them with a record in it
        journal.control.drained = pack_position(segment - 17, HEADER_SIZE)
        for _ in range(10):
            journal.append(FILL)
        assert journal.stats().backlog_bytes == journal._off - HEADER_SIZE < 2000
        assert journal.backpressure is None
    finally:
        journal.close()


def test_a_real_backlog_over_several_segments_is_counted_to_the_byte(tmp_path: Path) -> None:
    journal = open_journal(
        f"sqlite:///{tmp_path / 'j.db'}", writer="none", segment_size=8192,
        max_backlog_bytes=20_000,
    )  # fmt: skip
    try:
        first = journal._segment
        written = 0
        while journal._segment < first + 3:  # three sealed segments and a fourth in use
            before = (journal._segment, journal._off)
            journal.append(FILL)
            if journal._segment == before[0]:
                written += journal._off - before[1]
            else:
                written += journal._off - HEADER_SIZE
        assert journal.stats().backlog_bytes == written
        assert journal.backpressure is not None and "behind" in journal.backpressure
        # drained up to the middle of the second segment: the rest of it and what follows
        sealed_end = journal._sealed[first + 1]
        journal.control.drained = pack_position(first + 1, sealed_end - 100)
        assert journal.stats().backlog_bytes == (
            100 + journal._sealed[first + 2] - HEADER_SIZE + journal._off - HEADER_SIZE
        )
        journal.control.drained = pack_position(journal._segment, journal._off)
        assert journal.stats().backlog_bytes == 0 and journal.backpressure is None
    finally:
        journal.close()
