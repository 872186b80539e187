"""Journal benchmarks: hot-path append latency, sink throughput, event-loop lag.

- ``journal_append_us_*``: one ``Journal.append`` (encode + copy into the mmap segment),
  timed per call with perf_counter_ns while the writer process drains into SQLite.
- ``journal_sqlite_rows_per_s`` / ``journal_postgres_rows_per_s``: records appended with no
  writer, then drained by the recovery of the next ``open`` (decode + insert + commit); the
  PostgreSQL figure needs ``THALEX_MM_PG_URL`` or local server binaries (throwaway cluster).
- ``journal_loop_lag_*``, ``loop_lag_added_us_p99`` and the burst figures: event-loop lag
  with the journal on and off, measured in ``journal_lag``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from thalex_mm.bench.journal_lag import Metrics, loop_lag
from thalex_mm.bench.journal_records import sample_records
from thalex_mm.journal.journal import open_journal
from thalex_mm.journal.throwaway_pg import start_cluster


def _append_latency(root: Path, n: int) -> Metrics:
    journal = open_journal(f"sqlite:///{root / 'lat.db'}", writer="process")
    records = sample_records(n)
    samples = np.empty(n, dtype=np.int64)
    clock = time.perf_counter_ns
    append = journal.append
    for i, record in enumerate(records):
        t0 = clock()
        append(record)
        samples[i] = clock() - t0
    journal.flush(60)
    journal.close()
    us = samples / 1e3
    return {
        "journal_append_us_median": round(float(np.median(us)), 3),
        "journal_append_us_p99": round(float(np.percentile(us, 99)), 3),
        "journal_append_us_max": round(float(us.max()), 1),
    }


def _drain_rate(url: str, root: Path, n: int, tag: str) -> float:
    seg = root / f"seg-{tag}"
    journal = open_journal(url, segment_dir=seg, writer="none", segment_size=64 << 20)
    for record in sample_records(n):
        journal.append(record)
    journal.close()
    t0 = time.perf_counter()
    # a small new segment: the timed open is the recovery, not the zero-fill of a fresh one
    again = open_journal(url, segment_dir=seg, writer="none", segment_size=1 << 16)
    elapsed = time.perf_counter() - t0
    drained = again.recovered_records
    again.close()
    if drained != n:
        raise RuntimeError(f"drained {drained} of {n} records")
    return n / elapsed


def _pg_url() -> tuple[str | None, Callable[[], None], str, Path | None]:
    """(url, stop, how, data directory of a throwaway cluster or None)."""
    url = os.environ.get("THALEX_MM_PG_URL")
    if url:
        return url, lambda: None, "THALEX_MM_PG_URL", None
    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        return None, lambda: None, str(exc), None
    how = "throwaway local cluster (fsync=off)"
    return cluster.url, cluster.stop, how, cluster.root / "data"


def run(quick: bool) -> Metrics:
    root = Path(tempfile.mkdtemp(prefix="thalex-mm-bench-journal-"))
    metrics: Metrics = {}
    try:
        metrics.update(_append_latency(root, 20_000 if quick else 200_000))
        n_drain = 20_000 if quick else 100_000
        metrics["journal_sqlite_rows_per_s"] = round(
            _drain_rate(f"sqlite:///{root / 'drain.db'}", root, n_drain, "sqlite")
        )
        url, stop, how, pg_data = _pg_url()
        try:
            if url is None:
                metrics["journal_postgres_note"] = f"skipped: {how}"
            else:
                metrics["journal_postgres_rows_per_s"] = round(
                    _drain_rate(url, root, n_drain, "pg")
                )
                metrics["journal_postgres_note"] = how
            metrics.update(
                loop_lag(
                    root,
                    rounds=4 if quick else 16,
                    chunk_s=0.2 if quick else 0.5,
                    pg_url=url,
                    pg_data=pg_data,
                    extra_variants=not quick,
                )
            )
        finally:
            stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return metrics
