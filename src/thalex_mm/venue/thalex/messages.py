"""Thalex results and notification payloads as msgspec Structs (field names as in openapi.json).

These are the one definition of the wire shapes: the local exchange encodes them and the trading
client decodes them. Rules that keep both directions valid against the official schemas:

- Fields the schema requires have no default, so they are always written.
- Optional fields default to ``None`` and are left out when ``None`` (``omit_defaults``);
  a value of 0 is still written. The schema types e.g. ``best_bid_price`` as a number, so an
  empty book side is expressed by leaving the field out rather than sending ``null``.
- Enum-like result fields are plain ``str`` so a newer server value never breaks decoding.
- Unknown fields are ignored on decode.
"""

from __future__ import annotations

import msgspec


class _Wire(msgspec.Struct, kw_only=True, omit_defaults=True):
    pass


# --- session --------------------------------------------------------------------------------
class LoginResult(_Wire):
    account_number: str


class CancelOnDisconnectResult(_Wire):
    message_rate: int


class Banner(_Wire):
    time: float
    severity: str
    message: str
    id: int | None = None
    title: str | None = None


class SystemInfo(_Wire):
    environment: str
    banners: list[Banner]
    api_version: str | None = None


class SystemEvent(_Wire):
    event: str


class RpcError(_Wire):
    code: int
    message: str


# --- orders ---------------------------------------------------------------------------------
class OrderFill(_Wire):
    trade_id: str
    price: float
    amount: float
    maker_taker: str
    leg_index: int
    time: float | None = None


class OrderLeg(_Wire):
    instrument_name: str
    quantity: float
    filled_amount: float
    remaining_amount: float | None = None


class OrderStatus(_Wire):
    """An order as seen in trading replies, ``open_orders`` and the order feeds."""

    order_id: str
    order_type: str
    time_in_force: str
    direction: str
    amount: float
    filled_amount: float
    remaining_amount: float
    status: str
    fills: list[OrderFill]
    change_reason: str
    insert_reason: str
    create_time: float
    persistent: bool
    instrument_name: str | None = None
    legs: list[OrderLeg] | None = None
    price: float | None = None
    label: str | float | None = None
    client_order_id: int | None = None
    delete_reason: str | None = None
    conditional_order_id: str | None = None
    bot_id: str | None = None
    close_time: float | None = None
    reduce_only: bool | None = None


class OrderHistory(_Wire):
    """A closed order in ``private/order_history`` and ``account.order_history``."""

    order_id: str
    order_type: str
    direction: str
    amount: float
    filled_amount: float
    status: str
    fills: list[OrderFill]
    insert_reason: str
    delete_reason: str
    create_time: float
    close_time: float
    instrument_name: str | None = None
    legs: list[OrderLeg] | None = None
    price: float | None = None
    label: str | float | None = None
    client_order_id: int | None = None
    conditional_order_id: str | None = None
    bot_id: str | None = None
    reduce_only: bool | None = None


class OrderHistoryResult(_Wire):
    orders: list[OrderHistory]
    bookmark: str | None = None


class Trade(_Wire):
    """One of the account's trades (``trade_history``, ``account.trade_history``)."""

    trade_id: str | None = None
    order_id: str | None = None
    trade_type: str | None = None
    instrument_name: str | None = None
    direction: str | None = None
    price: float | None = None
    amount: float | None = None
    label: str | float | None = None
    time: float | None = None
    position_after: float | None = None
    session_realised_after: float | None = None
    position_pnl: float | None = None
    perpetual_funding_pnl: float | None = None
    fee: float | None = None
    index: float | None = None
    fee_rate: float | None = None
    fee_basis: float | None = None
    funding_mark: float | None = None
    liquidation_fee: float | None = None
    client_order_id: int | None = None
    maker_taker: str | None = None
    bot_id: str | None = None
    leg_index: int | None = None


class TradeHistoryResult(_Wire):
    trades: list[Trade]
    bookmark: str | None = None


# --- market making --------------------------------------------------------------------------
class MassQuoteError(_Wire):
    code: int
    message: str
    side: str | None = None
    price: float | None = None


class MassQuoteResult(_Wire):
    n_success: int
    n_fail: int
    errors: list[MassQuoteError]


class MmProtectionUpdate(_Wire):
    product: str
    remaining_amount: float
    reason: str


# --- accounting -----------------------------------------------------------------------------
class PortfolioEntry(_Wire):
    instrument_name: str
    position: float
    mark_price: float | None = None
    iv: float | None = None
    index: float | None = None
    start_price: float | None = None
    average_price: float | None = None
    unrealised_pnl: float | None = None
    realised_pnl: float | None = None
    entry_value: float | None = None
    perpetual_funding_entry_value: float | None = None
    unrealised_perpetual_funding: float | None = None


class CashEntry(_Wire):
    currency: str
    balance: float
    collateral_factor: float
    transactable: bool
    collateral_index_price: float | None = None


class AccountSummary(_Wire):
    cash: list[CashEntry]
    unrealised_pnl: float
    cash_collateral: float
    margin: float
    required_margin: float
    remaining_margin: float
    session_realised_pnl: float


# --- market data ----------------------------------------------------------------------------
class InstrumentLeg(_Wire):
    instrument_name: str
    quantity: int


class Instrument(_Wire):
    instrument_name: str
    type: str
    product: str | None = None
    tick_size: float | None = None
    volume_tick_size: float | None = None
    min_order_amount: float | None = None
    underlying: str | None = None
    option_type: str | None = None
    expiry_date: str | None = None
    expiration_timestamp: int | None = None
    strike_price: float | None = None
    base_currency: str | None = None
    legs: list[InstrumentLeg] | None = None
    create_time: float | None = None
    settlement_price: float | None = None
    settlement_index_price: float | None = None


class InstrumentChange(_Wire):
    """One entry of the ``instruments`` channel: exactly one of the two is set."""

    added: Instrument | None = None
    removed: Instrument | None = None


class Ticker(_Wire):
    mark_price: float
    mark_timestamp: float
    delta: float
    index: float
    best_bid_price: float | None = None
    best_bid_amount: float | None = None
    best_ask_price: float | None = None
    best_ask_amount: float | None = None
    last_price: float | None = None
    iv: float | None = None
    forward: float | None = None
    volume_24h: float | None = None
    value_24h: float | None = None
    low_price_24h: float | None = None
    high_price_24h: float | None = None
    change_24h: float | None = None
    collar_low: float | None = None
    collar_high: float | None = None
    open_interest: float | None = None
    funding_rate: float | None = None
    funding_mark: float | None = None
    realised_funding_24h: float | None = None
    average_funding_rate_24h: float | None = None


class Lwt(_Wire):
    """Lightweight ticker: ``b``/``a`` are ``[price, amount, outright_amount]``."""

    m: float
    b: tuple[float, float, float] | None = None
    a: tuple[float, float, float] | None = None
    v: float | None = None
    l: float | None = None  # noqa: E741 - the wire name


class Index(_Wire):
    index_name: str
    price: float
    timestamp: float
    expiration_print_average: float | None = None
    expiration_progress: float | None = None
    expected_expiration_price: float | None = None
    previous_settlement_price: float | None = None


BookLevel = tuple[float, float, float]  # price, amount, outright amount
BookTrade = tuple[float, float, str, float, bool]  # price, amount, direction, time, implied
RecentTrade = tuple[float, float, str, float, str, bool]  # ... instrument_name, implied_taker


class Book(_Wire):
    """``public/book`` result (at most 5 levels per side)."""

    bids: list[BookLevel]
    asks: list[BookLevel]
    time: float
    last: float | None = None


class BookUpdate(_Wire):
    """``book.*`` payload: level changes (amount 0 empties a level) and new trades."""

    bid_changes: list[BookLevel] | None = None
    ask_changes: list[BookLevel] | None = None
    trades: list[BookTrade] | None = None
    total_bid_amount: float | None = None
    total_ask_amount: float | None = None
    time: float | None = None
