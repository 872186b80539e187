"""Everything the core keeps for one instrument, built from its ``InstrumentConfig``."""

from __future__ import annotations

from thalex_mm.core.actions import Ladder
from thalex_mm.core.config import InstrumentConfig
from thalex_mm.core.guard import OrderGuard
from thalex_mm.core.ids import IdSource
from thalex_mm.core.market_state import MarketState
from thalex_mm.core.mass_quote import MassQuoteManager
from thalex_mm.core.order_manager import OrderManager
from thalex_mm.core.orders import Order, OrderState
from thalex_mm.core.position import Position, TradeIds
from thalex_mm.core.quoter import Quoter
from thalex_mm.core.risk import RiskManager

_MS = 1_000_000
_CLOSED = OrderState.CLOSED
OwnQuotes = tuple[dict[int, int], dict[int, int]]  # our resting lots per price: bids, asks


class Instrument:
    """Everything the core keeps for one instrument."""

    __slots__ = (
        "cfg",
        "guard",
        "last_asks",
        "last_bids",
        "last_no_quote",
        "market",
        "max_age_ns",
        "mq",
        "name",
        "orders",
        "position",
        "quoter",
        "risk",
        "spec",
    )

    def __init__(self, cfg: InstrumentConfig, ids: IdSource, trade_ids: TradeIds) -> None:
        spec = cfg.spec
        self.cfg = cfg
        self.spec = spec
        self.name = spec.name
        max_amount = cfg.risk.max_order_amount or cfg.risk.max_position
        if cfg.orders.mass_quote:  # the venue refuses a level above the protection group's
            max_amount = min(max_amount, cfg.orders.mm_quote_amount)  # quote amount (44)
        max_lots = max(spec.min_lots, spec.amount_to_lots_floor(max_amount))
        self.guard = OrderGuard(spec, max_lots, cfg.risk.price_band)
        self.market = MarketState(spec)
        self.position = Position(spec, cfg.accounting, trade_ids)
        self.risk = RiskManager(spec, cfg.risk)
        self.quoter = Quoter(spec, cfg.quote, cfg.quoter, max_lots, cfg.accounting.maker_fee_rate)
        self.orders = OrderManager(spec.name, cfg.orders, self.guard, ids)
        self.mq: MassQuoteManager | None = None
        if cfg.orders.mass_quote:
            self.mq = MassQuoteManager(spec.name, spec.product, cfg.orders, self.guard, ids)
        self.max_age_ns = int(cfg.quoter.max_data_age_ms * _MS)
        self.last_bids: Ladder = ()
        self.last_asks: Ladder = ()
        self.last_no_quote = ""

    def mark(self) -> float:
        mark = self.market.mark_price
        return mark if mark > 0.0 else self.market.mid()

    def best_quotes(self) -> tuple[int, int]:
        """Our best resting bid and ask, ticks (0: none), for the intensity fit's second
        source (our fills against our quoted distance)."""
        mq = self.mq
        if mq is not None:
            sb, sa = mq.sent_bids, mq.sent_asks
            return (sb[0][0] if sb else 0), (sa[0][0] if sa else 0)
        bid = ask = 0
        for o in self.orders.bids:
            if o.state is not _CLOSED and o.price_ticks > bid:
                bid = o.price_ticks
        for o in self.orders.asks:
            if o.state is not _CLOSED and (ask == 0 or o.price_ticks < ask):
                ask = o.price_ticks
        return bid, ask

    def own_quotes(self) -> OwnQuotes | None:
        """Our resting lots per price when some may be part of the book the mid comes from
        (one of ours at the touch, or anywhere with VAMP); None otherwise (the cheap usual
        case). An order priced better than the touch is not in the book yet: not counted."""
        market = self.market
        vamp = self.quoter.vamp is not None
        mq = self.mq
        if mq is not None:
            sb, sa = mq.sent_bids, mq.sent_asks
            if not vamp and not (
                (sb and sb[0][0] == market.bid_ticks) or (sa and sa[0][0] == market.ask_ticks)
            ):
                return None
            own_bids: dict[int, int] = {}
            own_asks: dict[int, int] = {}
            for price, lots in sb:
                own_bids[price] = own_bids.get(price, 0) + lots
            for price, lots in sa:
                own_asks[price] = own_asks.get(price, 0) + lots
            return (own_bids, own_asks) if own_bids or own_asks else None
        bids, asks = self.orders.bids, self.orders.asks
        if not bids and not asks:
            return None
        if not vamp and not _at(bids, market.bid_ticks) and not _at(asks, market.ask_ticks):
            return None  # none of ours at the touch: the mid is the others' already
        return _resting(bids), _resting(asks)


def _at(orders: list[Order], price: int) -> bool:
    for o in orders:  # noqa: SIM110 - a plain loop is cheaper than any() on the tick path
        if o.price_ticks == price:
            return True
    return False


def _resting(orders: list[Order]) -> dict[int, int]:
    out: dict[int, int] = {}
    for o in orders:
        lots = o.amount_lots - o.filled_lots
        if lots > 0 and o.state is not _CLOSED:
            out[o.price_ticks] = out.get(o.price_ticks, 0) + lots
    return out
