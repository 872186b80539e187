"""Prometheus metrics read from the snapshot at each scrape (``prometheus-client``).

``SnapshotCollector`` turns one consistent read of the snapshot into metric families: the
engine never computes or serves anything for a scrape. Names follow Prometheus practice:
the ``thalex_mm_`` prefix, base units (seconds, USD, the instrument's own units), ``_total``
on counters, labels ``run`` and ``instrument``. docs/monitoring.md lists them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from thalex_mm.monitor import layout
from thalex_mm.monitor.snapshot import Snapshot, SnapshotReader

P = "thalex_mm_"
STALE_AFTER_S = 5.0  # the engine counts as down when its snapshot is older than this

# (metric, help, snapshot field) of the per-instrument gauges
INSTRUMENT_GAUGES = (
    ("best_bid_price", "Best bid of the book (price units).", "best_bid"),
    ("best_ask_price", "Best ask of the book (price units).", "best_ask"),
    ("mid_price", "Mid of the book's best bid and ask.", "mid"),
    ("mark_price", "The venue's mark price.", "mark"),
    ("index_price", "The venue's index price.", "index"),
    ("funding_rate", "The venue's funding rate (a fraction).", "funding_rate"),
    ("model_sigma", "The model's volatility (price units per square root of a second).", "sigma"),
    ("model_a", "The model's arrival intensity A (bid side, per second).", "A"),
    ("model_k", "The model's intensity decay k (bid side, per price unit).", "k"),
    ("reservation_price", "The model's reservation price.", "reservation"),
    ("quote_spread_price", "Our best ask minus our best bid on the venue.", "spread"),
    ("position", "Signed position in the instrument's units (BTC-PERPETUAL: BTC).", "position"),
    ("max_inventory", "Largest absolute position of the run (instrument units).", "max_inventory"),
    ("pnl_usd", "Total PnL of the run (USD): realised + unrealised - fees + funding.", "total_pnl"),
    ("realised_pnl_usd", "Realised PnL (USD).", "realised_pnl"),
    ("unrealised_pnl_usd", "Unrealised PnL at the mark (USD).", "unrealised_pnl"),
    ("risk_state", "Risk state: 0 active, 1 reducing, 2 halted.", "state"),
    ("market_messages_per_second", "Market-data messages per second.", "market_msgs_per_s"),
)
# the PnL's sources, as in the run summary (label component)
PNL_COMPONENTS = (
    ("edge", "edge_pnl"),
    ("inventory", "inventory_pnl"),
    ("carried", "carried_pnl"),
    ("fees", "fees"),
    ("funding", "funding"),
    ("unexplained", "unexplained_pnl"),
)
INSTRUMENT_COUNTERS = (
    ("fills", "Fills (each trade id once).", "fills"),
    ("market_messages", "Market-data messages received.", "market_msgs"),
    ("traded_volume", "Volume filled (instrument units).", "volume"),
    ("traded_notional_usd", "Notional filled (USD).", "notional"),
)
ORDER_ACTIONS = (
    ("insert", "inserts"),
    ("amend", "amends"),
    ("cancel", "cancels"),
    ("mass_quote", "mass_quotes"),
)
RUN_COUNTERS = (
    ("messages_received", "Frames received from the venue.", "msgs_in"),
    ("messages_sent", "Frames sent to the venue.", "msgs_out"),
    ("reconnects", "Reconnections after the first session.", "reconnects"),
    ("throttle_errors", "Venue rate-limit rejections.", "throttle_errors"),
    ("timer_errors", "Exceptions caught on the engine timer.", "timer_errors"),
    ("kill_switches", "Kill switches fired.", "kill_switches"),
    ("journal_records", "Records appended to the journal.", "journal_appended"),
)


def _buckets(counts: list[int], sum_ns: int) -> tuple[list[tuple[str, float]], float]:
    """Per-bucket counts -> Prometheus's cumulative ``le`` buckets in seconds, and the sum."""
    out: list[tuple[str, float]] = []
    total = 0
    for bound, n in zip(layout.BUCKETS_US, counts, strict=True):
        total += n
        out.append(("+Inf" if math.isinf(bound) else repr(bound / 1e6), float(total)))
    return out, sum_ns / 1e9


def families(snap: Snapshot, alive: bool = True) -> Iterator[Metric]:
    """The metric families of one snapshot read."""
    run_id = snap.run_id
    r = snap.run
    age = max(0.0, (snap.read_ns - r["updated_ns"]) / 1e9) if r["updated_ns"] else math.inf
    up = GaugeMetricFamily(
        P + "up", "1 while the engine runs and updates its snapshot.", labels=["run"]
    )
    up.add_metric(
        [run_id], float(alive and age < STALE_AFTER_S and r["connection"] != layout.STOPPED)
    )
    yield up
    gauges: list[tuple[str, str, float]] = [
        ("snapshot_age_seconds", "Seconds since the engine last wrote its snapshot.", age),
        (
            "connected",
            "1 while the venue session is up.",
            float(r["connection"] == layout.CONNECTED),
        ),
        (
            "start_time_seconds",
            "Run start, seconds since the epoch.",
            snap.header["started_ns"] / 1e9,
        ),
        ("messages_received_per_second", "Frames received per second.", r["msgs_in_per_s"]),
        ("messages_sent_per_second", "Frames sent per second.", r["msgs_out_per_s"]),
        ("journal_backlog_bytes", "Journal bytes not yet in the sink.", r["journal_backlog_bytes"]),
        (
            "no_new_risk",
            "1 while no new risk is opened (back-pressure).",
            float(bool(r["blocked"])),
        ),
    ]
    for name, doc, value in gauges:
        g = GaugeMetricFamily(P + name, doc, labels=["run"])
        g.add_metric([run_id], value)
        yield g
    for name, doc, key in RUN_COUNTERS:
        c = CounterMetricFamily(P + name, doc, labels=["run"])
        c.add_metric([run_id], float(r[key]))
        yield c
    h = HistogramMetricFamily(
        P + "tick_to_order_seconds",
        "From a market-data frame read off the socket to the write of the orders it caused.",
        labels=["run"],
    )
    buckets, total = _buckets(r["t2o_buckets"], r["t2o_sum_ns"])
    h.add_metric([run_id], buckets, total)
    yield h
    yield from _instrument_families(snap, run_id)


def _instrument_families(snap: Snapshot, run_id: str) -> Iterator[Metric]:
    insts = snap.instruments
    labels = ["run", "instrument"]
    for metric, doc, key in INSTRUMENT_GAUGES:
        g = GaugeMetricFamily(P + metric, doc, labels=labels)
        for s in insts:
            g.add_metric([run_id, s["name"]], float(s[key]))
        yield g
    g = GaugeMetricFamily(
        P + "pnl_component_usd",
        "The PnL's sources (USD): pnl = edge + inventory + carried - fees + funding + unexplained.",
        labels=[*labels, "component"],
    )
    for s in insts:
        for component, key in PNL_COMPONENTS:
            g.add_metric([run_id, s["name"], component], float(s[key]))
    yield g
    dist = GaugeMetricFamily(
        P + "quote_distance_price",
        "Our best quote's distance from the book's mid (price units, positive: away).",
        labels=[*labels, "side"],
    )
    levels = GaugeMetricFamily(P + "quote_levels", "Our live levels.", labels=[*labels, "side"])
    age = GaugeMetricFamily(
        P + "market_data_age_seconds", "Seconds since the newest market data.", labels=labels
    )
    for s in insts:
        mid, name = s["mid"], s["name"]
        bid = s["bid_price"][0] if s["bid_levels"] else math.nan
        ask = s["ask_price"][0] if s["ask_levels"] else math.nan
        dist.add_metric([run_id, name, "bid"], mid - bid)
        dist.add_metric([run_id, name, "ask"], ask - mid)
        levels.add_metric([run_id, name, "bid"], float(s["bid_levels"]))
        levels.add_metric([run_id, name, "ask"], float(s["ask_levels"]))
        market_ns = s["market_ns"]
        age.add_metric(
            [run_id, name], (snap.read_ns - market_ns) / 1e9 if market_ns > 0 else math.nan
        )
    yield from (dist, levels, age)
    for metric, doc, key in INSTRUMENT_COUNTERS:
        c = CounterMetricFamily(P + metric, doc, labels=labels)
        for s in insts:
            c.add_metric([run_id, s["name"]], float(s[key]))
        yield c
    c = CounterMetricFamily(
        P + "rejections",
        "Order actions the venue rejected, by its error code (-1: codes past the first 7).",
        labels=[*labels, "code"],
    )
    for s in insts:
        for code, n in zip(s["reject_codes"], s["reject_counts"], strict=True):
            if n:
                c.add_metric([run_id, s["name"], str(code)], float(n))
    yield c
    c = CounterMetricFamily(
        P + "order_actions", "Order actions sent, by action.", labels=[*labels, "action"]
    )
    for s in insts:
        for action, key in ORDER_ACTIONS:
            c.add_metric([run_id, s["name"], action], float(s[key]))
    yield c
    h = HistogramMetricFamily(
        P + "instrument_tick_to_order_seconds",
        "Tick-to-order of each instrument's own market data.",
        labels=labels,
    )
    for s in insts:
        buckets, total = _buckets(s["t2o_buckets"], s["t2o_sum_ns"])
        h.add_metric([run_id, s["name"]], buckets, total)
    yield h


class SnapshotCollector(Collector):
    """Reads the snapshot at each scrape (in the exporter's process, never the engine's)."""

    def __init__(self, reader: SnapshotReader) -> None:
        self.reader = reader

    def collect(self) -> Iterator[Metric]:
        yield from families(self.reader.read(), self.reader.engine_alive())

    def describe(self) -> list[Any]:
        return []  # no fixed description: the registry must not collect at register time
