"""Position and PnL of one instrument, from fills as they arrive, each counted exactly once.

The same fill can reach us several times: in the RPC result and on the order feed, on
``session.orders`` and ``account.orders``, in the trade history, again in a snapshot after a
reconnect. ``TradeIds`` (``trade_ids.py``) remembers recent fill keys and those of open
orders, in bounded memory, and a fill whose key was seen is ignored, except to replace an
*estimated* fee with the real one. The key is the trade id AND the side: when two of our
orders trade with each other (a hedge IOC hitting our own quote) both legs share one trade
id, and each leg must be counted. A fill below one lot (the venue's
amount rounded to 0 lots) changes nothing and is ignored (the engine reports it).

Accounting: the average entry price moves only when the position grows; reducing fills
realise ``(price − average) · closed amount · sign(position)``; a fill through zero closes
the old position and opens the remainder at the fill price. Fees are kept apart (paid > 0),
as is funding (received > 0), so ``total_pnl = realised + unrealised(mark) − fees + funding``.
"""

from __future__ import annotations

import math

from thalex_mm.core.actions import PositionDiscrepancy
from thalex_mm.core.config import AccountingConfig
from thalex_mm.core.events import Fill, PortfolioEntry
from thalex_mm.core.trade_ids import TradeIds
from thalex_mm.domain import InstrumentSpec

__all__ = ["Position", "TradeIds", "fill_key"]


def fill_key(fill: Fill) -> tuple[str, int]:
    """What identifies one fill of ours: the trade id and our side (a self-trade has two)."""
    return (fill.trade_id, int(fill.side))


class Position:
    __slots__ = (
        "_mismatch_reported",
        "_mismatch_since_ns",
        "average_price",
        "cfg",
        "disagreement",
        "fees",
        "fill_count",
        "funding",
        "ignored_fills",
        "lots",
        "realised",
        "spec",
        "trade_ids",
        "venue_average_price",
        "venue_lots",
    )

    def __init__(self, spec: InstrumentSpec, cfg: AccountingConfig, trade_ids: TradeIds) -> None:
        self.spec = spec
        self.cfg = cfg
        self.trade_ids = trade_ids
        self.lots = 0  # signed
        self.average_price = 0.0  # of the open position; 0 when flat
        self.realised = 0.0
        self.fees = 0.0
        self.funding = 0.0
        self.fill_count = 0
        self.ignored_fills = 0  # fills below one lot (nothing to count)
        self.venue_lots: int | None = None
        self.venue_average_price = 0.0
        self._mismatch_since_ns: int | None = None
        self._mismatch_reported = False
        # why not to quote: a reported discrepancy not adopted (None: agrees, or adopted)
        self.disagreement: str | None = None

    # --- fills --------------------------------------------------------------------------
    def apply(self, fill: Fill) -> bool:
        """Count ``fill`` once; True when it changed the position."""
        qty = fill.amount_lots
        if qty <= 0:  # below one lot after rounding: nothing to count (and no division by 0)
            self.ignored_fills += 1
            return False
        trade_id = (fill.trade_id, int(fill.side))
        trade_ids = self.trade_ids
        if not trade_ids.add(trade_id):
            if not math.isnan(fill.fee):  # a real fee now: it replaces our estimate, if any
                estimated = trade_ids.take_estimate(trade_id)
                if estimated is not None:
                    self.fees += fill.fee - estimated
            return False
        spec = self.spec
        price = fill.price_ticks * spec.tick_size
        fee = fill.fee
        if math.isnan(fee):  # NaN: the order feed does not carry fees; estimate, correct later
            rate = self.cfg.maker_fee_rate if fill.is_maker else self.cfg.taker_fee_rate
            fee = rate * price * qty * spec.amount_step
            trade_ids.set_estimate(trade_id, fee)
        self.fees += fee
        self.fill_count += 1
        pos = self.lots
        delta = int(fill.side) * qty
        if pos == 0 or (pos > 0) == (delta > 0):
            new = pos + delta
            self.average_price = (self.average_price * abs(pos) + price * qty) / abs(new)
            self.lots = new
            return True
        closed = min(qty, abs(pos))
        sign = 1 if pos > 0 else -1
        self.realised += (price - self.average_price) * closed * sign * spec.amount_step
        new = pos + delta
        self.lots = new
        if new == 0:
            self.average_price = 0.0
        elif (new > 0) != (pos > 0):
            self.average_price = price  # flipped: the remainder opened at this price
        return True

    @property
    def fresh(self) -> bool:
        """No fill seen and flat: a just-started engine that must learn the venue's position."""
        return self.fill_count == 0 and self.lots == 0

    def seed(self, entry: PortfolioEntry | None, known_fills: tuple[Fill, ...]) -> None:
        """Start from the venue's position (after a restart). ``known_fills`` are already part
        of it (e.g. the fills listed on open orders): remembered, never applied."""
        for fill in known_fills:
            self.trade_ids.add(fill_key(fill))
        if entry is not None:
            self.lots = entry.position_lots
            self.average_price = entry.average_price if entry.position_lots else 0.0

    def apply_funding(self, amount: float) -> None:
        if math.isfinite(amount):
            self.funding += amount

    # --- valuation ----------------------------------------------------------------------
    def unrealised(self, mark: float) -> float:
        if self.lots == 0 or not (mark > 0.0):
            return 0.0
        return (mark - self.average_price) * self.lots * self.spec.amount_step

    def total_pnl(self, mark: float) -> float:
        return self.realised + self.unrealised(mark) - self.fees + self.funding

    @property
    def amount(self) -> float:
        return self.lots * self.spec.amount_step

    # --- cross-check against account.portfolio -------------------------------------------
    def reconcile(self, entry: PortfolioEntry | None, now_ns: int) -> PositionDiscrepancy | None:
        """Compare with the venue's line (``None``: re-check the last one, e.g. on a timer).

        A disagreement is reported once it has lasted ``reconcile_grace_ms`` (fills and the
        portfolio arrive in any order, so a brief one is normal), and again when resolved.
        """
        if entry is not None:
            self.venue_lots = entry.position_lots
            self.venue_average_price = entry.average_price
        venue = self.venue_lots
        if venue is None:
            return None
        tolerance = self.spec.amount_to_lots_floor(self.cfg.reconcile_tolerance)
        if abs(venue - self.lots) <= tolerance:
            self._mismatch_since_ns = None
            self.disagreement = None
            if self._mismatch_reported:
                self._mismatch_reported = False
                return self._report(now_ns, resolved=True)
            return None
        since = self._mismatch_since_ns
        if since is None:
            self._mismatch_since_ns = since = now_ns
        if self._mismatch_reported or now_ns - since < self.cfg.reconcile_grace_ms * 1e6:
            return None
        self._mismatch_reported = True
        report = self._report(now_ns, resolved=False)
        if self.cfg.adopt_venue_position:
            self.lots = venue
            self.average_price = self.venue_average_price if venue else 0.0
        else:
            self.disagreement = (
                f"position {self.lots} lots differs from the venue's {venue} lots: not quoting "
                "until they agree (accounting.adopt_venue_position = false)"
            )
        return report

    def _report(self, now_ns: int, resolved: bool) -> PositionDiscrepancy:
        return PositionDiscrepancy(
            now_ns,
            self.spec.name,
            self.lots,
            self.venue_lots if self.venue_lots is not None else 0,
            self.average_price,
            self.venue_average_price,
            resolved,
        )
