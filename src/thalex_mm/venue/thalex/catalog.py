"""Which Struct a method's result or a channel's notification decodes into (client side).

``decode_result("private/insert", raw)`` and ``decode_notification("session.orders", raw)``
turn the raw JSON of an ``Incoming`` frame into typed objects, with one cached decoder per type.
"""

from __future__ import annotations

from typing import Any

import msgspec

from thalex_mm.venue.thalex.messages import (
    AccountSummary,
    Book,
    BookUpdate,
    CancelOnDisconnectResult,
    Index,
    Instrument,
    InstrumentChange,
    LoginResult,
    Lwt,
    MassQuoteResult,
    MmProtectionUpdate,
    OrderHistory,
    OrderHistoryResult,
    OrderStatus,
    PortfolioEntry,
    RecentTrade,
    SystemEvent,
    SystemInfo,
    Ticker,
    Trade,
    TradeHistoryResult,
)

_ORDER_STATUS = OrderStatus

RESULT_TYPES: dict[str, Any] = {
    "public/login": LoginResult,
    "private/set_cancel_on_disconnect": CancelOnDisconnectResult,
    "private/cancel_session": None,
    "public/instruments": list[Instrument],
    "public/instrument": Instrument,
    "public/ticker": Ticker,
    "public/index": Index,
    "public/book": Book,
    "public/system_info": SystemInfo,
    "public/subscribe": list[str],
    "private/subscribe": list[str],
    "unsubscribe": list[str],
    "public/unsubscribe": list[str],
    "private/unsubscribe": list[str],
    "private/insert": _ORDER_STATUS,
    "private/buy": _ORDER_STATUS,
    "private/sell": _ORDER_STATUS,
    "private/amend": _ORDER_STATUS,
    "private/cancel": _ORDER_STATUS,
    "private/cancel_all": float,
    "private/mass_quote": MassQuoteResult,
    "private/cancel_mass_quote": None,
    "private/set_mm_protection": None,
    "private/open_orders": list[OrderStatus],
    "private/portfolio": list[PortfolioEntry],
    "private/trade_history": TradeHistoryResult,
    "private/order_history": OrderHistoryResult,
    "private/account_summary": AccountSummary,
}

# Channel name prefix (text before the first dot, or the whole fixed name) -> payload type.
CHANNEL_TYPES: dict[str, Any] = {
    "ticker": Ticker,
    "lwt": Lwt,
    "book": BookUpdate,
    "price_index": Index,
    "recent_trades": list[RecentTrade],
    "instruments": list[InstrumentChange],
    "system": SystemEvent,
    "session.orders": list[OrderStatus],
    "account.orders": list[OrderStatus],
    "account.persistent_orders": list[OrderStatus],
    "account.portfolio": list[PortfolioEntry],
    "account.trade_history": list[Trade],
    "account.order_history": list[OrderHistory],
    "account.summary": AccountSummary,
    "session.mm_protection": list[MmProtectionUpdate],
}

_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    return decoder


def channel_type(channel_name: str) -> Any:
    """The payload type of a channel, or None for channels this package does not model."""
    kind = CHANNEL_TYPES.get(channel_name)
    if kind is None:
        kind = CHANNEL_TYPES.get(channel_name.split(".", 1)[0])
    return kind


def decode_notification(channel_name: str, raw: bytes | msgspec.Raw) -> Any:
    kind = channel_type(channel_name)
    if kind is None:
        raise KeyError(f"no payload type for channel {channel_name!r}")
    return _decoder(kind).decode(raw)


def decode_result(method: str, raw: bytes | msgspec.Raw) -> Any:
    if method not in RESULT_TYPES:
        raise KeyError(f"no result type for method {method!r}")
    kind = RESULT_TYPES[method]
    return _decoder(kind).decode(raw)
