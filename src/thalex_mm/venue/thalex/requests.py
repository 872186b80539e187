"""Params of the Thalex RPC requests a market maker sends (field names as in openapi.json).

The exchange decodes incoming ``params`` into these Structs (so wrong types and missing fields
become precise errors before any logic runs); the trading client encodes them. Optional fields
default to ``None`` and are left out of the JSON, as the official client does.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Direction = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
TimeInForce = Literal["good_till_cancelled", "immediate_or_cancel"]
Collar = Literal["ignore", "reject", "clamp"]
StpLevel = Literal["customer", "account", "disabled"]
StpAction = Literal["cancel_aggressive_partial_fill", "cancel_aggressive_no_fill"]
Delay = Literal["raw", "100ms", "200ms", "500ms", "1000ms", "5000ms", "60000ms"]

# Labels: up to 64 characters from [A-Za-z0-9<>|_-] (protocol.md §1.6).
Label = Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[A-Za-z0-9<>|_\-]*$")]
# Thalex allows up to 2^64-1; msgspec bounds stop at int64, so ids must stay below 2^63.
ClientOrderId = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
OrderId = Annotated[str, msgspec.Meta(max_length=64)]
FiniteNumber = Annotated[float, msgspec.Meta(ge=-1e15, le=1e15)]

MAX_MASS_QUOTES = 100
MAX_QUOTE_LEVELS = 10


class _Params(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=False):
    """Base: unknown fields are tolerated (newer API versions add some)."""


class EmptyParams(_Params):
    pass


class LoginParams(_Params):
    token: str
    account: str | None = None


class SetCancelOnDisconnectParams(_Params):
    timeout_secs: Annotated[int, msgspec.Meta(ge=1, le=3600)]


class InstrumentsParams(_Params):
    expiry_date: str | None = None
    underlying: str | None = None
    instrument_type: Literal["futures", "options", "future_rolls"] | None = None


class InstrumentNameParams(_Params):
    instrument_name: Annotated[str, msgspec.Meta(max_length=128)]


class IndexParams(_Params):
    underlying: str


class ChannelsParams(_Params):
    channels: Annotated[list[str], msgspec.Meta(max_length=1000)]


class ComboLeg(_Params):
    instrument_name: str
    quantity: float


class InsertParams(_Params):
    """``private/insert`` (``direction`` required) and ``private/buy``/``sell`` (implied)."""

    amount: FiniteNumber
    direction: Direction | None = None
    instrument_name: str | None = None
    legs: list[ComboLeg] | None = None
    price: FiniteNumber | None = None
    order_type: OrderType | None = None
    time_in_force: TimeInForce | None = None
    client_order_id: ClientOrderId | None = None
    label: Label | None = None
    post_only: bool | None = None
    reject_post_only: bool | None = None
    reduce_only: bool | None = None
    collar: Collar | None = None
    stp_level: StpLevel | None = None
    stp_action: StpAction | None = None


class AmendParams(_Params):
    price: FiniteNumber
    amount: FiniteNumber
    order_id: OrderId | None = None
    client_order_id: ClientOrderId | None = None
    collar: Collar | None = None


class CancelParams(_Params):
    order_id: OrderId | None = None
    client_order_id: ClientOrderId | None = None


class SingleLevelQuote(_Params):
    """One quote level of a mass-quote side: ``{"p": price, "a": amount}`` (a=0 deletes)."""

    p: FiniteNumber
    a: FiniteNumber


QuoteLevels = Annotated[
    list[tuple[FiniteNumber, FiniteNumber]], msgspec.Meta(max_length=MAX_QUOTE_LEVELS)
]
QuoteSide = SingleLevelQuote | QuoteLevels


class DoubleSidedQuote(_Params):
    """One instrument in ``private/mass_quote``; a side left out (None) is not touched."""

    i: str
    b: QuoteSide | None = None
    a: QuoteSide | None = None


class MassQuoteParams(_Params):
    quotes: Annotated[list[DoubleSidedQuote], msgspec.Meta(max_length=MAX_MASS_QUOTES)]
    label: Label | None = None
    post_only: bool | None = None
    reject_post_only: bool | None = None
    stp_level: StpLevel | None = None
    stp_action: StpAction | None = None


class CancelMassQuoteParams(_Params):
    product: str | None = None


class SetMmProtectionParams(_Params):
    product: str
    trade_amount: FiniteNumber | None = None
    quote_amount: FiniteNumber | None = None
    amount: FiniteNumber | None = None  # deprecated: overwrites both


class HistoryParams(_Params):
    """``private/trade_history`` and ``private/order_history``; times are Unix seconds."""

    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1000
    time_low: float | None = None
    time_high: float | None = None
    bookmark: str | None = None
    sort: Literal["ascending", "descending"] | None = None
    instrument_names: str | None = None
    order_ids: str | None = None
    bot_ids: str | None = None
    conditional_order_ids: str | None = None
    direction: Direction | None = None
    label: str | None = None
