"""The engine's vocabulary: enums, error values, order snapshots and the events it emits.

Everything here is wire-ready in units (prices and amounts as floats, already rounded by the
instrument spec) but not in format: times stay integer nanoseconds and enums are StrEnums whose
values are the Thalex spellings, so the protocol layer only has to serialise.
"""

from __future__ import annotations

import enum

import msgspec

from thalex_mm.domain import Side


class OrderType(enum.StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(enum.StrEnum):
    GTC = "good_till_cancelled"
    IOC = "immediate_or_cancel"


class Collar(enum.StrEnum):
    IGNORE = "ignore"
    REJECT = "reject"
    CLAMP = "clamp"


class OrderStatus(enum.StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    CANCELLED_PARTIALLY_FILLED = "cancelled_partially_filled"


class ChangeReason(enum.StrEnum):
    EXISTING = "existing"
    INSERT = "insert"
    AMEND = "amend"
    CANCEL = "cancel"
    FILL = "fill"


class DeleteReason(enum.StrEnum):
    CLIENT_CANCEL = "client_cancel"
    CLIENT_BULK_CANCEL = "client_bulk_cancel"
    SESSION_END = "session_end"
    INSTRUMENT_DEACTIVATED = "instrument_deactivated"
    MM_PROTECTION = "mm_protection"
    FAILOVER = "failover"
    MARGIN_BREACH = "margin_breach"
    FILLED = "filled"
    IMMEDIATE_CANCEL = "immediate_cancel"
    ADMIN_CANCEL = "admin_cancel"
    REPLACED = "replaced"
    SELF_TRADE_PREVENTION = "self_trade_prevention"


class MakerTaker(enum.StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class MMProtectionReason(enum.StrEnum):
    REFILL = "refill"
    EXECUTIONS = "executions"
    CLIENT_CANCEL = "client_cancel"
    SESSION_END = "session_end"


class EngineError(msgspec.Struct, frozen=True):
    """A client mistake, returned (never raised) so the protocol layer can send `error`."""

    code: int
    message: str


class SessionRef(msgspec.Struct, frozen=True):
    """Who is calling: the account, the protocol session, and its cancel-on-disconnect state.

    ``persistent`` is False once the session called `set_cancel_on_disconnect`; orders take the
    flag of the session that inserted them.
    """

    account: str
    session_id: int
    persistent: bool = True


# --------------------------------------------------------------------------------------------
# Snapshots (immutable, wire units)
# --------------------------------------------------------------------------------------------
class FillInfo(msgspec.Struct, frozen=True):
    """One fill of one order (`OrderFill`); leg_index is always 0 here."""

    trade_id: str
    price: float
    amount: float
    time_ns: int
    maker_taker: MakerTaker


class OrderSnapshot(msgspec.Struct, frozen=True):
    """An `OrderStatus` as it was when the event happened.

    ``fills`` holds only the fills new in this update, except for change_reason `existing`,
    where it holds every fill of the order.
    """

    order_id: str
    instrument_name: str
    direction: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: float | None
    amount: float
    filled_amount: float
    remaining_amount: float
    status: OrderStatus
    change_reason: ChangeReason
    fills: tuple[FillInfo, ...]
    create_time_ns: int
    persistent: bool
    client_order_id: int | None = None
    label: str | None = None
    delete_reason: DeleteReason | None = None
    close_time_ns: int | None = None
    reduce_only: bool = False
    insert_reason: str = "client_request"
    is_mass_quote: bool = False


class TradeRecord(msgspec.Struct, frozen=True):
    """One side of one trade, as `private/trade_history` and `account.trade_history` show it.

    ``fee`` is what the account paid: positive is a charge, negative a rebate (negative maker
    fee). It equals fee_rate × price × amount (fee_basis = price).
    """

    trade_id: str
    order_id: str
    instrument_name: str
    direction: Side
    price: float
    amount: float
    time_ns: int
    maker_taker: MakerTaker
    fee: float
    fee_rate: float
    position_after: float
    realised_pnl: float  # position PnL realised by this trade (excluding fees)
    index: float | None
    label: str | None = None
    client_order_id: int | None = None
    trade_type: str = "normal"


class PortfolioEntry(msgspec.Struct, frozen=True):
    """One line of `private/portfolio` / `account.portfolio`."""

    instrument_name: str
    position: float
    mark_price: float | None
    index: float | None
    start_price: float | None
    average_price: float | None
    unrealised_pnl: float
    realised_pnl: float
    entry_value: float
    realised_funding: float
    fees: float


class AccountSummary(msgspec.Struct, frozen=True):
    """`private/account_summary`, cash in one USD line."""

    account: str
    balance: float  # deposits + realised PnL + funding − fees
    unrealised_pnl: float
    cash_collateral: float
    margin: float
    required_margin: float
    remaining_margin: float
    session_realised_pnl: float
    realised_position_pnl: float
    realised_perpetual_funding: float
    session_fees: float
    currency: str = "USD"


class BookSnapshot(msgspec.Struct, frozen=True):
    """Aggregated levels, best first, as (price, amount) pairs."""

    instrument_name: str
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]
    last_price: float | None
    time_ns: int


class PublicTrade(msgspec.Struct, frozen=True):
    """A trade as the public sees it (book `trades`, `recent_trades`, ticker `last_price`)."""

    instrument_name: str
    trade_id: str
    price: float
    amount: float
    taker_direction: Side
    time_ns: int


class TickerData(msgspec.Struct, frozen=True):
    """The `Ticker` object's numbers the engine knows."""

    instrument_name: str
    mark_price: float | None
    mark_time_ns: int
    index: float | None
    best_bid_price: float | None
    best_bid_amount: float | None
    best_ask_price: float | None
    best_ask_amount: float | None
    last_price: float | None
    volume: float  # traded amount since start (the engine keeps no 24 h window)
    value: float
    collar_low: float | None
    collar_high: float | None
    open_interest: float
    funding_rate: float | None  # perpetuals only
    funding_mark: float | None


class MassQuoteError(msgspec.Struct, frozen=True):
    code: int
    message: str
    instrument_name: str
    side: Side | None = None
    price: float | None = None


class MassQuoteResult(msgspec.Struct, frozen=True):
    """`{n_success, n_fail, errors}`; sides are counted, not levels."""

    n_success: int
    n_fail: int
    errors: tuple[MassQuoteError, ...]


class QuoteSide(msgspec.Struct, frozen=True):
    """One side of a mass quote: up to 10 (price, amount) levels; empty removes the side.

    The wire's single-level form {"p", "a"} maps to one level, or to no level when a == 0.
    """

    levels: tuple[tuple[float, float], ...]


class QuoteEntry(msgspec.Struct, frozen=True):
    """One `DoubleSidedQuote`: ``bid``/``ask`` None leaves that side untouched."""

    instrument_name: str
    bid: QuoteSide | None = None
    ask: QuoteSide | None = None
