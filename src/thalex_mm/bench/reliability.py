"""The reliability harness: the real runner against the in-process exchange, under faults.

`run_under_faults` starts a `LocalExchange` with a `[faults]` config and a `Runner` with a
SQLite journal, watches the exchange's book for the account every few ms while it runs,
stops the runner and collects the exchange's own records and the journal's. `violations`
then lists, in words, every broken promise: a fill missing from the journal or journaled
twice, an order left on the book, more than one ladder resting, a client order id used
twice, a final position that is not the venue's, a fault after which quoting never
resumed. The tests (tests/e2e/test_faults.py) and the soak (`bench/soak.py`) share it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thalex_mm.app.launch import make_runner, read_journal_start
from thalex_mm.app.runner import Runner
from thalex_mm.app.settings import AppConfig, config_as_dict, config_from_data
from thalex_mm.domain import Side
from thalex_mm.exchange.engine import TradeRecord
from thalex_mm.exchange.fault_config import FaultConfig
from thalex_mm.exchange.local import ExchangeConfig, LocalExchange
from thalex_mm.journal import open_journal
from thalex_mm.journal.query import Reader
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.networks import Endpoint, Network

INSTRUMENT = "BTC-PERPETUAL"
LOT = 0.001
LEVELS = 2
# faults after which the engine must quote with new orders (its old ones were cancelled)
CONNECTION_FAULTS = frozenset(
    {"close", "abort", "half_open", "maintenance", "restart", "restart_lost"}
)
_SAMPLE_S = 0.005
# A side may briefly hold one order more than the ladder while the cancel of an order the
# engine gave up on (reply timeout, refused request) is on its way; a surplus that outlasts
# this is a second ladder resting (e.g. an old session's orders beside the new ones).
SURPLUS_GRACE_S = 5.0


def app_config(**overrides: Any) -> AppConfig:
    """Two levels a side on BTC-PERPETUAL, replies given up after 1.5 s (so a stall of 2 s
    outlasts the engine's timeout), limits small enough to reach."""
    inst: dict[str, Any] = {
        "name": INSTRUMENT,
        "quote": {"gamma_usd": 100.0, "lot_size": LOT, "ladder": {"levels": LEVELS}},
        "quoter": {"sigma_default": 2.0},
        "orders": {
            "amend_threshold_ticks": 3,
            "min_update_interval_ms": 50.0,
            "reply_timeout_ms": 1500.0,
        },
        "risk": {"max_position": 0.01},
    }
    inst.update(overrides)
    return config_from_data(
        {"run": {"timer_interval_ms": 50.0, "status_interval_s": 60.0}, "instruments": [inst]}
    )


def exchange_config(faults: FaultConfig, seed: int = 3) -> ExchangeConfig:
    """A market with enough takers that the quotes fill every few seconds."""
    options = {"taker_rate_per_s": 20.0, "volatility": 0.5}
    return ExchangeConfig(seed=seed, market_options=options, faults=faults)


@dataclass(slots=True)
class Recovery:
    """One fault and how long until both sides were quoted again (None: never)."""

    kind: str
    at_s: float
    requote_s: float | None = None


@dataclass(slots=True)
class RunRecord:
    """What a run left behind, from the exchange and from the journal."""

    levels: int
    summary: dict[str, Any]
    exchange_trades: list[TradeRecord]
    journal_fills: list[tuple[str, str, int | None]]  # trade_id, order_id, client_order_id
    journal_inserts: list[int]  # client order ids of every insert
    open_after_stop: int
    venue_position_lots: int
    faults_injected: dict[str, int]
    recoveries: list[Recovery]
    resync_to_requote_s: list[float]
    surpluses: list[tuple[float, float, int]]  # (start s, seconds, most orders on a side)
    samples: int
    exchange_restarts: int
    bad_frames: int

    @property
    def engine_position_lots(self) -> int:
        return round(float(self.summary["instruments"][INSTRUMENT]["final_position"]) / LOT)


@dataclass(slots=True)
class _Watch:
    """The monitor's state while the run is on."""

    recoveries: list[Recovery] = field(default_factory=list)
    pending: list[tuple[Recovery, float, float, frozenset[str]]] = field(default_factory=list)
    resync_to_requote_s: list[float] = field(default_factory=list)
    resync_pending: list[tuple[float, frozenset[str]]] = field(default_factory=list)
    surpluses: list[tuple[float, float, int]] = field(default_factory=list)
    surplus_since: float | None = None
    surplus_most: int = 0
    samples: int = 0


async def run_under_faults(
    faults: FaultConfig,
    duration_s: float,
    journal_dir: Path,
    *,
    app: AppConfig | None = None,
    seed: int = 3,
    settle_s: float = 0.0,
) -> RunRecord:
    """Run the runner of ``thalex-mm run`` for ``duration_s`` under ``faults``, stop, and
    collect the records. ``settle_s``
    more seconds without new faults let the last fault's recovery be measured."""
    cfg = app or app_config()
    url = f"sqlite:///{journal_dir / 'journal.db'}"
    journal = open_journal(url, writer="thread", segment_dir=journal_dir / "segments")
    async with LocalExchange(exchange_config(faults, seed)) as ex:
        key = ex.new_test_key()
        start = read_journal_start(journal)
        journal.start_run(version="test", config=config_as_dict(cfg), venue=ex.url, strategy="mm")
        creds = Credentials(key.key_id, key.private_pem, "test")
        # the runner `thalex-mm run` builds: trade history subscribed, every fill journaled once
        runner = make_runner(
            cfg, Endpoint(Network.LOCAL, ex.url), creds, journal=journal, start=start
        )
        task = asyncio.get_running_loop().create_task(runner.run(None))
        watch = _Watch()
        levels = cfg.instruments[0].quote.ladder.levels
        deadline = time.monotonic() + duration_s + settle_s
        try:
            await _monitor(ex, runner, key.account, levels, watch, deadline, task)
        finally:
            runner.request_stop("reliability run over")
            summary = await asyncio.wait_for(task, 30)
        journal.close("reliability run over")
        open_after = len(ex.engine.open_orders(key.account))
        venue_lots = ex.engine.position_lots(key.account, INSTRUMENT)
        trades = ex.all_trades(key.account)
        injected = dict(ex.faults.injected) if ex.faults is not None else {}
        restarts = ex.restarts
    for recovery, _, _, _ in watch.pending:
        watch.recoveries.append(recovery)  # never recovered: requote_s stays None
    with Reader(url) as r:
        fills = [(str(a), str(b), c) for a, b, c in r.rows(
            "SELECT trade_id, order_id, client_order_id FROM fills"
        )]  # fmt: skip
        inserts = [row[0] for row in r.rows(
            "SELECT client_order_id FROM orders WHERE action = 'insert' "
            "AND client_order_id IS NOT NULL"
        )]  # fmt: skip
    return RunRecord(
        levels=levels,
        summary=summary,
        exchange_trades=trades,
        journal_fills=fills,
        journal_inserts=inserts,
        open_after_stop=open_after,
        venue_position_lots=venue_lots,
        faults_injected=injected,
        recoveries=sorted(watch.recoveries, key=lambda r: r.at_s),
        resync_to_requote_s=watch.resync_to_requote_s,
        surpluses=watch.surpluses,
        samples=watch.samples,
        exchange_restarts=restarts,
        bad_frames=runner.client.protocol.stats.bad_frames,
    )


async def _monitor(  # noqa: PLR0917 - one private caller
    ex: LocalExchange,
    runner: Runner,
    account: str,
    levels: int,
    watch: _Watch,
    deadline: float,
    task: asyncio.Task[dict[str, Any]],
) -> None:
    """Sample the account's book every 5 ms until ``deadline`` (or the run ends early)."""
    seen_faults = 0
    resyncs = 0
    start = time.monotonic()
    while time.monotonic() < deadline and not task.done():
        await asyncio.sleep(_SAMPLE_S)
        now = time.monotonic()
        orders = ex.engine.open_orders(account)
        ids = frozenset(o.order_id for o in orders)
        per_side = Counter(o.direction for o in orders)
        watch.samples += 1
        most = max(per_side[Side.BUY], per_side[Side.SELL])
        if most > levels:
            if watch.surplus_since is None:
                watch.surplus_since = now
            watch.surplus_most = max(watch.surplus_most, most)
        elif watch.surplus_since is not None:
            since = watch.surplus_since
            watch.surpluses.append((since - start, now - since, watch.surplus_most))
            watch.surplus_since, watch.surplus_most = None, 0
        history = ex.faults.history if ex.faults is not None else []
        for _, fault in history[seen_faults:]:
            recovery = Recovery(fault.kind, now - start)
            ends = now + (fault.duration_s if fault.kind in ("throttle_storm", "stall") else 0)
            watch.pending.append((recovery, now, ends, ids))
        seen_faults = len(history)
        if runner.resyncs > resyncs:
            if resyncs:  # a reconnect, not the first session
                watch.resync_pending.append((now, ids))
            resyncs = runner.resyncs
        quoting = {Side.BUY, Side.SELL} <= set(per_side)
        if not quoting:
            continue
        still: list[tuple[Recovery, float, float, frozenset[str]]] = []
        for recovery, t0, ends, before in watch.pending:
            fresh = {o.direction for o in orders if o.order_id not in before}
            connection = recovery.kind in CONNECTION_FAULTS
            if now >= ends and (not connection or {Side.BUY, Side.SELL} <= fresh):
                recovery.requote_s = now - t0
                watch.recoveries.append(recovery)
            else:
                still.append((recovery, t0, ends, before))
        watch.pending = still
        pending_resyncs: list[tuple[float, frozenset[str]]] = []
        for t0, before in watch.resync_pending:
            fresh = {o.direction for o in orders if o.order_id not in before}
            if {Side.BUY, Side.SELL} <= fresh:
                watch.resync_to_requote_s.append(now - t0)
            else:
                pending_resyncs.append((t0, before))
        watch.resync_pending = pending_resyncs
    if watch.surplus_since is not None:  # still there when the run ended
        since = watch.surplus_since
        watch.surpluses.append((since - start, time.monotonic() - since, watch.surplus_most))


def violations(record: RunRecord) -> list[str]:
    """Every promise the run broke, one line each (empty: none)."""
    out: list[str] = []
    venue = Counter((t.trade_id, t.order_id) for t in record.exchange_trades)
    journal = Counter((trade_id, order_id) for trade_id, order_id, _ in record.journal_fills)
    missing = set(venue) - set(journal)
    extra = set(journal) - set(venue)
    twice = [k for k, n in journal.items() if n > 1]
    if missing:
        out.append(f"{len(missing)} of {len(venue)} exchange fills are not in the journal")
    if extra:
        out.append(f"{len(extra)} journaled fills the exchange never made")
    if twice:
        out.append(f"{len(twice)} fills journaled more than once")
    if record.open_after_stop:
        out.append(f"{record.open_after_stop} orders left on the book after stop")
    long = [s for s in record.surpluses if s[1] > SURPLUS_GRACE_S]
    if long:
        at, seconds, most = long[0]
        out.append(
            f"a second ladder rested: {most} orders on a side (ladder {record.levels}) for "
            f"{seconds:.2f} s from {at:.2f} s ({len(long)} times)"
        )
    cids = Counter(record.journal_inserts)
    reused = [cid for cid, n in cids.items() if n > 1]
    if reused:
        out.append(f"{len(reused)} client order ids inserted twice, e.g. {reused[0]}")
    by_cid: dict[int, set[str]] = {}
    for t in record.exchange_trades:
        if t.client_order_id is not None:
            by_cid.setdefault(t.client_order_id, set()).add(t.order_id)
    shared = [cid for cid, ids in by_cid.items() if len(ids) > 1]
    if shared:
        out.append(f"{len(shared)} client order ids name more than one exchange order")
    if record.engine_position_lots != record.venue_position_lots:
        out.append(
            f"final position {record.engine_position_lots} lots, the venue's "
            f"{record.venue_position_lots}"
        )
    for r in record.recoveries:
        if r.requote_s is None:
            out.append(f"no quotes again after the {r.kind} at {r.at_s:.2f} s")
    return out


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]
