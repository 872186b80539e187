"""Regression tests for the correctness review of the core (review-core.md, findings 1-9).

Each test drives the scenario the reviewer reproduced and checks the computed behaviour
(positions, limits, actions) against what the scenario implies.
"""

from __future__ import annotations

import dataclasses
import math

import msgspec
import pytest
from _core_testkit import MS, NAME, SPEC, FakeVenue, ladder, make_manager, round_trip

from thalex_mm.core import events as ev
from thalex_mm.core.actions import (
    Cancel,
    GuardRejection,
    HedgeReport,
    Insert,
    KillSwitch,
    MassQuote,
    OrderAnomaly,
    QuoteReport,
)
from thalex_mm.core.config import (
    AccountingConfig,
    EngineConfig,
    HedgeConfig,
    InstrumentConfig,
    OrderManagerConfig,
    QuoterConfig,
    RiskConfig,
)
from thalex_mm.core.engine import Engine
from thalex_mm.core.guard import OrderGuard
from thalex_mm.core.ids import IdSource
from thalex_mm.core.market_state import MarketState
from thalex_mm.core.mass_quote import MassQuoteManager
from thalex_mm.core.order_manager import OrderManager
from thalex_mm.core.position import Position, TradeIds
from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side
from thalex_mm.model.quote import LadderParams, QuoteParams
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.translate import order_update

FUT = InstrumentSpec("BTC-27MAR26", InstrumentKind.FUTURE, "BTCUSD", 1.0, 0.001, 0.001, "FBTCUSD")
T0 = 10**12


def icfg(
    spec: InstrumentSpec = SPEC,
    *,
    quoting: bool = True,
    levels: int = 2,
    base: int = 10,
    orders: OrderManagerConfig | None = None,
    **risk: object,
) -> InstrumentConfig:
    return InstrumentConfig(
        spec,
        quote=QuoteParams(ladder=LadderParams(levels=levels, base_size_lots=base)),
        quoter=QuoterConfig(sigma_default=1.0, fit_intensity=False, A=1.0, k=0.5),
        orders=orders or OrderManagerConfig(),
        risk=RiskConfig(**{"max_position": 10.0, **risk}),  # type: ignore[arg-type]
        quoting=quoting,
    )


def ticker(engine: Engine, now: int, mark: float, name: str = NAME, half: int = 5) -> object:
    m = int(mark)
    return engine.handle(ev.Ticker(now, name, mark, mark, 0.0, m - half, 1000, m + half, 1000))


# --- 1. self-trades ----------------------------------------------------------------------
def test_self_trade_counts_both_legs_and_a_duplicate_once() -> None:
    pos = Position(SPEC, AccountingConfig(maker_fee_rate=0.001), TradeIds(10_000))
    maker = ev.Fill("T1", Side.SELL, 100_000, 7)  # our quote, hit by our own hedge IOC
    taker = ev.Fill("T1", Side.BUY, 100_000, 7, is_maker=False)
    assert pos.apply(maker) and pos.apply(taker)
    assert pos.lots == 0 and pos.fill_count == 2
    assert not pos.apply(maker) and not pos.apply(taker)  # each leg delivered twice: once
    assert pos.lots == 0 and pos.fill_count == 2
    estimated = pos.fees
    pos.apply(ev.Fill("T1", Side.SELL, 100_000, 7, fee=0.5))  # the real fee of the maker leg
    taker_estimate = 0.0  # taker_fee_rate is 0
    assert pos.fees == pytest.approx(0.5 + taker_estimate)
    assert estimated != pos.fees


# --- 2. loss limits after a restart --------------------------------------------------------
@pytest.mark.parametrize("entry_price", [100_500.0, 99_510.0])  # carried loss / carried profit
def test_restart_limits_measure_from_the_seeded_position(entry_price: float) -> None:
    engine = Engine(EngineConfig((icfg(max_loss=100.0),)))
    ticker(engine, T0, 100_005.0)  # the first mark arrives before the resync reply
    out = engine.handle(ev.Resynced(T0 + 1, (), (ev.PortfolioEntry(NAME, 1000, entry_price),)))
    inst = engine.instruments[NAME]
    assert inst.position.lots == 1000
    assert not [d for d in out.decisions if isinstance(d, KillSwitch)]
    # 1 BTC long: a mark 90 lower is a loss of 90 since the restart (under the limit)...
    out = ticker(engine, T0 + 2, 100_005.0 - 90)
    assert not [d for d in out.decisions if isinstance(d, KillSwitch)]  # type: ignore[attr-defined]
    # ...and 110 lower is past it, whatever the old PnL was
    out = ticker(engine, T0 + 3, 100_005.0 - 110)
    assert [d for d in out.decisions if isinstance(d, KillSwitch)]  # type: ignore[attr-defined]


def test_portfolio_loss_limit_measures_from_the_restart() -> None:
    engine = Engine(EngineConfig((icfg(),), max_total_loss=200.0))
    ticker(engine, T0, 100_005.0)
    engine.handle(ev.Resynced(T0 + 1, (), (ev.PortfolioEntry(NAME, 1000, 100_500.0),)))
    assert not engine.halted_all  # the old -495 is not this run's loss
    ticker(engine, T0 + 2, 100_005.0 - 150)
    assert not engine.halted_all
    ticker(engine, T0 + 3, 100_005.0 - 210)
    assert engine.halted_all


def test_adopting_the_venue_position_is_not_a_loss() -> None:
    acc = AccountingConfig(reconcile_grace_ms=0, adopt_venue_position=True)
    inst_cfg = dataclasses.replace(icfg(max_loss=100.0), accounting=acc)
    engine = Engine(EngineConfig((inst_cfg,)))
    ticker(engine, T0, 100_005.0)
    # the venue says long 1 BTC at 100,500 (we missed the fills): adopted, -495 is not ours
    out = engine.handle(ev.PortfolioSnapshot(T0 + 1, (ev.PortfolioEntry(NAME, 1000, 100_500.0),)))
    assert engine.instruments[NAME].position.lots == 1000
    assert not [d for d in out.decisions if isinstance(d, KillSwitch)]
    out = ticker(engine, T0 + 2, 100_005.0 - 90)
    assert not [d for d in out.decisions if isinstance(d, KillSwitch)]  # type: ignore[attr-defined]
    out = ticker(engine, T0 + 3, 100_005.0 - 110)
    assert [d for d in out.decisions if isinstance(d, KillSwitch)]  # type: ignore[attr-defined]


# --- 3. resync must not adopt foreign orders by client order id -----------------------------
def test_resync_ignores_a_foreign_order_with_our_client_order_id() -> None:
    mgr = make_manager(label="mm")
    venue = FakeVenue()
    round_trip(mgr, venue, _sync(mgr, ladder((100, 1)), ladder((110, 1)), 0), 1)
    bid = mgr.bids[0]
    mgr.on_disconnected()
    foreign = ev.OrderUpdate(
        5, NAME, "FOREIGN-1", bid.client_order_id, Side.SELL, ev.OrderStatus.OPEN,
        500, 7, 0, 7, (), "someone-else",
    )  # fmt: skip
    mgr.on_resynced((foreign,), [])
    assert mgr.bids == [] and mgr.asks == []
    acts = _sync(mgr, ladder((100, 1)), ladder((110, 1)), 10**12)
    assert all(
        not isinstance(a, Cancel) and getattr(a, "order_id", "") != "FOREIGN-1" for a in acts
    )


def test_resync_does_not_match_an_order_id_on_the_other_side() -> None:
    mgr = make_manager(label="other")
    venue = FakeVenue()
    round_trip(mgr, venue, _sync(mgr, ladder((100, 1)), (), 0), 1)
    oid = mgr.bids[0].order_id
    mgr.on_disconnected()
    listed = ev.OrderUpdate(
        5, NAME, oid, None, Side.SELL, ev.OrderStatus.OPEN, 120, 3, 0, 3, (), "x"
    )  # fmt: skip
    mgr.on_resynced((listed,), [])
    assert mgr.bids == [] and mgr.asks == []


def _sync(mgr: OrderManager, bids: tuple, asks: tuple, now: int) -> list:  # type: ignore[type-arg]
    acts: list = []  # type: ignore[type-arg]
    mgr.sync(
        bids, asks, now, buy_room=100, sell_room=100, reduce_only_side=None, actions=acts,
        decisions=[],
    )  # fmt: skip
    return acts


# --- 4. the hedger respects the hedge instrument's limit -----------------------------------
def test_hedger_stays_within_the_hedge_instruments_limit() -> None:
    cfg = EngineConfig(
        instruments=(icfg(FUT, max_position=5.0), icfg(SPEC, quoting=False, max_position=0.5)),
        hedges=(HedgeConfig(quoted=FUT.name, hedge=NAME, threshold=0.01, min_interval_ms=0),),
    )
    engine = Engine(cfg)
    ticker(engine, T0, 100_005.0, FUT.name)
    ticker(engine, T0, 100_005.0, NAME)
    engine.handle(ev.Resynced(T0, (), (ev.PortfolioEntry(NAME, -200, 100_000.0),)))
    limit = engine.instruments[NAME].risk.max_lots
    fill = ev.Fill("F1", Side.BUY, 100_000, 3000)
    out = engine.handle(
        ev.OrderUpdate(
            T0 + 1, FUT.name, "X", None, Side.BUY, ev.OrderStatus.PARTIALLY_FILLED, 100_000,
            5000, 3000, 2000, (fill,), "mm",
        )
    )  # fmt: skip
    reports = [d for d in out.decisions if isinstance(d, HedgeReport)]
    for i in range(4):
        hedges = [a for a in out.actions if isinstance(a, Insert) and a.instrument == NAME]
        if not hedges:
            break
        (h,) = hedges
        perp = engine.instruments[NAME].position.lots
        assert abs(perp + int(h.side) * h.amount_lots) <= limit
        f = ev.Fill(f"H{i}", h.side, h.price_ticks, h.amount_lots, is_maker=False)
        out = engine.handle(
            ev.OrderUpdate(
                T0 + 10 + i, NAME, f"P{i}", h.client_order_id, h.side, ev.OrderStatus.FILLED,
                h.price_ticks, h.amount_lots, h.amount_lots, 0, (f,), "hedge", "", h.action_id,
            )
        )  # fmt: skip
        reports += [d for d in out.decisions if isinstance(d, HedgeReport)]
        timer = engine.handle(ev.Timer(T0 + 20 + i))
        reports += [d for d in timer.decisions if isinstance(d, HedgeReport)]
        out.actions += timer.actions
    assert abs(engine.instruments[NAME].position.lots) == limit
    assert any(r.reason and r.hedge_lots > 0 for r in reports)  # capped, and said so
    blocked = [r for r in reports if r.hedge_lots == 0]
    assert len(blocked) == 1 and "blocked" in blocked[0].reason  # reported once


# --- 5. mass quotes: levels within the protection group, a refused side backs off ----------
def test_mass_quote_levels_are_capped_at_the_quote_amount() -> None:
    orders = OrderManagerConfig(mass_quote=True, mm_trade_amount=0.05, mm_quote_amount=0.1)
    engine = Engine(EngineConfig((icfg(orders=orders, base=150),)))
    cap = SPEC.amount_to_lots_floor(0.1)
    out = ticker(engine, T0, 100_005.0)
    (prot,) = out.actions  # type: ignore[attr-defined]
    out = engine.handle(ev.ActionAcknowledged(T0 + 1, prot.action_id))
    (mq,) = [a for a in out.actions if isinstance(a, MassQuote)]
    assert mq.bids and mq.asks
    assert all(lots <= cap for _, lots in mq.bids + mq.asks)


def test_a_refused_mass_quote_side_is_sent_empty_and_backed_off() -> None:
    cfg = OrderManagerConfig(mass_quote=True, mm_trade_amount=0.05, mm_quote_amount=0.1)
    mq = MassQuoteManager(NAME, "FBTCUSD", cfg, OrderGuard(SPEC, 100, 0.0), IdSource())
    mq.protection_ready = True
    bids, asks = ladder((990, 10)), ladder((1010, 10))
    acts: list = []  # type: ignore[type-arg]
    mq.sync(bids, asks, MS, acts, [])
    err = ev.MassQuoteError(44, "quote exceeds group size", Side.SELL, 1010)
    mq.on_result(ev.MassQuoteResult(2 * MS, acts[0].action_id, 1, 1, (err,)), [])
    acts = []
    mq.sync(bids, asks, 3 * MS, acts, [])
    (again,) = acts
    assert again.bids == bids and again.asks == ()  # the refused side goes, the other stays
    mq.on_result(ev.MassQuoteResult(4 * MS, again.action_id, 1, 0), [])
    for t in (5, 50, 500):  # no resend of the refused side every cycle
        acts = []
        mq.sync(bids, asks, t * MS, acts, [])
        assert acts == []
    acts = []
    mq.sync(bids, asks, 2 * MS + 1_000 * MS, acts, [])  # after the back-off: try again
    assert len(acts) == 1 and acts[0].asks == asks


# --- 6. the mid leaves out our own quotes ------------------------------------------------------
def test_mid_ignores_our_own_quotes_alone_at_the_touch() -> None:
    engine = Engine(EngineConfig((icfg(levels=1, base=10),)))
    venue = FakeVenue()
    engine.handle(ev.Resynced(T0, (), (ev.PortfolioEntry(NAME, 200, 100_000.0),)))  # long
    far_bid, far_ask = (99_000, 5000), (101_000, 5000)
    engine.handle(ev.Ticker(T0, NAME, 100_000.0, 100_000.0))
    out = engine.handle(
        ev.BookUpdate(T0, NAME, ((99_990, 10), far_bid), ((100_010, 10), far_ask), True)
    )
    now = T0
    mids = []
    for _ in range(5):
        venue.submit(out.actions)
        for reply in venue.answer_all(now):
            engine.handle(reply)
        live = venue.active()
        # the others' touch got taken: our own orders are the best levels left
        bids = (*((o.price, o.amount) for o in live if o.side is Side.BUY), far_bid)
        asks = (*((o.price, o.amount) for o in live if o.side is Side.SELL), far_ask)
        now += 100 * MS
        engine.handle(ev.Ticker(now, NAME, 100_000.0, 100_000.0))
        out = engine.handle(ev.BookUpdate(now, NAME, bids, asks, True))
        mids += [d.mid for d in out.decisions if isinstance(d, QuoteReport)]
        mids.append(engine.instruments[NAME].quoter.last_mid)
    expected = 0.5 * (far_bid[0] + far_ask[0]) * SPEC.tick_size  # the others' mid
    assert mids and all(m == pytest.approx(expected) for m in mids)


def test_mid_anchors_to_the_mark_when_we_are_alone_without_depth() -> None:
    m = MarketState(SPEC)
    m.on_ticker(ev.Ticker(MS, NAME, 1000.0, 1000.0))
    m.on_top(ev.BookTop(MS, NAME, 995, 3, 1010, 4))
    assert m.mid_excluding({995: 3}, {}) == pytest.approx(1000.0)  # only we bid: the mark
    assert m.mid_excluding({995: 1}, {}) == pytest.approx(1002.5)  # others share the touch


# --- 7. stale data, per feed -----------------------------------------------------------------
def test_a_frozen_book_is_stale_while_tickers_arrive() -> None:
    m = MarketState(SPEC)
    m.on_book(ev.BookUpdate(0, NAME, ((100_000, 10),), ((100_010, 10),), True))
    s = 1_000_000_000
    m.on_ticker(ev.Ticker(30 * s, NAME, 101_005.0, 101_005.0, 0.0, 101_000, 10, 101_010, 10))
    assert "book" in (m.stale_reason(30 * s, 2 * s) or "")
    # a quiet book that the ticker confirms (same top) is not stale
    q = MarketState(SPEC)
    q.on_book(ev.BookUpdate(0, NAME, ((100_000, 10),), ((100_010, 10),), True))
    q.on_ticker(ev.Ticker(30 * s, NAME, 100_005.0, 100_005.0, 0.0, 100_000, 10, 100_010, 10))
    assert q.stale_reason(30 * s, 2 * s) is None


# --- 8. a level the guard refused is retried when only the mark moves -----------------------
def test_guard_refused_level_is_retried_when_the_mark_moves() -> None:
    mgr = OrderManager(NAME, OrderManagerConfig(), OrderGuard(SPEC, 1000, 0.01), IdSource(100))
    mgr.guard.reference_ticks = 1000.0
    bids, asks = ladder((985, 1)), ladder((1015, 1))
    dec: list = []  # type: ignore[type-arg]
    acts: list = []  # type: ignore[type-arg]
    mgr.sync(bids, asks, 1, buy_room=10, sell_room=10, reduce_only_side=None, actions=acts,
             decisions=dec)  # fmt: skip
    assert acts == [] and len([d for d in dec if isinstance(d, GuardRejection)]) == 2
    mgr.guard.reference_ticks = 990.0  # 985 is within 1% of the new mark, 1015 is not
    acts = []
    mgr.sync(bids, asks, 2, buy_room=10, sell_room=10, reduce_only_side=None, actions=acts,
             decisions=dec)  # fmt: skip
    assert [(a.side, a.price_ticks) for a in acts if isinstance(a, Insert)] == [(Side.BUY, 985)]


# --- 9. a fill below one lot ------------------------------------------------------------------
def test_fill_below_one_lot_is_ignored_and_reported() -> None:
    pos = Position(SPEC, AccountingConfig(), TradeIds(10_000))
    assert pos.apply(ev.Fill("t0", Side.BUY, 100, 0)) is False
    assert pos.lots == 0 and pos.fill_count == 0 and pos.ignored_fills == 1
    assert math.isfinite(pos.average_price)
    engine = Engine(EngineConfig((icfg(),)))
    out = engine.handle(
        ev.OrderUpdate(
            T0, NAME, "o1", None, Side.BUY, ev.OrderStatus.PARTIALLY_FILLED, 100, 1, 0, 1,
            (ev.Fill("t0", Side.BUY, 100, 0),), "mm",
        )
    )  # fmt: skip
    whats = [d.what for d in out.decisions if isinstance(d, OrderAnomaly)]
    assert whats.count("fill below one lot") == 1


def test_translator_rounds_an_off_grid_fill_to_the_nearest_lot() -> None:
    raw = b"""{"order_id":"1","instrument_name":"BTC-PERPETUAL","direction":"buy",
    "order_type":"limit","time_in_force":"good_till_cancelled","price":100,"amount":0.001,
    "filled_amount":0.0007,"remaining_amount":0.0003,"status":"partially_filled",
    "change_reason":"fill","insert_reason":"client_request","create_time":1.0,
    "persistent":false,"fills":[{"trade_id":"t1","price":100,"amount":0.0007,"time":1.0,
    "maker_taker":"maker","leg_index":0}]}"""
    u = order_update(SPEC, msgspec.json.decode(raw, type=wire.OrderStatus), 1)
    assert u.fills[0].amount_lots == round(0.0007 / SPEC.amount_step)
