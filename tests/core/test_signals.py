"""The original system's signals as configurable adjustments: each one off by default,
and when on, its shift or widening is in the quote decision the journal records."""

from __future__ import annotations

import pytest
from _core_testkit import MS, NAME, SPEC

from thalex_mm.core import events as ev
from thalex_mm.core.actions import QuoteReport
from thalex_mm.core.config import EngineConfig, InstrumentConfig, QuoterConfig
from thalex_mm.core.engine import Engine
from thalex_mm.domain import Side
from thalex_mm.model.estimators import vamp

MID = 80_000


def _engine(**quoter: object) -> Engine:
    base: dict[str, object] = {"sigma_default": 5.0, "k": 0.05, "fit_intensity": False}
    cfg = InstrumentConfig(SPEC, quoter=QuoterConfig(**{**base, **quoter}))  # type: ignore[arg-type]
    return Engine(EngineConfig((cfg,)))


def _reports(out: list[object]) -> list[QuoteReport]:
    return [d for d in out if isinstance(d, QuoteReport)]


def test_signals_are_off_by_default() -> None:
    engine = _engine()
    engine.handle(ev.BookUpdate(0, NAME, ((MID - 5, 900), (MID - 6, 900)), ((MID + 5, 10),), True))
    out = engine.handle(ev.Ticker(0, NAME, float(MID), float(MID))).decisions
    (report,) = _reports(list(out))
    assert report.shift == 0.0 and report.widen == 0.0


def test_vamp_shifts_the_centre_by_its_weight_and_the_report_says_so() -> None:
    engine = _engine(vamp_weight=0.5, vamp_depth_lots=50)
    bids = ((MID - 5, 900),)
    asks = ((MID + 5, 10), (MID + 9, 10), (MID + 30, 900))  # thin asks: VAMP leans up
    engine.handle(ev.BookUpdate(0, NAME, bids, asks, True))
    out = engine.handle(ev.Ticker(0, NAME, float(MID), float(MID))).decisions
    (report,) = _reports(list(out))
    step = SPEC.amount_step
    value = vamp(
        [(p * 1.0, n * step) for p, n in bids], [(p * 1.0, n * step) for p, n in asks], 50 * step
    )
    assert value is not None and value > MID
    assert report.shift == 0.5 * (value - MID)
    plain = _engine()
    plain.handle(ev.BookUpdate(0, NAME, bids, asks, True))
    (flat,) = _reports(list(plain.handle(ev.Ticker(0, NAME, float(MID), float(MID))).decisions))
    assert report.reservation_price == flat.reservation_price + report.shift


def test_volume_candles_shift_with_momentum_and_widen_with_its_strength() -> None:
    engine = _engine(
        candle_volume=0.002, candle_history=5, candle_momentum_weight=1.0,
        candle_widen_per_z=2.0,
    )  # fmt: skip
    decisions: list[object] = []
    t = 0
    for i in range(40):  # a steady climb: every candle closes higher
        t = i * 200 * MS
        mid = MID + i
        book = ev.BookUpdate(t, NAME, ((mid - 5, 900),), ((mid + 5, 900),), True)
        decisions += engine.handle(book).decisions
        decisions += engine.handle(ev.Ticker(t, NAME, float(mid), float(mid))).decisions
        decisions += engine.handle(ev.PublicTrade(t, NAME, mid + 5, 2, Side.BUY, t)).decisions
        decisions += engine.handle(ev.Timer(t + 1)).decisions
    last = _reports(decisions)[-1]
    assert last.shift > 0.0  # follows the trend
    assert last.widen > 0.0
    candles = engine.instruments[NAME].quoter.candles
    assert candles is not None and candles.momentum is not None
    # the window's log change as a price move, taken when the last candle closed
    quoter = engine.instruments[NAME].quoter
    assert quoter.shift == pytest.approx(candles.momentum * quoter.last_mid, rel=1e-3)
