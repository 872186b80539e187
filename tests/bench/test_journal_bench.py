"""The journal benchmark's loop-lag part produces every condition it names, pairs each "on"
chunk with an "off" twin, and keeps the diagnostic variants out of the headline figure
(no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

from thalex_mm.bench import journal as journal_bench


def test_loop_lag_reports_every_condition_and_the_bursts(tmp_path: Path) -> None:
    metrics = journal_bench._loop_lag(tmp_path, rounds=2, chunk_s=0.05, pg_url=None)
    names = ("200rps_sqlite", "10krps_batched_sqlite", "10krps_sqlite", "10krps_thread",
             "10krps_appends_only", "10krps_batched_appends_only")  # fmt: skip
    for name in names:
        for side in ("on", "off"):
            assert metrics[f"journal_loop_lag_us_p99_{side}_{name}"] >= 0
        assert f"journal_loop_lag_added_us_p99_{name}" in metrics
    # each 10k burst is 10 records: it takes time, and it was timed for every condition
    for name in names[1:]:
        p50, p99 = (float(metrics[f"journal_burst_us_{q}_{name}"]) for q in ("p50", "p99"))
        assert 0 < p50 <= p99
    assert "journal_burst_us_p50_200rps_sqlite" not in metrics
    # the headline is the worst of the real sinks at the engine's way of appending (one
    # batch per event), never a diagnostic variant
    headline = [
        metrics["journal_loop_lag_added_us_p99_200rps_sqlite"],
        metrics["journal_loop_lag_added_us_p99_10krps_batched_sqlite"],
    ]
    assert metrics["loop_lag_added_us_p99"] == max(float(v) for v in headline)
    # the appends-only journal has no writer, so it never reports a catch-up time
    assert "journal_catch_up_ms_max_10krps_appends_only" not in metrics
    assert "journal_catch_up_ms_max_10krps_sqlite" in metrics


def test_quick_runs_leave_the_diagnostic_variants_out(tmp_path: Path) -> None:
    metrics = journal_bench._loop_lag(
        tmp_path, rounds=1, chunk_s=0.05, pg_url=None, extra_variants=False
    )
    assert not any("appends_only" in k or "thread" in k for k in metrics)
    assert "journal_loop_lag_added_us_p99_10krps_sqlite" in metrics
    assert "journal_loop_lag_added_us_p99_10krps_batched_sqlite" in metrics
