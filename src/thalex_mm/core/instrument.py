"""Everything the core keeps for one instrument, built from its ``InstrumentConfig``."""

from __future__ import annotations

from thalex_mm.core.actions import Ladder
from thalex_mm.core.config import InstrumentConfig
from thalex_mm.core.guard import OrderGuard
from thalex_mm.core.ids import IdSource
from thalex_mm.core.market_state import MarketState
from thalex_mm.core.mass_quote import MassQuoteManager
from thalex_mm.core.order_manager import OrderManager
from thalex_mm.core.position import Position, TradeIds
from thalex_mm.core.quoter import Quoter
from thalex_mm.core.risk import RiskManager

_MS = 1_000_000


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
        max_lots = max(spec.min_lots, spec.amount_to_lots_floor(max_amount))
        self.guard = OrderGuard(spec, max_lots, cfg.risk.price_band)
        self.market = MarketState(spec)
        self.position = Position(spec, cfg.accounting, trade_ids)
        self.risk = RiskManager(spec, cfg.risk)
        self.quoter = Quoter(spec, cfg.quote, cfg.quoter, max_lots)
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
