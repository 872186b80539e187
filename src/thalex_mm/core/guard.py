"""The final guard: every price and size the core sends passes through ``OrderGuard.check``.

It is the last line of defence against a bug upstream (a NaN from the model, a float that
slipped past the tick rounding, a size off by a factor of a thousand), so it trusts nothing:
the price must be a positive ``int`` number of ticks (a float is off the grid by definition
here), within a band around the mark when one is known, and the size a whole number of lots
between the instrument's minimum and the configured maximum order size.
"""

from __future__ import annotations

from thalex_mm.domain import InstrumentSpec


class OrderGuard:
    """Checks one order's price and size; ``check`` returns None or the reason to refuse."""

    __slots__ = ("band_fraction", "max_lots", "min_lots", "reference_ticks")

    def __init__(self, spec: InstrumentSpec, max_order_lots: int, price_band: float) -> None:
        self.min_lots = spec.min_lots
        self.max_lots = max_order_lots
        self.band_fraction = price_band  # allowed |price - mark| / mark; <= 0 disables
        self.reference_ticks = 0.0  # the mark in ticks, 0 while unknown

    def check(self, price_ticks: object, amount_lots: object) -> str | None:
        if type(price_ticks) is not int:
            return f"price {price_ticks!r} is not a whole number of ticks"
        if price_ticks <= 0:
            return f"price {price_ticks} ticks is not positive"
        if type(amount_lots) is not int:
            return f"size {amount_lots!r} is not a whole number of lots"
        if amount_lots < self.min_lots:
            return f"size {amount_lots} lots is below the minimum {self.min_lots}"
        if amount_lots > self.max_lots:
            return f"size {amount_lots} lots is above the maximum {self.max_lots}"
        ref = self.reference_ticks
        band = self.band_fraction
        if ref > 0.0 and band > 0.0 and abs(price_ticks - ref) > band * ref:
            return f"price {price_ticks} ticks is more than {band:.1%} from the mark ({ref:.1f})"

        return None
