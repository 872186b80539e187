"""The journal benchmark's loop-lag part produces every condition it names, pairs each "on"
chunk with an "off" twin, and keeps the diagnostic variants out of the headline figure
(no timing is asserted)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace

from thalex_mm.bench import journal_lag as journal_bench
from thalex_mm.bench.cpu import own_core_split

TWO_CPUS = own_core_split() is not None
OWN = ("200rps_sqlite_own_core", "10krps_batched_sqlite_own_core", "10krps_sqlite_own_core")


def test_loop_lag_reports_every_condition_and_the_bursts(tmp_path: Path, monkeypatch) -> None:
    cpus = os.sched_getaffinity(0)
    writer_threads: dict[str, int] = {}  # per journal run: how many writer threads were alive
    real_lag_samples = journal_bench._lag_samples

    def lag_samples(journal, *args, **kwargs):  # type: ignore[no-untyped-def]
        alive = [t for t in threading.enumerate() if t.name == "journal-writer"]
        writer_threads[str(journal.directory.name)] = len(alive)
        return real_lag_samples(journal, *args, **kwargs)

    monkeypatch.setattr(journal_bench, "_lag_samples", lag_samples)
    before = {t for t in threading.enumerate() if t.name == "journal-writer"}
    metrics = journal_bench.loop_lag(tmp_path, rounds=2, chunk_s=0.05, pg_url=None)
    names = ("200rps_sqlite", "10krps_batched_sqlite", "10krps_sqlite", "10krps_thread",
             "10krps_appends_only", "10krps_batched_appends_only")  # fmt: skip
    names += OWN if TWO_CPUS else ()
    for name in names:
        for side in ("on", "off"):
            assert metrics[f"journal_loop_lag_us_p99_{side}_{name}"] >= 0
        assert f"journal_loop_lag_added_us_p99_{name}" in metrics
    # each 10k burst is 10 records: it takes time, and it was timed for every condition
    for name in (n for n in names if n.startswith("10krps")):
        p50, p99 = (float(metrics[f"journal_burst_us_{q}_{name}"]) for q in ("p50", "p99"))
        assert 0 < p50 <= p99
    assert "journal_burst_us_p50_200rps_sqlite" not in metrics
    # the headline is the worst of the real sinks at the engine's way of appending (one
    # batch per event), never a diagnostic variant; on a core of its own where there is one
    setup = "_own_core" if TWO_CPUS else ""
    headline = [
        metrics[f"journal_loop_lag_added_us_p99_200rps_sqlite{setup}"],
        metrics[f"journal_loop_lag_added_us_p99_10krps_batched_sqlite{setup}"],
    ]
    assert metrics["loop_lag_added_us_p99"] == max(float(v) for v in headline)
    sleeping = [
        metrics["journal_loop_lag_added_us_p99_200rps_sqlite"],
        metrics["journal_loop_lag_added_us_p99_10krps_batched_sqlite"],
    ]
    assert metrics["loop_lag_added_us_p99_sleeping_loop"] == max(float(v) for v in sleeping)
    # the appends-only journal has no writer, so it never reports a catch-up time
    assert "journal_catch_up_ms_max_10krps_appends_only" not in metrics
    assert "journal_catch_up_ms_max_10krps_sqlite" in metrics
    # the pinned chunks give the CPUs back: the rest of the bench runs where it was
    assert os.sched_getaffinity(0) == cpus
    # the thread writer's journal exists only for its own chunks: its thread (one more than
    # before) runs then and at no other time, and is gone afterwards
    others = len(before)
    assert writer_threads.pop("lag-thr") == others + 1
    assert writer_threads and set(writer_threads.values()) == {others}
    assert {t for t in threading.enumerate() if t.name == "journal-writer"} == before


def test_quick_runs_leave_the_diagnostic_variants_out(tmp_path: Path) -> None:
    metrics = journal_bench.loop_lag(
        tmp_path, rounds=1, chunk_s=0.05, pg_url=None, extra_variants=False
    )
    assert not any("appends_only" in k or "thread" in k for k in metrics)
    assert "journal_loop_lag_added_us_p99_10krps_batched_sqlite" in metrics
    assert "journal_loop_lag_added_us_p99_200rps_sqlite" in metrics
    if TWO_CPUS:  # the headline setup, without the per-record burst
        assert "journal_loop_lag_added_us_p99_10krps_batched_sqlite_own_core" in metrics
        assert not any(k.endswith("_10krps_sqlite") for k in metrics)
    else:
        assert "journal_loop_lag_added_us_p99_10krps_sqlite" in metrics


def test_the_headline_prefers_the_own_core_setup_and_ignores_diagnostics() -> None:
    added = "journal_loop_lag_added_us_p99_"
    metrics: journal_bench.Metrics = {
        added + "200rps_sqlite": 30.0,
        added + "10krps_batched_postgres": 60.0,
        added + "10krps_postgres": 90.0,  # per record: not the engine's way
        added + "200rps_postgres_server_idle": 99.0,
        added + "10krps_batched_appends_only": 98.0,
        added + "200rps_sqlite_own_core": 4.0,
        added + "10krps_batched_postgres_own_core": 7.0,
    }
    out = journal_bench._headline(metrics)
    assert out["loop_lag_added_us_p99"] == 7.0
    assert out["loop_lag_added_us_p99_sleeping_loop"] == 60.0
    assert "core of its own" in str(out["loop_lag_setup"])
    sleeping_only = {k: v for k, v in metrics.items() if not k.endswith("_own_core")}
    out = journal_bench._headline(sleeping_only)
    assert out["loop_lag_added_us_p99"] == out["loop_lag_added_us_p99_sleeping_loop"] == 60.0
    assert "sleeping" in str(out["loop_lag_setup"])


def test_idle_writers_are_parked_off_the_loops_cpu(monkeypatch) -> None:
    """Before each chunk every other condition's writer process goes to the other CPUs; the
    one under test runs anywhere when its loop sleeps; own-core writers (placed by
    ``writer_cpus``) and writers without a process are left alone."""
    placed: dict[int, set[int]] = {}
    monkeypatch.setattr(
        journal_bench, "place", lambda pids, cpus: placed.update(dict.fromkeys(pids, cpus))
    )
    journals = {
        "sqlite": SimpleNamespace(writer_pid=11),
        "postgres": SimpleNamespace(writer_pid=12),
        "sqlite_own_core": SimpleNamespace(writer_pid=13),
        "none": SimpleNamespace(writer_pid=None),
    }
    journal_bench._park_idle_writers(journals, "sqlite", {1}, {0, 1})  # type: ignore[arg-type]
    assert placed == {11: {0, 1}, 12: {1}}
    placed.clear()
    journal_bench._park_idle_writers(journals, "sqlite_own_core", {1}, {0, 1})  # type: ignore[arg-type]
    assert placed == {11: {1}, 12: {1}}
