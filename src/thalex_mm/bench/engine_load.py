"""One benchmark session of the real engine (``app.runner.Runner``) against the local exchange.

``run_session(SessionOptions(...))`` starts a fresh Python child (clean RSS, CPU and log
accounting) that starts the exchange in a grandchild (``exchange_proc``, its own core), runs
the Runner quoting ``instruments`` instruments in mass-quote mode with the app's default
queue logging into a byte-counting stream, and returns what it measured as a dict:

- loop lag (1 ms ticker lateness and call_soon probe wait, see ``sampling``), overall and
  per journal phase when ``ab_phases`` alternates the journal on/off during the window;
- CPU % of the engine process and of the exchange process over the window;
- market messages the runner handled per second; frames the exchange queued for our
  session against frames the client received (counted after quiescing: the client stops
  sending and unsubscribes, so both counters are final); dropped/slow-consumer counters;
- quotes: per 1 s sample, which instruments have a bid and an ask live on the venue, and the
  age of each instrument's newest quote decision;
- RSS samples (for growth), log bytes and lines written during the window.

The venue's documented rate limit (50 matching-engine msg/s per session; the client keeps
90% of it) is the binding constraint with 100 instruments, so each instrument's mass quote is
updated at most every ``100 * n / 40`` ms (40 updates/s in aggregate).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any, TextIO, cast

from thalex_mm.bench.exchange_proc import (
    DEFAULT_MARKET,
    HUNDRED_AT_10K,
    ExchangeProcess,
    ListedInstrument,
    cpu_seconds,
)
from thalex_mm.bench.sampling import (
    CountingStream,
    LagRecorder,
    SampleStore,
    SeriesStore,
    memory_mb,
    percentile,
)

_SAMPLE_S = 1.0
_SETTLE_TIMEOUT_S = 30.0
_SESSIONS: dict[Any, dict[str, Any]] = {}


@dataclass(frozen=True, slots=True)
class SessionOptions:
    instruments: int = 100  # 100: the 10,000 msg/s exchange; fewer: the default exchange
    warmup_s: float = 5.0  # after every instrument quotes both sides (or the settle timeout)
    measure_s: float = 20.0
    journal: bool = True  # SQLite journal in a temp dir, writer in a child process
    ab_phases: int = 0  # > 0: journal on/off alternating phases inside the window (even)
    rss_every_s: float = 1.0


def hundred_instruments(quick: bool) -> SessionOptions:
    """The shared 100-instrument, 10,000 msg/s session (journal alternating on/off)."""
    if quick:
        return SessionOptions(instruments=100, warmup_s=1.5, measure_s=8.0, ab_phases=6)
    return SessionOptions(instruments=100, warmup_s=10.0, measure_s=480.0, ab_phases=10)


def cached_session(opts: SessionOptions) -> dict[str, Any]:
    """``run_session`` once per options per process: the sustained, memory and logging
    benchmarks read the same 100-instrument run instead of paying for three."""
    if opts not in _SESSIONS:
        _SESSIONS[opts] = run_session(opts)
    return _SESSIONS[opts]


def build_config(listed: tuple[ListedInstrument, ...], n: int) -> Any:
    """An AppConfig quoting the first ``n`` listed instruments (BTC-PERPETUAL first)."""
    from thalex_mm.app.settings import (  # noqa: PLC0415
        AppConfig,
        InstrumentSettings,
        RunSettings,
    )
    from thalex_mm.core.config import OrderManagerConfig, QuoterConfig, RiskConfig  # noqa: PLC0415
    from thalex_mm.model.quote import LadderParams, QuoteParams  # noqa: PLC0415

    ordered = sorted(listed, key=lambda i: (i.name != "BTC-PERPETUAL", i.name))[:n]
    interval_ms = max(100.0, 1000.0 * len(ordered) / 40.0)
    settings = tuple(
        InstrumentSettings(
            i.name,
            quote=QuoteParams(gamma_usd=0.1 / i.amount_step, ladder=LadderParams(levels=2)),
            quoter=QuoterConfig(sigma_default=1.0),
            orders=OrderManagerConfig(
                mass_quote=True,
                min_update_interval_ms=interval_ms,
                max_orders_per_side=2,
                mm_trade_amount=50 * i.min_amount,
                mm_quote_amount=100 * i.min_amount,
            ),
            risk=RiskConfig(max_position=10_000 * i.amount_step),
        )
        for i in ordered
    )
    run = RunSettings(status_interval_s=5.0, timer_interval_ms=100.0, book_depth=0)
    return AppConfig(run=run, instruments=settings)


def _helper_cpu_s(exchange_pid: int) -> float:
    """CPU seconds of this process's other children (the journal's writer process)."""
    total = 0.0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0.0
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/children", encoding="ascii") as handle:
                pids = [int(p) for p in handle.read().split()]
        except (OSError, ValueError):
            continue
        total += sum(cpu_seconds(pid) or 0.0 for pid in pids if pid != exchange_pid)
    return total


def _market_msgs(runner: Any) -> int:
    stats = runner.stats
    return 0 if stats is None else sum(s.market_msgs for s in stats.by_name.values())


async def _wait_two_sided(runner: Any, ex: ExchangeProcess, names: list[str]) -> float:
    """Seconds until 95% of the instruments have been seen with a bid and an ask live on the
    venue (not all at once: fills take levels out between updates), or the timeout."""
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    missing = set(names)
    while len(missing) > 0.05 * len(names) and time.monotonic() - start < _SETTLE_TIMEOUT_S:
        if runner.fatal is not None:
            raise RuntimeError(f"the runner stopped: {runner.fatal}")
        if runner.engine is not None:
            quotes = (await loop.run_in_executor(None, ex.stats))["quotes"]
            missing = {n for n in missing if min(quotes.get(n, (0, 0))) == 0}
        await asyncio.sleep(0.25)
    return time.monotonic() - start


def _fill_memories_full(runner: Any) -> bool:
    """Whether the engine's and the run statistics' bounded fill-key memories are full
    (``core/trade_ids.py``): until then the engine's memory grows by design."""
    engine, stats = runner.engine, runner.stats
    if engine is None or stats is None:
        return False
    memories = (engine.trade_ids, stats.seen_trades)
    return all(len(m) >= m.capacity for m in memories)


def journal_on(phase_index: int) -> bool:
    """A/B/B/A/A/B/B/A...: pairs alternate which half runs first, so a drift over the run
    does not favour one side."""
    pair, second = divmod(phase_index, 2)
    return (second == 0) != (pair % 2 == 1)


def quote_state(runner: Any, names: list[str], quotes: dict[str, list[int]], now_ns: int) -> Any:
    """Per instrument: (two-sided on the venue, venue ladder == engine's newest, ms since the
    instrument's last mass quote was sent)."""
    engine = runner.engine
    out = []
    for n in names:
        live = min(quotes.get(n, (0, 0))) > 0
        inst = engine.instruments[n]
        mq = inst.mq
        in_sync = (
            mq is not None and mq.sent_bids == inst.last_bids and mq.sent_asks == inst.last_asks
        )
        age = (now_ns - mq.last_sent_ns) / 1e6 if mq is not None and mq.last_sent_ns > 0 else 1e9
        out.append((live, in_sync, age))
    return out


async def _quiesce_and_count(runner: Any, ex: ExchangeProcess, public: list[str]) -> dict[str, Any]:
    """Stop sending, unsubscribe everything, then compare both sides' frame counters."""
    from thalex_mm.venue.thalex.client_config import DEFAULT_PRIVATE_CHANNELS  # noqa: PLC0415
    from thalex_mm.venue.thalex.requests import ChannelsParams  # noqa: PLC0415

    client = runner.client
    loop = asyncio.get_running_loop()
    client.protocol.ready = False  # the engine's next actions are refused locally
    await client.call("public/unsubscribe", ChannelsParams(channels=public))
    await client.call(
        "private/unsubscribe", ChannelsParams(channels=list(DEFAULT_PRIVATE_CHANNELS))
    )
    session: dict[str, Any] = {}
    received = -1
    for _ in range(20):  # until no frame is in flight either way
        await asyncio.sleep(0.25)
        before = client.protocol.stats.frames
        stats = await loop.run_in_executor(None, ex.stats)
        await asyncio.sleep(0.05)
        received = client.protocol.stats.frames
        sessions = [s for s in stats["our_sessions"] if s["open"]]
        session = sessions[-1] if sessions else {}
        written, queued = session.get("frames_written"), session.get("frames_out")
        if received == before and written == queued == received:
            break
    return {"session": session, "client_frames": received, "exchange": stats}


async def _session(
    opts: SessionOptions, ex: ExchangeProcess, stream: CountingStream
) -> dict[str, Any]:
    from thalex_mm.app.runner import Runner  # noqa: PLC0415
    from thalex_mm.app.settings import public_channels  # noqa: PLC0415
    from thalex_mm.venue.thalex.credentials import Credentials  # noqa: PLC0415
    from thalex_mm.venue.thalex.networks import Endpoint, Network  # noqa: PLC0415

    hello = ex.hello
    assert hello is not None
    cfg = build_config(hello.instruments, opts.instruments)
    names = list(cfg.instrument_names)
    journal: Any = None
    tmp = tempfile.TemporaryDirectory(prefix="thalex-mm-bench-")
    if opts.journal:
        from thalex_mm.journal import open_journal  # noqa: PLC0415

        journal = open_journal(
            f"sqlite:///{tmp.name}/journal.db", segment_dir=f"{tmp.name}/segments", writer="process"
        )
        journal.start_run(version="bench", config={}, venue=hello.url, strategy="mm")
    creds = Credentials(hello.key_id, hello.private_pem, "a generated test key")
    runner = Runner(cfg, Endpoint(Network.LOCAL, hello.url), creds, journal=journal, mode="bench")
    loop = asyncio.get_running_loop()
    task = loop.create_task(runner.run(None))
    lag = LagRecorder(capacity=int((opts.measure_s + 5) * 1000))
    lag.phase = ""
    lag.start()
    out: dict[str, Any] = {"instruments": len(names)}
    try:
        out["settle_s"] = await _wait_two_sided(runner, ex, names)
        await asyncio.sleep(opts.warmup_s)
        bridge = runner.bridge
        capacity = int(opts.measure_s / min(_SAMPLE_S, opts.rss_every_s)) + opts.ab_phases + 5
        rss, anon = SeriesStore(capacity), SeriesStore(capacity)  # not growing while watched
        memories_full_s: float | None = None  # when the bounded fill-key memories filled
        samples = all_live = 0
        live_pairs = sync_pairs = total_pairs = 0
        ages = SampleStore(int(opts.measure_s + opts.ab_phases + 5) * len(names))
        phases = opts.ab_phases if journal is not None else 0
        phase_s = opts.measure_s / phases if phases else opts.measure_s
        m0, cpu0, t0 = _market_msgs(runner), time.process_time(), time.monotonic()
        ex_cpu0 = cpu_seconds(ex.pid)
        helpers0 = _helper_cpu_s(ex.pid)
        bytes0, lines0 = stream.bytes, stream.lines
        phase_index = -1
        while (now := time.monotonic()) - t0 < opts.measure_s:
            index = int((now - t0) // phase_s)
            if index != phase_index:
                phase_index = index
                on = journal is not None and (not phases or journal_on(index))
                runner.bridge = bridge if on else None
                runner.journal = journal if on else None
                lag.phase = f"{'on' if on else 'off'}{index // 2}" if phases else "measure"
            mem = memory_mb()
            rss.add(now - t0, mem.get("VmRSS", -1.0))
            anon.add(now - t0, mem.get("RssAnon", -1.0))
            if memories_full_s is None and _fill_memories_full(runner):
                memories_full_s = now - t0
            stats = await loop.run_in_executor(None, ex.stats)
            state = quote_state(runner, names, stats["quotes"], time.time_ns())
            samples += 1
            all_live += all(live for live, _, _ in state)
            live_pairs += sum(live for live, _, _ in state)
            sync_pairs += sum(sync for _, sync, _ in state)
            total_pairs += len(state)
            for _, _, age in state:
                ages.add("", int(age))
            next_phase = t0 + (phase_index + 1) * phase_s - time.monotonic()
            await asyncio.sleep(max(0.001, min(_SAMPLE_S, opts.rss_every_s, next_phase)))
        elapsed = time.monotonic() - t0
        lag.phase = ""
        runner.bridge, runner.journal = bridge, journal
        cpu = time.process_time() - cpu0
        ex_cpu1 = cpu_seconds(ex.pid)
        helpers1 = _helper_cpu_s(ex.pid)
        msgs = _market_msgs(runner) - m0
        out.update(
            seconds=elapsed,
            md_msgs=msgs,
            md_msgs_per_s=msgs / elapsed,
            cpu_pct=100.0 * cpu / elapsed,
            exchange_cpu_pct=(
                100.0 * (ex_cpu1 - ex_cpu0) / elapsed
                if ex_cpu0 is not None and ex_cpu1 is not None
                else None
            ),
            helper_cpu_pct=100.0 * (helpers1 - helpers0) / elapsed,
            lag=lag.summary_us(),
            lag_phases={p: lag.summary_us([p]) for p in lag.late.phases},
            lag_overflow=lag.late.overflow,
            rss=rss.pairs(),
            rss_anon=anon.pairs(),
            memories_full_s=memories_full_s,
            quotes_all_live_pct=100.0 * all_live / max(samples, 1),
            quotes_live_pct=100.0 * live_pairs / max(total_pairs, 1),
            quotes_in_sync_pct=100.0 * sync_pairs / max(total_pairs, 1),
            quote_sent_age_ms_p50=percentile(ages.values[: ages.count], 50),
            quote_sent_age_ms_p99=percentile(ages.values[: ages.count], 99),
            samples=samples,
            log_bytes=stream.bytes - bytes0,
            log_lines=stream.lines - lines0,
            throttle_errors=runner.client.protocol.stats.throttle_errors,
            reconnects=max(runner.resyncs - 1, 0),
            handler_errors=runner.client.handler_errors,
            bad_frames=runner.client.protocol.stats.bad_frames,
        )
        out["count"] = await _quiesce_and_count(runner, ex, list(public_channels(cfg)))
    finally:
        await lag.stop()
        runner.request_stop("bench")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)
        if journal is not None:
            journal.close("bench")
        tmp.cleanup()
    out["log_samples"] = stream.samples
    out["log_max_record_bytes"] = stream.max_write
    return out


def child_main(options_json: str) -> None:
    """The engine process: print the session's result as the last stdout line (JSON)."""
    from thalex_mm.app.logs import QueueLogging  # noqa: PLC0415

    opts = SessionOptions(**json.loads(options_json))
    exchange_options = HUNDRED_AT_10K if opts.instruments > 3 else DEFAULT_MARKET
    stream = CountingStream()
    with ExchangeProcess(exchange_options) as ex, QueueLogging(stream=cast(TextIO, stream)):
        try:
            import uvloop  # noqa: PLC0415

            result = uvloop.run(_session(opts, ex, stream))
        except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
            result = asyncio.run(_session(opts, ex, stream))
    print(json.dumps(result, default=str), flush=True)


def _keep_session_output(stdout: str, stderr: str) -> str:
    """Save a failed session's whole output (a 40-minute session's log is the only clue to
    why it failed at the end); the file's path."""
    fd, path = tempfile.mkstemp(prefix="thalex-mm-bench-session-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}\n")
    return path


def run_session(opts: SessionOptions) -> dict[str, Any]:
    """Run one session in a fresh child process; its result dict."""
    code = "import sys; from thalex_mm.bench.engine_load import child_main; child_main(sys.argv[1])"
    timeout = opts.measure_s + opts.warmup_s + _SETTLE_TIMEOUT_S + 60.0
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(asdict(opts))],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        kept = _keep_session_output(done.stdout, done.stderr)
        raise RuntimeError(
            f"engine session failed (exit {done.returncode}): {' | '.join(tail)}"
            f" (its whole output: {kept})"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result
