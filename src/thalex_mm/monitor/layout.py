"""The snapshot's binary layout, version 1: one table of fields that the writer, the reader,
the exporter and docs/monitoring.md all follow.

Everything is little-endian and packed (no padding): ``q`` int64, ``d`` float64, ``Ns``
UTF-8 bytes padded with NULs. The file is a header, one run section, then one block per
instrument (a static part and two sections). A section starts with its own uint64
sequence number (the seqlock): odd while the writer is inside it, even when it is whole.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

MAGIC = b"THXMMSNP"
VERSION = 1
MAX_LEVELS = 8  # quote levels per side kept in a record (the first ones, best first)
# rejections are counted per venue error code for this many codes; later codes count as -1
REJECT_CODES = 8
# tick-to-order histogram buckets: upper bounds in microseconds, the last one +Inf
BUCKETS_US: tuple[float, ...] = (
    5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 300, 500, 1000, 2000, 5000, 10000, math.inf,
)  # fmt: skip
N_BUCKETS = len(BUCKETS_US)

# connection states (run section ``connection``)
CONNECTING, CONNECTED, DISCONNECTED, STOPPED = 0, 1, 2, 3
CONNECTION_NAMES = ("connecting", "connected", "disconnected", "stopped")
# risk states (instrument ``state``), the core's TradingState values
RISK_STATE_NAMES = ("ACTIVE", "REDUCING", "HALTED")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    fmt: str  # one struct code: q, d or Ns
    count: int = 1  # an array of this many values (names get _0, _1, ...)
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    """A run of fields at a fixed offset in its block; ``seqlock`` sections start with
    their sequence number (not listed in ``fields``)."""

    name: str
    fields: tuple[Field, ...]
    seqlock: bool = True

    @property
    def struct(self) -> struct.Struct:
        """The fields after the sequence number (what the writer packs)."""
        return struct.Struct("<" + "".join(_code(f) for f in self.fields))

    @property
    def size(self) -> int:
        return (8 if self.seqlock else 0) + self.struct.size

    def names(self) -> tuple[str, ...]:
        """One name per value the struct packs (arrays expanded)."""
        out: list[str] = []
        for f in self.fields:
            if f.count == 1 or f.fmt.endswith("s"):
                out.append(f.name)
            else:
                out += [f"{f.name}_{i}" for i in range(f.count)]
        return tuple(out)

    def offsets(self) -> list[tuple[Field, int]]:
        """Each field with its offset from the start of the section."""
        off = 8 if self.seqlock else 0
        out = []
        for f in self.fields:
            out.append((f, off))
            off += struct.calcsize("<" + _code(f))
        return out


def _code(f: Field) -> str:
    if f.fmt.endswith("s"):
        return f.fmt
    return f"{f.count}{f.fmt}" if f.count > 1 else f.fmt


HEADER = Section(
    "header",
    (
        Field("magic", "8s", doc='b"THXMMSNP", written last when the file is created'),
        Field("version", "q", doc="layout version (this document: 1)"),
        Field("header_size", "q", doc="bytes before the run section"),
        Field("run_size", "q", doc="bytes of the run section"),
        Field("instrument_offset", "q", doc="where instrument block 0 starts"),
        Field("instrument_size", "q", doc="bytes per instrument block (the stride)"),
        Field("instrument_count", "q"),
        Field("max_levels", "q", doc="quote levels per side in a block"),
        Field("bucket_count", "q", doc="tick-to-order histogram buckets"),
        Field("pid", "q", doc="the engine's process id"),
        Field("started_ns", "q", doc="run start, ns since the epoch"),
        Field("buckets_us", "d", N_BUCKETS, "bucket upper bounds in us, the last +Inf"),
        Field("run_id", "48s"),
        Field("venue", "96s", doc="the venue's URL"),
        Field("mode", "64s", doc="e.g. local exchange (in-process, synthetic)"),
    ),
    seqlock=False,
)

RUN = Section(
    "run",
    (
        Field("updated_ns", "q", doc="when the writer last wrote this section (epoch ns)"),
        Field("connection", "q", doc="0 connecting, 1 connected, 2 disconnected, 3 stopped"),
        Field("reconnects", "q", doc="reconnections after the first session"),
        Field("msgs_in", "q", doc="frames received from the venue"),
        Field("msgs_out", "q", doc="frames sent to the venue"),
        Field("msgs_in_per_s", "d", doc="over the last timer interval"),
        Field("msgs_out_per_s", "d"),
        Field("throttle_errors", "q", doc="venue rate-limit rejections"),
        Field("timer_errors", "q", doc="exceptions caught on the engine timer"),
        Field("kill_switches", "q"),
        Field("journal", "q", doc="1 journaling, 0 no journal"),
        Field("journal_backlog_bytes", "q", doc="appended but not yet in the sink"),
        Field("journal_appended", "q", doc="records appended"),
        Field("t2o_count", "q", doc="tick-to-order samples (all instruments)"),
        Field("t2o_sum_ns", "q"),
        Field("t2o_buckets", "q", N_BUCKETS, "samples per bucket (not cumulative)"),
        Field("blocked", "96s", doc="why no new risk is opened (journal back-pressure), or empty"),
        Field("stop_reason", "32s", doc="set when the run stops"),
    ),
)

STATIC = Section(
    "static",
    (
        Field("name", "48s", doc="instrument name"),
        Field("tick_size", "d"),
        Field("amount_step", "d"),
    ),
    seqlock=False,
)

FAST = Section(
    "fast",
    (
        Field("updated_ns", "q", doc="written after a quoting cycle, at a bounded rate"),
        Field("market_ns", "q", doc="the newest market data's time (epoch ns); <= 0: none"),
        Field("best_bid_ticks", "q", doc="best bid of the book in ticks (x tick_size: price)"),
        Field("best_bid_lots", "q", doc="its size in lots (x amount_step); 0: no bid"),
        Field("best_ask_ticks", "q"),
        Field("best_ask_lots", "q", doc="0: no ask"),
        Field("mark", "d", doc="the venue's mark price"),
        Field("index", "d"),
        Field("funding_rate", "d"),
        Field("sigma", "d", doc="the model's volatility (price units per sqrt s); NaN: none yet"),
        Field("A", "d", doc="arrival intensity (bid side)"),
        Field("k", "d", doc="intensity decay (bid side)"),
        Field("ask_A", "d"),
        Field("ask_k", "d"),
        Field("reservation", "d", doc="the reservation price"),
        Field("position_lots", "q", doc="signed position in lots"),
        Field("average_price", "d", doc="of the open position"),
        Field("state", "q", doc="0 ACTIVE, 1 REDUCING, 2 HALTED"),
        Field("bid_levels", "q", doc="our live bids (the first max_levels are listed)"),
        Field("ask_levels", "q"),
        Field("bid_ticks", "q", MAX_LEVELS, "our live bids' prices in ticks (unsorted), 0 unused"),
        Field("bid_sizes", "q", MAX_LEVELS, "their remaining lots, in the same order"),
        Field("ask_ticks", "q", MAX_LEVELS),
        Field("ask_sizes", "q", MAX_LEVELS),
    ),
)
# the fast section's fields before our levels (whose count varies from write to write)
FAST_HEAD = Section("fast_head", FAST.fields[:-4])

SLOW = Section(
    "slow",
    (
        Field("updated_ns", "q", doc="written by the engine timer, about once a second"),
        Field("realised_pnl", "d", doc="USD, the run summary's fields"),
        Field("unrealised_pnl", "d"),
        Field("fees", "d"),
        Field("funding", "d"),
        Field("total_pnl", "d"),
        Field("edge_pnl", "d", doc="total = edge + inventory + carried - fees + funding + unexpl."),
        Field("inventory_pnl", "d"),
        Field("carried_pnl", "d"),
        Field("unexplained_pnl", "d"),
        Field("volume", "d"),
        Field("notional", "d"),
        Field("max_inventory", "d"),
        Field("fills", "q"),
        Field("rejections", "q"),
        Field("inserts", "q"),
        Field("amends", "q"),
        Field("cancels", "q"),
        Field("mass_quotes", "q"),
        Field("market_msgs", "q"),
        Field("market_msgs_per_s", "d", doc="over the last refresh"),
        Field("t2o_count", "q"),
        Field("t2o_sum_ns", "q"),
        Field("t2o_buckets", "q", N_BUCKETS, "samples per bucket (not cumulative)"),
        Field("reject_codes", "q", REJECT_CODES, "the venue's error codes rejections came with"),
        Field("reject_counts", "q", REJECT_CODES, "how many with each code (0: unused)"),
        Field("reason", "96s", doc="why the risk state is not ACTIVE, or why it is not quoting"),
    ),
)

RUN_OFFSET = HEADER.size
INSTRUMENTS_OFFSET = RUN_OFFSET + RUN.size
STATIC_OFFSET = 0  # within an instrument block
FAST_OFFSET = STATIC.size
SLOW_OFFSET = FAST_OFFSET + FAST.size
INSTRUMENT_SIZE = SLOW_OFFSET + SLOW.size


def file_size(instruments: int) -> int:
    return INSTRUMENTS_OFFSET + instruments * INSTRUMENT_SIZE


def instrument_offset(i: int) -> int:
    return INSTRUMENTS_OFFSET + i * INSTRUMENT_SIZE


def encode_text(text: str, size: int) -> bytes:
    """UTF-8, cut to ``size`` bytes on a character boundary (struct pads with NULs)."""
    raw = text.encode("utf-8")[:size]
    return raw.decode("utf-8", "ignore").encode("utf-8")


def decode_text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def markdown_table(section: Section, base: int = 0) -> str:
    """The section as the table docs/monitoring.md shows (a test keeps them equal)."""
    lines = ["| offset | field | type | meaning |", "|---:|---|---|---|"]
    if section.seqlock:
        lines.append(f"| {base} | seq | uint64 | seqlock: odd while being written |")
    for f, off in section.offsets():
        kind = {"q": "int64", "d": "float64"}.get(f.fmt, f"char[{f.fmt[:-1]}]")
        if f.count > 1:
            kind += f"[{f.count}]"
        lines.append(f"| {base + off} | {f.name} | {kind} | {f.doc} |")
    return "\n".join(lines)
