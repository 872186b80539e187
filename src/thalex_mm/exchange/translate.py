"""Engine objects -> Thalex wire Structs (the only place engine units meet the wire).

The engine speaks floats already on the instrument grid, integer-ns times and StrEnums with the
Thalex spellings, so translation is renaming plus ns -> seconds. Kept free of I/O and state.
"""

from __future__ import annotations

import datetime as dt

from thalex_mm.domain import InstrumentKind
from thalex_mm.exchange.engine import (
    AccountSummary,
    BookSnapshot,
    ExchangeInstrument,
    FillInfo,
    OrderSnapshot,
    PortfolioEntry,
    PublicTrade,
    TickerData,
    TradeRecord,
)
from thalex_mm.exchange.engine import (
    MassQuoteResult as EngineMassQuoteResult,
)
from thalex_mm.venue.thalex import messages as wire

_NS = 1e9
MAX_HISTORY_FILLS = 8  # order_history keeps at most 8 fills per order (protocol.md §2.7)


def seconds(time_ns: int) -> float:
    return time_ns / _NS


def fill(info: FillInfo) -> wire.OrderFill:
    return wire.OrderFill(
        trade_id=info.trade_id,
        price=info.price,
        amount=info.amount,
        maker_taker=str(info.maker_taker),
        leg_index=0,
        time=info.time_ns / _NS,
    )


def order_status(order: OrderSnapshot, *, existing: bool = False) -> wire.OrderStatus:
    """An OrderStatus; ``existing`` marks a subscription snapshot (all fills, change_reason)."""
    return wire.OrderStatus(
        order_id=order.order_id,
        order_type=str(order.order_type),
        time_in_force=str(order.time_in_force),
        direction=order.direction.wire,
        amount=order.amount,
        filled_amount=order.filled_amount,
        remaining_amount=order.remaining_amount,
        status=str(order.status),
        fills=[fill(f) for f in order.fills],
        change_reason="existing" if existing else str(order.change_reason),
        insert_reason=order.insert_reason,
        create_time=order.create_time_ns / _NS,
        persistent=order.persistent,
        instrument_name=order.instrument_name,
        price=order.price,
        label=order.label,
        client_order_id=order.client_order_id,
        delete_reason=None if order.delete_reason is None else str(order.delete_reason),
        close_time=None if order.close_time_ns is None else order.close_time_ns / _NS,
        reduce_only=True if order.reduce_only else None,
    )


def order_history(order: OrderSnapshot) -> wire.OrderHistory:
    """A closed order for ``private/order_history`` (needs delete_reason and close_time)."""
    close_ns = order.close_time_ns if order.close_time_ns is not None else order.create_time_ns
    return wire.OrderHistory(
        order_id=order.order_id,
        order_type=str(order.order_type),
        direction=order.direction.wire,
        amount=order.amount,
        filled_amount=order.filled_amount,
        status=str(order.status),
        fills=[fill(f) for f in order.fills[-MAX_HISTORY_FILLS:]],
        insert_reason=order.insert_reason,
        delete_reason=str(order.delete_reason) if order.delete_reason else "filled",
        create_time=order.create_time_ns / _NS,
        close_time=close_ns / _NS,
        instrument_name=order.instrument_name,
        price=order.price,
        label=order.label,
        client_order_id=order.client_order_id,
        reduce_only=True if order.reduce_only else None,
    )


def trade(record: TradeRecord) -> wire.Trade:
    return wire.Trade(
        trade_id=record.trade_id,
        order_id=record.order_id,
        trade_type=record.trade_type,
        instrument_name=record.instrument_name,
        direction=record.direction.wire,
        price=record.price,
        amount=record.amount,
        label=record.label,
        time=record.time_ns / _NS,
        position_after=record.position_after,
        position_pnl=record.realised_pnl,
        fee=record.fee,
        index=record.index,
        fee_rate=record.fee_rate,
        fee_basis=record.price,
        client_order_id=record.client_order_id,
        maker_taker=str(record.maker_taker),
        leg_index=0,
    )


def portfolio_entry(entry: PortfolioEntry) -> wire.PortfolioEntry:
    return wire.PortfolioEntry(
        instrument_name=entry.instrument_name,
        position=entry.position,
        mark_price=entry.mark_price,
        index=entry.index,
        start_price=entry.start_price,
        average_price=entry.average_price,
        unrealised_pnl=entry.unrealised_pnl,
        realised_pnl=entry.realised_pnl,
        entry_value=entry.entry_value,
    )


def account_summary(summary: AccountSummary) -> wire.AccountSummary:
    cash = wire.CashEntry(
        currency=summary.currency,
        balance=summary.balance,
        collateral_factor=1.0,
        transactable=True,
    )
    return wire.AccountSummary(
        cash=[cash],
        unrealised_pnl=summary.unrealised_pnl,
        cash_collateral=summary.cash_collateral,
        margin=summary.margin,
        required_margin=summary.required_margin,
        remaining_margin=summary.remaining_margin,
        session_realised_pnl=summary.session_realised_pnl,
    )


def mass_quote_result(result: EngineMassQuoteResult) -> wire.MassQuoteResult:
    errors = [
        wire.MassQuoteError(
            code=e.code,
            message=f"{e.instrument_name}: {e.message}",
            side=None if e.side is None else ("bid" if e.side.wire == "buy" else "ask"),
            price=e.price,
        )
        for e in result.errors
    ]
    return wire.MassQuoteResult(n_success=result.n_success, n_fail=result.n_fail, errors=errors)


def instrument(item: ExchangeInstrument) -> wire.Instrument:
    spec = item.spec
    expiry_ts = spec.expiry_ts
    expiry_date = None
    if expiry_ts is not None:
        expiry_date = dt.datetime.fromtimestamp(expiry_ts, tz=dt.UTC).strftime("%Y-%m-%d")
    return wire.Instrument(
        instrument_name=spec.name,
        type=str(spec.kind),
        product=spec.product or None,
        tick_size=spec.tick_size,
        volume_tick_size=spec.amount_step,
        min_order_amount=spec.min_amount,
        underlying=spec.underlying,
        expiry_date=expiry_date,
        expiration_timestamp=None if expiry_ts is None else int(expiry_ts),
        base_currency="USD",
        create_time=item.create_time_ns / _NS,
    )


def ticker(data: TickerData, kind: InstrumentKind) -> wire.Ticker | None:
    """The Ticker, or None while the instrument has no mark (the schema requires one)."""
    mark = data.mark_price
    index = data.index if data.index is not None else mark
    if mark is None or index is None:
        return None
    perpetual = kind is InstrumentKind.PERPETUAL
    return wire.Ticker(
        mark_price=mark,
        mark_timestamp=data.mark_time_ns / _NS,
        delta=1.0,
        index=index,
        best_bid_price=data.best_bid_price,
        best_bid_amount=data.best_bid_amount,
        best_ask_price=data.best_ask_price,
        best_ask_amount=data.best_ask_amount,
        last_price=data.last_price,
        forward=None if perpetual else mark,  # roll_quoter reads it on futures
        volume_24h=data.volume,
        value_24h=data.value,
        collar_low=data.collar_low,
        collar_high=data.collar_high,
        open_interest=data.open_interest,
        funding_rate=data.funding_rate if perpetual else None,
        funding_mark=data.funding_mark if perpetual else None,
    )


def lwt(data: TickerData) -> wire.Lwt | None:
    if data.mark_price is None:
        return None
    bid = ask = None
    if data.best_bid_price is not None and data.best_bid_amount is not None:
        bid = (data.best_bid_price, data.best_bid_amount, data.best_bid_amount)
    if data.best_ask_price is not None and data.best_ask_amount is not None:
        ask = (data.best_ask_price, data.best_ask_amount, data.best_ask_amount)
    return wire.Lwt(m=data.mark_price, b=bid, a=ask, l=data.last_price)


def index(underlying: str, price: float, time_ns: int) -> wire.Index:
    return wire.Index(index_name=underlying, price=price, timestamp=time_ns / _NS)


def book(snapshot: BookSnapshot, now_ns: int) -> wire.Book:
    """``time`` is the last change of the book, or now for a book that never changed."""
    return wire.Book(
        bids=[(p, a, a) for p, a in snapshot.bids],
        asks=[(p, a, a) for p, a in snapshot.asks],
        time=(snapshot.time_ns or now_ns) / _NS,
        last=snapshot.last_price,
    )


def book_trade(item: PublicTrade) -> wire.BookTrade:
    return (item.price, item.amount, item.taker_direction.wire, item.time_ns / _NS, False)


def recent_trade(item: PublicTrade) -> wire.RecentTrade:
    return (
        item.price,
        item.amount,
        item.taker_direction.wire,
        item.time_ns / _NS,
        item.instrument_name,
        False,
    )
