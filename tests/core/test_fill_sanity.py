"""Anomalous fills halt new risk (#16.4); a position that disagrees with the venue is never
traded on past the grace period (#16.5)."""

from __future__ import annotations

from _core_testkit import MS, NAME, SPEC
from test_engine_scenario import MID, Harness

from thalex_mm.core import events as ev
from thalex_mm.core.actions import FillAnomaly, NoQuoteReport, TradingState
from thalex_mm.core.config import (
    AccountingConfig,
    EngineConfig,
    InstrumentConfig,
    QuoterConfig,
    RiskConfig,
)
from thalex_mm.core.engine import Engine
from thalex_mm.core.events import Fill, OrderStatus
from thalex_mm.domain import Side
from thalex_mm.model.quote import LadderParams, QuoteParams


def _engine(**accounting: object) -> Engine:
    cfg = InstrumentConfig(
        SPEC,
        quote=QuoteParams(
            gamma_usd=100.0, lot_size=0.001, ladder=LadderParams(levels=3, base_size_lots=5)
        ),
        quoter=QuoterConfig(sigma_default=5.0, fit_intensity=False, A=1.0, k=0.05),
        risk=RiskConfig(max_position=0.030),  # no max_loss: the PnL alone stops nothing
        accounting=AccountingConfig(**{"reconcile_grace_ms": 0, **accounting}),  # type: ignore[arg-type]
    )
    return Engine(EngineConfig((cfg,), first_client_order_id=500))


def _rogue_fill(now: int, price_ticks: int = 10**12, label: str = "manual") -> ev.OrderUpdate:
    """A fill of an order the engine never placed (unknown ids, another label)."""
    return ev.OrderUpdate(
        now, NAME, "x-999", 7_777_777, Side.BUY, OrderStatus.FILLED, price_ticks, 5, 5, 0,
        (Fill("t-rogue", Side.BUY, price_ticks, 5),), label,
    )  # fmt: skip


def _anomalies(h: Harness) -> list[FillAnomaly]:
    return [d for d in h.decisions if isinstance(d, FillAnomaly)]


def test_a_rogue_fill_is_counted_reported_and_stops_new_risk() -> None:
    h = Harness(_engine())
    h.market()
    assert h.active(Side.BUY) and h.active(Side.SELL)
    h.now += MS
    h.feed(_rogue_fill(h.now))
    inst = h.engine.instruments[NAME]
    assert inst.position.lots == 5  # the venue counts it: so do we
    (anomaly,) = _anomalies(h)
    assert anomaly.halted and anomaly.trade_id == "t-rogue" and "from the mark" in anomaly.what
    assert inst.risk.state is TradingState.REDUCING
    assert inst.risk.restriction is not None and "anomalous" in inst.risk.restriction
    h.market()
    assert h.active(Side.BUY) == []  # long 5: no more buying
    assert sum(o.amount - o.filled for o in h.active(Side.SELL)) <= 5  # only back to flat
    # another source lifting its restriction (the journal's) does not lift this one
    h.engine.restrict(h.now, None, [])
    h.engine.restrict(h.now, "journal: x", [])
    h.engine.restrict(h.now, None, [])
    assert inst.risk.restriction is not None and "anomalous" in inst.risk.restriction


def test_a_fill_of_an_order_we_never_placed_is_anomalous_even_at_a_fair_price() -> None:
    h = Harness(_engine())
    h.market()
    h.now += MS
    h.feed(_rogue_fill(h.now, price_ticks=MID))
    (anomaly,) = _anomalies(h)
    assert "did not place" in anomaly.what and anomaly.order_id == "x-999"


def test_our_own_fills_are_not_anomalous() -> None:
    h = Harness(_engine())
    h.market()
    h.fill_best(Side.BUY)
    h.fill_best(Side.SELL)
    assert _anomalies(h) == [] and h.engine.instruments[NAME].risk.restriction is None


def test_warn_reports_the_anomaly_and_trades_on() -> None:
    h = Harness(_engine(anomalous_fill="warn"))
    h.market()
    h.now += MS
    h.feed(_rogue_fill(h.now))
    (anomaly,) = _anomalies(h)
    assert not anomaly.halted
    inst = h.engine.instruments[NAME]
    assert inst.risk.restriction is None and inst.risk.state is TradingState.ACTIVE


def test_a_discrepancy_not_adopted_stops_quoting_until_they_agree() -> None:
    h = Harness(_engine(adopt_venue_position=False))
    h.market()
    h.fill_best(Side.BUY)  # core 5 lots
    h.feed(ev.PortfolioSnapshot(h.now, (ev.PortfolioEntry(NAME, 11, 100000.0),)))
    h.now += MS
    h.feed(ev.Timer(h.now))
    assert h.venue.active() == []  # nothing quotes on a number the venue contradicts
    reasons = [d.reason for d in h.decisions if isinstance(d, NoQuoteReport)]
    assert reasons and "differs from the venue" in reasons[-1]
    h.feed(ev.PortfolioSnapshot(h.now, (ev.PortfolioEntry(NAME, 5, 100000.0),)))
    h.market()
    assert h.active(Side.BUY) and h.active(Side.SELL)


def test_by_default_the_venues_position_is_adopted() -> None:
    h = Harness(_engine())
    h.market()
    h.fill_best(Side.BUY)  # core 5 lots
    h.feed(ev.PortfolioSnapshot(h.now, (ev.PortfolioEntry(NAME, 11, 100000.0),)))
    h.now += MS
    h.feed(ev.Timer(h.now))
    assert h.engine.instruments[NAME].position.lots == 11  # limits apply to the true number
