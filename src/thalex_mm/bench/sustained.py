"""Benchmark: sustained load, and what the journal adds to loop lag with the real engine.

The Runner quotes 100 instruments (mass quotes, 2 levels a side) against the local exchange
in its own process, publishing raw tickers and top-of-book at 10,000 msg/s in aggregate,
for 8 minutes (at least the 5 asked for, and long enough for the memory benchmark's
after-warm-up window; ``--quick``: 8 s). See ``engine_load`` for how each number is taken.

- ``sustained_md_msgs_per_s``: market messages the engine handled per second.
- ``sustained_loop_lag_us_p99``: p99 lateness of a 1 ms asyncio ticker during the journal-on
  phases (timers have 1 ms resolution, so the floor is ~1 ms whatever the load); the
  ``_probe_`` metrics are the finer measure (wait of a ``call_soon`` dropped on each tick).
- ``sustained_cpu_pct``: CPU of the engine process over wall time (100 = one core).
- ``sustained_msgs_dropped``: frames the exchange queued for our session minus frames the
  client received, plus frames the exchange could not write, slow-consumer cut-offs and
  reconnects; counted after quiescing the session, so it is exact. Must be 0.
- ``sustained_quotes_current_pct``: of (1 s sample x instrument), the share with a bid and an
  ask live on the venue. Fills take levels out and the venue's rate limit (50 msg/s per
  session for 100 instruments) lets each instrument update only every 2.5 s, so this is not
  100; ``_in_sync_pct`` is the share whose venue ladder equals the engine's newest one.
- ``loop_lag_added_engine_us_p99``: the journal's cost with the whole engine running (harsher
  than the journal benchmark's ``loop_lag_added_us_p99``, which is the issue's definition:
  200 records/s and a 10,000 records/s burst on an otherwise idle loop). The window
  alternates journal on/off phases (A/B/B/A ...); per pair, p99 probe wait on minus off;
  the median of the pair differences, with every pair's values listed.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from thalex_mm.bench.engine_load import cached_session, hundred_instruments


def _r(value: Any, digits: int = 1) -> float:
    number = float(value)
    return round(number, digits) if math.isfinite(number) else -1.0


def dropped(result: dict[str, Any]) -> int:
    """Frames lost between the exchange and the engine, from a session's counters."""
    count = result["count"]
    session = count["session"]
    if not session:  # our session was not found: nothing can be claimed
        return -1
    lost = abs(int(session.get("frames_out", 0)) - int(count["client_frames"]))
    lost += int(session.get("frames_dropped", 0))
    lost += int(count["exchange"].get("slow_consumer_disconnects", 0))
    return lost + int(result.get("reconnects", 0))


def journal_pairs(phases: dict[str, dict[str, float]], key: str) -> list[tuple[float, float]]:
    """(on, off) values of ``key`` for every complete phase pair, in run order."""
    pairs = []
    k = 0
    while f"on{k}" in phases and f"off{k}" in phases:
        pairs.append((phases[f"on{k}"][key], phases[f"off{k}"][key]))
        k += 1
    return pairs


def _on_phases(phases: dict[str, dict[str, float]]) -> dict[str, float]:
    on = [v for name, v in phases.items() if name.startswith("on")]
    if not on:
        return {}
    return {k: max(v[k] for v in on) if k.endswith("max") else statistics.median(v[k] for v in on)
            for k in on[0]}  # fmt: skip


def run(quick: bool) -> dict[str, float | int | str]:
    result = cached_session(hundred_instruments(quick))
    lag = result["lag"]
    phases: dict[str, dict[str, float]] = result["lag_phases"]
    on = _on_phases(phases) or lag
    pairs = journal_pairs(phases, "probe_p99")
    tick_pairs = journal_pairs(phases, "tick_late_p99")
    out: dict[str, float | int | str] = {
        "sustained_seconds": _r(result["seconds"]),
        "sustained_instruments": int(result["instruments"]),
        "sustained_md_msgs_per_s": round(float(result["md_msgs_per_s"])),
        "sustained_loop_lag_us_p50": _r(on["tick_late_p50"]),
        "sustained_loop_lag_us_p99": _r(on["tick_late_p99"]),
        "sustained_loop_lag_us_max": _r(on["tick_late_max"]),
        "sustained_loop_lag_probe_us_p50": _r(on["probe_p50"]),
        "sustained_loop_lag_probe_us_p99": _r(on["probe_p99"]),
        "sustained_loop_lag_probe_us_max": _r(on["probe_max"]),
        "sustained_cpu_pct": _r(result["cpu_pct"]),
        "sustained_exchange_cpu_pct": _r(result.get("exchange_cpu_pct") or math.nan),
        "sustained_journal_writer_cpu_pct": _r(result.get("helper_cpu_pct", math.nan)),
        "sustained_msgs_dropped": dropped(result),
        "sustained_frames_received": int(result["count"]["client_frames"]),
        "sustained_quotes_current_pct": _r(result["quotes_live_pct"]),
        "sustained_quotes_all_instruments_pct": _r(result["quotes_all_live_pct"]),
        "sustained_quotes_in_sync_pct": _r(result["quotes_in_sync_pct"]),
        "sustained_quote_sent_age_ms_p50": _r(result["quote_sent_age_ms_p50"], 0),
        "sustained_quote_sent_age_ms_p99": _r(result["quote_sent_age_ms_p99"], 0),
        "sustained_throttle_errors": int(result["throttle_errors"]),
        "sustained_settle_s": _r(result["settle_s"]),
    }
    if pairs:
        diffs = [a - b for a, b in pairs]
        out["loop_lag_added_engine_us_p99"] = _r(statistics.median(diffs))
        out["loop_lag_added_engine_pairs"] = len(pairs)
        out["loop_lag_added_engine_raw_us"] = " ".join(f"{a:.0f}/{b:.0f}" for a, b in pairs)
        out["loop_lag_added_engine_tick_us_p99"] = _r(
            statistics.median(a - b for a, b in tick_pairs)
        )
        out["loop_lag_added_engine_tick_raw_us"] = " ".join(
            f"{a:.0f}/{b:.0f}" for a, b in tick_pairs
        )
    return out


if __name__ == "__main__":
    import sys

    for key, value in run(quick="--full" not in sys.argv).items():
        print(f"{key}: {value}")
