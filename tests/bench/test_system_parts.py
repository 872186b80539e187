"""The system benchmarks' pure parts: statistics, phase order, drop accounting, config."""

from __future__ import annotations

import asyncio
import math
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.bench import engine_load, sampling, sustained
from thalex_mm.bench.exchange_proc import ListedInstrument

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=60)
@given(st.lists(finite, min_size=1, max_size=200), st.floats(min_value=0.0, max_value=100.0))
def test_percentile_is_the_nearest_rank(values: list[float], q: float) -> None:
    p = sampling.percentile(values, q)
    assert p in values
    at_or_below = sum(v <= p for v in values)
    strictly_below = sum(v < p for v in values)
    # at least q% of the values are <= p, and fewer than q% are strictly below it
    assert at_or_below >= q / 100.0 * len(values) - 1e-9
    assert strictly_below < max(q / 100.0 * len(values), 1)


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(sampling.percentile([], 50))


@settings(max_examples=60)
@given(
    st.floats(min_value=-100, max_value=100),
    st.floats(min_value=-10, max_value=10),
    # sample times in whole milliseconds, as a sampler takes them (times 1e-55 s apart make
    # the values equal in floating point: no slope to recover)
    st.lists(st.integers(min_value=0, max_value=600_000), min_size=2, max_size=50, unique=True),
)
def test_slope_recovers_a_line(intercept: float, per_s: float, times_ms: list[int]) -> None:
    times = [t / 1000.0 for t in times_ms]
    values = [intercept + per_s * t for t in times]
    assert math.isclose(
        sampling.slope_per_minute(times, values), per_s * 60, rel_tol=1e-6, abs_tol=1e-6
    )


def test_slope_needs_two_distinct_times() -> None:
    assert sampling.slope_per_minute([1.0], [5.0]) == 0.0
    assert sampling.slope_per_minute([2.0, 2.0], [1.0, 9.0]) == 0.0


def test_rss_reads_vmrss_and_its_parts(tmp_path: Path) -> None:
    path = tmp_path / "status"
    path.write_text(
        "Name:\tpython\nVmPeak:\t 9999 kB\nVmRSS:\t   51200 kB\nRssAnon:\t 20480 kB\n"
        "RssFile:\t 30720 kB\nRssShmem:\t0 kB\n",
        encoding="ascii",
    )
    assert sampling.rss_mb(str(path)) == 50.0
    parts = sampling.memory_mb(str(path))
    assert parts == {"VmRSS": 50.0, "RssAnon": 20.0, "RssFile": 30.0, "RssShmem": 0.0}
    assert parts["RssAnon"] + parts["RssFile"] + parts["RssShmem"] == parts["VmRSS"]
    assert sampling.rss_mb() > 1.0  # this process, from /proc or getrusage


def test_counting_stream_counts_bytes_and_lines() -> None:
    stream = sampling.CountingStream(keep_lines=1)
    texts = ["héllo\n", "a\nb\n", "x" * 50]
    for text in texts:
        stream.write(text)
    assert stream.bytes == sum(len(t.encode("utf-8")) for t in texts)
    assert stream.lines == sum(t.count("\n") for t in texts)
    assert stream.max_write == 50
    assert stream.samples == ["héllo\n"]


async def test_lag_recorder_sees_a_blocked_loop() -> None:
    lag = sampling.LagRecorder()
    lag.phase = "quiet"
    lag.start()
    await asyncio.sleep(0.03)
    lag.phase = "blocked"
    await asyncio.sleep(0.005)
    time.sleep(0.05)  # the loop cannot run the ticker for 50 ms
    await asyncio.sleep(0.01)
    lag.phase = ""
    await lag.stop()
    blocked = lag.summary_us(["blocked"])
    assert blocked["tick_late_max"] >= 40_000  # the stall shows up as lateness
    assert set(lag.late_ns) == {"quiet", "blocked"}
    assert len(lag.probe_ns["quiet"]) >= 1


def test_sample_store_keeps_phases_and_drops_beyond_capacity() -> None:
    store = sampling.SampleStore(capacity=5)
    for i, phase in enumerate(["a", "b", "a", "c", "b", "a", "a"]):
        store.add(phase, i * 10)
    assert store.by_phase() == {"a": [0, 20], "b": [10, 40], "c": [30]}
    assert store.count == 5 and store.overflow == 2


def test_series_store_keeps_pairs_in_order_and_drops_beyond_capacity() -> None:
    store = sampling.SeriesStore(capacity=3)
    for i in range(5):
        store.add(i * 0.5, 100.0 + i)
    assert store.pairs() == [(0.0, 100.0), (0.5, 101.0), (1.0, 102.0)]
    assert store.count == 3 and store.overflow == 2


def test_series_store_adds_without_allocating() -> None:
    """The memory benchmark's own samples must not read as the engine's growth."""
    store = sampling.SeriesStore(capacity=20_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(20_000):
            store.add(i * 1.0, 50.0 + i * 1e-3)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert store.count == 20_000
    assert grown < 4096  # a list of 20,000 tuples would be ~2 MB


def test_journal_phases_alternate_in_abba_order() -> None:
    order = [engine_load.journal_on(i) for i in range(8)]
    assert order == [True, False, False, True, True, False, False, True]
    for pair in range(4):  # every pair has exactly one journal-on phase
        assert order[2 * pair] != order[2 * pair + 1]


def test_journal_pairs_match_phase_names() -> None:
    phases = {
        "on0": {"probe_p99": 30.0},
        "off0": {"probe_p99": 10.0},
        "off1": {"probe_p99": 12.0},
        "on1": {"probe_p99": 11.0},
        "on2": {"probe_p99": 99.0},  # incomplete pair: ignored
    }
    assert sustained.journal_pairs(phases, "probe_p99") == [(30.0, 10.0), (11.0, 12.0)]


def _result(frames_out: int, received: int, dropped: int = 0, slow: int = 0) -> dict[str, object]:
    return {
        "reconnects": 0,
        "count": {
            "session": {"frames_out": frames_out, "frames_dropped": dropped},
            "client_frames": received,
            "exchange": {"slow_consumer_disconnects": slow},
        },
    }


def test_dropped_counts_every_kind_of_loss() -> None:
    assert sustained.dropped(_result(1000, 1000)) == 0
    assert sustained.dropped(_result(1000, 990)) == 10
    assert sustained.dropped(_result(1000, 1000, dropped=3, slow=1)) == 4
    lost = _result(10, 10)
    lost["count"]["session"] = {}  # type: ignore[index]
    assert sustained.dropped(lost) == -1


def _listed(n: int) -> tuple[ListedInstrument, ...]:
    syn = [
        ListedInstrument(f"SYN{i:03d}-PERPETUAL", 0.01, 0.01, f"FSYN{i:03d}USD") for i in range(n)
    ]
    btc = ListedInstrument("BTC-PERPETUAL", 0.001, 0.001, "FBTCUSD")
    return (*syn, btc)


def test_config_quotes_the_first_n_btc_first_within_the_rate_limit() -> None:
    cfg = engine_load.build_config(_listed(120), 100)
    names = cfg.instrument_names
    assert len(names) == 100 and names[0] == "BTC-PERPETUAL"
    updates_per_s = sum(1000.0 / i.orders.min_update_interval_ms for i in cfg.instruments)
    assert updates_per_s <= 45.0  # the client keeps 90% of the venue's 50 msg/s
    assert all(i.orders.mass_quote for i in cfg.instruments)
    assert cfg.run.book_depth == 0  # ticker + top of book: the paced channels
    one = engine_load.build_config(_listed(5), 1)
    assert one.instrument_names == ("BTC-PERPETUAL",)
    quote = one.instruments[0].quote
    assert quote.lot_size is None and quote.ladder.base_size_lots == 1  # one level: a lot
    assert quote.gamma_usd == pytest.approx(0.1 / 0.001)
