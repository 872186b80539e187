"""The typed records the journal stores, one msgspec Struct per kind (a tagged union).

Every record carries ``ts_ns`` (nanoseconds since the epoch, stamped by the caller) and, where
it concerns an order book, ``instrument`` and ``strategy``. The run id and a per-run sequence
number are added by the journal (in the segment framing), so callers never repeat them.

Each record type maps to one table (``TABLE_OF``); the table's columns are ``run_id``,
``seq`` and then the Struct's fields in order. Lists and dicts are stored as JSON text.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

# Order action names (OrderAction.action).
INSERT: Final = "insert"
AMEND: Final = "amend"
CANCEL: Final = "cancel"
MASS_QUOTE: Final = "mass_quote"
CANCEL_ALL: Final = "cancel_all"


class _Record(msgspec.Struct, tag=True, array_like=True, omit_defaults=False):
    """Base: array-like msgpack (compact, fast) with the class name as tag."""


class OrderAction(_Record, kw_only=True):
    """An order action the engine sent (insert, amend, cancel, mass quote, cancel all)."""

    ts_ns: int
    strategy: str
    instrument: str
    action: str
    client_order_id: int | None = None
    order_id: str | None = None
    side: int = 0  # +1 buy, -1 sell, 0 not applicable
    price: float | None = None
    amount: float | None = None
    post_only: bool = False
    # Mass quotes: the levels sent, [[side, price, amount], ...]; other actions: empty.
    levels: list[list[float]] = msgspec.field(default_factory=list)


class OrderUpdate(_Record, kw_only=True):
    """An order update from the venue (status change, partial fill, deletion)."""

    ts_ns: int
    strategy: str
    instrument: str
    order_id: str
    client_order_id: int | None = None
    status: str = ""
    side: int = 0
    price: float | None = None
    amount: float = 0.0
    filled_amount: float = 0.0
    remaining_amount: float = 0.0
    change_reason: str = ""
    delete_reason: str = ""


class Fill(_Record, kw_only=True):
    """One of our trades. Unique on (trade_id, order_id): stored once even if seen twice."""

    ts_ns: int
    strategy: str
    instrument: str
    trade_id: str
    order_id: str
    client_order_id: int | None = None
    side: int = 0
    price: float = 0.0
    amount: float = 0.0
    fee: float = 0.0
    maker_taker: str = ""  # "maker" | "taker"
    position_after: float | None = None
    # Fair value (the mark) when it filled, as the engine saw it: edge = side·(fair − price).
    # Added after the first schema: None in older journals (see schema.added_columns).
    fair: float | None = None


class QuoteDecision(_Record, kw_only=True):
    """What the model saw and decided: inputs (mid, σ, A, k per side, q, γ per USD, fee,
    signals) and outputs."""

    ts_ns: int
    strategy: str
    instrument: str
    model: str = ""
    mid: float = 0.0
    sigma: float = 0.0
    a: float = 0.0
    k: float = 0.0
    q: float = 0.0
    gamma: float = 0.0
    reservation: float = 0.0
    spread: float = 0.0
    # The ladder: [[price, amount], ...] per side, best first.
    bids: list[list[float]] = msgspec.field(default_factory=list)
    asks: list[list[float]] = msgspec.field(default_factory=list)
    # Added after the first schema (None in older journals, see schema.added_columns):
    # the ask side's A and k (a, k are the bid side's), the maker fee per contract the
    # distances include, the signals' centre shift and widening (price units), and whether
    # the volatility estimator saw a stressed regime. ``gamma`` is gamma_usd (per USD).
    ask_a: float | None = None
    ask_k: float | None = None
    fee: float | None = None
    shift: float | None = None
    widen: float | None = None
    stressed: bool | None = None


class RiskEvent(_Record, kw_only=True):
    """A risk limit hit, a state change (quoting → reduce-only → halted) or a warning."""

    ts_ns: int
    strategy: str
    instrument: str
    kind: str
    state: str = ""
    detail: str = ""


class PositionSnapshot(_Record, kw_only=True):
    """Position and PnL of one instrument at one moment (PnL in quote currency)."""

    ts_ns: int
    strategy: str
    instrument: str
    position: float
    avg_price: float = 0.0
    mark: float = 0.0
    realized_pnl: float = 0.0
    unrealized_pnl: float = 0.0
    fees: float = 0.0


class MarketSnapshot(_Record, kw_only=True):
    """Top of book, mark and index, sampled at the journal's market rate."""

    ts_ns: int
    instrument: str
    strategy: str = ""
    best_bid: float | None = None
    best_bid_amount: float = 0.0
    best_ask: float | None = None
    best_ask_amount: float = 0.0
    mark: float | None = None
    index_price: float | None = None


class RunStart(_Record, kw_only=True):
    """Run metadata; ``config`` must already be redacted (see ``redact.redact``)."""

    ts_ns: int
    version: str
    venue: str = ""
    account: str = ""
    strategy: str = ""
    host: str = ""
    pid: int = 0
    config: dict[str, Any] = msgspec.field(default_factory=dict)


class RunStop(_Record, kw_only=True):
    ts_ns: int
    reason: str = ""


class EstimatorState(_Record, kw_only=True):
    """An estimator's saved state (JSON-able), read back by a restarted engine."""

    ts_ns: int
    strategy: str
    instrument: str
    state: dict[str, Any] = msgspec.field(default_factory=dict)


Record = (
    OrderAction
    | OrderUpdate
    | Fill
    | QuoteDecision
    | RiskEvent
    | PositionSnapshot
    | MarketSnapshot
    | RunStart
    | RunStop
    | EstimatorState
)

RECORD_TYPES: Final[tuple[type[_Record], ...]] = (
    RunStart,
    RunStop,
    OrderAction,
    OrderUpdate,
    Fill,
    QuoteDecision,
    RiskEvent,
    PositionSnapshot,
    MarketSnapshot,
    EstimatorState,
)

TABLE_OF: Final[dict[type[_Record], str]] = {
    RunStart: "runs",
    RunStop: "run_stops",
    OrderAction: "orders",
    OrderUpdate: "order_updates",
    Fill: "fills",
    QuoteDecision: "quotes",
    RiskEvent: "risk_events",
    PositionSnapshot: "positions",
    MarketSnapshot: "market",
    EstimatorState: "estimator_states",
}

# Streams that are never dropped; everything else (market snapshots) may be shed under load.
DROPPABLE: Final[frozenset[type[_Record]]] = frozenset({MarketSnapshot})

# What ``Journal.warm`` encodes (to scratch memory, never journaled) until the first append:
# a requote's records, the engine's most frequent batch.
WARM_SAMPLE: Final[list[Record]] = [
    QuoteDecision(ts_ns=1, strategy="warm", instrument="WARM", mid=100.0, bids=[[99.5, 1.0]],
                  asks=[[100.5, 1.0]]),
    OrderAction(ts_ns=1, strategy="warm", instrument="WARM", action=MASS_QUOTE,
                levels=[[1.0, 99.5, 1.0], [-1.0, 100.5, 1.0]]),
]  # fmt: skip
