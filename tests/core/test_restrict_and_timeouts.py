"""The no-new-risk switch (``Engine.restrict``), reply timeouts (nothing stays in flight
forever) and orders of an old session after a reconnect (cancelled, never quoted with)."""

from __future__ import annotations

import dataclasses

from _core_testkit import MS, NAME, SPEC, FakeVenue

from thalex_mm.core import events as ev
from thalex_mm.core.actions import (
    Amend,
    Cancel,
    CancelAll,
    Insert,
    MassQuote,
    OrderAnomaly,
    RiskStateChanged,
    TradingState,
)
from thalex_mm.core.config import (
    EngineConfig,
    InstrumentConfig,
    OrderManagerConfig,
    QuoterConfig,
    RiskConfig,
)
from thalex_mm.core.engine import Engine
from thalex_mm.domain import Side
from thalex_mm.model.quote import LadderParams, QuoteParams

T0 = 10**12
TIMEOUT_MS = 500.0


def make_engine(mass_quote: bool = False, **risk: object) -> Engine:
    orders = OrderManagerConfig(
        mass_quote=mass_quote, reply_timeout_ms=TIMEOUT_MS, mm_trade_amount=0.05,
        mm_quote_amount=0.1,
    )  # fmt: skip
    cfg = InstrumentConfig(
        SPEC,
        quote=QuoteParams(
            gamma_usd=100.0,
            lot_size=0.001,
            ladder=LadderParams(levels=2, placement="ticks", base_size_lots=10),
        ),
        quoter=QuoterConfig(sigma_default=1.0, fit_intensity=False, A=1.0, k=0.5),
        orders=orders,
        risk=RiskConfig(**{"max_position": 10.0, **risk}),  # type: ignore[arg-type]
    )
    return Engine(EngineConfig((cfg,)))


class Run:
    """Engine + fake venue; ``step`` feeds an event and answers every action at once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.venue = FakeVenue()
        self.now = T0
        self.decisions: list[object] = []

    def step(self, event: object) -> list[object]:
        out = self.engine.handle(event)  # type: ignore[arg-type]
        sent = list(out.actions)
        self.decisions += out.decisions
        self.venue.submit(out.actions)
        while self.venue.pending:
            more = self.engine.handle(self.venue.answer(0, self.now))
            self.decisions += more.decisions
            sent += more.actions
            self.venue.submit(more.actions)
        return sent

    def market(self, mark: float = 100_000.0) -> list[object]:
        self.now += 100 * MS
        m = int(mark)
        return self.step(ev.Ticker(self.now, NAME, mark, mark, 0.0, m - 5, 1000, m + 5, 1000))

    def lots(self, side: Side) -> int:
        return sum(o.amount - o.filled for o in self.venue.active() if o.side is side)


# --- the no-new-risk switch -------------------------------------------------------------
def test_restrict_pulls_the_adding_side_and_lifts() -> None:
    run = Run(make_engine())
    run.step(ev.Resynced(T0, (), (ev.PortfolioEntry(NAME, 15, 100_000.0),)))  # long 15 lots
    run.market()
    assert run.lots(Side.BUY) > 0 and run.lots(Side.SELL) > 0
    decisions: list[object] = []
    run.engine.restrict(run.now, "journal: disk full", decisions)  # type: ignore[arg-type]
    (change,) = [d for d in decisions if isinstance(d, RiskStateChanged)]
    assert "disk full" in change.reason and change.new is TradingState.REDUCING
    run.step(ev.Timer(run.now + 1))
    run.market()
    position = run.engine.instruments[NAME].position.lots
    assert run.lots(Side.BUY) == 0  # adding to a long: pulled
    assert 0 < run.lots(Side.SELL) <= position  # reducing, never past flat
    decisions = []
    run.engine.restrict(run.now, None, decisions)  # type: ignore[arg-type]
    assert [d for d in decisions if isinstance(d, RiskStateChanged)]
    run.market()
    assert run.lots(Side.BUY) > 0


def test_restrict_when_flat_quotes_nothing() -> None:
    run = Run(make_engine())
    run.market()
    assert run.venue.active()
    run.engine.restrict(run.now, "journal: behind", [])
    run.market()
    run.market()
    assert run.venue.active() == []


# --- reply timeouts ------------------------------------------------------------------------
def test_unanswered_inserts_are_cancelled_after_the_timeout() -> None:
    engine = make_engine()
    out = engine.handle(ev.Ticker(T0, NAME, 100_000.0, 100_000.0, 0.0, 99_995, 10, 100_005, 10))
    inserts = [a for a in out.actions if isinstance(a, Insert)]
    assert inserts
    # no reply at all; before the timeout nothing happens to them
    early = engine.handle(ev.Timer(T0 + int(TIMEOUT_MS * MS) - 1))
    assert not [a for a in early.actions if isinstance(a, Cancel)]
    late = engine.handle(ev.Timer(T0 + int(TIMEOUT_MS * MS) + 1))
    cancels = [a for a in late.actions if isinstance(a, Cancel)]
    assert sorted(c.client_order_id for c in cancels) == sorted(  # type: ignore[type-var]
        i.client_order_id for i in inserts
    )
    anomalies = [d for d in late.decisions if isinstance(d, OrderAnomaly)]
    assert sum(d.what == "no reply" for d in anomalies) == len(inserts)
    # the ladder is quoted afresh beside them (the cancels count towards the room meanwhile)
    fresh = [a for a in late.actions if isinstance(a, Insert)]
    assert len(fresh) == len(inserts)
    # the cancels say the orders never existed: they are closed, nothing else to do
    now = T0 + int(TIMEOUT_MS * MS) + 2
    for c in cancels:
        out = engine.handle(ev.ActionRejected(now, c.action_id, 1, "order not found"))
        assert not [a for a in out.actions if isinstance(a, Cancel)]
    orders = engine.instruments[NAME].orders
    assert {o.client_order_id for o in orders.open_orders()} == {a.client_order_id for a in fresh}


def test_unanswered_mass_quote_is_sent_again() -> None:
    engine = make_engine(mass_quote=True)
    out = engine.handle(ev.Ticker(T0, NAME, 100_000.0, 100_000.0, 0.0, 99_995, 10, 100_005, 10))
    (prot,) = out.actions
    out = engine.handle(ev.ActionAcknowledged(T0 + 1, prot.action_id))
    (first,) = [a for a in out.actions if isinstance(a, MassQuote)]
    assert engine.handle(ev.Timer(T0 + 2)).actions == []  # in flight: wait
    late = engine.handle(ev.Timer(T0 + 1 + int(TIMEOUT_MS * MS) + 1)).actions
    (again,) = [a for a in late if isinstance(a, MassQuote)]
    assert again.action_id != first.action_id and again.bids == first.bids


def test_unanswered_cancel_all_is_sent_again() -> None:
    engine = make_engine(max_loss=10.0)
    engine.handle(ev.Ticker(T0, NAME, 100_000.0, 100_000.0, 0.0, 99_995, 10, 100_005, 10))
    engine.handle(ev.Resynced(T0 + 1, (), ()))
    fill = ev.Fill("t1", Side.BUY, 100_000, 1000)  # 1 BTC long at 100,000, then the mark drops
    engine.handle(
        ev.OrderUpdate(
            T0 + 2, NAME, "x", None, Side.BUY, ev.OrderStatus.FILLED, 100_000, 1000, 1000, 0,
            (fill,), "other",
        )
    )  # fmt: skip
    out = engine.handle(ev.Ticker(T0 + 3, NAME, 99_900.0, 99_900.0, 0.0, 99_895, 10, 99_905, 10))
    (kill,) = [a for a in out.actions if isinstance(a, CancelAll)]
    quiet = engine.handle(ev.Timer(T0 + 4)).actions
    assert not [a for a in quiet if isinstance(a, CancelAll)]
    late = engine.handle(ev.Timer(T0 + 3 + int(TIMEOUT_MS * MS) + 1)).actions
    (again,) = [a for a in late if isinstance(a, CancelAll)]
    assert again.action_id != kill.action_id


# --- a reconnect: orders of the old session ---------------------------------------------------
def test_known_order_listed_after_a_reconnect_is_cancelled_not_amended() -> None:
    run = Run(make_engine())
    run.market()
    kept = run.venue.active()[0]
    run.step(ev.Disconnected(run.now))
    listed = ev.OrderUpdate(
        run.now, NAME, kept.oid, kept.cid, kept.side, ev.OrderStatus.OPEN, kept.price,
        kept.amount, 0, kept.amount, (), "mm",
    )  # fmt: skip
    out = run.engine.handle(ev.Resynced(run.now + 1, (listed,), ()))
    touching = [a for a in out.actions if isinstance(a, Cancel | Amend)]
    assert touching and all(isinstance(a, Cancel) for a in touching)
    assert [a.order_id for a in touching] == [kept.oid]
    assert all(a.client_order_id is None for a in touching)


# --- one frame, several order updates ---------------------------------------------------------
def test_a_batch_of_updates_never_amends_an_order_the_same_frame_fills() -> None:
    def setup() -> tuple[Run, list[ev.OrderUpdate]]:
        run = Run(make_engine())
        run.market()
        bids = sorted((o for o in run.venue.active() if o.side is Side.BUY), key=lambda o: -o.price)
        assert len(bids) >= 2
        # a taker sweeps both our bids: the venue reports the two fills in one notification
        frame = [run.venue.fill(o.oid, o.amount, run.now + 1) for o in bids]
        return run, frame

    run, frame = setup()
    actions: list[object] = []
    run.engine.handle_batch(frame, actions, [])  # type: ignore[arg-type]
    filled = {u.order_id for u in frame}
    assert actions  # the ladder is re-quoted...
    assert not [a for a in actions if getattr(a, "order_id", "") in filled]  # ...not amended
    # (one event at a time, the first fill's cycle amends the order the second one fills)
    run, frame = setup()
    one_by_one = [a for u in frame for a in run.engine.handle(u).actions]
    assert [a for a in one_by_one if getattr(a, "order_id", "") in {u.order_id for u in frame}]


def test_wait_for_resync_quotes_nothing_before_the_first_resync() -> None:
    base = make_engine()
    engine = Engine(dataclasses.replace(base.config, wait_for_resync=True))
    tick = ev.Ticker(T0, NAME, 100_000.0, 100_000.0, 0.0, 99_995, 10, 100_005, 10)
    assert engine.handle(tick).actions == []
    assert engine.handle(ev.Timer(T0 + 1)).actions == []
    out = engine.handle(ev.Resynced(T0 + 2, (), ()))
    assert [a for a in out.actions if isinstance(a, Insert)]
    assert [a for a in base.handle(tick).actions if isinstance(a, Insert)]  # default: at once


def test_an_undecodable_insert_reply_keeps_the_order_until_the_timeout_cancels_it() -> None:
    engine = make_engine()
    out = engine.handle(ev.Ticker(T0, NAME, 100_000.0, 100_000.0, 0.0, 99_995, 10, 100_005, 10))
    first = next(a for a in out.actions if isinstance(a, Insert))
    engine.handle(ev.ActionRejected(T0 + 1, first.action_id, -5, "bad reply"))  # BAD_REPLY
    orders = engine.instruments[NAME].orders
    assert first.client_order_id in {o.client_order_id for o in orders.open_orders()}
    # the venue's feed shows it live: it is still ours (not ignored as a late update)
    live = ev.OrderUpdate(
        T0 + 2, NAME, "o-77", first.client_order_id, first.side, ev.OrderStatus.OPEN,
        first.price_ticks, first.amount_lots, 0, first.amount_lots, (), "mm",
    )  # fmt: skip
    engine.handle(live)
    late = engine.handle(ev.Timer(T0 + int(TIMEOUT_MS * MS) + 1)).actions
    assert [a.order_id for a in late if isinstance(a, Cancel)].count("o-77") == 1
