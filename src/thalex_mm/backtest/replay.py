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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Latency:
    """Order entry and response latency (ns); feed latency per event from the recording's
    own clocks (``from_feed``: local − exchange time, less its minimum) or none."""

    entry_ns: int = 0
    response_ns: int = 0
    from_feed: bool = False


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

    def summary(self) -> dict[str, Any]:
        v = self.venue
        volume = sum(f.amount for f in v.fills)
        edge = sum(int(f.side) * f.amount * (f.fair - f.price) for f in v.fills if f.fair == f.fair)
        pnl = v.pnl(self.final_mid)
        return {
            "window": self.window,
            "instrument": self.instrument,
            "fills": len(v.fills),
            "volume": round(volume, 8),
            "notional": round(sum(f.price * f.amount for f in v.fills), 4),
            "pnl": round(pnl, 6),
            "pnl_before_fees": round(pnl + v.fees, 6),
            "fees": round(v.fees, 6),
            "edge_at_fill": round(edge, 6),
            "edge_per_unit": round(edge / volume, 4) if volume else None,
            "inventory_pnl": round(pnl + v.fees - edge, 6),
            "final_position": round(v.position, 8),
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
    """The window's depth table as arrays, cut into messages (one update-id range each)."""

    exch_ns: np.ndarray
    local_ns: np.ndarray
    first: np.ndarray
    final: np.ndarray
    prev: np.ndarray
    snapshot: np.ndarray
    bid: np.ndarray  # bool per row
    ticks: np.ndarray
    qty: np.ndarray
    starts: np.ndarray  # row index where each message starts (plus len at the end)


def _load_depth(window: Window, spec: InstrumentSpec) -> _Depth:
    cols = read_table(window, "depth")
    final = cols["final_update_id"].astype(np.int64)
    n = final.size
    cut = np.flatnonzero(np.diff(final) != 0) + 1
    starts = np.concatenate(([0], cut, [n])).astype(np.int64)
    side = cols["side"]
    return _Depth(
        cols["exch_ts_ms"].astype(np.int64) * _MS,
        cols["local_ts_ns"].astype(np.int64),
        np.nan_to_num(cols["first_update_id"].astype(np.float64), nan=-1).astype(np.int64),
        final,
        np.nan_to_num(cols["prev_final_update_id"].astype(np.float64), nan=-1).astype(np.int64),
        cols["is_snapshot"].astype(np.int64) == 1,
        side == "bid",
        np.rint(cols["price"].astype(np.float64) / spec.tick_size).astype(np.int64),
        cols["qty"].astype(np.float64),
        starts,
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
        self._queue: list[tuple[int, int, Any]] = []
        self._seq = 0
        self.decisions = 0

    # --- plumbing ---------------------------------------------------------------------------
    def _push(self, due: int, item: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (due, self._seq, item))

    def _deliver(self, item: Any, now: int) -> None:
        """A queued item is due: an action reaches the venue, or an event the core."""
        if isinstance(item, act.Insert | act.Amend | act.Cancel | act.CancelAll):
            for reply in self.venue.apply(item, now):
                self._push(now + self.latency.response_ns, reply)
            return
        if isinstance(item, act.SetMMProtection | act.MassQuote):
            for reply in self.venue.apply(item, now):
                self._push(now + self.latency.response_ns, reply)
            return
        event = _stamped(item, now)
        if self.on_core_events is not None:
            self.on_core_events(event)
        out = self.core.handle(event)
        if out.actions:
            if self.on_actions is not None:
                self.on_actions(out.actions, now)
            for a in out.actions:
                self._push(now + self.latency.entry_ns, a)
        if out.decisions:
            self.decisions += len(out.decisions)
            if self.on_decisions is not None:
                self.on_decisions(out.decisions)

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
        t_exch = trades["exch_ts_ms"].astype(np.int64) * _MS
        t_local = trades["local_ts_ns"].astype(np.int64)
        t_ticks = np.rint(trades["price"].astype(np.float64) / spec.tick_size).astype(np.int64)
        t_qty = trades["qty"].astype(np.float64)
        t_buy = trades["aggressor_side"] == "buy"
        rows = int(depth.qty.size + t_qty.size)
        phases["load"] = time.perf_counter() - started
        n_msgs = depth.starts.size - 1
        msg_exch = depth.exch_ns[depth.starts[:-1]]
        # one merged order: (exchange time, trades before the depth message of the same ms)
        kinds = np.concatenate((np.ones(n_msgs, np.int8), np.zeros(t_qty.size, np.int8)))
        times = np.concatenate((msg_exch, t_exch))
        index = np.concatenate((np.arange(n_msgs), np.arange(t_qty.size)))
        order = np.lexsort((kinds, times))
        feed_offset = 0
        if self.latency.from_feed:
            offsets = np.concatenate((depth.local_ns - depth.exch_ns, t_local - t_exch))
            feed_offset = int(offsets.min())
        venue = self.venue
        bids, asks = venue.bids, venue.asks
        last_update = -1
        started_book = False
        next_timer = -1
        end_ns = int(times.max()) if times.size else 0
        first_ns = int(times.min()) if times.size else 0
        total = len(order)
        core_t = 0.0
        for n, i in enumerate(order.tolist()):
            now = int(times[i])
            if next_timer < 0:
                next_timer = now
            t0 = time.perf_counter()
            while next_timer <= now:
                self._drain(next_timer)
                if started_book:
                    mid = venue.mid()
                    if not math.isnan(mid):
                        self._push(next_timer, ev.Ticker(next_timer, self.name, mid, mid))
                self._push(next_timer, ev.Timer(next_timer))
                self._drain(next_timer)
                next_timer += self.timer_ns
            self._drain(now)
            core_t += time.perf_counter() - t0
            j = index[i]
            if kinds[i] == 1:  # a depth message
                a, b = int(depth.starts[j]), int(depth.starts[j + 1])
                if depth.snapshot[a]:
                    bids.clear()
                    asks.clear()
                    last_update = int(depth.final[a])
                    started_book = True
                    changes = self._apply_levels(depth, a, b)
                    feed_ns = depth.local_ns[a] - depth.exch_ns[a] - feed_offset
                    self._view(now, feed_ns, changes, snapshot=True)
                    continue
                if not started_book:
                    continue
                u, first, prev = int(depth.final[a]), int(depth.first[a]), int(depth.prev[a])
                if u < last_update:
                    continue  # older than the snapshot
                if last_update >= 0 and prev != last_update and not (first <= last_update <= u):
                    raise UserError(
                        f"{self.window.name}: gap in depth update ids at "
                        f"{u} (previous {last_update}, this one follows {prev})"
                    )
                last_update = u
                changes = self._apply_levels(depth, a, b)
                fills = venue.on_book_through(now)
                for f in fills:
                    self._push(now + self.latency.response_ns, f)
                feed_ns = (
                    depth.local_ns[a] - depth.exch_ns[a] - feed_offset
                    if self.latency.from_feed
                    else 0
                )
                self._view(now, feed_ns, changes, snapshot=False)
            else:  # a trade
                if not started_book:
                    continue
                side = Side.BUY if t_buy[j] else Side.SELL
                price = int(t_ticks[j])
                for f in venue.on_trade(side, price, float(t_qty[j]), now):
                    self._push(now + self.latency.response_ns, f)
                feed_ns = int(t_local[j] - t_exch[j] - feed_offset) if self.latency.from_feed else 0
                lots = spec.amount_to_lots_floor(float(t_qty[j]) + 0.5 * spec.amount_step)
                self._push(now + feed_ns, ev.PublicTrade(now, self.name, price, lots, side, now))
            if progress is not None and n % 20_000 == 0:
                progress(n / total)
        t0 = time.perf_counter()
        self._drain(end_ns + 10 * _NS)
        core_t += time.perf_counter() - t0
        wall = time.perf_counter() - started
        phases["core"] = core_t
        phases["book"] = wall - phases["load"] - core_t
        if progress is not None:
            progress(1.0)
        return BacktestResult(
            self.name, self.window.name, rows, wall, (end_ns - first_ns) / _NS, venue,
            venue.mid(), phases, self.decisions,
        )  # fmt: skip

    def _apply_levels(self, depth: _Depth, a: int, b: int) -> list[tuple[bool, int, float]]:
        venue = self.venue
        bids, asks = venue.bids, venue.asks
        changes: list[tuple[bool, int, float]] = []
        is_bid = depth.bid
        ticks = depth.ticks
        qty = depth.qty
        for r in range(a, b):
            book = bids if is_bid[r] else asks
            price = int(ticks[r])
            q = float(qty[r])
            old = book.get(price, 0.0)
            if q > 0.0:
                book[price] = q
            else:
                book.pop(price, None)
            if q < old:
                venue.level_changed(Side.BUY if is_bid[r] else Side.SELL, price, old, q)
            changes.append((bool(is_bid[r]), price, q))
        return changes

    def _view(
        self, now: int, feed_ns: int, changes: list[tuple[bool, int, float]], *, snapshot: bool
    ) -> None:
        spec = self.spec
        half = 0.5 * spec.amount_step
        lots = spec.amount_to_lots_floor
        bids = tuple((p, lots(q + half)) for is_bid, p, q in changes if is_bid)
        asks = tuple((p, lots(q + half)) for is_bid, p, q in changes if not is_bid)
        self._push(now + max(feed_ns, 0), ev.BookUpdate(now, self.name, bids, asks, snapshot))


def _stamped(event: Any, now: int) -> ev.Event:
    """The event as the core receives it: stamped with its arrival time."""
    if getattr(event, "now_ns", now) == now:
        return event  # type: ignore[no-any-return]
    import msgspec  # noqa: PLC0415

    return msgspec.structs.replace(event, now_ns=now)  # type: ignore[no-any-return]
