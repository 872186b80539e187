"""The engine's mutable records: orders (and their snapshots) and MM-protection groups."""

from __future__ import annotations

from dataclasses import dataclass, field

from thalex_mm.domain import InstrumentSpec, Side
from thalex_mm.exchange.engine.types import (
    ChangeReason,
    DeleteReason,
    FillInfo,
    OrderSnapshot,
    OrderStatus,
    OrderType,
    TimeInForce,
)


@dataclass(slots=True, eq=False)
class Order:
    """A live or closed order in integer ticks and lots.

    ``seq`` is the time-priority key: it is renewed when an amend loses priority.
    ``post_only`` / ``reject_post_only`` stay with the order, so an amend that would cross is
    re-priced (or cancelled) like the insert was, never trading as taker.
    """

    order_id: str
    seq: int
    spec: InstrumentSpec
    account: str
    session_id: int
    persistent: bool
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int | None  # ticks; None for a market order with no limit
    amount: int  # lots, as inserted or amended
    create_time_ns: int
    client_order_id: int | None = None
    label: str | None = None
    reduce_only: bool = False
    is_mass_quote: bool = False
    post_only: bool = False
    reject_post_only: bool = False
    shown_price: bool = True  # False: market order inserted without a price
    filled: int = 0
    resting: bool = False
    status: OrderStatus = OrderStatus.OPEN
    delete_reason: DeleteReason | None = None
    close_time_ns: int | None = None
    fills: list[FillInfo] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        """Lots still working; 0 once closed."""
        return 0 if self.close_time_ns is not None else self.amount - self.filled

    @property
    def is_live(self) -> bool:
        return self.close_time_ns is None

    def add_fill(self, fill: FillInfo, lots: int) -> None:
        self.filled += lots
        self.fills.append(fill)
        if self.filled >= self.amount:
            self.status = OrderStatus.FILLED
        else:
            self.status = OrderStatus.PARTIALLY_FILLED

    def close(self, reason: DeleteReason, now_ns: int) -> None:
        """Mark closed; status follows from the fills (filled / cancelled[_partially_filled])."""
        self.delete_reason = reason
        self.close_time_ns = now_ns
        self.resting = False
        if self.filled >= self.amount:
            self.status = OrderStatus.FILLED
        elif self.filled > 0:
            self.status = OrderStatus.CANCELLED_PARTIALLY_FILLED
        else:
            self.status = OrderStatus.CANCELLED

    def snapshot(
        self, change_reason: ChangeReason, new_fills: tuple[FillInfo, ...] = ()
    ) -> OrderSnapshot:
        spec = self.spec
        fills = tuple(self.fills) if change_reason is ChangeReason.EXISTING else new_fills
        price = (
            spec.ticks_to_price(self.price) if self.price is not None and self.shown_price else None
        )
        return OrderSnapshot(
            order_id=self.order_id,
            instrument_name=spec.name,
            direction=self.side,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            price=price,
            amount=spec.lots_to_amount(self.amount),
            filled_amount=spec.lots_to_amount(self.filled),
            remaining_amount=spec.lots_to_amount(self.remaining),
            status=self.status,
            change_reason=change_reason,
            fills=fills,
            create_time_ns=self.create_time_ns,
            persistent=self.persistent,
            client_order_id=self.client_order_id,
            label=self.label,
            delete_reason=self.delete_reason,
            close_time_ns=self.close_time_ns,
            reduce_only=self.reduce_only,
            is_mass_quote=self.is_mass_quote,
        )


@dataclass(slots=True)
class ProtectionGroup:
    """MM protection for one (session, product)."""

    account: str
    trade_amount: float
    quote_amount: float
    executed: float = 0.0
    tripped: bool = False

    @property
    def remaining(self) -> float:
        return round(self.trade_amount - self.executed, 8)
