"""Counters the runner keeps per instrument, and what they say at the end (the run summary).

Counting is cheap (integer and float additions on the loop); percentiles and formatting happen
only in status lines and the summary. Fills are counted once per trade id, as the core does.
How good the fills were (edge at fill against fair value, markouts, the PnL's sources) is
``app/markouts.py``; the summary says it in numbers and in words.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, assert_never

from thalex_mm.app.latency import TickToOrder
from thalex_mm.app.markouts import HORIZONS_S, Decomposition, FillQuality, decompose
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
    "funding",
    "total_pnl",
    # the edge at fill against fair value (the mark), not against a mid with our own quotes
    "edge_usd",
    "edge_usd_per_unit",
    "fees_usd_per_unit",
    "fills_without_fair",
    *(
        f"markout_{h}s_{part}"
        for h in HORIZONS_S
        for part in ("usd", "usd_per_unit", "fills", "left_out")
    ),
    # total_pnl = edge_usd + inventory_pnl + carried_pnl - fees + funding + unexplained_pnl
    "inventory_pnl",
    "carried_pnl",
    "unexplained_pnl",
    "pnl_why",
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
        "quality",
        "rejections",
        "spec",
        "start_amount",
        "start_price",
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
        self.quality = FillQuality()  # edge at fill, markouts, inventory (app/markouts.py)
        self.start_amount = 0.0  # the position taken over at start ...
        self.start_price = 0.0  # ... and its entry price (the venue's average)
        self.max_inventory_lots = 0
        self.market_msgs = 0
        self.tick_to_order = TickToOrder(min(latency_samples, PER_INSTRUMENT_SAMPLES))

    def on_fill(self, fill: ev.Fill, now_ns: int) -> None:
        spec = self.spec
        amount = fill.amount_lots * spec.amount_step
        price = fill.price_ticks * spec.tick_size
        self.fills += 1
        self.volume_lots += fill.amount_lots
        self.notional += amount * price
        self.quality.on_fill(now_ns, fill.trade_id, int(fill.side), price, amount)

    def on_start(self, lots: int, average_price: float) -> None:
        """The position the core took over from the venue at start (part of its PnL)."""
        self.start_amount = lots * self.spec.amount_step
        self.start_price = average_price

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

    def advance(self, now_ns: int) -> None:
        """Resolve the markouts due by ``now_ns`` (the runner's timer)."""
        for st in self.by_name.values():
            st.quality.advance(now_ns)

    def fair_at_fill(self, instrument: str, trade_id: str) -> float | None:
        """The fair value when ``trade_id`` filled (recent fills), else the latest one."""
        st = self.by_name.get(instrument)
        if st is None:
            return None
        q = st.quality
        fair = q.fair_at.get(trade_id, q.fair)
        return fair if fair > 0.0 else None

    def new_fill(self, trade_id: str) -> bool:
        """True the first time a trade id is seen (fills reach us by reply and by feed)."""
        return self.seen_trades.add(trade_id)

    def count_actions(self, actions: Iterable[act.Action]) -> None:
        by_name = self.by_name
        for a in actions:
            match a:
                case act.Insert():
                    st = by_name.get(a.instrument)
                    if st is not None:
                        st.inserts += 1
                case act.Amend():
                    st = by_name.get(a.instrument)
                    if st is not None:
                        st.amends += 1
                case act.Cancel():
                    st = by_name.get(a.instrument)
                    if st is not None:
                        st.cancels += 1
                case act.MassQuote():
                    st = by_name.get(a.instrument)
                    if st is not None:
                        st.mass_quotes += 1
                case act.CancelAll() | act.SetMMProtection():
                    pass  # account-wide: no instrument's counter
                case _:
                    assert_never(a)

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


def _per_unit(value: float, volume: float) -> float | None:
    return round(value / volume, 6) if volume > 0 else None


def unit_of(spec: InstrumentSpec) -> str:
    """What amounts count in, for "USD/BTC": the name's first part (BTC-PERPETUAL: BTC)."""
    return spec.name.split("-")[0] or "unit"


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
    final_fair: float = 0.0,
    funding: float = 0.0,
) -> dict[str, Any]:
    spec = st.spec
    ring = st.tick_to_order.ring
    q = st.quality
    parts = decompose(
        q, final_fair=final_fair, start_amount=st.start_amount, start_price=st.start_price,
        fees=fees, funding=funding, total=total_pnl,
    )  # fmt: skip
    markouts: dict[str, Any] = {}
    for h in q.horizons:
        markouts[f"markout_{h.seconds}s_usd"] = round(h.total, 6)
        markouts[f"markout_{h.seconds}s_usd_per_unit"] = _per_unit(h.total, h.volume)
        markouts[f"markout_{h.seconds}s_fills"] = h.fills
        markouts[f"markout_{h.seconds}s_left_out"] = h.left_out
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
        "funding": round(funding, 6),
        "total_pnl": round(total_pnl, 6),
        "edge_usd": round(q.edge, 6),
        "edge_usd_per_unit": _per_unit(q.edge, q.volume),
        "fees_usd_per_unit": _per_unit(fees, q.volume),
        "fills_without_fair": q.no_fair,
        **markouts,
        "inventory_pnl": round(parts.inventory, 6),
        "carried_pnl": round(parts.carried, 6),
        "unexplained_pnl": round(parts.unexplained, 6),
        "pnl_why": pnl_why(parts, q, unit_of(spec)),
        "max_inventory": spec.lots_to_amount(st.max_inventory_lots),
        "tick_to_order_us_p50": _round(ring.percentile_us(50), 1),
        "tick_to_order_us_p99": _round(ring.percentile_us(99), 1),
        "tick_to_order_samples": ring.count,
        "market_msgs_per_s": round(st.market_msgs / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        "state": state,
    }


def pnl_why(parts: Decomposition, q: FillQuality, unit: str) -> str:
    """The PnL's sources in words: edge against fees per unit, what the fills were worth
    later, and what price moves did to the position."""
    volume = q.volume
    words: list[str] = []
    if volume > 0:
        edge, fees = parts.edge / volume, parts.fees / volume
        net = edge - fees
        verdict = "the edge covered the fees" if net >= 0 else "the fees exceeded the edge"
        words.append(
            f"edge at fill {edge:+.2f} USD/{unit} vs fees {fees:.2f} USD/{unit}: {verdict} "
            f"by {abs(net):.2f} USD/{unit} ({net * volume:+.4f} USD on {volume:g} {unit})"
        )
        resolved = [h for h in q.horizons if h.volume > 0]
        if resolved:
            h = resolved[-1]
            later = h.total / h.volume
            drift = "adverse selection" if later < edge else "price moved our way"
            words.append(
                f"{h.seconds} s after the fills they were worth {later:+.2f} USD/{unit} "
                f"({drift}: {later - edge:+.2f})"
            )
    else:
        words.append("no fills: no edge and no fees")
    words.append(f"price moves on the position {parts.inventory:+.4f} USD")
    if parts.carried:
        words.append(f"the position carried in from before the run {parts.carried:+.4f} USD")
    if parts.funding:
        words.append(f"funding {parts.funding:+.4f} USD")
    if abs(parts.unexplained) > 1e-6:
        words.append(f"unexplained {parts.unexplained:+.4f} USD (fills the run did not count)")
    return "; ".join(words)


def _fmt_us(value: Any) -> str:
    return "n/a" if value is None else f"{value:.0f} us"


def _fmt_pu(value: float | None, unit: str, sign: str = "+") -> str:
    return "n/a" if value is None else f"{value:{sign}.2f} USD/{unit}"


def _markouts(s: dict[str, Any], unit: str) -> str:
    """'1 s +0.30 USD/BTC (+0.0210 USD, 70 fills), ...; left out (too near the end) ...'"""
    done = ", ".join(
        f"{h} s {_fmt_pu(s[f'markout_{h}s_usd_per_unit'], unit)} "
        f"({s[f'markout_{h}s_usd']:+.4f} USD, {s[f'markout_{h}s_fills']} fills)"
        for h in HORIZONS_S
    )
    left = ", ".join(f"{h} s {s[f'markout_{h}s_left_out']}" for h in HORIZONS_S)
    return f"{done}; left out (too near the end) {left}"


def format_summary(summary: dict[str, Any]) -> str:
    """The human-readable end-of-run summary (the same numbers as the JSON)."""
    lines = [
        f"run summary: {summary['mode']} on {summary['venue']}, "
        f"{summary['duration_s']:.1f} s, stopped by {summary['stop_reason']}",
    ]
    for name, s in summary["instruments"].items():
        unit = name.split("-")[0] or "unit"
        lines += [
            f"  {name} [{s['state']}]",
            f"    quotes    inserted {s['quotes_inserted']}, amended {s['quotes_amended']}, "
            f"cancelled {s['quotes_cancelled']}, mass quotes {s['mass_quotes']}, "
            f"rejected {s['rejections']}",
            f"    fills     {s['fills']} fills, volume {s['volume']:g} "
            f"(notional {s['notional']:,.2f})",
            f"    position  final {s['final_position']:+g}, max inventory {s['max_inventory']:g}",
            f"    pnl       realised {s['realised_pnl']:+.4f}, unrealised "
            f"{s['unrealised_pnl']:+.4f}, fees {s['fees']:.4f}, funding {s['funding']:+.4f}, "
            f"total {s['total_pnl']:+.4f}",
            f"    edge      at fill vs fair {s['edge_usd']:+.4f} USD "
            f"({_fmt_pu(s['edge_usd_per_unit'], unit)}), "
            f"fees {_fmt_pu(s['fees_usd_per_unit'], unit, '')}",
            "    markouts  " + _markouts(s, unit),
            f"    sources   edge {s['edge_usd']:+.4f} + inventory {s['inventory_pnl']:+.4f} "
            f"+ carried {s['carried_pnl']:+.4f} - fees {s['fees']:.4f} + funding "
            f"{s['funding']:+.4f} = total {s['total_pnl']:+.4f}"
            + (f" (unexplained {s['unexplained_pnl']:+.4f})" if s["unexplained_pnl"] else ""),
            f"    why       {s['pnl_why']}",
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
