"""Mass-quote mode, many instruments, the hedge, reconnects and config validation."""

from __future__ import annotations

import pytest
from _core_testkit import MS, NAME, SPEC, ladder

from thalex_mm.core import events as ev
from thalex_mm.core.actions import (
    Cancel,
    CancelAll,
    HedgeReport,
    Insert,
    MassQuote,
    SetMMProtection,
)
from thalex_mm.core.config import (
    EngineConfig,
    HedgeConfig,
    InstrumentConfig,
    OrderManagerConfig,
    QuoterConfig,
    RiskConfig,
)
from thalex_mm.core.engine import Engine
from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side
from thalex_mm.model.quote import LadderParams, QuoteParams

MID = 100_000
FUT = InstrumentSpec("BTC-27MAR26", InstrumentKind.FUTURE, "BTCUSD", 1.0, 0.001, 0.001, "FBTCUSD")


def inst(spec: InstrumentSpec = SPEC, mass_quote: bool = False, **risk: object) -> InstrumentConfig:
    orders = OrderManagerConfig(
        mass_quote=mass_quote, amend_threshold_ticks=2, mm_trade_amount=0.05, mm_quote_amount=0.1,
        mm_refill_delay_ms=500, label="mm",
    )  # fmt: skip
    return InstrumentConfig(
        spec,
        quote=QuoteParams(
            gamma_usd=100, lot_size=0.001, ladder=LadderParams(levels=3, base_size_lots=5)
        ),
        quoter=QuoterConfig(sigma_default=5.0, fit_intensity=False, A=1.0, k=0.05),
        orders=orders,
        risk=RiskConfig(**{"max_position": 0.05, **risk}),  # type: ignore[arg-type]
    )


def market(engine: Engine, now: int, mid: int = MID, name: str = NAME):
    a = engine.handle(ev.Ticker(now, name, float(mid), float(mid)))
    b = engine.handle(ev.BookTop(now + 1, name, mid - 5, 10, mid + 5, 10))
    return a.actions + b.actions


def test_mass_quote_mode_one_quote_per_cycle():
    engine = Engine(EngineConfig((inst(mass_quote=True),)))
    first = market(engine, MS)
    assert [type(a) for a in first] == [SetMMProtection]  # protection before any quote
    prot = first[0]
    assert prot.product == "FBTCUSD" and prot.trade_amount == 0.05
    out = engine.handle(ev.ActionAcknowledged(2 * MS, prot.action_id)).actions
    assert [type(a) for a in out] == [MassQuote]
    mq = out[0]
    assert len(mq.bids) == 3 and len(mq.asks) == 3 and mq.bids[0][0] < mq.asks[0][0]
    assert market(engine, 3 * MS) == []  # unchanged, and one already in flight
    result = ev.MassQuoteResult(4 * MS, mq.action_id, 6, 0)
    assert engine.handle(result).actions == []
    assert market(engine, 5 * MS, MID + 1) == []  # below the 2-tick threshold
    moved = market(engine, 6 * MS, MID + 10)
    assert [type(a) for a in moved] == [MassQuote]
    assert market(engine, 7 * MS, MID + 20) == []  # in flight: wait for the reply
    after = engine.handle(ev.MassQuoteResult(8 * MS, moved[0].action_id, 6, 0)).actions
    assert [type(a) for a in after] == [MassQuote]
    assert after[0].bids[0][0] > moved[0].bids[0][0]


def test_mass_quote_protection_trip_refills_after_the_delay():
    engine = Engine(EngineConfig((inst(mass_quote=True),)))
    prot = market(engine, MS)[0]
    mq = engine.handle(ev.ActionAcknowledged(2 * MS, prot.action_id)).actions[0]
    engine.handle(ev.MassQuoteResult(3 * MS, mq.action_id, 6, 0))
    engine.handle(ev.MMProtectionUpdate(10 * MS, "FBTCUSD", -0.01, "executions"))
    assert market(engine, 100 * MS) == []  # within the refill delay
    refill = market(engine, 600 * MS)
    assert [type(a) for a in refill] == [SetMMProtection]
    again = engine.handle(ev.ActionAcknowledged(601 * MS, refill[0].action_id)).actions
    assert [type(a) for a in again] == [MassQuote]


def test_mass_quote_kill_switch_includes_mass_quotes():
    engine = Engine(EngineConfig((inst(mass_quote=True, max_loss=10.0),)))
    prot = market(engine, MS)[0]
    engine.handle(ev.ActionAcknowledged(2 * MS, prot.action_id))
    engine.handle(ev.FillsReplayed(3 * MS, NAME, (ev.Fill("t", Side.BUY, MID, 20),)))
    out = market(engine, 4 * MS, MID - 1000)  # -1000 x 0.02 = -20
    kills = [a for a in out if isinstance(a, CancelAll)]
    assert len(kills) == 1 and kills[0].include_mass_quotes


def test_many_instruments_each_with_its_own_parameters():
    engine = Engine(EngineConfig((inst(), inst(FUT, max_position=0.005))))
    perp = market(engine, MS)
    fut = market(engine, MS, MID + 300, FUT.name)
    assert {a.instrument for a in perp} == {NAME} and {a.instrument for a in fut} == {FUT.name}
    fut_bid_lots = sum(a.amount_lots for a in fut if isinstance(a, Insert) and a.side is Side.BUY)
    assert fut_bid_lots == 5  # the future's 5-lot limit trims its 15-lot bid ladder
    assert len([a for a in perp if isinstance(a, Insert)]) == 6
    ids = [a.client_order_id for a in perp + fut if isinstance(a, Insert)]
    assert len(ids) == len(set(ids))


def test_hedge_offsets_the_net_delta_in_the_other_instrument():
    hedge = HedgeConfig(quoted=FUT.name, hedge=NAME, threshold=0.004, cross_ticks=2)
    cfg = EngineConfig((inst(), inst(FUT)), hedges=(hedge,))
    engine = Engine(cfg)
    market(engine, MS)
    market(engine, MS, MID + 300, FUT.name)
    fill = ev.Fill("f1", Side.BUY, MID + 290, 6)
    out = engine.handle(
        ev.OrderUpdate(2 * MS, FUT.name, "x", None, Side.BUY, ev.OrderStatus.FILLED, MID + 290, 6,
                       6, 0, (fill,), "other")
    )  # fmt: skip
    hedges = [a for a in out.actions if isinstance(a, Insert) and a.label == "hedge"]
    assert len(hedges) == 1
    h = hedges[0]
    assert h.instrument == NAME and h.side is Side.SELL and h.amount_lots == 6
    assert h.immediate_or_cancel and not h.post_only and h.price_ticks == MID - 5 - 2
    assert any(isinstance(d, HedgeReport) for d in out.decisions)
    # below the threshold after the hedge fills: no more hedging
    reply = ev.OrderUpdate(
        3 * MS, NAME, "h1", h.client_order_id, Side.SELL, ev.OrderStatus.FILLED, h.price_ticks, 6,
        6, 0, (ev.Fill("f2", Side.SELL, h.price_ticks, 6),), "hedge", "filled", h.action_id,
    )  # fmt: skip
    after = engine.handle(reply).actions
    assert not [a for a in after if isinstance(a, Insert) and a.label == "hedge"]
    assert engine.hedgers[0].net_delta() == pytest.approx(0.0)


def test_reconnect_resync_then_requote():
    engine = Engine(EngineConfig((inst(),)))
    inserts = [a for a in market(engine, MS) if isinstance(a, Insert)]
    engine.handle(ev.Disconnected(2 * MS))
    assert market(engine, 3 * MS, MID + 50) == []  # nothing is sent while disconnected
    # one of our orders survived (persistent) and is listed by the venue after reconnect
    kept = inserts[0]
    listed = ev.OrderUpdate(
        4 * MS, NAME, "o-kept", kept.client_order_id, kept.side, ev.OrderStatus.OPEN,
        kept.price_ticks, kept.amount_lots, 0, kept.amount_lots, (), "mm",
    )  # fmt: skip
    out = engine.handle(ev.Resynced(4 * MS, (listed,), ())).actions
    assert out, "the engine re-quotes after a resync"
    # the surviving order is cancelled by order id (its client id belonged to the old session,
    # and after a half-open reconnect its fills would reach only the old session's feed), and
    # the whole ladder is quoted afresh
    touching = [a for a in out if not isinstance(a, Insert)]
    assert touching
    assert all(isinstance(a, Cancel) for a in touching)
    assert all(a.order_id == "o-kept" and a.client_order_id is None for a in touching)
    assert len([a for a in out if isinstance(a, Insert)]) == len(inserts)


def test_unanswered_cancel_is_not_repeated():
    engine = Engine(EngineConfig((inst(),)))
    inserts = market(engine, MS)
    for a in inserts:  # the venue acknowledges every insert
        engine.handle(
            ev.OrderUpdate(2 * MS, NAME, f"o{a.client_order_id}", a.client_order_id, a.side,
                           ev.OrderStatus.OPEN, a.price_ticks, a.amount_lots, 0, a.amount_lots,
                           reply_to=a.action_id)
        )  # fmt: skip
    cancels = engine.handle(ev.Timer(10_000 * MS)).actions  # stale data: pull everything
    assert len(cancels) == 6 and all(isinstance(a, Cancel) for a in cancels)
    assert engine.handle(ev.Timer(10_001 * MS)).actions == []  # no reply yet: no repeat


def test_engine_config_validation_names_the_field():
    with pytest.raises(ValueError, match="more than once"):
        EngineConfig((inst(), inst()))
    with pytest.raises(ValueError, match="first_client_order_id"):
        EngineConfig((inst(),), first_client_order_id=0)
    with pytest.raises(ValueError, match=r"orders.mm_trade_amount"):
        OrderManagerConfig(mass_quote=True)
    with pytest.raises(ValueError, match="hedge instrument"):
        EngineConfig((inst(),), hedges=(HedgeConfig(NAME, "ETH-PERPETUAL", 0.1),))
    with pytest.raises(ValueError, match=r"quoter.max_data_age_ms"):
        QuoterConfig(max_data_age_ms=0)


def test_a_restarted_engine_starts_from_the_venue_position():
    engine = Engine(EngineConfig((inst(),)))
    fill = ev.Fill("old-fill", Side.BUY, MID - 20, 3)
    open_order = ev.OrderUpdate(
        MS, NAME, "o1", 77, Side.BUY, ev.OrderStatus.PARTIALLY_FILLED, MID - 20, 5, 3, 2,
        (fill,), "mm",
    )  # fmt: skip
    entry = ev.PortfolioEntry(NAME, 7, MID - 10.0)
    engine.handle(ev.Resynced(MS, (open_order,), (entry,)))
    position = engine.instruments[NAME].position
    assert position.lots == 7 and position.average_price == MID - 10.0  # not 7 + 3
    engine.handle(ev.OrderUpdate(2 * MS, NAME, "o1", 77, Side.BUY, ev.OrderStatus.FILLED,
                                 MID - 20, 5, 5, 0, (fill, ev.Fill("new", Side.BUY, MID - 20, 2)),
                                 "mm"))  # fmt: skip
    assert position.lots == 9  # the old fill is known, the new one counts


def test_mass_quote_errors_reset_protection_or_resend():
    engine = Engine(EngineConfig((inst(mass_quote=True),)))
    prot = market(engine, MS)[0]
    mq = engine.handle(ev.ActionAcknowledged(2 * MS, prot.action_id)).actions[0]
    # the venue lost our protection group: one side failed with 23 ProtNotSet
    failed = ev.MassQuoteResult(3 * MS, mq.action_id, 1, 1, (ev.MassQuoteError(23, "prot"),))
    out = engine.handle(failed)
    assert [type(a) for a in out.actions] == [SetMMProtection]
    assert any(getattr(d, "code", 0) == 23 for d in out.decisions)
    mq2 = engine.handle(ev.ActionAcknowledged(4 * MS, out.actions[0].action_id)).actions
    assert [type(a) for a in mq2] == [MassQuote]
    # throttled: the same ladder is sent again on the next cycle
    again = engine.handle(ev.ActionRejected(5 * MS, mq2[0].action_id, 4, "throttled")).actions
    assert [type(a) for a in again] == [MassQuote] and again[0].bids == mq2[0].bids


def test_mass_quote_sizes_are_capped_and_levels_pass_the_final_guard():
    cfg = inst(mass_quote=True, max_order_amount=0.004)  # 4 lots per order, levels want 5
    engine = Engine(EngineConfig((cfg,)))
    prot = market(engine, MS)[0]
    (mq,) = engine.handle(ev.ActionAcknowledged(2 * MS, prot.action_id)).actions
    assert [lv[1] for lv in mq.bids + mq.asks] == [4] * 6
    # the guard itself, should a bad level ever reach the mass-quote manager
    manager = engine.instruments[NAME].mq
    assert manager is not None
    decisions: list = []
    manager.inflight_action_id = 0
    actions: list = []
    manager.sync(ladder((MID - 50, 4), (MID - 60, 9)), (), 3 * MS, actions, decisions)
    assert [lv[1] for lv in actions[0].bids] == [4]
    assert [type(d).__name__ for d in decisions] == ["GuardRejection"]
