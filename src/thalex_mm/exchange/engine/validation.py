"""Checks on client-supplied prices and amounts, returning `EngineError` values (§4.3)."""

from __future__ import annotations

import math

from thalex_mm.domain import InstrumentSpec, Side
from thalex_mm.exchange.engine.types import EngineError
from thalex_mm.venue.thalex.codes import ErrorCode

_DECIMALS = 8  # Thalex rounds prices and amounts to 8 decimals, then checks alignment (§4.3)


def _on_grid(index: int | None, value: float, to_value: float) -> bool:
    """Is ``value``, rounded to 8 decimals, exactly grid point ``index`` (whose value is
    ``to_value``)? `InstrumentSpec`'s ``*_exact`` helpers forgive a millionth of a step
    (float noise in venue data), which would snap 50000.0000001 onto a tick of 1 instead of
    rejecting it; a client's order must be aligned at the 8th decimal."""
    return index is not None and to_value == round(value, _DECIMALS)


def parse_price(spec: InstrumentSpec, price: float) -> int | EngineError:
    """Ticks of an aligned positive price, else error 13 (not positive) or 15 (off the grid)."""
    if not isinstance(price, int | float) or not math.isfinite(price) or price <= 0:
        return EngineError(ErrorCode.INVALID_PRICE, f"price must be a positive number: {price}")
    ticks = spec.price_to_ticks_exact(price)
    if ticks is None or not _on_grid(ticks, price, spec.ticks_to_price(ticks)):
        return EngineError(
            ErrorCode.PRICE_NOT_ALIGNED,
            f"price {price} is not aligned with tick size {spec.tick_size}",
        )
    if ticks <= 0:
        return EngineError(ErrorCode.INVALID_PRICE, f"price must be positive: {price}")
    return ticks


def parse_lots(
    spec: InstrumentSpec, amount: float, *, allow_zero: bool = False
) -> int | EngineError:
    """Lots of an aligned amount (error 14 when negative, off the volume grid or not finite).

    Zero is accepted only with ``allow_zero`` (amend to 0 cancels); the minimum order amount is
    checked separately because an amend at or below the filled amount is a delete.
    """
    if not isinstance(amount, int | float) or not math.isfinite(amount) or amount < 0:
        return EngineError(ErrorCode.INVALID_AMOUNT, f"amount must be a positive number: {amount}")
    lots = spec.amount_to_lots_exact(amount)
    if lots is None or not _on_grid(lots, amount, spec.lots_to_amount(lots)):
        return EngineError(
            ErrorCode.INVALID_AMOUNT,
            f"amount {amount} is not aligned with volume tick size {spec.amount_step}",
        )
    if lots == 0 and not allow_zero:
        return EngineError(ErrorCode.INVALID_AMOUNT, f"amount must be positive: {amount}")
    return lots


def below_minimum(spec: InstrumentSpec, lots: int) -> EngineError | None:
    if lots < spec.min_lots:
        return EngineError(
            ErrorCode.INVALID_AMOUNT,
            f"amount {spec.lots_to_amount(lots)} is below the minimum {spec.min_amount}",
        )
    return None


def collar_limit(spec: InstrumentSpec, side: Side, mark: float, fraction: float) -> int:
    """The most aggressive tick allowed: collar_high for bids (floor), collar_low for asks."""
    if side is Side.BUY:
        return spec.price_to_ticks_floor(mark * (1.0 + fraction))
    return max(1, spec.price_to_ticks_ceil(mark * (1.0 - fraction)))


def beyond_collar(side: Side, ticks: int | None, limit: int) -> bool:
    """Is a limit (None = market, infinitely aggressive) beyond the collar bound?"""
    if ticks is None:
        return True
    return ticks > limit if side is Side.BUY else ticks < limit
