"""The drainer: moves framed records from segment files into the sink, exactly once.

It runs off the event loop (a thread or a child process, see ``writer.py``) and is also what
recovers a directory left behind by a killed process before the next run starts.

Progress is a position (segment, offset): every frame before it is in the sink. With a
transactional sink the position is stored in the same transaction as the rows, so a crash
at any moment either keeps both or neither; the ``(run_id, seq)`` key makes any re-insert a
no-op regardless. Segment files are deleted only after the transaction that drained them
has committed.
"""

from __future__ import annotations

import logging
import mmap
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from thalex_mm.journal.control import Control
from thalex_mm.journal.records import TABLE_OF, Record
from thalex_mm.journal.schema import TABLES, row_values
from thalex_mm.journal.segment import (
    BATCH_FLAG,
    HEADER_SIZE,
    Scan,
    ScanEnd,
    list_segments,
    map_segment,
    pack_position,
    read_header,
    scan_frames,
    segment_name,
    unpack_position,
)
from thalex_mm.journal.sinks.base import Sink

log = logging.getLogger(__name__)

DEFAULT_BATCH = 128
RECOVERY_BATCH = 5000  # recovery runs before trading starts: big transactions, fewer commits


class Drainer:
    """Drains one segment directory into one sink. Not thread-safe: one caller at a time."""

    def __init__(self, directory: Path, sink: Sink, control: Control, batch: int = DEFAULT_BATCH):
        self.directory = directory
        self.sink = sink
        self.control = control
        self.batch = batch
        self.journal_id = control.journal_id
        self.position = control.drained
        self.drained_records = 0
        # the last error came from the sink: a successful write clears it (before the new
        # position is published, so a caller that waited for the position sees it cleared)
        self.sink_failed = False
        self._decoder = msgspec.msgpack.Decoder(Record)
        self._batch_decoder = msgspec.msgpack.Decoder(list[Record])
        self._maps: dict[int, tuple[mmap.mmap, str] | None] = {}

    # --- start-up ------------------------------------------------------------------------
    def recover(self) -> int:
        """Drain everything left in the directory by a previous (dead) producer.

        Returns the segment number the new producer should start at. Call it only while
        holding the directory lock, before any producer writes.
        """
        stored = self.sink.read_cursor(self.journal_id) if self.sink.transactional else None
        position = stored if stored is not None else self.control.drained
        segments = list_segments(self.directory)
        start_seg, start_off = unpack_position(position)
        if segments and (position == 0 or start_seg < segments[0][0]):
            start_seg, start_off = segments[0][0], HEADER_SIZE
        self.position = pack_position(start_seg, max(start_off, HEADER_SIZE))
        last = segments[-1][0] if segments else start_seg
        for number, path in segments:
            if number < start_seg:
                path.unlink(missing_ok=True)  # drained by an earlier run, not yet deleted
        live_batch, self.batch = self.batch, max(self.batch, RECOVERY_BATCH)
        try:
            while True:
                seg, _ = unpack_position(self.position)
                if seg > last:
                    break
                self.drain_once(pack_position(last, 0xFFFFFFFF), recovering=True)
        finally:
            self.batch = live_batch
        next_segment = max(last, start_seg) + 1
        self._publish(pack_position(next_segment, HEADER_SIZE), persist=True)
        self.control.committed = self.position
        return next_segment

    # --- steady state --------------------------------------------------------------------
    def drain_once(self, committed: int, *, recovering: bool = False) -> int:
        """Write the frames between the drained position and ``committed`` (one batch).

        Returns the number of records written; a full batch means more may be waiting.
        """
        rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        seg, off = unpack_position(self.position)
        limit_seg, limit_off = unpack_position(committed)
        finished: list[int] = []
        count = 0
        scan = Scan(off)
        while count < self.batch and seg <= limit_seg:
            mapped = self._map(seg)
            if mapped is None:
                if seg < limit_seg or recovering:
                    finished.append(seg)
                    seg, off = seg + 1, HEADER_SIZE
                    continue
                break
            mm, run_id = mapped
            limit = limit_off if seg == limit_seg and not recovering else len(mm)
            for frame_seq, payload in scan_frames(mm, off, limit, scan, self.batch - count):
                try:
                    if frame_seq & BATCH_FLAG:  # what one event produced: seq, seq + 1, ...
                        records = self._batch_decoder.decode(payload)
                    else:
                        records = [self._decoder.decode(payload)]
                except msgspec.DecodeError:
                    self.control.undecodable += 1
                    continue
                first = frame_seq & ~BATCH_FLAG
                for i, record in enumerate(records):
                    table = TABLE_OF[type(record)]
                    rows[table].append(row_values(TABLES[table], run_id, first + i, record))
                count += len(records)
            off = scan.offset
            segment_done = scan.end is not ScanEnd.LIMIT and (recovering or seg < limit_seg)
            if scan.end is ScanEnd.TORN and not recovering:
                log.warning("journal: torn frame in live segment %d at offset %d", seg, off)
            if not segment_done:
                break
            finished.append(seg)
            seg, off = seg + 1, HEADER_SIZE
        new_position = pack_position(seg, off)
        if new_position != self.position:
            self.sink.write(rows, self.journal_id, new_position, time.time_ns())
            if self.sink_failed:
                self.sink_failed = False
                self.control.error = ""
            self._publish(new_position, persist=False)
            self.drained_records += count
        for number in finished:
            self._forget(number, delete=True)
        return count

    def _publish(self, position: int, *, persist: bool) -> None:
        if persist and self.sink.transactional:
            self.sink.write({}, self.journal_id, position, time.time_ns())
        self.position = position
        self.control.drained = position

    def _map(self, number: int) -> tuple[mmap.mmap, str] | None:
        if number in self._maps:
            return self._maps[number]
        path = self.directory / segment_name(number)
        try:
            mm = map_segment(path)
        except FileNotFoundError:
            return None
        header = read_header(mm)
        if header is None or header.number != number or not header.run_id:
            # not claimed by a producer (yet): nothing to read
            mm.close()
            return None
        self._maps[number] = (mm, header.run_id)
        return self._maps[number]

    def _forget(self, number: int, *, delete: bool) -> None:
        mapped = self._maps.pop(number, None)
        if mapped is not None:
            mapped[0].close()
        if delete:
            (self.directory / segment_name(number)).unlink(missing_ok=True)

    def fsync_segment(self, number: int) -> None:
        """Force the pages of segment ``number`` to disk (for the power-loss guarantee)."""
        try:
            fd = os.open(self.directory / segment_name(number), os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        for number in list(self._maps):
            self._forget(number, delete=False)
