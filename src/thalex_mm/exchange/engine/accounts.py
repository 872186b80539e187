"""Accounts: positions, average entry price, realised PnL, fees, funding, balances.

Cash-settled in USD (like Thalex's USD-margined products): a fill moves no cash except the
fee; reducing a position realises (price − average entry) × closed amount into the balance;
funding payments go straight to the balance. Sign conventions:
- ``fee`` is what the account pays: rate × price × amount, so a negative maker rate is a
  rebate that increases the balance.
- funding: with a positive rate longs pay shorts: payment = −position × mark × rate.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from thalex_mm.domain import Side
from thalex_mm.exchange.engine.instruments import ExchangeInstrument
from thalex_mm.exchange.engine.orders import Order
from thalex_mm.exchange.engine.types import (
    AccountSummary,
    PortfolioEntry,
    TradeRecord,
)

HISTORY_LIMIT = 10_000  # closed orders and trades kept per account


@dataclass(slots=True)
class Position:
    """One account's holding of one instrument."""

    lots: int = 0
    average_price: float = 0.0  # of the open position; 0 when flat
    realised_pnl: float = 0.0
    fees: float = 0.0
    funding: float = 0.0


@dataclass(slots=True)
class Account:
    number: str
    deposit: float
    positions: dict[str, Position] = field(default_factory=dict)
    realised_pnl: float = 0.0
    fees: float = 0.0
    funding: float = 0.0
    # closed orders (snapshotted when queried)
    order_history: deque[Order] = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))
    trade_history: deque[TradeRecord] = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))

    @property
    def balance(self) -> float:
        return self.deposit + self.realised_pnl + self.funding - self.fees

    def position(self, instrument_name: str) -> Position:
        pos = self.positions.get(instrument_name)
        if pos is None:
            pos = Position()
            self.positions[instrument_name] = pos
        return pos

    def apply_fill(
        self, inst: ExchangeInstrument, side: Side, price: float, lots: int, fee: float
    ) -> float:
        """Book a fill; returns the position PnL it realised (fees excluded)."""
        spec = inst.spec
        pos = self.position(spec.name)
        signed = int(side) * lots
        before = pos.lots
        realised = 0.0
        if before == 0 or (before > 0) == (signed > 0):
            total = abs(before) + lots
            pos.average_price = (abs(before) * pos.average_price + lots * price) / total
        else:
            closing = min(lots, abs(before))
            direction = 1 if before > 0 else -1
            realised = spec.lots_to_amount(closing) * (price - pos.average_price) * direction
            if lots > abs(before):
                pos.average_price = price
            elif lots == abs(before):
                pos.average_price = 0.0
        pos.lots = before + signed
        pos.realised_pnl += realised
        pos.fees += fee
        self.realised_pnl += realised
        self.fees += fee
        return realised

    def apply_funding(self, instrument_name: str, amount: float, mark: float, rate: float) -> float:
        """Charge/credit funding on a position of ``amount`` contracts; returns the payment."""
        payment = -amount * mark * rate
        pos = self.position(instrument_name)
        pos.funding += payment
        self.funding += payment
        return payment


def portfolio_entry(
    inst: ExchangeInstrument, pos: Position, mark: float | None, index: float | None
) -> PortfolioEntry:
    spec = inst.spec
    amount = spec.lots_to_amount(pos.lots)
    avg = pos.average_price if pos.lots != 0 else None
    unrealised = (mark - pos.average_price) * amount if (mark is not None and pos.lots) else 0.0
    return PortfolioEntry(
        instrument_name=spec.name,
        position=amount,
        mark_price=mark,
        index=index,
        start_price=avg,
        average_price=avg,
        unrealised_pnl=unrealised,
        realised_pnl=pos.realised_pnl,
        entry_value=amount * pos.average_price if pos.lots else 0.0,
        realised_funding=pos.funding,
        fees=pos.fees,
    )


def account_summary(
    account: Account,
    instruments: dict[str, ExchangeInstrument],
    marks: dict[str, float],
    open_order_notional: float,
) -> AccountSummary:
    """Margin numbers: required = initial-margin rate × (|position| × mark) + same for orders.

    ``open_order_notional`` is already multiplied by the margin rate by the caller.
    """
    unrealised = 0.0
    required = open_order_notional
    for name, pos in account.positions.items():
        if pos.lots == 0:
            continue
        inst = instruments[name]
        amount = inst.spec.lots_to_amount(pos.lots)
        mark = marks.get(name, pos.average_price)
        unrealised += (mark - pos.average_price) * amount
        required += abs(amount) * mark * inst.initial_margin_rate
    balance = account.balance
    margin = balance + unrealised
    return AccountSummary(
        account=account.number,
        balance=balance,
        unrealised_pnl=unrealised,
        cash_collateral=balance,
        margin=margin,
        required_margin=required,
        remaining_margin=margin - required,
        session_realised_pnl=account.realised_pnl,
        realised_position_pnl=account.realised_pnl,
        realised_perpetual_funding=account.funding,
        session_fees=account.fees,
    )
