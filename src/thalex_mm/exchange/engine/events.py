"""Events the engine emits for the protocol layer to fan out to channels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

import msgspec

from thalex_mm.exchange.engine.types import (
    AccountSummary,
    EngineError,
    MMProtectionReason,
    OrderSnapshot,
    PortfolioEntry,
    PublicTrade,
    TradeRecord,
)


class OrderUpdate(msgspec.Struct, frozen=True):
    """An order changed: goes to session.orders (session_id), account.orders (account) and,
    when ``order.persistent`` and not a mass quote, account.persistent_orders."""

    account: str
    session_id: int
    order: OrderSnapshot


class TradeEvent(msgspec.Struct, frozen=True):
    """A public trade (book `trades`, recent_trades, ticker last price)."""

    trade: PublicTrade


class AccountTradeEvent(msgspec.Struct, frozen=True):
    """One account's side of a trade (account.trade_history)."""

    account: str
    session_id: int
    record: TradeRecord


class BookLevelsChanged(msgspec.Struct, frozen=True):
    """Levels of one book changed during the call: (price, new total amount); 0 = empty."""

    instrument_name: str
    bid_changes: tuple[tuple[float, float], ...]
    ask_changes: tuple[tuple[float, float], ...]
    time_ns: int


class PortfolioChanged(msgspec.Struct, frozen=True):
    """An account's position line changed (position, fill or funding)."""

    account: str
    entry: PortfolioEntry


class AccountSummaryChanged(msgspec.Struct, frozen=True):
    account: str
    summary: AccountSummary


class MMProtectionEvent(msgspec.Struct, frozen=True):
    """session.mm_protection: remaining_amount ≤ 0 means the group tripped."""

    account: str
    session_id: int
    product: str
    remaining_amount: float
    reason: MMProtectionReason


class IndexChanged(msgspec.Struct, frozen=True):
    underlying: str
    price: float
    time_ns: int


class MarkChanged(msgspec.Struct, frozen=True):
    instrument_name: str
    mark_price: float
    funding_rate: float | None
    time_ns: int


Event = (
    OrderUpdate
    | TradeEvent
    | AccountTradeEvent
    | BookLevelsChanged
    | PortfolioChanged
    | AccountSummaryChanged
    | MMProtectionEvent
    | IndexChanged
    | MarkChanged
)

T = TypeVar("T")


@dataclass(slots=True)
class Outcome(Generic[T]):
    """What a mutating call returns: the RPC result or an error, plus events to fan out.

    Events are in the order they happened (see the engine docstring for the exact order).
    """

    result: T | None = None
    error: EngineError | None = None
    events: list[Event] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None
