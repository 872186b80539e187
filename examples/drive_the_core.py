"""Drive the sans-I/O core by hand: build an Engine, feed it events, print its actions."""

from thalex_mm.core import events as ev
from thalex_mm.core.config import AccountingConfig, EngineConfig, InstrumentConfig, QuoterConfig
from thalex_mm.core.engine import Engine
from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side
from thalex_mm.model.quote import LadderParams, QuoteParams

spec = InstrumentSpec("BTC-PERPETUAL", InstrumentKind.PERPETUAL, "BTCUSD", 1.0, 0.001, 0.001)
config = InstrumentConfig(
    spec,
    quote=QuoteParams(gamma_usd=3.0, ladder=LadderParams(levels=2)),
    quoter=QuoterConfig(sigma_default=7.0, A=2.0, k=0.05),  # priors until the fits are warm
    accounting=AccountingConfig(maker_fee_rate=0.0001),  # 1 bp: 8 USD at 80,000
)
engine = Engine(EngineConfig((config,)))
ms = 1_000_000  # the core never reads a clock: time (ns) comes with each event
engine.handle(ev.BookUpdate(0, spec.name, ((79_984, 500),), ((80_016, 500),), snapshot=True))
out = engine.handle(ev.Ticker(1 * ms, spec.name, mark_price=80_000.0, index_price=80_000.0))
for action in out.actions:
    print(action)  # post-only Inserts: two bids, two asks, ~29 USD (fee + 1/k) from the mid

bid = max((a for a in out.actions if a.side is Side.BUY), key=lambda a: a.price_ticks)
fill = ev.Fill("T1", Side.BUY, bid.price_ticks, bid.amount_lots)  # a taker hits our best bid
update = ev.OrderUpdate(2 * ms, spec.name, "O1", bid.client_order_id, Side.BUY,
                        ev.OrderStatus.FILLED, bid.price_ticks, 1, 1, 0, (fill,))  # fmt: skip
for action in engine.handle(update).actions:
    print(action)  # a new bid, lower: the inventory skews it (the rest await their replies)
print("position", engine.instruments[spec.name].position.amount, "BTC")
