"""Counters the runner keeps per instrument, and what they say at the end (the run summary).

Counting is cheap (integer and float additions on the loop); percentiles and formatting happen
only in status lines and the summary. Fills are counted once per trade id, as the core does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from thalex_mm.app.latency import TickToOrder
from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.core.trade_ids import TradeIds
from thalex_mm.domain import InstrumentSpec

_SEEN_TRADES = 4096  # copies of a fill arrive seconds apart (see core/trade_ids.py)
# per-instrument tick-to-order rings (the run-wide one keeps run.latency_samples): 100
# instruments x 65,536 int64 would be 52 MB once filled
PER_INSTRUMENT_SAMPLES = 4096

# The keys of the summary (text and --summary-json); tests check the JSON has all of them.
INSTRUMENT_KEYS = (
    "quotes_inserted",
    "quotes_amended",
    "quotes_cancelled",
    "mass_quotes",
    "rejections",
    "fills",
    "volume",
    "notional",
    "final_position",
    "realised_pnl",
    "unrealised_pnl",
    "fees",
    "total_pnl",
    "spread_captured",
    "max_inventory",
    "tick_to_order_us_p50",
    "tick_to_order_us_p99",
    "tick_to_order_samples",
    "market_msgs_per_s",
    "state",
)
RUN_KEYS = (
    "venue",
    "network",
    "mode",
    "instruments",
    "started_at",
    "duration_s",
    "stop_reason",
    "msgs_in",
    "msgs_out",
    "msgs_in_per_s",
    "msgs_out_per_s",
    "tick_to_order_us_p50",
    "tick_to_order_us_p99",
    "tick_to_order_samples",
    "throttle_errors",
    "reconnects",
    "journal",
)


class InstrumentStats:
    """What happened on one instrument during the run."""

    __slots__ = (
        "amends",
        "cancels",
        "fills",
        "inserts",
        "market_msgs",
        "mass_quotes",
        "max_inventory_lots",
        "notional",
        "rejections",
        "spec",
        "spread_captured",
        "tick_to_order",
        "volume_lots",
    )

    def __init__(self, spec: InstrumentSpec, latency_samples: int) -> None:
        self.spec = spec
        self.inserts = 0
        self.amends = 0
        self.cancels = 0
        self.mass_quotes = 0
        self.rejections = 0
        self.fills = 0
        self.volume_lots = 0
        self.notional = 0.0
        self.spread_captured = 0.0  # sum of side * (mid - price) * amount at fill time
        self.max_inventory_lots = 0
        self.market_msgs = 0
        self.tick_to_order = TickToOrder(min(latency_samples, PER_INSTRUMENT_SAMPLES))

    def on_fill(self, fill: ev.Fill, mid: float) -> None:
        spec = self.spec
        amount = fill.amount_lots * spec.amount_step
        price = fill.price_ticks * spec.tick_size
        self.fills += 1
        self.volume_lots += fill.amount_lots
        self.notional += amount * price
        if mid > 0.0:
            self.spread_captured += int(fill.side) * (mid - price) * amount

    def on_position(self, lots: int) -> None:
        self.max_inventory_lots = max(self.max_inventory_lots, abs(lots))


class RunStats:
    """Per-instrument stats plus the run-wide counters; owns the trade-id de-duplication."""

    def __init__(self, specs: Iterable[InstrumentSpec], latency_samples: int) -> None:
        self.by_name: dict[str, InstrumentStats] = {
            s.name: InstrumentStats(s, latency_samples) for s in specs
        }
        self.tick_to_order = TickToOrder(latency_samples, phases=True)
        self._open: list[TickToOrder] = []  # per-instrument samples waiting for their write
        self.seen_trades = TradeIds(_SEEN_TRADES)  # bounded: the newest trade ids (stats only)

    def new_fill(self, trade_id: str) -> bool:
        """True the first time a trade id is seen (fills reach us by reply and by feed)."""
        return self.seen_trades.add(trade_id)

    def count_actions(self, actions: Iterable[act.Action]) -> None:
        by_name = self.by_name
        for a in actions:
            t = type(a)
            if t is act.Insert:
                st = by_name.get(a.instrument)  # type: ignore[union-attr]
                if st is not None:
                    st.inserts += 1
            elif t is act.Amend:
                st = by_name.get(a.instrument)  # type: ignore[union-attr]
                if st is not None:
                    st.amends += 1
            elif t is act.Cancel:
                st = by_name.get(a.instrument)  # type: ignore[union-attr]
                if st is not None:
                    st.cancels += 1
            elif t is act.MassQuote:
                st = by_name.get(a.instrument)  # type: ignore[union-attr]
                if st is not None:
                    st.mass_quotes += 1

    def mark_tick(self, st: InstrumentStats, rx_ns: int, frame_ns: int, batch: int) -> None:
        """A market-data frame of ``st``'s instrument produced orders: open its samples."""
        self.tick_to_order.mark(rx_ns, frame_ns, batch)
        if st.tick_to_order.mark(rx_ns, frame_ns, batch):
            self._open.append(st.tick_to_order)

    def reset_ticks(self) -> None:
        """Forget open samples (their orders will not be written: disconnected)."""
        self.tick_to_order.reset()
        for t in self._open:
            t.reset()
        self._open.clear()

    def batch_written(self, batch: int, write_ns: int, tx_ns: int, frames: int) -> None:
        self.tick_to_order.written(batch, write_ns, tx_ns, frames)
        if self._open:  # only the open ones: not a call per instrument per write
            self._open = [t for t in self._open if not t.written(batch, write_ns, tx_ns)]


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def instrument_summary(
    st: InstrumentStats,
    *,
    position_lots: int,
    realised: float,
    unrealised: float,
    fees: float,
    total_pnl: float,
    state: str,
    elapsed_s: float,
) -> dict[str, Any]:
    spec = st.spec
    ring = st.tick_to_order.ring
    return {
        "quotes_inserted": st.inserts,
        "quotes_amended": st.amends,
        "quotes_cancelled": st.cancels,
        "mass_quotes": st.mass_quotes,
        "rejections": st.rejections,
        "fills": st.fills,
        "volume": spec.lots_to_amount(st.volume_lots),
        "notional": round(st.notional, 2),
        "final_position": spec.lots_to_amount(position_lots),
        "realised_pnl": round(realised, 6),
        "unrealised_pnl": round(unrealised, 6),
        "fees": round(fees, 6),
        "total_pnl": round(total_pnl, 6),
        "spread_captured": round(st.spread_captured, 6),
        "max_inventory": spec.lots_to_amount(st.max_inventory_lots),
        "tick_to_order_us_p50": _round(ring.percentile_us(50), 1),
        "tick_to_order_us_p99": _round(ring.percentile_us(99), 1),
        "tick_to_order_samples": ring.count,
        "market_msgs_per_s": round(st.market_msgs / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        "state": state,
    }


def _fmt_us(value: Any) -> str:
    return "n/a" if value is None else f"{value:.0f} us"


def format_summary(summary: dict[str, Any]) -> str:
    """The human-readable end-of-run summary (the same numbers as the JSON)."""
    lines = [
        f"run summary: {summary['mode']} on {summary['venue']}, "
        f"{summary['duration_s']:.1f} s, stopped by {summary['stop_reason']}",
    ]
    for name, s in summary["instruments"].items():
        lines += [
            f"  {name} [{s['state']}]",
            f"    quotes    inserted {s['quotes_inserted']}, amended {s['quotes_amended']}, "
            f"cancelled {s['quotes_cancelled']}, mass quotes {s['mass_quotes']}, "
            f"rejected {s['rejections']}",
            f"    fills     {s['fills']} fills, volume {s['volume']:g} "
            f"(notional {s['notional']:,.2f})",
            f"    position  final {s['final_position']:+g}, max inventory {s['max_inventory']:g}",
            f"    pnl       realised {s['realised_pnl']:+.4f}, unrealised "
            f"{s['unrealised_pnl']:+.4f}, fees {s['fees']:.4f}, total {s['total_pnl']:+.4f}",
            f"    spread    captured {s['spread_captured']:+.4f}",
            f"    latency   tick-to-order p50 {_fmt_us(s['tick_to_order_us_p50'])}, "
            f"p99 {_fmt_us(s['tick_to_order_us_p99'])} ({s['tick_to_order_samples']} samples); "
            f"market data {s['market_msgs_per_s']:.1f} msgs/s",
        ]
    lines.append(
        f"  all: msgs in {summary['msgs_in']} ({summary['msgs_in_per_s']:.1f}/s), "
        f"out {summary['msgs_out']} ({summary['msgs_out_per_s']:.1f}/s); tick-to-order "
        f"p50 {_fmt_us(summary['tick_to_order_us_p50'])}, "
        f"p99 {_fmt_us(summary['tick_to_order_us_p99'])}; "
        f"throttle errors {summary['throttle_errors']}, reconnects {summary['reconnects']}"
    )
    journal = summary.get("journal")
    if journal:
        lines.append(
            f"  journal: {journal} (read it back: thalex-mm journal summary --journal {journal})"
        )
    else:
        lines.append("  journal: off")
    return "\n".join(lines)
