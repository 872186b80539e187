"""Journal benchmark, event-loop lag: what the journal adds to the lateness of a 1 ms ticker.

``journal_loop_lag_us_p99_{off,on}_<condition>``: p99 lateness of a 1 ms asyncio ticker
(uvloop) while a producer task appends records, with the default (process) writer draining
into the sink (``sqlite`` or ``postgres``). Conditions: ``200rps_<sink>``, 200 records/s
(one every 5 ms); ``10krps_batched_<sink>``, a 10,000 records/s burst as 10 records every
1 ms in one ``append_batch``, which is how the engine journals what one event produced (an
order action per order of a requote, the quote decisions, an update with its fills);
``10krps_<sink>``, the same burst appended one call per record (PostgreSQL in full runs
only). *off* runs the same producer task on the same schedule without appending, so the
difference is the journal's alone (appends + writer), not one more timer task.
``journal_loop_lag_added_us_p99_<condition>``: the median over rounds of (on - off) of
adjacent chunks. ``<sink>_own_core`` conditions run the loop as ``run.cpu`` +
``run.busy_poll`` do: pinned to one CPU and polling instead of sleeping, with the writer
process and the throwaway PostgreSQL server on the other CPUs (machines with two or more).
On a sleeping loop the work right after each wake-up runs cache-cold (on this 2-vCPU VM
~7x its warm time at p99), so the loop's own p99 and the journal's share of it both swell.
``loop_lag_added_us_p99`` is the largest of the ``200rps`` and ``10krps_batched`` ones (the
issue's target, at the engine's way of appending) in the own-core setup, the one for live
quoting; ``loop_lag_added_us_p99_sleeping_loop`` the same for the default sleeping loop;
``loop_lag_setup`` says which setup the headline is. ``--quick`` runs the own-core
conditions and SQLite's sleeping ``200rps`` and ``10krps_batched``.
``..._10krps_thread``: the burst with the thread writer (SQLite), to show what sharing the
GIL costs (full run only). ``..._postgres_server_idle``: PostgreSQL again with the
throwaway server's processes at SCHED_IDLE, to show how much of its figure is the
co-located server's CPU (not part of ``loop_lag_added_us_p99``; full run only).
``..._10krps_appends_only`` / ``..._10krps_batched_appends_only``: the burst into a journal
with no writer at all, i.e. what the appends cost the loop by themselves (full run only).
``journal_burst_us_{p50,p99}_<10krps condition>``: how long each burst of 10 records took;
the ticker and the producer both sleep 1 ms, so most ticks run right after a burst and the
added p99 is close to the burst's p99. Conditions run
interleaved in short chunks, on/off order alternating per round, because a shared VM's
noise hits single chunks hard; the worst chunk is reported too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from thalex_mm.app.polling import keep_polling
from thalex_mm.app.settings import RunSettings
from thalex_mm.bench.cpu import cluster_processes, own_core_split, pinned_to, place, set_idle
from thalex_mm.bench.journal_records import sample_records
from thalex_mm.journal.journal import Journal, open_journal

Metrics = dict[str, float | int | str]


async def _ticker_lags(
    seconds: float,
    producer: Callable[[], Any] | None,
    *,
    busy_poll: bool = False,
    warmers: Sequence[Callable[[], object]] = (),
) -> np.ndarray[Any, Any]:
    lags: list[int] = []
    task = asyncio.ensure_future(producer()) if producer else None
    every_s = RunSettings().warm_interval_us / 1e6  # the engine's default
    poller = asyncio.ensure_future(keep_polling(warmers, every_s)) if busy_poll else None
    clock = time.perf_counter_ns
    end = clock() + int(seconds * 1e9)
    while (now := clock()) < end:
        await asyncio.sleep(0.001)
        lags.append(clock() - now - 1_000_000)
    for started in (task, poller):
        if started:
            started.cancel()
    return np.array(lags[10:], dtype=np.int64)  # skip warm-up


def _lag_samples(
    journal: Journal,
    rate_per_ms: float,
    seconds: float,
    *,
    append: bool,
    batched: bool = False,
    bursts: list[int] | None = None,
    busy_poll: bool = False,
) -> list[int]:
    """The ticker's lateness (ns) while a producer appends (``batched``: each wake-up's
    records in one ``append_batch``, as the engine journals one event's records); ``bursts``
    gets the time each of the producer's bursts of appends took; ``busy_poll``: the loop
    polls instead of sleeping, as with ``run.busy_poll``."""
    records = sample_records(3000)
    clock = time.perf_counter_ns

    async def upkeep() -> None:
        """What the runner's 100 ms timer does for the journal: map the next pages in."""
        while True:
            journal.prefault()
            await asyncio.sleep(0.1)

    async def produce() -> None:
        i = 0
        if rate_per_ms >= 1:
            per_tick, period = int(rate_per_ms), 0.001
        else:
            per_tick, period = 1, 0.001 / rate_per_ms
        timer = asyncio.ensure_future(upkeep())
        try:
            while True:
                if append:
                    t0 = clock()
                    if batched:
                        start = i % len(records)
                        journal.append_batch(records[start : start + per_tick])
                        i += per_tick
                    else:
                        for _ in range(per_tick):
                            journal.append(records[i % len(records)])
                            i += 1
                    if bursts is not None:
                        bursts.append(clock() - t0)
                await asyncio.sleep(period)
        finally:
            timer.cancel()

    # busy polling runs the journal's warmer between events, as the runner does; the "off"
    # twin has no journal to warm (what the journal costs includes its warming)
    warmers: list[Callable[[], object]] = [journal.warm] if append else []
    ticker = _ticker_lags(seconds, produce, busy_poll=busy_poll, warmers=warmers)
    return list(_run_loop(ticker))


def _run_loop(coro: Any) -> np.ndarray[Any, Any]:
    try:
        import uvloop  # noqa: PLC0415  (optional: not on Windows)

        result: np.ndarray[Any, Any] = uvloop.run(coro)
        return result
    except ImportError:
        return asyncio.run(coro)


_RATES = {"200rps": 0.2, "10krps": 10.0}


_OWN_CORE = "_own_core"


def loop_lag(
    root: Path,
    rounds: int,
    chunk_s: float,
    pg_url: str | None,
    pg_data: Path | None = None,
    *,
    extra_variants: bool = True,
) -> Metrics:
    """Ticker lateness per condition, the conditions interleaved in short chunks so that
    load from elsewhere on the machine hits them all alike."""
    split = own_core_split()
    journals = {
        "sqlite": open_journal(f"sqlite:///{root / 'lag.db'}", segment_dir=root / "lag-sqlite"),
    }
    if pg_url is not None:
        journals["postgres"] = open_journal(pg_url, segment_dir=root / "lag-pg")
    if split is not None:  # run.cpu's placement: the writer processes off the loop's CPU
        journals["sqlite" + _OWN_CORE] = open_journal(
            f"sqlite:///{root / 'lag-own.db'}", segment_dir=root / "lag-sqlite-own",
            writer_cpus=sorted(split[1]),
        )  # fmt: skip
        if pg_url is not None:
            journals["postgres" + _OWN_CORE] = open_journal(
                pg_url, segment_dir=root / "lag-pg-own", writer_cpus=sorted(split[1])
            )

    # The thread writer lives in this process: even idle it takes the GIL every few ms, which
    # raised the own-core loop's p99 from 36 to 63 µs in a probe. So it exists only while
    # its own condition runs.
    def open_thread_journal() -> Journal:
        return open_journal(
            f"sqlite:///{root / 'lag-thread.db'}", writer="thread", segment_dir=root / "lag-thr"
        )

    if extra_variants:  # the appends alone, no writer
        journals["none"] = open_journal(
            f"sqlite:///{root / 'lag-none.db'}", writer="none", segment_dir=root / "lag-none",
            max_backlog_bytes=1 << 40,
        )  # fmt: skip
    # (condition, journal, records per ms, batched); each "on" has its "off" twin on the
    # same schedule. The engine appends what one event produced as one batch: 200rps and
    # 10krps_batched are its load; 10krps appends the same records one call each. The
    # *_own_core journals run with the loop pinned and busy-polling (run.cpu + busy_poll).
    sleeping = [sink for sink in ("sqlite", "postgres") if sink in journals]
    own = [sink for sink in journals if sink.endswith(_OWN_CORE)]
    burst_rate = _RATES["10krps"]
    if not extra_variants and own:  # --quick: the headline setup, and SQLite sleeping
        sleeping = sleeping[:1]
    pairs = [(f"200rps_{sink}", sink, _RATES["200rps"], False) for sink in own + sleeping]
    pairs += [(f"10krps_batched_{sink}", sink, burst_rate, True) for sink in own + sleeping]
    singles = sleeping + own[:1] if extra_variants else [] if own else sleeping[:1]
    pairs += [(f"10krps_{sink}", sink, burst_rate, False) for sink in singles]
    if extra_variants:
        pairs.append(("10krps_thread", "thread", burst_rate, False))
    if "none" in journals:
        pairs.append(("10krps_appends_only", "none", burst_rate, False))
        pairs.append(("10krps_batched_appends_only", "none", burst_rate, True))
    # A local server's own processes compete for the same cores: the same conditions with
    # the throwaway cluster at SCHED_IDLE show how much of the cost is the server's CPU
    # (a stand-in for a database on another machine; not the headline figure).
    server = cluster_processes(pg_data) if pg_data is not None and pg_url is not None else []
    if server and extra_variants:
        pairs += [(f"{rate}_postgres_server_idle", "postgres", per_ms, False)
                  for rate, per_ms in _RATES.items()]  # fmt: skip
    chunk_p99s: dict[str, list[float]] = {}
    added: dict[str, list[float]] = {name: [] for name, *_ in pairs}
    catch_up_ms: dict[str, float] = {}
    bursts: dict[str, list[int]] = {}
    all_cpus = os.sched_getaffinity(0) if split is not None else set()
    temporary: Journal | None = None  # the thread journal, while its condition runs
    try:
        for round_no in range(rounds):
            for name, sink, per_ms, batched in pairs:
                temporary = open_thread_journal() if sink == "thread" else None
                journal = temporary or journals[sink]
                own_core = sink.endswith(_OWN_CORE) and split is not None
                if split is not None:
                    _park_idle_writers(journals, sink, split[1], all_cpus)
                if server:  # (looked up again: the server starts backends on demand)
                    pids = cluster_processes(pg_data) if pg_data else []
                    set_idle(pids, "idle" in name)
                    if split is not None:  # a database elsewhere, when the loop has a core
                        place(pids, split[1] if own_core else all_cpus)
                p99 = {}
                order = (False, True) if round_no % 2 == 0 else (True, False)
                for on in order:
                    burst = bursts.setdefault(name, []) if on else None
                    with pinned_to(split[0]) if own_core and split else contextlib.nullcontext():
                        lags = np.array(
                            _lag_samples(
                                journal, per_ms, chunk_s, append=on, batched=batched,
                                bursts=burst, busy_poll=own_core,
                            )
                        )  # fmt: skip
                    p99[on] = float(np.percentile(lags, 99)) / 1e3
                    chunk_p99s.setdefault(f"{'on' if on else 'off'}_{name}", []).append(p99[on])
                    if on and sink != "none":  # (no writer there: nothing drains)
                        t0 = time.perf_counter()
                        ok = journal.flush(60)
                        waited = (time.perf_counter() - t0) * 1e3 if ok else float("inf")
                        catch_up_ms[name] = max(catch_up_ms.get(name, 0.0), waited)
                added[name].append(p99[True] - p99[False])
                if temporary is not None:
                    temporary.close()
                    temporary = None
    finally:
        for journal in [*journals.values(), *([temporary] if temporary else [])]:
            journal.close()
    metrics: Metrics = {}
    for cond, p99s in chunk_p99s.items():
        # the median over chunks of each chunk's p99: robust to a burst of machine noise
        # hitting one chunk; the worst chunk is reported beside it
        metrics[f"journal_loop_lag_us_p99_{cond}"] = round(float(np.median(p99s)), 1)
        metrics[f"journal_loop_lag_us_p99_worst_chunk_{cond}"] = round(max(p99s), 1)
    for name, diffs in added.items():
        metrics[f"journal_loop_lag_added_us_p99_{name}"] = round(float(np.median(diffs)), 1)
    metrics.update(_headline(metrics))
    for name, times in bursts.items():
        if name.startswith("10krps") and times:
            metrics[f"journal_burst_us_p50_{name}"] = round(
                float(np.percentile(times, 50)) / 1e3, 1
            )
            metrics[f"journal_burst_us_p99_{name}"] = round(
                float(np.percentile(times, 99)) / 1e3, 1
            )
    for name, waited in catch_up_ms.items():
        if name.startswith("10krps"):
            metrics[f"journal_catch_up_ms_max_{name}"] = round(waited, 1)
    return metrics


def _park_idle_writers(
    journals: dict[str, Journal], under_test: str, elsewhere: set[int], all_cpus: set[int]
) -> None:
    """Keep the writer processes of the other conditions off the loop's CPU. Idle, they still
    wake every few ms; in a probe one extra unpinned writer raised the own-core loop's p99
    from 42 to 53 µs. The writer under test runs where its condition says: on the other
    CPUs (own core, set by ``writer_cpus``) or anywhere (sleeping)."""
    for sink, journal in journals.items():
        pid = journal.writer_pid
        if pid is not None and not sink.endswith(_OWN_CORE):
            place([pid], all_cpus if sink == under_test else elsewhere)


def _headline(metrics: Metrics) -> Metrics:
    """``loop_lag_added_us_p99``: the worst of the engine's loads (200rps, 10krps_batched)
    over the sinks, with the loop on a core of its own and busy-polling (run.cpu +
    run.busy_poll, the setup for live quoting) where the machine has two CPUs; the same
    with the default sleeping loop is ``loop_lag_added_us_p99_sleeping_loop``."""
    loads = ("journal_loop_lag_added_us_p99_200rps_",
             "journal_loop_lag_added_us_p99_10krps_batched_")  # fmt: skip
    own = [float(v) for k, v in metrics.items() if k.startswith(loads) and k.endswith(_OWN_CORE)]
    sleeping = [
        float(v) for k, v in metrics.items()
        if k.startswith(loads) and not k.endswith((_OWN_CORE, "_idle", "_appends_only"))
    ]  # fmt: skip
    out: Metrics = {"loop_lag_added_us_p99_sleeping_loop": max(sleeping)}
    out["loop_lag_added_us_p99"] = max(own) if own else max(sleeping)
    out["loop_lag_setup"] = (
        "event loop on a core of its own, busy-polling; journal writer and database on the "
        "other cores (run.cpu + run.busy_poll)"
        if own
        else "sleeping event loop (fewer than two CPUs: no core of its own)"
    )
    return out
