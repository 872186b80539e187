"""Stateless conversions of Thalex wire objects into core values, with the instrument's spec.

Order prices and amounts convert exactly (they are on the grid; an off-grid value rounds to
the nearest tick or lot); the ``Translator`` (translate.py) uses these for replies, feeds and
the resync.
"""

from __future__ import annotations

from thalex_mm.core import events as ev
from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side
from thalex_mm.venue.thalex import messages as wire


def spec_from_instrument(inst: wire.Instrument) -> InstrumentSpec | None:
    """The spec of a perpetual or future, or None for instruments the engine does not trade."""
    if inst.type == "perpetual":
        kind = InstrumentKind.PERPETUAL
    elif inst.type == "future":
        kind = InstrumentKind.FUTURE
    else:
        return None
    if inst.tick_size is None or inst.volume_tick_size is None:
        return None
    try:
        return InstrumentSpec(
            name=inst.instrument_name,
            kind=kind,
            underlying=inst.underlying or "",
            tick_size=inst.tick_size,
            amount_step=inst.volume_tick_size,
            min_amount=inst.min_order_amount or inst.volume_tick_size,
            product=inst.product or "",
            expiry_ts=(
                float(inst.expiration_timestamp) if inst.expiration_timestamp is not None else None
            ),
        )
    except ValueError:
        return None


def wire_price_ticks(spec: InstrumentSpec, price: float | None) -> int:
    if price is None:  # market orders carry no price
        return 0
    ticks = spec.price_to_ticks_exact(price)
    return ticks if ticks is not None else round(price / spec.tick_size)


def wire_amount_lots(spec: InstrumentSpec, amount: float) -> int:
    lots = spec.amount_to_lots_exact(amount)
    return lots if lots is not None else round(amount / spec.amount_step)  # nearest lot


def order_update(
    spec: InstrumentSpec, o: wire.OrderStatus, now_ns: int, reply_to: int = 0
) -> ev.OrderUpdate:
    """One wire ``OrderStatus`` as the core's ``OrderUpdate``."""
    side = Side.BUY if o.direction == "buy" else Side.SELL
    fills: tuple[ev.Fill, ...] = ()
    if o.fills:
        fills = tuple(
            ev.Fill(
                f.trade_id,
                side,
                wire_price_ticks(spec, f.price),
                wire_amount_lots(spec, f.amount),
                f.maker_taker == "maker",
            )
            for f in o.fills
        )
    return ev.OrderUpdate(
        now_ns,
        spec.name,
        o.order_id,
        o.client_order_id,
        side,
        ev.OrderStatus.from_wire(o.status),
        wire_price_ticks(spec, o.price),
        wire_amount_lots(spec, o.amount),
        wire_amount_lots(spec, o.filled_amount),
        wire_amount_lots(spec, o.remaining_amount),
        fills,
        "" if o.label is None else str(o.label),
        o.delete_reason or "",
        reply_to,
    )


def portfolio_entry(spec: InstrumentSpec, p: wire.PortfolioEntry) -> ev.PortfolioEntry:
    return ev.PortfolioEntry(
        spec.name,
        round(p.position / spec.amount_step),
        p.average_price or 0.0,
        p.realised_pnl or 0.0,
        p.unrealised_pnl or 0.0,
        p.mark_price or 0.0,
    )
