"""The status line and the run summary, read from the engine's state and the run's counters.

Called every few seconds (status) and once at the end (summary), never per message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from thalex_mm.app.run_stats import RunStats, instrument_summary
from thalex_mm.core.engine import Engine


@dataclass(frozen=True, slots=True)
class RunFacts:
    """Run-wide numbers the runner knows (venue, timing, message counters)."""

    venue: str
    network: str
    mode: str
    started_at: float  # epoch seconds
    elapsed_s: float
    stop_reason: str
    msgs_in: int
    msgs_out: int
    throttle_errors: int
    reconnects: int
    journal: str | None


# Above this many instruments the status line aggregates instead of listing each one, so
# its size (and the log volume) does not grow with the number of instruments.
STATUS_DETAIL_MAX = 4


def status_line(
    engine: Engine, stats: RunStats, in_per_s: float, out_per_s: float, blocked: str | None
) -> str:
    rows = []
    idle: dict[str, str] = {}  # instrument -> why it quotes nothing (the last NoQuoteReport)
    for name, inst in engine.instruments.items():
        st = stats.by_name[name]
        bids = len(inst.last_bids) if inst.mq is not None else len(inst.orders.bids)
        asks = len(inst.last_asks) if inst.mq is not None else len(inst.orders.asks)
        pnl = inst.position.total_pnl(inst.mark())
        rows.append((name, bids, asks, inst.position.amount, st, pnl, inst.risk.permit.state.name))
        if inst.last_no_quote:
            idle[name] = inst.last_no_quote
    if len(rows) <= STATUS_DETAIL_MAX:
        body = " | ".join(
            f"{name} quotes {bids}b/{asks}a pos {amount:+g} "
            f"fills {st.fills} rejected {st.rejections} pnl {pnl:+.2f} {state}"
            + (f" (not quoting: {idle[name]})" if name in idle else "")
            for name, bids, asks, amount, st, pnl, state in rows
        )
    else:
        body = _aggregate(rows) + _idle_summary(idle)
    ring = stats.tick_to_order.ring
    p50, p99 = ring.percentile_us(50), ring.percentile_us(99)
    lat = "n/a" if p50 is None or p99 is None else f"p50 {p50:.0f} us p99 {p99:.0f} us"
    # every no-new-risk cause the engine holds (journal, anomalous fill, ...), once each
    reasons = list(engine.restrictions.values())
    if blocked and not any(blocked in r for r in reasons):
        reasons.insert(0, blocked)
    note = f" | NO NEW RISK: {'; '.join(reasons)}" if reasons else ""
    return (
        f"status: {body} | msgs in {in_per_s:.0f}/s out {out_per_s:.0f}/s "
        f"| tick-to-order {lat}{note}"
    )


def _aggregate(rows: list[tuple[str, int, int, float, Any, float, str]]) -> str:
    """One fixed-size summary of many instruments: counts, totals and the worst PnL."""
    both = sum(1 for r in rows if r[1] and r[2])
    one = sum(1 for r in rows if bool(r[1]) != bool(r[2]))
    open_positions = sum(1 for r in rows if r[3] != 0)
    fills = sum(r[4].fills for r in rows)
    rejected = sum(r[4].rejections for r in rows)
    pnl = sum(r[5] for r in rows)
    states: dict[str, int] = {}
    for r in rows:
        states[r[6]] = states.get(r[6], 0) + 1
    worst = min(rows, key=lambda r: r[5])
    state_text = " ".join(f"{name} {count}" for name, count in sorted(states.items()))
    return (
        f"{len(rows)} instruments: quoting both sides {both}, one side {one}, "
        f"none {len(rows) - both - one} | open positions {open_positions} | fills {fills} "
        f"rejected {rejected} | pnl {pnl:+.2f} (worst {worst[0]} {worst[5]:+.2f}) | {state_text}"
    )


def _idle_summary(idle: dict[str, str], shown: int = 2) -> str:
    """Why instruments quote nothing, for the aggregated line: the commonest reasons with
    their counts (each cut to 80 characters, so the line's size stays bounded)."""
    if not idle:
        return ""
    counts: dict[str, int] = {}
    for reason in idle.values():
        counts[reason] = counts.get(reason, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:shown]
    text = ", ".join(f"{reason[:80]} {n}" for reason, n in top)
    more = len(counts) - len(top)
    return f" | not quoting: {text}" + (f" and {more} other reasons" if more else "")


def _pct(stats: RunStats | None, q: float) -> float | None:
    value = stats.tick_to_order.ring.percentile_us(q) if stats is not None else None
    return None if value is None else round(value, 1)


def run_summary(engine: Engine | None, stats: RunStats | None, facts: RunFacts) -> dict[str, Any]:
    elapsed = facts.elapsed_s
    instruments: dict[str, Any] = {}
    if engine is not None and stats is not None:
        for name, inst in engine.instruments.items():
            mark = inst.mark()
            pos = inst.position
            instruments[name] = instrument_summary(
                stats.by_name[name],
                position_lots=pos.lots,
                realised=pos.realised,
                unrealised=pos.unrealised(mark),
                fees=pos.fees,
                total_pnl=pos.total_pnl(mark),
                state=inst.risk.permit.state.name,
                elapsed_s=elapsed,
                final_fair=mark,
                funding=pos.funding,
            )
    return {
        "venue": facts.venue,
        "network": facts.network,
        "mode": facts.mode,
        "instruments": instruments,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(facts.started_at)),
        "duration_s": round(elapsed, 3),
        "stop_reason": facts.stop_reason,
        "msgs_in": facts.msgs_in,
        "msgs_out": facts.msgs_out,
        "msgs_in_per_s": round(facts.msgs_in / elapsed, 1),
        "msgs_out_per_s": round(facts.msgs_out / elapsed, 1),
        "tick_to_order_us_p50": _pct(stats, 50),
        "tick_to_order_us_p99": _pct(stats, 99),
        "tick_to_order_samples": stats.tick_to_order.ring.count if stats is not None else 0,
        "throttle_errors": facts.throttle_errors,
        "reconnects": facts.reconnects,
        "journal": facts.journal,
    }
