"""Sanity checks on our fills: a fill is real (the venue counts it), but one far from the
mark or of an order this engine never placed means something is wrong (a rogue session on
the account, a venue or decoding bug), and trading on as if nothing happened would compound
it. The engine counts such a fill, reports it and, by ``accounting.anomalous_fill``, stops
adding risk (see ``Engine._apply``)."""

from __future__ import annotations

from thalex_mm.core.events import Fill
from thalex_mm.core.instrument import Instrument


def fill_anomaly(inst: Instrument, fill: Fill, foreign: bool) -> str | None:
    """Why ``fill`` looks wrong, or None. ``foreign``: its order is not one of ours."""
    band = inst.cfg.risk.price_band
    mark = inst.mark()
    tick = inst.spec.tick_size
    if band > 0.0 and mark > 0.0:
        price = fill.price_ticks * tick
        off = abs(price - mark) / mark
        if off > band:
            return (
                f"fill {fill.trade_id} at {price:g} is {off:.1%} from the mark {mark:g} "
                f"(risk.price_band {band:.1%})"
            )
    if foreign:
        return f"fill {fill.trade_id} of an order this engine did not place"
    return None
