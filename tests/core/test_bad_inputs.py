"""One bad frame never poisons the model: crossed or absurd books, NaN or 1e12 prices are
refused before σ, A or k see them, counted, and quoting goes on (issue #16 defect 1: one
crossed book with a bid at 1e12 used to raise σ to 1.5e11 and stop quoting for good)."""

from __future__ import annotations

import math

from _core_testkit import MS, NAME, SPEC

from thalex_mm.core import events as ev
from thalex_mm.core.actions import Insert
from thalex_mm.core.config import EngineConfig, InstrumentConfig, QuoterConfig
from thalex_mm.core.engine import Engine
from thalex_mm.domain import Side

MID = 80_000


def _engine() -> Engine:
    cfg = InstrumentConfig(
        SPEC, quoter=QuoterConfig(min_sigma_samples=5, sigma_default=5.0, k=0.05)
    )
    return Engine(EngineConfig((cfg,)))


def _normal(engine: Engine, t: int, offset: int = 0) -> list[object]:
    mid = MID + offset
    out = engine.handle(ev.BookUpdate(t, NAME, ((mid - 8, 500),), ((mid + 8, 500),), True))
    actions = list(out.actions)
    actions += engine.handle(ev.Ticker(t, NAME, float(mid), float(mid))).actions
    return actions


def _warm(engine: Engine) -> int:
    t = 0
    for i in range(60):  # a minute of a gently moving book, one frame a second
        t = i * 1000 * MS
        _normal(engine, t, (i * 7) % 5 - 2)
        trade_side = Side.BUY if i % 2 else Side.SELL
        engine.handle(ev.PublicTrade(t, NAME, MID + int(trade_side) * 8, 3, trade_side, t))
    return t


def _snapshot(engine: Engine) -> tuple[float | None, float, float]:
    q = engine.instruments[NAME].quoter
    return q.estimates()


def test_a_crossed_book_at_1e12_is_refused_and_counted_and_quoting_goes_on() -> None:
    engine = _engine()
    t = _warm(engine)
    before = _snapshot(engine)
    quoter = engine.instruments[NAME].quoter
    t += 500 * MS
    engine.handle(
        ev.BookUpdate(t, NAME, ((10**12, 5),), ((MID + 8, 500),), True)  # bid 1e12: crossed
    )
    assert quoter.rejected_inputs >= 1
    assert "crossed" in quoter.last_rejection
    # the next second brings a sane book: σ is what it was, not 1.5e11
    for i in range(1, 30):
        _normal(engine, t + i * 1000 * MS)
    sigma, _, _ = _snapshot(engine)
    assert sigma is not None and before[0] is not None
    assert sigma < 5 * before[0]
    # and the engine still quotes both sides
    engine.handle(ev.Timer(t + 31_000 * MS))
    report = engine.instruments[NAME].quoter.last_decision
    assert report is not None and report.bids and report.asks


def test_nan_and_absurd_prices_never_reach_the_estimators() -> None:
    engine = _engine()
    t = _warm(engine)
    quoter = engine.instruments[NAME].quoter
    engine.handle(ev.Timer(t + 1))  # closes the last good sweep
    state = quoter.estimator_state()
    refused = quoter.rejected_inputs
    t += 100 * MS
    engine.handle(ev.Ticker(t, NAME, math.nan, math.nan))  # mark NaN
    engine.handle(ev.Ticker(t + 1, NAME, float(MID), float(MID)))
    engine.handle(ev.BookUpdate(t + 2, NAME, ((MID * 3, 5),), ((MID * 3 + 8, 5),), True))
    engine.handle(ev.PublicTrade(t + 3, NAME, 10**12, 1, Side.BUY, t + 3))  # a 1e12 print
    engine.handle(ev.Timer(t + 4))
    assert quoter.rejected_inputs >= refused + 3
    after = quoter.estimator_state()
    # nothing the bad frames carried entered σ (its sums) or the reach fit (its sweeps)
    assert after["volatility"]["slow"] == state["volatility"]["slow"]
    assert after["intensity"]["sides"][1]["n"] == state["intensity"]["sides"][1]["n"]


def test_quoting_resumes_after_the_bad_frame() -> None:
    engine = _engine()
    t = _warm(engine)
    engine.handle(ev.BookUpdate(t + 1, NAME, ((10**12, 5),), ((MID + 8, 500),), True))
    actions = _normal(engine, t + 2000 * MS, 1)
    actions += engine.handle(ev.Timer(t + 2100 * MS)).actions
    live = engine.instruments[NAME].orders
    assert (live.bids and live.asks) or any(isinstance(a, Insert) for a in actions)
