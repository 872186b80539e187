"""Sans-I/O core of the local exchange: books, matching, accounts, mass quotes, MM protection.

Public API for the protocol layer (`exchange/session.py`, `exchange/server.py`):

- `MatchingEngine(instruments, default_balance=...)`; instruments from
  `default_instruments(now_ns)`.
- Every client call takes ``now_ns`` and a `SessionRef(account, session_id, persistent)` and
  returns `Outcome[T]` with ``result`` (the RPC result: `OrderSnapshot`, count, `None`,
  `MassQuoteResult`) or ``error`` (`EngineError(code, message)`), and ``events``.
- Methods: insert, amend, cancel, cancel_all, cancel_session (persistent session -> error 52),
  end_session (disconnect / heartbeat timeout: same effect, no check, returns events),
  set_mm_protection, mass_quote, cancel_mass_quote.
- Market data in (from the synthetic market): set_index, set_mark, apply_funding.
- Queries: order, open_orders, session_open_orders (snapshots with change_reason "existing"),
  order_history, trade_history, portfolio, account_summary, book, ticker, index_price,
  recent_trades, instruments, instrument.
- Events (see `types.Event`): OrderUpdate, TradeEvent, AccountTradeEvent, BookLevelsChanged,
  PortfolioChanged, AccountSummaryChanged, MMProtectionEvent, IndexChanged, MarkChanged.
  Times are integer ns (divide by 1e9 for the wire); prices/amounts are floats already rounded
  to the instrument grid; enums are StrEnums carrying the Thalex spelling.
"""

from thalex_mm.exchange.engine.engine import MatchingEngine
from thalex_mm.exchange.engine.events import (
    AccountSummaryChanged,
    AccountTradeEvent,
    BookLevelsChanged,
    Event,
    IndexChanged,
    MarkChanged,
    MMProtectionEvent,
    OrderUpdate,
    Outcome,
    PortfolioChanged,
    TradeEvent,
)
from thalex_mm.exchange.engine.instruments import (
    ExchangeInstrument,
    default_instruments,
    future_name,
    quarterly_expiry_after,
    synthetic_index_price,
    synthetic_perpetuals,
    synthetic_underlying,
)
from thalex_mm.exchange.engine.types import (
    AccountSummary,
    BookSnapshot,
    ChangeReason,
    Collar,
    DeleteReason,
    EngineError,
    FillInfo,
    MakerTaker,
    MassQuoteError,
    MassQuoteResult,
    MMProtectionReason,
    OrderSnapshot,
    OrderStatus,
    OrderType,
    PortfolioEntry,
    PublicTrade,
    QuoteEntry,
    QuoteSide,
    SessionRef,
    TickerData,
    TimeInForce,
    TradeRecord,
)
from thalex_mm.venue.thalex.codes import ErrorCode

__all__ = [
    "AccountSummary",
    "AccountSummaryChanged",
    "AccountTradeEvent",
    "BookLevelsChanged",
    "BookSnapshot",
    "ChangeReason",
    "Collar",
    "DeleteReason",
    "EngineError",
    "ErrorCode",
    "Event",
    "ExchangeInstrument",
    "FillInfo",
    "IndexChanged",
    "MMProtectionEvent",
    "MMProtectionReason",
    "MakerTaker",
    "MarkChanged",
    "MassQuoteError",
    "MassQuoteResult",
    "MatchingEngine",
    "OrderSnapshot",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "Outcome",
    "PortfolioChanged",
    "PortfolioEntry",
    "PublicTrade",
    "QuoteEntry",
    "QuoteSide",
    "SessionRef",
    "TickerData",
    "TimeInForce",
    "TradeEvent",
    "TradeRecord",
    "default_instruments",
    "future_name",
    "quarterly_expiry_after",
    "synthetic_index_price",
    "synthetic_perpetuals",
    "synthetic_underlying",
]
