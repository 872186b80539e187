"""Estimator state survives a restart through Engine.estimator_states / restore_estimators."""

from __future__ import annotations

import json

from _core_testkit import MS, NAME, SPEC

from thalex_mm.core import events as ev
from thalex_mm.core.config import EngineConfig, InstrumentConfig, QuoterConfig
from thalex_mm.core.engine import Engine
from thalex_mm.domain import Side


def _engine() -> Engine:
    cfg = InstrumentConfig(SPEC, quoter=QuoterConfig(min_sigma_samples=2, A=1.0, k=0.05))
    return Engine(EngineConfig((cfg,)))


def _feed(engine: Engine) -> None:
    for i in range(200):
        mid = 100_000 + (i * 37) % 11 - 5
        engine.handle(ev.BookTop(i * 100 * MS, NAME, mid - 2, 5, mid + 2, 5))
        engine.handle(ev.Ticker(i * 100 * MS, NAME, float(mid), float(mid)))
        if i % 3 == 0:
            side = Side.BUY if i % 2 else Side.SELL
            engine.handle(ev.PublicTrade(i * 100 * MS, NAME, mid + int(side) * (i % 7), 1, side))


def test_a_restored_engine_quotes_from_the_saved_estimates() -> None:
    first = _engine()
    _feed(first)
    saved = json.loads(json.dumps(first.estimator_states()))  # as the journal stores it
    before = first.instruments[NAME].quoter.estimates()
    assert before[0] is not None  # warm
    second = _engine()
    assert second.instruments[NAME].quoter.estimates()[0] is None  # cold
    assert second.restore_estimators(saved) == {}
    assert second.instruments[NAME].quoter.estimates() == before


def test_states_that_do_not_fit_are_refused_by_name() -> None:
    engine = _engine()
    refused = engine.restore_estimators(
        {"ETH-PERPETUAL": {}, NAME: {"kind": "quoter_estimators", "version": 99}}
    )
    assert set(refused) == {"ETH-PERPETUAL", NAME}
    assert "version" in refused[NAME]
    assert engine.instruments[NAME].quoter.estimates()[0] is None
