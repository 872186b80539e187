"""The snapshot file: the engine writes it in place, any number of readers map it.

A file in ``/dev/shm`` (RAM; the temp folder where there is none), named by the run id,
mapped with ``mmap``. Each section is guarded by a seqlock: the writer makes its sequence
number odd, packs the fields with one ``struct.pack_into`` and makes it even again, so it
never waits for a reader; a reader copies a section and keeps it only if the number was
even and unchanged around the copy, so it never keeps a torn one. Stores and loads keep
their program order on x86-64 (and the interpreter never reorders them); see
docs/monitoring.md for readers in other languages.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thalex_mm.errors import UserError
from thalex_mm.monitor import layout

_SEQ = struct.Struct("<Q")
_HEADER = layout.HEADER.struct
_RUN = layout.RUN.struct
_STATIC = layout.STATIC.struct
_FAST = layout.FAST.struct


def _fast_struct(nb: int, na: int) -> struct.Struct:
    """The fast section after its sequence number with ``nb`` bids and ``na`` asks (the
    unused entries zeroed), so a write is one ``pack_into``."""
    m = layout.MAX_LEVELS
    head = layout.FAST_HEAD.struct.format.lstrip("<")
    bids = f"{nb}q{8 * (m - nb)}x" * 2
    asks = f"{na}q{8 * (m - na)}x" * 2
    return struct.Struct(f"<{head}{bids}{asks}")


# by the number of bids, then of asks
_FAST_BY = [
    [_fast_struct(b, a) for a in range(layout.MAX_LEVELS + 1)] for b in range(layout.MAX_LEVELS + 1)
]
_SLOW = layout.SLOW.struct
PREFIX = "thalex-mm-"
SUFFIX = ".snap"


def default_dir() -> Path:
    """Where snapshots live: /dev/shm (memory, not disk) if the system has it."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() else Path(tempfile.gettempdir())


def snapshot_path(run_id: str, directory: Path | None = None) -> Path:
    return (directory or default_dir()) / f"{PREFIX}{run_id}{SUFFIX}"


class SnapshotWriter:
    """Creates the file and writes its sections in place (the engine's side)."""

    def __init__(
        self,
        path: Path,
        *,
        run_id: str,
        instruments: Sequence[tuple[str, float, float]],  # name, tick size, amount step
        venue: str = "",
        mode: str = "",
    ) -> None:
        self.path = path
        self.names = tuple(name for name, _, _ in instruments)
        size = layout.file_size(len(instruments))
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise UserError(f"cannot create the live snapshot {path}: {exc.strerror}") from None
        try:
            os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._buf = memoryview(self._map)
        # the same memory as uint64 words: a sequence number is one aligned 8-byte store
        self._words = self._buf.cast("Q")
        self.fast_offsets = [
            layout.instrument_offset(i) + layout.FAST_OFFSET for i in range(len(self.names))
        ]
        self.slow_offsets = [
            layout.instrument_offset(i) + layout.SLOW_OFFSET for i in range(len(self.names))
        ]
        for i, (name, tick, step) in enumerate(instruments):
            self.write_static(i, name, tick, step)
        nan = float("nan")
        for i in range(len(self.names)):
            self.write_fast(i, 0, 0, (0, 0, 0, 0, 0, 0, *([nan] * 9), 0, nan, 0, 0, 0))
        _HEADER.pack_into(
            self._buf, 0, b"\0" * 8, layout.VERSION, layout.HEADER.size, layout.RUN.size,
            layout.INSTRUMENTS_OFFSET, layout.INSTRUMENT_SIZE, len(instruments),
            layout.MAX_LEVELS, layout.N_BUCKETS, os.getpid(), time.time_ns(), *layout.BUCKETS_US,
            layout.encode_text(run_id, 48), layout.encode_text(venue, 96),
            layout.encode_text(mode, 64),
        )  # fmt: skip
        self._buf[0:8] = layout.MAGIC  # last: a reader that sees the magic sees a whole header
        self.closed = False

    def write_static(self, i: int, name: str, tick_size: float, amount_step: float) -> None:
        """Instrument ``i``'s name and sizes (once the venue's specs are known)."""
        _STATIC.pack_into(
            self._buf,
            layout.instrument_offset(i),
            layout.encode_text(name, 48),
            tick_size,
            amount_step,
        )

    def write_run(self, *values: Any) -> None:
        """The run section's fields in ``layout.RUN`` order."""
        words, at = self._words, layout.RUN_OFFSET >> 3
        seq = words[at] + 1
        words[at] = seq  # odd: inside
        _RUN.pack_into(self._buf, layout.RUN_OFFSET + 8, *values)
        words[at] = seq + 1

    def write_fast(self, i: int, bids: int, asks: int, values: tuple[Any, ...]) -> None:
        """Instrument ``i``'s fast section: ``values`` are the ``layout.FAST_HEAD`` fields
        (market, model, position), then the ticks and lots of our ``bids`` bids, then those
        of our ``asks`` asks (at most max_levels each; the unused entries are zeroed)."""
        off = self.fast_offsets[i]
        words, at = self._words, off >> 3
        seq = words[at] + 1
        words[at] = seq
        _FAST_BY[bids][asks].pack_into(self._buf, off + 8, *values)
        words[at] = seq + 1

    def write_slow(self, i: int, *values: Any) -> None:
        """Instrument ``i``'s slow section (``layout.SLOW`` order): PnL, counters, latency."""
        off = self.slow_offsets[i]
        words, at = self._words, off >> 3
        seq = words[at] + 1
        words[at] = seq
        _SLOW.pack_into(self._buf, off + 8, *values)
        words[at] = seq + 1

    def close(self, *, remove: bool = True) -> None:
        """Unmap (readers keep their own mapping of the last state) and remove the file."""
        if self.closed:
            return
        self.closed = True
        self._words.release()
        self._buf.release()
        self._map.close()
        if remove:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


class SnapshotBusyError(Exception):
    """A section stayed mid-write for longer than a reader waits (the writer died in it)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent read: each section whole (sections are read one after another)."""

    header: dict[str, Any]
    run: dict[str, Any]
    instruments: list[dict[str, Any]]  # static, fast and slow fields of each instrument
    read_ns: int

    @property
    def run_id(self) -> str:
        return str(self.header["run_id"])


def read_section(buf: Any, offset: int, st: struct.Struct, spins: int = 100_000) -> tuple[Any, ...]:
    """The section at ``offset``, copied whole: retried while the writer is inside it."""
    seq_at = _SEQ.unpack_from
    for n in range(spins):
        before = seq_at(buf, offset)[0]
        if not before & 1:
            values = st.unpack_from(buf, offset + 8)
            if seq_at(buf, offset)[0] == before:
                return values
        if n & 63 == 63:
            time.sleep(0)  # let the writer's thread or process run
    raise SnapshotBusyError(f"section at {offset} stayed mid-write")


def _named(section: layout.Section, values: Sequence[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    i = 0
    for f in section.fields:
        if f.fmt.endswith("s"):
            out[f.name] = layout.decode_text(values[i])
            i += 1
        elif f.count == 1:
            out[f.name] = values[i]
            i += 1
        else:
            out[f.name] = list(values[i : i + f.count])
            i += f.count
    return out


def _levels(s: dict[str, Any], side: str, sign: int) -> tuple[list[float], list[float]]:
    """Prices and sizes of our levels on ``side``, best first (``sign`` -1 for bids)."""
    n = min(s[f"{side}_levels"], layout.MAX_LEVELS)
    ticks, lots = s[f"{side}_ticks"][:n], s[f"{side}_sizes"][:n]
    pairs = sorted(zip(ticks, lots, strict=True), key=lambda pl: sign * pl[0])
    tick, step = s["tick_size"], s["amount_step"]
    return [p * tick for p, _ in pairs], [q * step for _, q in pairs]


def derive(s: dict[str, Any]) -> dict[str, Any]:
    """Prices and amounts from the ticks and lots (the static part's tick_size and
    amount_step), our levels sorted best first, the book's mid and our spread."""
    tick, step = s["tick_size"], s["amount_step"]
    nan = float("nan")
    s["best_bid"] = s["best_bid_ticks"] * tick if s["best_bid_lots"] else nan
    s["best_ask"] = s["best_ask_ticks"] * tick if s["best_ask_lots"] else nan
    s["bid_amount"], s["ask_amount"] = s["best_bid_lots"] * step, s["best_ask_lots"] * step
    s["mid"] = 0.5 * (s["best_bid"] + s["best_ask"])
    s["position"] = s["position_lots"] * step
    s["bid_price"], s["bid_size"] = _levels(s, "bid", -1)
    s["ask_price"], s["ask_size"] = _levels(s, "ask", 1)
    has_both = s["bid_price"] and s["ask_price"]
    s["spread"] = s["ask_price"][0] - s["bid_price"][0] if has_both else nan
    return s


class SnapshotReader:
    """Maps a snapshot file read-only; ``read()`` returns one consistent ``Snapshot``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with path.open("rb") as f:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise UserError(f"no live snapshot at {path} (is the run still going?)") from None
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot map the live snapshot {path}: {exc}") from None
        buf = self._map
        if len(buf) < layout.HEADER.size or buf[0:8] != layout.MAGIC:
            self._map.close()
            raise UserError(f"{path} is not a thalex-mm snapshot (or it is still being created)")
        self.header = _named(layout.HEADER, _HEADER.unpack_from(buf, 0))
        if self.header["version"] != layout.VERSION:
            self._map.close()
            raise UserError(
                f"{path}: snapshot layout version {self.header['version']}, this thalex-mm "
                f"reads version {layout.VERSION}"
            )

    def read(self) -> Snapshot:
        buf = self._map
        run = _named(layout.RUN, read_section(buf, layout.RUN_OFFSET, _RUN))
        instruments = []
        for i in range(int(self.header["instrument_count"])):
            base = layout.instrument_offset(i)
            static = _named(layout.STATIC, _STATIC.unpack_from(buf, base))  # written before use
            fast = _named(layout.FAST, read_section(buf, base + layout.FAST_OFFSET, _FAST))
            slow = _named(layout.SLOW, read_section(buf, base + layout.SLOW_OFFSET, _SLOW))
            slow["slow_updated_ns"] = slow.pop("updated_ns")
            instruments.append(derive({**static, **fast, **slow}))
        return Snapshot(self.header, run, instruments, time.time_ns())

    def engine_alive(self) -> bool:
        """False once the engine's process is gone (a crash leaves its snapshot behind)."""
        try:
            os.kill(int(self.header["pid"]), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def close(self) -> None:
        self._map.close()


def list_snapshots(directory: Path | None = None) -> list[Path]:
    """Snapshot files in ``directory``, newest first."""
    d = directory or default_dir()
    found = [p for p in d.glob(f"{PREFIX}*{SUFFIX}") if p.is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def remove_stale(directory: Path | None = None) -> list[Path]:
    """Remove the snapshots of engines whose process is gone (crashed or killed): the next
    run on the machine tidies up what a crash left in shared memory."""
    removed = []
    for path in list_snapshots(directory):
        try:
            reader = SnapshotReader(path)
        except UserError:
            continue  # not ours, or still being created
        try:
            alive = reader.engine_alive()
        finally:
            reader.close()
        if not alive:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def resolve(target: str | None, directory: Path | None = None) -> Path:
    """A run id, a path, or None (the newest snapshot) -> the file to attach to."""
    if target is None:
        found = list_snapshots(directory)
        if not found:
            where = directory or default_dir()
            raise UserError(f"no running engine found: no {PREFIX}*{SUFFIX} in {where}")
        return found[0]
    p = Path(target)
    if p.exists() or os.sep in target:
        return p
    return snapshot_path(target, directory)


@contextlib.contextmanager
def attached(target: str | None, directory: Path | None = None) -> Iterator[SnapshotReader]:
    reader = SnapshotReader(resolve(target, directory))
    try:
        yield reader
    finally:
        reader.close()
