"""The whole core, event by event: quotes on both sides, skew with inventory, the position
limit, take-profit, the kill switch, duplicates, staleness and many instruments."""

from __future__ import annotations

from _core_testkit import MS, NAME, SPEC, FakeVenue

from thalex_mm.core import events as ev
from thalex_mm.core.actions import (
    Amend,
    CancelAll,
    Insert,
    KillSwitch,
    NoQuoteReport,
    PositionDiscrepancy,
    QuoteReport,
    TradingState,
)
from thalex_mm.core.config import (
    AccountingConfig,
    EngineConfig,
    InstrumentConfig,
    QuoterConfig,
    RiskConfig,
)
from thalex_mm.core.engine import Engine
from thalex_mm.domain import Side
from thalex_mm.model.quote import LadderParams, QuoteParams

MID = 100_000


def make_engine(**risk: object) -> Engine:
    risk_cfg = {"max_position": 0.030, "max_loss": 50.0, **risk}
    cfg = InstrumentConfig(
        SPEC,
        quote=QuoteParams(
            gamma_usd=100, lot_size=0.001, ladder=LadderParams(levels=3, base_size_lots=5)
        ),
        quoter=QuoterConfig(sigma_default=5.0, fit_intensity=False, A=1.0, k=0.05),
        risk=RiskConfig(**risk_cfg),  # type: ignore[arg-type]
        accounting=AccountingConfig(reconcile_grace_ms=0),
    )
    return Engine(EngineConfig((cfg,), first_client_order_id=500))


class Harness:
    """Feeds events to the engine and passes its actions to a fake venue (answered at once)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.venue = FakeVenue()
        self.now = 0
        self.reports: list[QuoteReport] = []
        self.decisions: list[object] = []
        self.actions: list[object] = []

    def feed(self, event: object) -> list[object]:
        out = self.engine.handle(event)  # type: ignore[arg-type]
        self.decisions += out.decisions
        self.reports += [d for d in out.decisions if isinstance(d, QuoteReport)]
        self.actions += out.actions
        sent = list(out.actions)
        orderly = [a for a in out.actions if not isinstance(a, CancelAll)]
        self.venue.submit(orderly)
        while self.venue.pending:
            self.now += 1
            reply = self.venue.answer(0, self.now)
            more = self.engine.handle(reply)
            self.decisions += more.decisions
            self.reports += [d for d in more.decisions if isinstance(d, QuoteReport)]
            self.actions += more.actions
            sent += more.actions
            self.venue.submit([a for a in more.actions if not isinstance(a, CancelAll)])
        return sent

    def market(self, mid: int = MID, mark: float | None = None) -> list[object]:
        self.now += MS
        m = float(mid) if mark is None else mark
        sent = self.feed(ev.Ticker(self.now, NAME, m, m))
        self.now += MS
        return sent + self.feed(ev.BookTop(self.now, NAME, mid - 5, 10, mid + 5, 10))

    def fill_best(self, side: Side, lots: int | None = None) -> list[object]:
        mine = [o for o in self.venue.active() if o.side is side]
        best = max(mine, key=lambda o: o.price * side)
        self.now += MS
        update = self.venue.fill(best.oid, lots or best.amount - best.filled, self.now)
        return self.feed(update)

    def active(self, side: Side) -> list:
        return [o for o in self.venue.active() if o.side is side]


def test_quotes_on_both_sides_then_skew_with_inventory():
    h = Harness(make_engine())
    h.market()
    bids, asks = h.active(Side.BUY), h.active(Side.SELL)
    assert len(bids) == 3 and len(asks) == 3
    assert max(o.price for o in bids) < MID < min(o.price for o in asks)
    before = h.reports[-1]
    h.fill_best(Side.BUY)  # long 5 lots
    after = h.reports[-1]
    assert after.position_lots == 5
    assert after.reservation_price < before.reservation_price
    assert after.asks[0].price_ticks < before.asks[0].price_ticks  # keener to sell
    assert after.bids[0].price_ticks < before.bids[0].price_ticks  # less keen to buy
    # the venue's orders followed the model (amends, not cancel + insert)
    assert min(o.price for o in h.active(Side.SELL)) == after.asks[0].price_ticks


def test_position_stops_growing_at_the_limit():
    h = Harness(make_engine())
    h.market()
    limit = 30
    for _ in range(12):
        if not h.active(Side.BUY):
            break
        h.fill_best(Side.BUY)
        position = h.engine.instruments[NAME].position.lots
        pending = sum(o.amount - o.filled for o in h.active(Side.BUY))
        assert position + pending <= limit  # pending bids count against the limit
    assert h.engine.instruments[NAME].position.lots == limit
    assert h.active(Side.BUY) == []
    assert h.engine.instruments[NAME].risk.state == TradingState.REDUCING
    assert h.active(Side.SELL)  # still offering to reduce
    new_bids = h.market()
    assert not [a for a in new_bids if isinstance(a, Insert) and a.side is Side.BUY]


def test_kill_switch_cancels_all_and_halts():
    h = Harness(make_engine())
    h.market()
    for _ in range(3):
        h.fill_best(Side.BUY)  # long 15 lots = 0.015 BTC
    sent = h.market(mid=MID - 4000)  # -4000 USD x 0.015 = -60 < -50
    cancel_all = [a for a in sent if isinstance(a, CancelAll)]
    assert len(cancel_all) == 1
    assert any(isinstance(d, KillSwitch) for d in h.decisions)
    assert h.engine.instruments[NAME].risk.state == TradingState.HALTED
    # the venue cancels everything; the engine hears about it order by order
    for o in list(h.venue.active()):
        o.status = ev.OrderStatus.CANCELLED
        h.feed(h.venue._update(o, h.now, 0))
    h.feed(ev.ActionAcknowledged(h.now, cancel_all[0].action_id))
    later = h.market(mid=MID - 4000)
    assert not [a for a in later if isinstance(a, Insert | Amend)]
    assert h.venue.active() == []


def test_take_profit_puts_a_post_only_reducing_order_at_the_touch():
    h = Harness(make_engine(take_profit=10.0, max_loss=None))
    h.market()
    h.fill_best(Side.BUY)
    h.fill_best(Side.BUY)  # long 10 lots
    sent = h.market(mid=MID + 2000)  # +2000 x 0.010 = +20 unrealised
    assert h.engine.instruments[NAME].risk.state == TradingState.REDUCING
    permit = h.engine.instruments[NAME].risk.permit
    assert permit.take_profit_side is Side.SELL and permit.take_profit_lots == 5
    # one sell at the touch (best ask 100005 + 2000, improved by a tick, behind the bid)
    best_bid, best_ask = MID + 2000 - 5, MID + 2000 + 5
    asks = sorted(h.active(Side.SELL), key=lambda o: o.price)
    assert asks[0].price == best_ask - 1 and asks[0].amount - asks[0].filled == 5
    assert asks[0].price > best_bid  # post-only: never crossing
    assert h.active(Side.BUY) == []  # nothing that grows the position
    assert all(a.post_only for a in sent if isinstance(a, Insert))


def test_fill_from_the_trade_history_is_not_counted_again():
    h = Harness(make_engine())
    h.market()
    h.fill_best(Side.BUY, lots=2)
    fill = next(f for f in _fills(h))
    h.feed(ev.FillsReplayed(h.now, NAME, (fill,)))
    assert h.engine.instruments[NAME].position.lots == 2


def _fills(h: Harness):
    for o in h.venue.orders.values():
        if o.filled:
            yield ev.Fill("t1", o.side, o.price, o.filled)


def test_stale_data_pulls_the_quotes():
    h = Harness(make_engine())
    h.market()
    assert h.active(Side.BUY)
    h.now += 3000 * MS
    h.feed(ev.Timer(h.now))
    assert h.venue.active() == []
    assert any(isinstance(d, NoQuoteReport) and "no market data" in d.reason for d in h.decisions)


def test_portfolio_discrepancy_is_reported():
    h = Harness(make_engine())
    h.market()
    h.fill_best(Side.BUY)
    h.feed(ev.PortfolioSnapshot(h.now, (ev.PortfolioEntry(NAME, 9, 100000.0),)))
    h.feed(ev.Timer(h.now + 1))
    reports = [d for d in h.decisions if isinstance(d, PositionDiscrepancy)]
    assert reports and reports[0].core_lots == 5 and reports[0].venue_lots == 9
