"""What ``thalex-mm watch`` shows, built from snapshot reads: a header with the run's state
and alerts, then two tables of every instrument (market, model and our quotes; position,
PnL and activity). Pure functions of the reads, so ``--once``, the live app and the tests
render the same frame.
"""

from __future__ import annotations

import io
import math
from collections import deque
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from thalex_mm.monitor import layout
from thalex_mm.monitor.snapshot import Snapshot

STALE_SNAPSHOT_S = 3.0  # the engine writes its run section every timer tick (100 ms)
STALE_MARKET_S = 5.0
WINDOW_S = 10.0  # rates and latency percentiles over about this much recent time


def quantile_us(buckets: list[int], q: float) -> float | None:
    """The q-quantile (0..1) of a per-bucket histogram, interpolated within its bucket as
    Prometheus's histogram_quantile does; None when empty."""
    total = sum(buckets)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for bound, n in zip(layout.BUCKETS_US, buckets, strict=True):
        if n and seen + n >= rank:
            if math.isinf(bound):
                return lower  # past the last finite bound: at least this
            return lower + (bound - lower) * (rank - seen) / n
        seen += n
        lower = bound
    return lower


@dataclass(frozen=True, slots=True)
class Alert:
    text: str
    severe: bool = True


def alerts(snap: Snapshot, alive: bool = True, previous: Snapshot | None = None) -> list[Alert]:
    """What needs the operator: the engine gone or silent, the session down, back-pressure,
    halted or reducing instruments, stale market data, new throttle errors."""
    out: list[Alert] = []
    r = snap.run
    age = (snap.read_ns - r["updated_ns"]) / 1e9 if r["updated_ns"] else math.inf
    if r["connection"] == layout.STOPPED:
        out.append(Alert(f"run stopped ({r['stop_reason'] or 'no reason given'})", False))
    elif not alive:
        out.append(Alert("engine process is gone (crashed or killed): this is its last state"))
    elif age > STALE_SNAPSHOT_S:
        out.append(Alert(f"engine has not updated its snapshot for {_age(age)}"))
    elif r["connection"] == layout.DISCONNECTED:
        out.append(Alert("DISCONNECTED from the venue (reconnecting)"))
    elif r["connection"] == layout.CONNECTING:
        out.append(Alert("connecting to the venue", False))
    if r["blocked"]:
        out.append(Alert(f"BACK-PRESSURE, no new risk: {r['blocked']}"))
    if previous is not None and r["throttle_errors"] > previous.run["throttle_errors"]:
        new = r["throttle_errors"] - previous.run["throttle_errors"]
        out.append(Alert(f"{new} new throttle errors (venue rate limit)"))
    running = r["connection"] == layout.CONNECTED
    for s in snap.instruments:
        name = s["name"]
        state = s["state"]
        if state == 2:
            out.append(Alert(f"{name} HALTED: {s['reason'] or 'no reason recorded'}"))
        elif state == 1:
            out.append(Alert(f"{name} REDUCING: {s['reason'] or 'no reason recorded'}", False))
        market_ns = s["market_ns"]
        if running and market_ns <= 0:
            out.append(Alert(f"{name}: no market data yet", False))
        elif running and (snap.read_ns - market_ns) / 1e9 > STALE_MARKET_S:
            out.append(
                Alert(f"{name}: market data STALE ({_age((snap.read_ns - market_ns) / 1e9)})")
            )
    return out


class History:
    """Recent reads, so rates and latency can be shown over the last ``WINDOW_S``."""

    def __init__(self) -> None:
        self.reads: deque[Snapshot] = deque()

    def add(self, snap: Snapshot) -> Snapshot | None:
        """Keep ``snap``; returns the oldest read within the window (None: the first)."""
        reads = self.reads
        reads.append(snap)
        while len(reads) > 2 and (snap.read_ns - reads[1].read_ns) / 1e9 >= WINDOW_S:
            reads.popleft()
        return reads[0] if len(reads) > 1 else None


def _diff(now: list[int], then: list[int] | None) -> list[int]:
    return now if then is None else [a - b for a, b in zip(now, then, strict=True)]


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _px(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) or value == 0.0 else f"{value:,.{digits}f}"


def _num(value: float, fmt: str) -> str:
    return "-" if math.isnan(value) else format(value, fmt)


def _us(value: float | None) -> str:
    if value is None:
        return "-"
    return f">={value:.0f}" if value >= layout.BUCKETS_US[-2] else f"{value:.0f}"  # +Inf bucket


def header(snap: Snapshot, found: list[Alert], base: Snapshot | None) -> RenderableType:
    h, r = snap.header, snap.run
    elapsed = (snap.read_ns - h["started_ns"]) / 1e9
    buckets = _diff(r["t2o_buckets"], base.run["t2o_buckets"] if base is not None else None)
    p50, p99 = quantile_us(buckets, 0.5), quantile_us(buckets, 0.99)
    window = "last 10 s" if base is not None else "whole run"
    connection = layout.CONNECTION_NAMES[r["connection"]]
    journal = f"backlog {r['journal_backlog_bytes']:,} B" if r["journal"] else "off"
    line1 = Text.assemble(
        ("thalex-mm ", "bold"), (f"run {snap.run_id}", "cyan"), f"  {h['mode']}  {h['venue']}"
    )
    line2 = Text(
        f"{connection} | up {_age(elapsed)} | msgs in {r['msgs_in_per_s']:.0f}/s "
        f"out {r['msgs_out_per_s']:.0f}/s | reconnects {r['reconnects']} | throttle errors "
        f"{r['throttle_errors']} | journal {journal} | tick-to-order p50 {_us(p50)} us "
        f"p99 {_us(p99)} us ({window}, {sum(buckets)} samples)"
    )
    lines: list[RenderableType] = [line1, line2]
    if found:
        for a in found:
            lines.append(Text(f"! {a.text}", style="bold red" if a.severe else "yellow"))
    else:
        lines.append(Text("no alerts", style="green"))
    return Group(*lines)


def _state_text(state: int) -> Text:
    name = layout.RISK_STATE_NAMES[state] if 0 <= state < 3 else str(state)
    return Text(name, style=("green", "yellow", "bold red")[state] if 0 <= state < 3 else "")


def market_table(snap: Snapshot) -> Table:
    """Per instrument: the book, the venue's prices, the model, and our quotes around it."""
    t = Table(title="market, model and our quotes", expand=True, title_justify="left")
    for col in (
        "instrument", "state", "bid", "ask", "mark", "index", "funding", "sigma", "A / k",
        "reservation", "our bid (from mid)", "our ask (from mid)", "spread", "levels",
    ):  # fmt: skip
        t.add_column(col, justify="left" if col in ("instrument", "state") else "right")
    for s in snap.instruments:
        mid = s["mid"]
        nb, na = s["bid_levels"], s["ask_levels"]
        bid = s["bid_price"][0] if nb else math.nan
        ask = s["ask_price"][0] if na else math.nan
        our_bid = "-" if not nb else f"{_px(bid)} ({_num(bid - mid, '+.1f')})"
        our_ask = "-" if not na else f"{_px(ask)} ({_num(ask - mid, '+.1f')})"
        t.add_row(
            s["name"], _state_text(s["state"]), _px(s["best_bid"]), _px(s["best_ask"]),
            _px(s["mark"], 2), _px(s["index"], 2), _num(s["funding_rate"], ".6f"),
            _num(s["sigma"], ".3g"), f"{_num(s['A'], '.3g')} / {_num(s['k'], '.3g')}",
            _px(s["reservation"], 2), our_bid, our_ask, _px(s["spread"]), f"{nb}b/{na}a",
        )  # fmt: skip
    return t


def position_table(snap: Snapshot, base: Snapshot | None) -> Table:
    """Per instrument: position and PnL (split as in the summary), fills, rates, latency."""
    t = Table(title="position, PnL (USD) and activity", expand=True, title_justify="left")
    for col in (
        "instrument", "position", "pnl", "edge", "inventory", "fees", "funding", "fills",
        "rejects", "orders i/a/c", "md msgs/s", "t2o p50/p99 us", "reason",
    ):  # fmt: skip
        t.add_column(col, justify="left" if col in ("instrument", "reason") else "right")
    olds = {s["name"]: s for s in base.instruments} if base is not None else {}
    for s in snap.instruments:
        old = olds.get(s["name"])
        buckets = _diff(s["t2o_buckets"], old["t2o_buckets"] if old is not None else None)
        pnl = s["total_pnl"]
        t.add_row(
            s["name"], f"{s['position']:+g}",
            Text(f"{pnl:+.4f}", style="green" if pnl >= 0 else "red"),
            f"{s['edge_pnl']:+.4f}", f"{s['inventory_pnl']:+.4f}", f"{s['fees']:.4f}",
            f"{s['funding']:+.4f}", str(s["fills"]), str(s["rejections"]),
            f"{s['inserts']}/{s['amends']}/{s['cancels']}", f"{s['market_msgs_per_s']:.0f}",
            f"{_us(quantile_us(buckets, 0.5))}/{_us(quantile_us(buckets, 0.99))}", s["reason"],
        )  # fmt: skip
    return t


def frame(snap: Snapshot, *, alive: bool = True, base: Snapshot | None = None) -> RenderableType:
    """The whole dashboard for one read (``base``: a read about WINDOW_S earlier)."""
    found = alerts(snap, alive, base)
    return Group(header(snap, found, base), market_table(snap), position_table(snap, base))


def frame_text(renderable: RenderableType, width: int = 200) -> str:
    """A frame as plain text (``--once`` to a pipe, the tests)."""
    from rich.console import Console  # noqa: PLC0415

    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
