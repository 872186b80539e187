"""A backtest: the production core quoting against a recorded L2 book, on simulated time.

The recorded window is replayed in exchange-time order. The simulated venue
(``venue.py``) keeps the book (a snapshot, then every diff, by Binance's update-id rules:
diffs older than the snapshot dropped, the first one straddling it, every next one's
``prev_final_update_id`` equal to the last ``final_update_id``; a gap is an error) and our
orders in it. The core (``core.engine.Engine``, the same one that trades live) sees what a
live engine would see, ``feed_latency`` later: one ``BookUpdate`` per depth message, the
public trades, and a ticker whose mark is the book's mid (the recorded venue has no mark),
each timer tick. Its actions reach the venue ``entry`` later and the venue's replies and
fills reach it ``response`` later. No wall clock, no sockets: deterministic.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from thalex_mm.backtest.data import Window, read_table
from thalex_mm.backtest.venue import SimulatedVenue
from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.core.engine import Engine
from thalex_mm.domain import InstrumentSpec, Side
from thalex_mm.errors import UserError

_MS = 1_000_000
_NS = 1_000_000_000
_ACTIONS = (act.Insert, act.Amend, act.Cancel, act.CancelAll, act.SetMMProtection, act.MassQuote)


class FillObserver(Protocol):
    """Watches fair value and our fills (e.g. ``app.markouts.FillQuality``, for edge at
    fill and markouts): the fair is the book's mid, before the message that fills us."""

    def on_fair(self, now_ns: int, fair: float) -> None: ...

    def on_fill(
        self, now_ns: int, trade_id: str, side: int, price: float, amount: float
    ) -> float: ...

    def advance(self, now_ns: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Latency:
    """Order entry and response latency (ns), each a constant plus, with ``jitter_ns``, an
    exponential draw of that mean (seeded; messages never overtake each other, as on one
    TCP connection); feed latency per event from the recording's own clocks
    (``from_feed``: local − exchange time, less its minimum) or none."""

    entry_ns: int = 0
    response_ns: int = 0
    from_feed: bool = False
    jitter_ns: int = 0
    seed: int = 0


@dataclass(slots=True)
class BacktestResult:
    instrument: str
    window: str
    rows: int  # depth + trade rows of the input
    wall_s: float
    simulated_s: float
    venue: SimulatedVenue
    final_mid: float
    phases_s: dict[str, float] = field(default_factory=dict)
    decisions: int = 0
    equity: list[float] = field(default_factory=list)  # PnL at the book's mid, every second

    def summary(self) -> dict[str, Any]:
        v = self.venue
        volume = sum(f.amount for f in v.fills)
        pnl = v.pnl(self.final_mid)
        changes = np.diff(np.asarray(self.equity)) if len(self.equity) > 2 else np.zeros(0)
        std = float(changes.std()) if changes.size > 1 else 0.0
        sharpe = float(changes.mean()) / std if std > 0.0 else None
        return {
            "window": self.window,
            "instrument": self.instrument,
            "fills": len(v.fills),
            "volume": round(volume, 8),
            "notional": round(sum(f.price * f.amount for f in v.fills), 4),
            "pnl": round(pnl, 6),
            "pnl_before_fees": round(pnl + v.fees, 6),
            "fees": round(v.fees, 6),
            "final_position": round(v.position, 8),
            "sharpe_1s": None if sharpe is None else round(sharpe, 6),
            "max_inventory": round(v.max_position, 8),
            "simulated_s": round(self.simulated_s, 3),
            "wall_s": round(self.wall_s, 3),
            "events_per_s": round(self.rows / self.wall_s) if self.wall_s > 0 else None,
            "rows": self.rows,
            "decisions": self.decisions,
            "phases_s": {k: round(t, 3) for k, t in self.phases_s.items()},
        }


@dataclass(slots=True)
class _Depth:
    """The window's depth table, cut into messages (one update-id range each): per-message
    numpy arrays for the ordering, per-row Python lists for the replay loop (indexing a
    list is several times cheaper than a numpy scalar)."""

    msg_exch_ns: np.ndarray
    msg_local_ns: list[int]
    first: list[int]
    final: list[int]
    prev: list[int]
    snapshot: list[bool]
    starts: list[int]  # row index where each message starts (plus len at the end)
    bid: list[bool]  # per row
    ticks: list[int]
    qty: list[float]
    lots: list[int]  # qty in the spec's lots, rounded
    rows: int


def _load_depth(window: Window, spec: InstrumentSpec) -> _Depth:
    cols = read_table(window, "depth")
    final = cols["final_update_id"].astype(np.int64)
    n = final.size
    cut = np.flatnonzero(np.diff(final) != 0) + 1
    starts = np.concatenate(([0], cut, [n])).astype(np.int64)
    head = starts[:-1]
    qty = cols["qty"].astype(np.float64)

    def ids(name: str) -> list[int]:
        values = np.nan_to_num(cols[name].astype(np.float64), nan=-1)[head]
        return values.astype(np.int64).tolist()  # type: ignore[no-any-return]

    return _Depth(
        (cols["exch_ts_ms"].astype(np.int64) * _MS)[head],
        cols["local_ts_ns"].astype(np.int64)[head].tolist(),
        ids("first_update_id"),
        final[head].tolist(),
        ids("prev_final_update_id"),
        (cols["is_snapshot"].astype(np.int64)[head] == 1).tolist(),
        starts.tolist(),
        (cols["side"] == "bid").tolist(),
        np.rint(cols["price"].astype(np.float64) / spec.tick_size).astype(np.int64).tolist(),
        qty.tolist(),
        np.rint(qty / spec.amount_step).astype(np.int64).tolist(),
        int(n),
    )


class Backtest:
    """One instrument's core against one recorded window; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        window: Window,
        venue: SimulatedVenue,
        latency: Latency,
        *,
        timer_ms: float = 100.0,
        on_decisions: Callable[[list[act.Decision]], None] | None = None,
        on_actions: Callable[[list[act.Action], int], None] | None = None,
        on_core_events: Callable[[ev.Event], None] | None = None,
        observer: FillObserver | None = None,
    ) -> None:
        if len(engine.instruments) != 1:
            raise UserError("a backtest replays one instrument: configure exactly one")
        self.core = engine
        self.window = window
        self.venue = venue
        self.spec = venue.spec
        self.name = self.spec.name
        self.latency = latency
        self.timer_ns = int(timer_ms * _MS)
        self.on_decisions = on_decisions
        self.on_actions = on_actions
        self.on_core_events = on_core_events
        self.observer = observer
        self._observed = 0  # venue fills already shown to the observer
        self._rng = random.Random(latency.seed)
        self._last_entry = 0  # the latest due time of each direction: FIFO, as one connection
        self._last_response = 0
        self._queue: list[tuple[int, int, Any]] = []
        self._seq = 0
        self.decisions = 0

    # --- plumbing ---------------------------------------------------------------------------
    def _push(self, due: int, item: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (due, self._seq, item))

    def _deliver(self, item: Any, now: int) -> None:
        """A queued item is due: an action reaches the venue, or an event the core."""
        if isinstance(item, _ACTIONS):
            for reply in self.venue.apply(item, now):
                self._push(self._response_due(now), reply)
            return
        event = _stamped(item, now)
        out = self.core.handle(event)
        if self.on_core_events is not None:
            self.on_core_events(event)  # after the core: its position includes the event
        if out.actions:
            if self.on_actions is not None:
                self.on_actions(out.actions, now)
            for a in out.actions:
                self._push(self._entry_due(now), a)
        if out.decisions:
            self.decisions += len(out.decisions)
            if self.on_decisions is not None:
                self.on_decisions(out.decisions)

    def _entry_due(self, now: int) -> int:
        due = now + self.latency.entry_ns
        if self.latency.jitter_ns:
            due += int(self._rng.expovariate(1.0 / self.latency.jitter_ns))
        due = max(due, self._last_entry)
        self._last_entry = due
        return due

    def _response_due(self, now: int) -> int:
        due = now + self.latency.response_ns
        if self.latency.jitter_ns:
            due += int(self._rng.expovariate(1.0 / self.latency.jitter_ns))
        due = max(due, self._last_response)
        self._last_response = due
        return due

    def _drain(self, until: int) -> None:
        queue = self._queue
        while queue and queue[0][0] <= until:
            due, _, item = heapq.heappop(queue)
            self._deliver(item, due)

    # --- the replay -------------------------------------------------------------------------
    def run(self, progress: Callable[[float], None] | None = None) -> BacktestResult:
        started = time.perf_counter()
        phases = {"load": 0.0, "book": 0.0, "core": 0.0}
        spec = self.spec
        depth = _load_depth(self.window, spec)
        trades = read_table(self.window, "trades")
        t_exch_np = trades["exch_ts_ms"].astype(np.int64) * _MS
        t_exch = t_exch_np.tolist()
        t_local = trades["local_ts_ns"].astype(np.int64).tolist()
        t_ticks = np.rint(trades["price"].astype(np.float64) / spec.tick_size)
        t_ticks_l = t_ticks.astype(np.int64).tolist()
        t_qty_np = trades["qty"].astype(np.float64)
        t_qty = t_qty_np.tolist()
        t_lots = np.rint(t_qty_np / spec.amount_step).astype(np.int64).tolist()
        t_buy = (trades["aggressor_side"] == "buy").tolist()
        rows = depth.rows + len(t_qty)
        phases["load"] = time.perf_counter() - started
        n_msgs = len(depth.final)
        # one merged order: by exchange time, a trade before the depth message of its ms
        kinds_np = np.concatenate((np.ones(n_msgs, np.int8), np.zeros(len(t_qty), np.int8)))
        times_np = np.concatenate((depth.msg_exch_ns, t_exch_np))
        index_np = np.concatenate((np.arange(n_msgs), np.arange(len(t_qty))))
        order = np.lexsort((kinds_np, times_np))
        kinds = kinds_np[order].tolist()
        times = times_np[order].tolist()
        index = index_np[order].tolist()
        feed_offset = 0
        msg_exch = depth.msg_exch_ns.tolist()
        if self.latency.from_feed and times:
            offsets = [loc - ex for loc, ex in zip(depth.msg_local_ns, msg_exch, strict=True)]
            offsets += [loc - ex for loc, ex in zip(t_local, t_exch, strict=True)]
            feed_offset = min(offsets)
        from_feed = self.latency.from_feed
        venue = self.venue
        push = self._push
        drain = self._drain
        name = self.name
        last_update = -1
        started_book = False
        # the timer's grid starts with the book (the snapshot), as the core's requote grid does
        snapshots = [j for k, j in zip(kinds, index, strict=True) if k == 1 and depth.snapshot[j]]
        next_timer = (
            int(depth.msg_exch_ns[snapshots[0]]) if snapshots else (times[0] if times else 0)
        )
        next_sample = next_timer
        equity: list[float] = []
        end_ns = max(times) if times else 0
        first_ns = times[0] if times else 0
        total = len(times)
        core_t = 0.0
        perf = time.perf_counter
        queue = self._queue
        for n in range(total):
            now = times[n]
            j = index[n]
            if next_timer <= now or (queue and queue[0][0] <= now):
                t0 = perf()
                while next_timer <= now:
                    drain(next_timer)
                    if started_book:
                        mid = venue.mid()
                        if not math.isnan(mid):
                            push(next_timer, ev.Ticker(next_timer, name, mid, mid))
                    push(next_timer, ev.Timer(next_timer))
                    drain(next_timer)
                    if self.observer is not None:
                        self.observer.advance(next_timer)
                    if started_book and next_timer >= next_sample:
                        mid = venue.mid()
                        if not math.isnan(mid):
                            equity.append(venue.pnl(mid))
                        next_sample += _NS
                    next_timer += self.timer_ns
                drain(now)
                core_t += perf() - t0
            if kinds[n] == 1:  # a depth message
                if depth.snapshot[j]:
                    venue.clear_book()
                    last_update = depth.final[j]
                    started_book = True
                    feed_ns = depth.msg_local_ns[j] - msg_exch[j] - feed_offset if from_feed else 0
                    self._apply_levels(depth, j, now + feed_ns, snapshot=True)
                    continue
                if not started_book:
                    continue
                u, first, prev = depth.final[j], depth.first[j], depth.prev[j]
                if u < last_update:
                    continue  # older than the snapshot
                if prev != last_update and not (first <= last_update <= u):
                    raise UserError(
                        f"{self.window.name}: gap in depth update ids at "
                        f"{u} (previous {last_update}, this one follows {prev})"
                    )
                last_update = u
                feed_ns = depth.msg_local_ns[j] - msg_exch[j] - feed_offset if from_feed else 0
                self._apply_levels(depth, j, now + feed_ns, snapshot=False)
                if venue.orders:
                    for f in venue.on_book_through(now):
                        push(self._response_due(now), f)
                    self._observe(now)
                if self.observer is not None:
                    self.observer.on_fair(now, venue.mid())
            else:  # a trade
                if not started_book:
                    continue
                side = Side.BUY if t_buy[j] else Side.SELL
                price = t_ticks_l[j]
                if venue.orders:
                    for f in venue.on_trade(side, price, t_qty[j], now):
                        push(self._response_due(now), f)
                    self._observe(now)
                feed_ns = t_local[j] - t_exch[j] - feed_offset if from_feed else 0
                push(now + feed_ns, ev.PublicTrade(now, name, price, t_lots[j], side, now))
            if progress is not None and n % 20_000 == 0:
                progress(n / total)
        t0 = perf()
        drain(end_ns + 10 * _NS)
        core_t += perf() - t0
        wall = perf() - started
        phases["core"] = core_t
        phases["book"] = wall - phases["load"] - core_t
        if progress is not None:
            progress(1.0)
        return BacktestResult(
            self.name, self.window.name, rows, wall, (end_ns - first_ns) / _NS, venue,
            venue.mid(), phases, self.decisions, equity,
        )  # fmt: skip

    def _observe(self, now: int) -> None:
        """Show the observer the venue's new fills (at the fair before this message)."""
        observer = self.observer
        fills = self.venue.fills
        if observer is None or self._observed == len(fills):
            return
        for i in range(self._observed, len(fills)):
            f = fills[i]
            observer.on_fill(now, str(i), int(f.side), f.price, f.amount)
        self._observed = len(fills)

    def _apply_levels(self, depth: _Depth, j: int, due: int, *, snapshot: bool) -> None:
        """Apply message ``j`` to the venue's book and queue the core's view of it."""
        set_level = self.venue.set_level
        is_bid, ticks, qty, lots = depth.bid, depth.ticks, depth.qty, depth.lots
        bids: list[tuple[int, int]] = []
        asks: list[tuple[int, int]] = []
        for r in range(depth.starts[j], depth.starts[j + 1]):
            price = ticks[r]
            if is_bid[r]:
                set_level(True, price, qty[r])
                bids.append((price, lots[r]))
            else:
                set_level(False, price, qty[r])
                asks.append((price, lots[r]))
        self._push(due, ev.BookUpdate(due, self.name, tuple(bids), tuple(asks), snapshot))


def _stamped(event: Any, now: int) -> ev.Event:
    """The event as the core receives it: stamped with its arrival time."""
    if getattr(event, "now_ns", now) == now:
        return event  # type: ignore[no-any-return]
    import msgspec  # noqa: PLC0415

    return msgspec.structs.replace(event, now_ns=now)  # type: ignore[no-any-return]
