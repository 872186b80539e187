"""Journal settings, with the defaults explained."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from thalex_mm.errors import UserError
from thalex_mm.journal.sinks.base import DEFAULT_URL, scheme_of, sqlite_path

MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class JournalSettings:
    url: str = DEFAULT_URL
    # Where the memory-mapped segments live; default: next to the SQLite file, or ./data/.
    segment_dir: Path = Path("data/journal-segments")
    # 32 MiB ≈ 150k typical records per segment; files are pre-allocated at this size.
    segment_size: int = 32 * MiB
    # "process": drain in a child process (no GIL contention with the event loop);
    # "thread": drain in a daemon thread (instant start, fine for tools and tests);
    # "none": no writer (tests, benchmarks): segments are drained by the next open.
    writer: Literal["thread", "process", "none"] = "process"
    # The writer wakes this often and drains at most ``batch`` records per transaction:
    # small, frequent slices keep its CPU bursts short (see writer.SLICE_PAUSE_S).
    drain_interval_ms: float = 2.0
    # "idle": the writer process runs at SCHED_IDLE (Linux), so the engine's event loop
    # preempts it at once when it wakes; measured on a 2-vCPU VM at a 10,000 records/s burst,
    # the p99 loop lag with the writer at normal priority was ~150 us above journal-off, at
    # idle ~30 us (noise ~30 us). Under full CPU load an idle writer falls behind and the
    # back-pressure policy applies. "normal": the default scheduler class.
    writer_priority: Literal["idle", "normal"] = "idle"
    # The CPUs the writer process may run on (Linux); empty: wherever the engine may. With the
    # event loop on a core of its own (run.cpu), the writer goes to the other cores: an idle
    # writer on a busy-polled core would get almost no CPU, and would preempt the loop.
    writer_cpus: tuple[int, ...] = ()
    # fsync the active segment this often (0 = leave it to the kernel's writeback, ~30 s).
    fsync_interval_ms: float = 0.0
    batch: int = 128
    # Back-pressure: above this undrained backlog the engine must stop opening risk ...
    max_backlog_bytes: int = 256 * MiB
    # ... and above this one market snapshots are shed (counted in dropped_market).
    market_shed_bytes: int = 32 * MiB
    # ... and when records wait but the writer has committed nothing for this long (a full
    # disk, a database that refuses writes), whatever the backlog's size. 0: never.
    max_commit_stall_s: float = 5.0
    # Market snapshots offered via offer_market are sampled at most this often per instrument.
    market_interval_ms: float = 100.0
    lock_timeout_s: float = 10.0
    # On close (or parent death) the writer keeps draining at most this long.
    final_drain_s: float = 10.0

    @classmethod
    def for_url(cls, url: str | None = None, **overrides: Any) -> JournalSettings:
        """Settings for ``url`` (default SQLite), with the segment dir derived from it."""
        url = url or DEFAULT_URL
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise UserError(f"unknown journal setting(s): {', '.join(unknown)}")
        settings = cls(url=url)
        if scheme_of(url) == "sqlite":
            db = sqlite_path(url)
            settings = replace(settings, segment_dir=db.parent / f"{db.stem}-segments")
        if "segment_dir" in overrides:
            overrides["segment_dir"] = Path(overrides["segment_dir"])
        if "writer_cpus" in overrides:
            overrides["writer_cpus"] = tuple(overrides["writer_cpus"])
        settings = replace(settings, **overrides)
        if settings.writer not in ("thread", "process", "none"):
            raise UserError(
                f"journal writer must be 'process', 'thread' or 'none', not {settings.writer!r}"
            )
        if any(not isinstance(cpu, int) or cpu < 0 for cpu in settings.writer_cpus):
            raise UserError(
                f"journal writer_cpus must be CPU numbers, not {list(settings.writer_cpus)!r}"
            )
        if settings.writer_priority not in ("idle", "normal"):
            raise UserError(
                "journal writer_priority must be 'idle' or 'normal', "
                f"not {settings.writer_priority!r}"
            )
        return settings
