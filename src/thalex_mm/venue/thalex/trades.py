"""The account's trade history (``account.trade_history``, ``private/trade_history``) as fills.

Thalex's order feeds report fills at once but without a fee; the trade history reports the
same trade ids a little later with the fee, order id and position after. The translator turns
it into ``FillsReplayed`` for the core (which counts each trade id once and swaps its fee
estimate for the real fee) and hands the raw trades to an optional ``TradeSink`` (the journal).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from thalex_mm.core import events as ev
from thalex_mm.domain import InstrumentSpec, Side
from thalex_mm.venue.thalex import messages as wire

# Trade types that are fills of our orders (the others are marks, expiries, transfers, ...).
FILL_TRADE_TYPES = frozenset({"normal", "block", "combo", "rfq", "liquidation"})


class TradeSink(Protocol):
    """Gets the account's trades with their real fees (``account.trade_history``), ``live``;
    or from a ``private/trade_history`` catch-up after a (re)connection, not ``live``."""

    def on_trades(self, trades: Sequence[wire.Trade], live: bool, now_ns: int) -> bool:
        """Record ``trades``; True when some were already recorded (a catch-up stops there)."""
        ...

    def sweep(self, trades: Sequence[wire.Trade], since_s: float, now_ns: int) -> int:
        """Record those of ``trades`` since ``since_s`` (Unix s) not recorded yet, known ones
        or not in between (a frame that did not decode may have hidden some); the count."""
        ...


def is_fill(t: wire.Trade) -> bool:
    """A trade that filled one of our orders (not a daily mark, expiry, transfer, ...)."""
    return (
        t.trade_id is not None
        and t.price is not None
        and t.amount is not None
        and t.direction in ("buy", "sell")
        and (t.trade_type is None or t.trade_type in FILL_TRADE_TYPES)
    )


def trade_fill(spec: InstrumentSpec, t: wire.Trade) -> ev.Fill:
    """A fill from the trade history: the same trade id as on the order feed, with the fee
    (NaN when the venue gives none: the core then keeps its estimate)."""
    assert t.trade_id is not None and t.price is not None and t.amount is not None
    ticks = spec.price_to_ticks_exact(t.price)
    lots = spec.amount_to_lots_exact(t.amount)
    return ev.Fill(
        t.trade_id,
        Side.BUY if t.direction == "buy" else Side.SELL,
        ticks if ticks is not None else round(t.price / spec.tick_size),
        lots if lots is not None else spec.amount_to_lots_floor(t.amount),
        t.maker_taker != "taker",
        math.nan if t.fee is None else t.fee,
    )


def fills_by_instrument(
    specs: Mapping[str, InstrumentSpec], trades: Iterable[wire.Trade]
) -> tuple[dict[str, list[ev.Fill]], int]:
    """The fills among ``trades`` grouped per traded instrument, and how many trades were on
    instruments without a spec (options, combinations: not the engine's)."""
    out: dict[str, list[ev.Fill]] = {}
    unknown = 0
    for t in trades:
        spec = specs.get(t.instrument_name or "")
        if spec is None:
            unknown += 1
        elif is_fill(t):
            out.setdefault(spec.name, []).append(trade_fill(spec, t))
    return out, unknown
