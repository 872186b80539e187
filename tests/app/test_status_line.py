"""The status line stays one short line however many instruments are quoted."""

import logging
from types import SimpleNamespace

import pytest

from thalex_mm.app.reporting import _aggregate, status_line
from thalex_mm.app.run_stats import RunStats
from thalex_mm.app.runner import Runner
from thalex_mm.app.settings import AppConfig
from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.core.config import EngineConfig, InstrumentConfig, QuoterConfig
from thalex_mm.core.engine import Engine
from thalex_mm.domain import InstrumentKind, InstrumentSpec
from thalex_mm.venue.thalex.networks import Endpoint, Network


def _row(i: int, bids: int, asks: int, pos: float, pnl: float, state: str = "ACTIVE") -> tuple:
    st = SimpleNamespace(fills=i, rejections=i % 3)
    return (f"SYN{i:03d}-PERPETUAL", bids, asks, pos, st, pnl, state)


def test_aggregate_counts_and_totals() -> None:
    rows = [
        _row(1, 2, 2, 0.0, 1.5),
        _row(2, 2, 0, 0.01, -3.25, "REDUCING"),
        _row(3, 0, 0, 0.0, 0.5, "HALTED"),
        _row(4, 1, 1, -0.02, 0.25),
    ]
    text = _aggregate(rows)  # type: ignore[arg-type]
    assert text.startswith("4 instruments: quoting both sides 2, one side 1, none 1")
    assert "open positions 2" in text
    assert "fills 10 rejected 4" in text  # 1+2+3+4, 1+2+0+1
    assert "pnl -1.00 (worst SYN002-PERPETUAL -3.25)" in text
    assert text.endswith("ACTIVE 2 HALTED 1 REDUCING 1")


def test_aggregate_size_does_not_grow_with_instruments() -> None:
    small = _aggregate([_row(i, 2, 2, 0.0, 0.0) for i in range(1, 11)])  # type: ignore[arg-type]
    large = _aggregate([_row(i, 2, 2, 0.0, 0.0) for i in range(1, 1001)])  # type: ignore[arg-type]
    assert len(large) - len(small) < 20  # only the digits of the counts grow
    assert len(large) < 300


# --- what stops quoting is always named (#16.1) ---------------------------------------------
def _spec(i: int) -> InstrumentSpec:
    return InstrumentSpec(f"SYN{i}-PERPETUAL", InstrumentKind.PERPETUAL, "X", 1.0, 0.001, 0.001)


def _engine(n: int) -> tuple[Engine, RunStats]:
    specs = [_spec(i) for i in range(n)]
    configs = tuple(InstrumentConfig(s, quoter=QuoterConfig(sigma_default=1.0)) for s in specs)
    return Engine(EngineConfig(configs)), RunStats(specs, 16)


def test_an_instrument_that_quotes_nothing_says_why() -> None:
    engine, stats = _engine(1)
    engine.handle(ev.Ticker(1, "SYN0-PERPETUAL", 100.0, 100.0))  # a mark but no book yet
    line = status_line(engine, stats, 0.0, 0.0, None)
    assert "SYN0-PERPETUAL quotes 0b/0a" in line and "(not quoting: no market data (book)" in line


def test_every_no_new_risk_cause_is_named_once() -> None:
    engine, stats = _engine(1)
    engine.restrict(1, "anomalous fill t1 of an order this engine did not place", [], "fill")
    engine.restrict(1, "journal: 300 MB behind", [], "journal")
    line = status_line(engine, stats, 0.0, 0.0, "300 MB behind")
    assert line.count("300 MB behind") == 1
    assert "NO NEW RISK: anomalous fill t1" in line and "; journal: 300 MB behind" in line


def test_the_aggregated_line_names_the_reasons_too() -> None:
    engine, stats = _engine(6)
    for inst in engine.instruments.values():
        engine.handle(ev.Ticker(1, inst.name, 100.0, 100.0))
    line = status_line(engine, stats, 0.0, 0.0, None)
    assert "not quoting: no market data (book) for more than 2000 ms 6" in line


def test_a_stop_in_quoting_is_logged_once_per_kind_of_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = Runner(AppConfig(), Endpoint(Network.LOCAL, "ws://127.0.0.1:1/ws/api/v2"), None)
    name = "BTC-PERPETUAL"
    crossed = [act.NoQuoteReport(i, name, f"book is crossed ({i} >= 3 ticks)") for i in (5, 6)]
    quote = act.QuoteReport(
        7, name, 1.0, 1.0, 1.0, 1.0, 0, 1.0, (), (), act.TradingState.ACTIVE, 1.0
    )
    with caplog.at_level(logging.INFO, logger="thalex_mm.run"):
        runner._on_decisions([*crossed, quote, crossed[0]])
        runner._on_decisions([act.NoQuoteReport(8, name, "one side of the book is empty")])
    messages = [r.getMessage() for r in caplog.records]
    once = "(logged once; the status line shows it while it lasts)"
    assert messages == [
        f"{name}: not quoting: book is crossed (5 >= 3 ticks) {once}",
        f"{name}: quoting again",
        f"{name}: not quoting: one side of the book is empty {once}",
    ]  # the crossed book coming back is not logged again (a flickering book, say)
