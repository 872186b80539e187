"""Everything the core reacts to: typed, immutable events, each stamped with ``now_ns``.

Units: prices are ``int`` ticks and amounts ``int`` lots of the instrument's
``InstrumentSpec`` (the venue edge converts from the wire with ``price_to_ticks_exact`` and
``amount_to_lots_exact``). Marks, indexes, funding and PnL are floats in price units, because
they are not on any grid. ``now_ns`` is the local receive time in nanoseconds; the core never
reads a clock.

Replies: every action carries an ``action_id``; the edge echoes it back as ``reply_to`` on
the ``OrderUpdate`` built from an RPC result, or as ``action_id`` on ``ActionRejected`` /
``ActionAcknowledged`` / ``MassQuoteResult``. Order-feed notifications have ``reply_to=0``.
This is how the core knows which in-flight action an answer belongs to.
"""

from __future__ import annotations

import enum
import math

import msgspec

from thalex_mm.domain import Side

NO_FEE = math.nan  # a fill whose fee the feed did not say (the order feed never does)


class OrderStatus(enum.IntEnum):
    """The venue's order status (``status`` on OrderStatus)."""

    OPEN = 0
    PARTIALLY_FILLED = 1
    FILLED = 2
    CANCELLED = 3
    CANCELLED_PARTIALLY_FILLED = 4

    @property
    def is_active(self) -> bool:
        return self <= OrderStatus.PARTIALLY_FILLED

    @classmethod
    def from_wire(cls, text: str) -> OrderStatus:
        try:
            return _STATUS_FROM_WIRE[text]
        except KeyError:
            raise ValueError(f"unknown order status {text!r}") from None


_STATUS_FROM_WIRE = {
    "open": OrderStatus.OPEN,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELLED,
    "cancelled_partially_filled": OrderStatus.CANCELLED_PARTIALLY_FILLED,
}


class Fill(msgspec.Struct, frozen=True, gc=False):
    """One execution of our order. ``fee`` > 0 is paid, < 0 a rebate, NaN unknown (the
    core then estimates it from the configured rates, and corrects it when the same
    ``trade_id`` arrives again with a real fee, e.g. from the trade history)."""

    trade_id: str
    side: Side
    price_ticks: int
    amount_lots: int
    is_maker: bool = True
    fee: float = NO_FEE


# --- market data ---------------------------------------------------------------------------
class BookTop(msgspec.Struct, frozen=True, gc=False):
    """Best bid and ask (e.g. from the lightweight ticker). ``*_lots == 0``: that side is empty."""

    now_ns: int
    instrument: str
    bid_ticks: int
    bid_lots: int
    ask_ticks: int
    ask_lots: int


class BookUpdate(msgspec.Struct, frozen=True, gc=False):
    """Level changes ``(price_ticks, lots)``; ``lots == 0`` removes the level. A snapshot
    replaces the whole book."""

    now_ns: int
    instrument: str
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]
    snapshot: bool = False


class Ticker(msgspec.Struct, frozen=True, gc=False):
    """Mark, index and (perpetuals) funding rate; the top of book when the ticker has it."""

    now_ns: int
    instrument: str
    mark_price: float
    index_price: float
    funding_rate: float = 0.0
    best_bid_ticks: int = 0
    best_bid_lots: int = 0
    best_ask_ticks: int = 0
    best_ask_lots: int = 0


class PublicTrade(msgspec.Struct, frozen=True, gc=False):
    """A trade in the public tape; ``side`` is the aggressor's. ``ts_ns`` is the venue's
    time of the trade (0 when unknown): the prints of one taker's sweep share it."""

    now_ns: int
    instrument: str
    price_ticks: int
    amount_lots: int
    side: Side
    ts_ns: int = 0


# --- our orders and account ----------------------------------------------------------------
class OrderUpdate(msgspec.Struct, frozen=True, gc=False):
    """An ``OrderStatus`` from the order feed (``reply_to=0``) or from the RPC result of our
    action ``reply_to``. ``fills`` are the fills new in this update (all of them on a
    snapshot); they are deduplicated by ``trade_id``, so delivering one twice is harmless."""

    now_ns: int
    instrument: str
    order_id: str
    client_order_id: int | None
    side: Side
    status: OrderStatus
    price_ticks: int
    amount_lots: int
    filled_lots: int
    remaining_lots: int
    fills: tuple[Fill, ...] = ()
    label: str = ""
    delete_reason: str = ""
    reply_to: int = 0


class FillsReplayed(msgspec.Struct, frozen=True, gc=False):
    """Fills from another source (trade history, a replay after a reconnect); deduplicated
    against the order feed by ``trade_id``."""

    now_ns: int
    instrument: str
    fills: tuple[Fill, ...]


class ActionRejected(msgspec.Struct, frozen=True, gc=False):
    """The venue's error reply to our action (code 1 = order not found, 4 = throttled, ...)."""

    now_ns: int
    action_id: int
    code: int
    message: str = ""


class ActionAcknowledged(msgspec.Struct, frozen=True, gc=False):
    """A success reply that carries no order (cancel_all, set_mm_protection)."""

    now_ns: int
    action_id: int


class MassQuoteError(msgspec.Struct, frozen=True, gc=False):
    code: int
    message: str = ""
    side: Side | None = None
    price_ticks: int | None = None


class MassQuoteResult(msgspec.Struct, frozen=True, gc=False):
    now_ns: int
    action_id: int
    n_success: int
    n_fail: int
    errors: tuple[MassQuoteError, ...] = ()


class MMProtectionUpdate(msgspec.Struct, frozen=True, gc=False):
    """``session.mm_protection``: ``remaining_amount <= 0`` means the group tripped (its
    quotes are gone and it needs a refill)."""

    now_ns: int
    product: str
    remaining_amount: float
    reason: str = ""

    @property
    def tripped(self) -> bool:
        return self.remaining_amount <= 0.0


class PortfolioEntry(msgspec.Struct, frozen=True, gc=False):
    instrument: str
    position_lots: int
    average_price: float = 0.0
    realised_pnl: float = 0.0
    unrealised_pnl: float = 0.0
    mark_price: float = 0.0


class PortfolioSnapshot(msgspec.Struct, frozen=True, gc=False):
    """``account.portfolio``: the venue's positions, used to cross-check ours."""

    now_ns: int
    entries: tuple[PortfolioEntry, ...]


class Funding(msgspec.Struct, frozen=True, gc=False):
    """Funding paid (< 0) or received (> 0) on a perpetual position, in price units."""

    now_ns: int
    instrument: str
    amount: float


class Timer(msgspec.Struct, frozen=True, gc=False):
    """A periodic tick so time-based rules (refresh, staleness, cooldown) run without data."""

    now_ns: int


class Disconnected(msgspec.Struct, frozen=True, gc=False):
    """The session is gone: unanswered actions will never be answered; quoting pauses."""

    now_ns: int


class Resynced(msgspec.Struct, frozen=True, gc=False):
    """After a (re)connect: the venue's open orders and positions are the truth."""

    now_ns: int
    open_orders: tuple[OrderUpdate, ...]
    positions: tuple[PortfolioEntry, ...] = ()


Event = (
    BookTop
    | BookUpdate
    | Ticker
    | PublicTrade
    | OrderUpdate
    | FillsReplayed
    | ActionRejected
    | ActionAcknowledged
    | MassQuoteResult
    | MMProtectionUpdate
    | PortfolioSnapshot
    | Funding
    | Timer
    | Disconnected
    | Resynced
)
