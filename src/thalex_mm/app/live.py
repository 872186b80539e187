"""The runner's side of the live view: copies engine state into the snapshot file.

The runner calls ``cycle`` after a market event's orders have left (at most once per
``run.snapshot_interval_ms`` per instrument: market, model, our live quotes, position) and
``timer`` on its timer (the run section every tick; PnL split, counters and the latency
histogram of a slice of the instruments, each about once a second). Nothing here does I/O
beyond stores into the mapped file; the exporter and ``thalex-mm watch`` read it from
other processes (``thalex_mm.monitor``).
"""

from __future__ import annotations

import logging
import math
import time
from bisect import bisect_left
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from thalex_mm.app.latency import LatencyRing
from thalex_mm.app.markouts import decompose
from thalex_mm.app.settings import AppConfig
from thalex_mm.errors import UserError
from thalex_mm.monitor import layout
from thalex_mm.monitor.exporter import MetricsProcess
from thalex_mm.monitor.snapshot import SnapshotWriter, remove_stale, snapshot_path

if TYPE_CHECKING:
    from thalex_mm.app.run_stats import InstrumentStats
    from thalex_mm.app.runner import Runner
    from thalex_mm.core.actions import QuoteReport
    from thalex_mm.core.instrument import Instrument

log = logging.getLogger("thalex_mm.run")
_NAN = float("nan")
_MAX = layout.MAX_LEVELS
_BOUNDS_NS = [b * 1000.0 for b in layout.BUCKETS_US]  # a sample <= bound counts in it
SLOW_INTERVAL_S = 1.0  # each instrument's slow section is refreshed this often


class Histogram:
    """Cumulative tick-to-order bucket counts, fed from a latency ring's new samples."""

    __slots__ = ("buckets", "count", "ring", "seen", "sum_ns")

    def __init__(self, ring: LatencyRing) -> None:
        self.ring = ring
        self.seen = 0  # ring.count already counted
        self.count = 0
        self.sum_ns = 0
        self.buckets = [0] * layout.N_BUCKETS

    def update(self) -> None:
        new = self.ring.count - self.seen
        if new <= 0:
            return
        self.seen = self.ring.count
        samples = self.ring.newest(new)  # the ring may have dropped some: count what is kept
        self.count += len(samples)
        self.sum_ns += int(samples.sum())
        buckets = self.buckets
        if len(samples) <= 64:  # the usual timer tick: a few samples, cheaper without numpy
            for x in samples.tolist():
                buckets[bisect_left(_BOUNDS_NS, x)] += 1
        else:
            idx = np.searchsorted(_BOUNDS_NS, samples, side="left")
            added = np.bincount(idx, minlength=layout.N_BUCKETS).tolist()
            self.buckets = [a + b for a, b in zip(buckets, added, strict=True)]


class _Slot:
    """One instrument's objects, looked up once (the core keeps them for the whole run)."""

    __slots__ = (
        "asks", "bids", "hist", "i", "inst", "last_fast_ns", "last_msgs", "last_slow_ns",
        "market", "name", "permit", "position", "rejects", "st",
    )  # fmt: skip

    def __init__(self, i: int, inst: Instrument, st: InstrumentStats) -> None:
        self.i = i
        self.inst = inst
        self.name = inst.name
        self.market = inst.market
        self.position = inst.position
        self.permit = inst.risk.permit
        self.bids = inst.orders.bids  # every order not closed (in flight included)
        self.asks = inst.orders.asks
        self.st = st
        self.rejects: dict[int, int] = {}  # venue error code -> rejections
        self.hist = Histogram(st.tick_to_order.ring)
        self.last_fast_ns = 0
        self.last_slow_ns = 0
        self.last_msgs = 0


class LiveFeed:
    """Writes one run's snapshot; ``enabled`` False skips every write (the bench's toggle)."""

    def __init__(self, writer: SnapshotWriter, interval_ms: float) -> None:
        self.writer = writer
        self.interval_ns = int(interval_ms * 1_000_000)
        self.enabled = True
        self.writes = 0  # fast sections written by ``cycle``
        self.errors = 0  # a bug here costs the live view, never the run
        self._runner: Runner | None = None
        self._last_quote: dict[str, QuoteReport] = {}
        self._slots: dict[str, _Slot] = {}
        self._order: list[_Slot] = []
        self._next = 0  # round-robin position of the slow refresh
        self._run_hist: Histogram | None = None
        self._last_t = 0.0
        self._last_in = 0
        self._last_out = 0
        self._in_rate = 0.0
        self._out_rate = 0.0
        self._stopped = False

    def bind(self, runner: Runner) -> None:
        """The engine exists: map its instruments onto the snapshot's slots (config order)."""
        engine, stats = runner.engine, runner.stats
        assert engine is not None and stats is not None
        self._runner = runner
        self._last_quote = runner.last_quote
        for i, name in enumerate(self.writer.names):
            inst = engine.instruments.get(name)
            st = stats.by_name.get(name)
            if inst is not None and st is not None:
                spec = inst.spec
                self.writer.write_static(i, name, spec.tick_size, spec.amount_step)
                slot = _Slot(i, inst, st)
                self._slots[name] = slot
                self._order.append(slot)
        self._run_hist = Histogram(stats.tick_to_order.ring)

    def rejected(self, name: str, code: int) -> None:
        """The venue rejected one of ``name``'s actions with ``code`` (counted by code)."""
        slot = self._slots.get(name)
        if slot is not None:
            rejects = slot.rejects
            if code not in rejects and len(rejects) >= layout.REJECT_CODES - 1:
                code = -1  # the last entry collects the codes that do not fit
            rejects[code] = rejects.get(code, 0) + 1

    # --- after a quoting cycle ------------------------------------------------------------
    def cycle(self, name: str, now_ns: int) -> None:
        """After a market event of ``name`` (its orders already written): the fast section,
        unless it was written less than the interval ago."""
        slot = self._slots.get(name)
        if slot is None or now_ns - slot.last_fast_ns < self.interval_ns or not self.enabled:
            return
        slot.last_fast_ns = now_ns
        self.writes += 1
        try:
            self._fast(slot, now_ns)
        except Exception:
            self._error()

    def _error(self) -> None:
        self.errors += 1
        if self.errors == 1 or self.errors % 1000 == 0:
            log.exception("error writing the live snapshot (%d so far)", self.errors)

    def _fast(self, slot: _Slot, now_ns: int) -> None:
        m = slot.market
        report = self._last_quote.get(slot.name)
        if report is None:
            sigma = a = k = ask_a = ask_k = reservation = _NAN
        else:
            sigma, a, k = report.sigma, report.A, report.k
            ask_a, ask_k, reservation = report.ask_A, report.ask_k, report.reservation_price
        mq = slot.inst.mq
        if mq is None:  # one loop per side: cheaper than a comprehension per list
            bt: list[int] = []
            bl: list[int] = []
            at: list[int] = []
            al: list[int] = []
            for o in slot.bids:
                bt.append(o.price_ticks)
                bl.append(o.amount_lots - o.filled_lots)
            for o in slot.asks:
                at.append(o.price_ticks)
                al.append(o.amount_lots - o.filled_lots)
        else:
            bt = [level[0] for level in mq.sent_bids]
            bl = [level[1] for level in mq.sent_bids]
            at = [level[0] for level in mq.sent_asks]
            al = [level[1] for level in mq.sent_asks]
        nb, na = len(bt), len(at)
        if nb > _MAX or na > _MAX:  # the first max_levels are listed, the counts are whole
            bt, bl, at, al = bt[:_MAX], bl[:_MAX], at[:_MAX], al[:_MAX]
        pos = slot.position
        self.writer.write_fast(
            slot.i, nb, na,
            (
                now_ns, m.last_data_ns, m.bid_ticks, m.bid_lots, m.ask_ticks, m.ask_lots,
                m.mark_price, m.index_price, m.funding_rate, sigma, a, k, ask_a, ask_k,
                reservation, pos.lots, pos.average_price, slot.permit.state, nb, na,
                *bt, *bl, *at, *al,
            ),
        )  # fmt: skip

    # --- on the timer -----------------------------------------------------------------------
    def timer(self, now_ns: int, timer_interval_s: float) -> None:
        """The run section, and the slow sections of this tick's slice of instruments."""
        if not self.enabled or self._runner is None:
            return
        try:
            self._refresh(now_ns, timer_interval_s)
        except Exception:
            self._error()

    def _refresh(self, now_ns: int, timer_interval_s: float) -> None:
        self._run(now_ns)
        order = self._order
        if not order:
            return
        share = max(1, math.ceil(len(order) * min(1.0, timer_interval_s / SLOW_INTERVAL_S)))
        for _ in range(min(share, len(order))):
            slot = order[self._next % len(order)]
            self._next += 1
            self._slow(slot, now_ns)
            if now_ns - slot.last_fast_ns >= max(self.interval_ns, 1_000_000_000):
                slot.last_fast_ns = now_ns  # a quiet market: still show state and position
                self._fast(slot, now_ns)

    def _run(self, now_ns: int, stop_reason: str = "") -> None:
        runner = self._runner
        assert runner is not None
        client = runner.client
        t = time.monotonic()
        frames_in, frames_out = client.protocol.stats.frames, client.tx_frames
        span = t - self._last_t
        if span >= 0.5 or self._last_t == 0.0:  # rates over at least half a second
            if self._last_t > 0.0:
                self._in_rate = (frames_in - self._last_in) / span
                self._out_rate = (frames_out - self._last_out) / span
            self._last_t, self._last_in, self._last_out = t, frames_in, frames_out
        if self._stopped:
            connection = layout.STOPPED
        elif client.ready:
            connection = layout.CONNECTED
        else:
            connection = layout.CONNECTING if runner.resyncs == 0 else layout.DISCONNECTED
        journal = runner.journal
        backlog = appended = 0
        if journal is not None:
            js = journal.stats()
            backlog, appended = js.backlog_bytes, js.appended
        hist = self._run_hist
        if hist is not None:
            hist.update()
        count, sum_ns, buckets = (
            (0, 0, [0] * layout.N_BUCKETS)
            if hist is None
            else (hist.count, hist.sum_ns, hist.buckets)
        )
        engine = runner.engine
        blocked = runner.risk_blocked or (
            "; ".join(engine.restrictions.values()) if engine is not None else None
        )
        self.writer.write_run(
            now_ns, connection, max(runner.resyncs - 1, 0), frames_in, frames_out,
            self._in_rate, self._out_rate, client.protocol.stats.throttle_errors,
            runner.timer_errors, len(runner.kill_switches), int(journal is not None),
            backlog, appended, count, sum_ns, *buckets,
            layout.encode_text(blocked or "", 96), layout.encode_text(stop_reason, 32),
        )  # fmt: skip

    def _slow(self, slot: _Slot, now_ns: int) -> None:
        runner = self._runner
        assert runner is not None
        inst, st = slot.inst, slot.st
        step = inst.spec.amount_step
        pos = inst.position
        mark = inst.mark()
        total = pos.total_pnl(mark)
        parts = decompose(
            st.quality, final_fair=mark, start_amount=st.start_amount,
            start_price=st.start_price, fees=pos.fees, funding=pos.funding, total=total,
        )  # fmt: skip
        span = (now_ns - slot.last_slow_ns) / 1e9 if slot.last_slow_ns else 0.0
        rate = (st.market_msgs - slot.last_msgs) / span if span > 0 else 0.0
        slot.last_slow_ns, slot.last_msgs = now_ns, st.market_msgs
        hist = slot.hist
        hist.update()
        state = inst.risk.permit.state
        # why not ACTIVE (the last risk-state change), else why not quoting (if so)
        reason = runner.risk_reasons.get(inst.name, state.name) if state else inst.last_no_quote
        pad = [0] * (layout.REJECT_CODES - len(slot.rejects))
        codes, counts = [*slot.rejects, *pad], [*slot.rejects.values(), *pad]
        self.writer.write_slow(
            slot.i, now_ns, pos.realised, pos.unrealised(mark), pos.fees, pos.funding, total,
            parts.edge, parts.inventory, parts.carried, parts.unexplained,
            st.volume_lots * step, st.notional, st.max_inventory_lots * step, st.fills,
            st.rejections, st.inserts, st.amends, st.cancels, st.mass_quotes, st.market_msgs,
            rate, hist.count, hist.sum_ns, *hist.buckets, *codes, *counts,
            layout.encode_text(reason, 96),
        )  # fmt: skip

    def final(self, runner: Runner, stop_reason: str) -> None:
        """The run stopped (orders cancelled): every section once more, with the reason."""
        self._runner = runner
        self._stopped = True
        now = time.time_ns()
        try:
            for slot in self._order:
                self._fast(slot, now)
                self._slow(slot, now)
            self._run(now, stop_reason)
        except Exception:
            self._error()


class LiveView:
    """A run's snapshot file and, with ``run.metrics_port``, its metrics process."""

    def __init__(self, feed: LiveFeed, metrics: MetricsProcess | None, run_id: str) -> None:
        self.feed = feed
        self.metrics = metrics
        self.run_id = run_id

    @property
    def path(self) -> str:
        return str(self.feed.writer.path)

    def describe(self) -> str:
        """The start-up line saying where to look."""
        line = f"live view: thalex-mm watch {self.path}"
        if self.metrics is not None:
            line += f" | metrics {self.metrics.url}"
        return line

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
        self.feed.writer.close()


def open_live(cfg: AppConfig, run_id: str, *, venue: str = "", mode: str = "") -> LiveView | None:
    """Create the snapshot (None with ``run.snapshot = false``) and start the metrics
    process; a port in use is a ``UserError`` here, before the run connects."""
    run = cfg.run
    if not run.snapshot:
        return None
    directory = Path(run.snapshot_dir) if run.snapshot_dir is not None else None
    if directory is not None and not directory.is_dir():
        raise UserError(f"run.snapshot_dir {str(directory)!r} is not a folder")
    remove_stale(directory)  # what crashed runs left behind
    writer = SnapshotWriter(
        snapshot_path(run_id, directory),
        run_id=run_id,
        instruments=[(name, 0.0, 0.0) for name in cfg.instrument_names],
        venue=venue,
        mode=mode,
    )
    metrics = None
    if run.metrics_port is not None:
        try:
            metrics = MetricsProcess(
                writer.path, run.metrics_host, run.metrics_port, avoid_cpu=run.cpu
            )
        except BaseException:
            writer.close()
            raise
    return LiveView(LiveFeed(writer, run.snapshot_interval_ms), metrics, run_id)
