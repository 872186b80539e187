"""The journal's producer side: what the event loop calls.

``append`` encodes a record (msgpack, one reused encoder) and copies it into the current
memory-mapped segment: no syscall, no lock, no database. Once it returns, the record is in
the page cache of a shared file mapping, so it survives the death of this process and is
written to the database by the drainer (now, or by recovery at the next ``open``).
"""

from __future__ import annotations

import mmap
import os
import socket
import struct
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from thalex_mm.journal.control import Control
from thalex_mm.journal.directory import JournalError, lock_directory, new_run_id
from thalex_mm.journal.drainer import Drainer
from thalex_mm.journal.query import Reader
from thalex_mm.journal.records import WARM_SAMPLE, MarketSnapshot, Record, RunStart, RunStop
from thalex_mm.journal.redact import redact
from thalex_mm.journal.segment import (
    BATCH_FLAG,
    HEADER_SIZE,
    MAX_SEGMENT_SIZE,
    SEAL,
    Prefaulter,
    create_segment_file,
    map_segment,
    segment_name,
    write_header,
)
from thalex_mm.journal.settings import JournalSettings
from thalex_mm.journal.sinks.base import make_sink, redact_url
from thalex_mm.journal.writer import DrainLoop, NoWriter, WriterProcess, WriterThread

_FRAME = struct.Struct("<II")
_U64 = struct.Struct("<Q")
_CTL_COMMITTED = 8
_CTL_DRAINED = 16
_SEAL = struct.Struct("<I")
# ``warm`` re-encodes the last batch appended: only batches up to this size (a requote's),
# so one warm-up stays a few µs; after a larger one it keeps the batch before.
_WARM_MAX_RECORDS = 16


@dataclass(frozen=True, slots=True)
class JournalStats:
    appended: int
    dropped_market: int
    sampled_out_market: int
    backlog_bytes: int
    writer_error: str
    backpressure: str | None


class Journal:
    """One run's journal. Use ``open_journal`` (or ``Journal.open``) to get one."""

    def __init__(self, settings: JournalSettings, run_id: str | None = None) -> None:
        self.settings = settings
        self.run_id = run_id or new_run_id()
        self.directory = settings.segment_dir
        if not 4096 <= settings.segment_size < MAX_SEGMENT_SIZE:
            raise ValueError("segment_size must be at least 4096 bytes and below 4 GiB")
        self._encoder = msgspec.msgpack.Encoder()
        self._buf = bytearray(64)
        self._seq = 0
        self._size = settings.segment_size
        self._market_interval_ns = settings.market_interval_ms * 1_000_000
        self._last_market_ns: dict[str, int] = {}
        self._prefaulter = Prefaulter()
        self._scratch = mmap.mmap(-1, mmap.PAGESIZE)  # what ``warm`` writes to
        self._touched = 0
        # segments this run sealed -> the end of their frames, until the drainer passes them:
        # the backlog counts the bytes really written, not segment numbers (which recovery
        # and crashes skip: 17 numbers apart is not 17 segments of records)
        self._sealed: dict[int, int] = {}
        self._over_limit = False  # the backlog passed max_backlog_bytes and is not down yet
        # commit stall watch: the drained position last seen, and when it last moved (or
        # nothing was waiting)
        self._seen_drained = -1
        self._progress_ns = time.monotonic_ns()
        self._warm_with: Record | Sequence[Record] = WARM_SAMPLE  # the last appended
        self.appended = 0
        self.dropped_market = 0
        self.sampled_out_market = 0
        self.closed = True

    # --- lifecycle -----------------------------------------------------------------------
    def open(self) -> Journal:
        """Lock the directory, recover what a previous run left, then start the writer."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = lock_directory(self.directory, self.settings.lock_timeout_s)
        try:
            self._open_locked()
        except BaseException:
            os.close(self._lock_fd)
            raise
        return self

    def _open_locked(self) -> None:
        self.control = Control(self.directory)
        self._ctl = self.control.mm
        sink = make_sink(self.settings.url)
        try:
            sink.open()
        except Exception as exc:
            self.control.close()
            raise JournalError(
                f"cannot open journal {redact_url(self.settings.url)}: {exc}"
            ) from exc
        drainer = Drainer(self.directory, sink, self.control, batch=self.settings.batch)
        self.recovered_records = 0
        try:
            first = drainer.recover()
        except Exception as exc:
            drainer.close()
            sink.close()
            self.control.close()
            raise JournalError(f"journal recovery failed: {exc}") from exc
        self.recovered_records = drainer.drained_records
        self._claim(first, fill=True)
        s = self.settings
        if s.writer == "thread":
            loop = DrainLoop(drainer, s.segment_size, s.fsync_interval_ms / 1e3, sink_open=True)
            self._writer: WriterThread | WriterProcess | NoWriter = WriterThread(
                loop, s.drain_interval_ms / 1e3, s.final_drain_s
            )
        elif s.writer == "none":
            drainer.close()
            sink.close()
            self._writer = NoWriter()
        else:
            drainer.close()
            sink.close()
            settings = {
                "directory": str(self.directory),
                "url": s.url,
                "batch": s.batch,
                "segment_size": s.segment_size,
                "fsync_s": s.fsync_interval_ms / 1e3,
                "interval_s": s.drain_interval_ms / 1e3,
                "final_drain_s": s.final_drain_s,
                "priority": s.writer_priority,
                "cpus": list(s.writer_cpus),
            }
            self._writer = WriterProcess(settings, self._lock_fd)
        self._writer.start()
        self.closed = False

    def _claim(self, number: int, *, fill: bool = False) -> None:
        """Make segment ``number`` the one appends go to (rare: start and rotation). At a
        rotation the writer's filled spare is normally there; if not, the segment is only
        reserved (``fill`` would write its whole size on the event loop)."""
        path = self.directory / segment_name(number)
        try:
            create_segment_file(self.directory, number, self._size, fill=fill)
            mm = map_segment(path)
        except OSError as exc:
            raise JournalError(f"cannot create journal segment {path}: {exc}") from exc
        if len(mm) != self._size:
            mm.close()
            raise JournalError(f"journal segment {path} has an unexpected size")
        write_header(mm, number, self.run_id)
        self._mm: mmap.mmap = mm
        self._segment = number
        self._seg_base = number << 32
        self._off = HEADER_SIZE
        self._prefaulter.reset()
        _U64.pack_into(self._ctl, _CTL_COMMITTED, self._seg_base | HEADER_SIZE)

    def _rotate(self, body_len: int) -> None:
        if 8 + body_len + 4 > self._size - HEADER_SIZE:
            raise ValueError(f"journal record of {body_len} bytes is larger than a segment")
        old = self._mm
        _SEAL.pack_into(old, self._off, SEAL)
        self._sealed[self._segment] = self._off
        self._claim(self._segment + 1)
        old.close()

    def close(self, reason: str = "", *, timeout_s: float | None = None) -> None:
        """Record RunStop (if ``reason`` given), drain what is left, stop the writer."""
        if self.closed:
            return
        if reason:
            self.append(RunStop(ts_ns=time.time_ns(), reason=reason))
        self._writer.stop(self.settings.final_drain_s + 5 if timeout_s is None else timeout_s)
        self._mm.close()
        self.control.close()
        os.close(self._lock_fd)
        self.closed = True

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- hot path ------------------------------------------------------------------------
    def append(self, record: Record) -> bool:
        """Record one event. Returns False only for a market snapshot shed under overload."""
        if type(record) is MarketSnapshot and self._backlog() > self.settings.market_shed_bytes:
            self.dropped_market += 1
            return False
        buf = self._buf
        seq = self._seq + 1
        _U64.pack_into(buf, 0, seq)
        self._encoder.encode_into(record, buf, 8)
        body_len = len(buf)
        if self._off + 8 + body_len + 4 > self._size:
            self._rotate(body_len)
        self._commit(buf, body_len, seq, 1)
        self._warm_with = record  # (only what encoded: warm must not fail where append did)
        return True

    def append_batch(self, records: Sequence[Record]) -> None:
        """Record what one event produced (a quote decision and its orders, say) as one frame:
        one encode, checksum and copy for all of them, about a quarter of the loop's cost of
        appending them one by one. Each record still gets its own row and sequence number.
        Never shed, so market snapshots do not belong here (``offer_market`` samples them)."""
        count = len(records)
        if count < 2:
            if count:
                self.append(records[0])
            return
        buf = self._buf
        first = self._seq + 1
        _U64.pack_into(buf, 0, first | BATCH_FLAG)
        self._encoder.encode_into(records, buf, 8)
        body_len = len(buf)
        if self._off + 8 + body_len + 4 > self._size:
            if 8 + body_len + 4 > self._size - HEADER_SIZE:  # larger than a segment: split
                for record in records:
                    self.append(record)
                return
            self._rotate(body_len)
        self._commit(buf, body_len, first + count - 1, count)
        if count <= _WARM_MAX_RECORDS:  # a warm-up costs what encoding its records does
            self._warm_with = records

    def _commit(self, buf: bytearray, body_len: int, last_seq: int, count: int) -> None:
        """Copy the encoded body in, then its header (length and checksum) last: a reader,
        or the recovery after a kill, never sees a length whose bytes are not all there."""
        off = self._off
        end = off + 8 + body_len
        mm = self._mm
        mm[off + 8 : end] = buf
        _FRAME.pack_into(mm, off, body_len, zlib.crc32(buf))
        self._off = end
        self._seq = last_seq
        _U64.pack_into(self._ctl, _CTL_COMMITTED, self._seg_base | end)
        self.appended += count

    def warm(self) -> None:
        """Run the append path on scratch memory, with the last records appended (a batch of
        at most ``_WARM_MAX_RECORDS``), so that the next real append finds its code and data
        cached; the busy-polling loop calls it between events (app/polling.py). Nothing a
        reader, the writer or the recovery sees changes: the segment is only read."""
        if self.closed:
            return
        buf = self._buf
        _U64.pack_into(buf, 0, BATCH_FLAG)
        try:
            self._encoder.encode_into(self._warm_with, buf, 8)
        except Exception:  # e.g. the caller changed a batch list after appending it
            self._warm_with = WARM_SAMPLE
            return
        body_len = len(buf)
        if 8 + body_len > len(self._scratch):  # (rare: a larger batch than any before)
            self._scratch = mmap.mmap(-1, 2 * (8 + body_len))
        scratch = self._scratch
        scratch[8 : 8 + body_len] = buf
        _FRAME.pack_into(scratch, 0, body_len, zlib.crc32(buf))
        self._touched = self._mm[self._off]  # the page the next append writes to

    @property
    def writer_pid(self) -> int | None:
        """The writer process's pid; None for the thread writer or none."""
        return self._writer.pid

    def prefault(self) -> int:
        """Map the next pages of the segment in ahead of the appends (call it from a timer,
        not per record); the bytes populated, 0 when done or unsupported."""
        if self.closed:
            return 0
        return self._prefaulter.step(self._mm, self._off)

    def market_due(self, instrument: str, ts_ns: int) -> bool:
        """Whether a market snapshot of ``instrument`` at ``ts_ns`` would be kept: callers ask
        first, so the ~9 of 10 market messages sampled out cost no record building."""
        last = self._last_market_ns.get(instrument)
        if last is not None and ts_ns - last < self._market_interval_ns:
            self.sampled_out_market += 1
            return False
        return True

    def offer_market(self, snapshot: MarketSnapshot) -> bool:
        """Append a market snapshot if ``market_interval_ms`` has passed for its instrument."""
        if not self.market_due(snapshot.instrument, snapshot.ts_ns):
            return False
        if self.append(snapshot):
            self._last_market_ns[snapshot.instrument] = snapshot.ts_ns
            return True
        return False

    def _backlog(self) -> int:
        """Bytes appended but not yet drained: frames this run wrote past the drained position."""
        drained: int = _U64.unpack_from(self._ctl, _CTL_DRAINED)[0]
        d_seg = drained >> 32
        if d_seg == self._segment:  # the usual case: the drainer is in our segment
            return max(0, self._off - (drained & 0xFFFFFFFF))
        if d_seg > self._segment:
            return 0
        sealed = self._sealed
        total = self._off - HEADER_SIZE
        for number in list(sealed):
            end = sealed[number]
            if number > d_seg:
                total += end - HEADER_SIZE
            elif number == d_seg:
                total += max(0, end - (drained & 0xFFFFFFFF))
            else:
                del sealed[number]  # drained
        return total

    # --- status --------------------------------------------------------------------------
    @property
    def backpressure(self) -> str | None:
        """Why the engine must stop opening new risk, or None. Poll it (cheap, no I/O)."""
        if self.closed:
            return "journal is closed"
        if not self._writer.alive:
            return self._writer.describe_exit()
        backlog = self._backlog()
        stall = self._commit_stall_s(backlog)
        if stall is not None:
            error = self.control.error
            cause = f"writer error: {error}" if error else "no error reported"
            return (
                f"journal writer has committed nothing for {stall:.0f} s with "
                f"{backlog / 1e6:.1f} MB waiting ({cause})"
            )
        limit = self.settings.max_backlog_bytes
        # hysteresis: once over the limit, clear only below half of it (no flapping)
        if backlog > limit or (self._over_limit and backlog > limit // 2):
            self._over_limit = True
            error = self.control.error
            why = f" (writer error: {error})" if error else ""
            return (
                f"journal writer is {backlog / 1e6:.1f} MB behind, over the "
                f"{limit / 1e6:.1f} MB limit{why}"
            )
        self._over_limit = False
        return None

    def _commit_stall_s(self, backlog: int) -> float | None:
        """Seconds the writer has committed nothing while records wait, once that is more
        than ``max_commit_stall_s``; else None. Progress is the drained position moving."""
        limit = self.settings.max_commit_stall_s
        drained: int = _U64.unpack_from(self._ctl, _CTL_DRAINED)[0]
        now = time.monotonic_ns()
        if backlog == 0 or drained != self._seen_drained or limit <= 0:
            self._seen_drained = drained
            self._progress_ns = now
            return None
        stalled = (now - self._progress_ns) / 1e9
        return stalled if stalled > limit else None

    def stats(self) -> JournalStats:
        return JournalStats(
            appended=self.appended,
            dropped_market=self.dropped_market,
            sampled_out_market=self.sampled_out_market,
            backlog_bytes=self._backlog(),
            writer_error=self.control.error,
            backpressure=self.backpressure,
        )

    @property
    def caught_up(self) -> bool:
        drained: int = _U64.unpack_from(self._ctl, _CTL_DRAINED)[0]
        return drained >= self._seg_base | self._off

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait (blocking; not for the event loop) until everything appended is in the sink."""
        deadline = time.monotonic() + timeout_s
        while not self.caught_up:
            if time.monotonic() >= deadline or not self._writer.alive:
                return False
            self._writer.wake()
            time.sleep(0.002)
        return True

    # --- convenience ---------------------------------------------------------------------
    def reader(self) -> Reader:
        """A read connection to this journal's database (for the restart queries)."""
        return Reader(self.settings.url)

    def start_run(
        self,
        *,
        version: str,
        config: dict[str, Any],
        venue: str = "",
        account: str = "",
        strategy: str = "",
        ts_ns: int | None = None,
    ) -> None:
        """Append the RunStart record (config redacted here, so secrets never reach disk)."""
        self.append(
            RunStart(
                ts_ns=time.time_ns() if ts_ns is None else ts_ns,
                version=version,
                venue=venue,
                account=account,
                strategy=strategy,
                host=socket.gethostname(),
                pid=os.getpid(),
                config=redact(config),
            )
        )


def open_journal(url: str | None = None, **overrides: Any) -> Journal:
    """Open (and recover) the journal the app writes to; ``url`` defaults to SQLite.

    ``overrides`` are ``JournalSettings`` fields (segment_dir, writer, fsync_interval_ms, ...)
    plus ``run_id``.
    """
    run_id = overrides.pop("run_id", None)
    settings = JournalSettings.for_url(url, **overrides)
    return Journal(settings, run_id=run_id).open()
