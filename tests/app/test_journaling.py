"""Core actions, events and decisions become journal records in venue units."""

from __future__ import annotations

import math
from typing import Any

from thalex_mm.app.journaling import JournalBridge
from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.domain import InstrumentKind, InstrumentSpec, Level, Side
from thalex_mm.journal import Fill, OrderAction, QuoteDecision, RiskEvent

SPEC = InstrumentSpec("ETH-PERPETUAL", InstrumentKind.PERPETUAL, "ETHUSD", 0.1, 0.01, 0.01)


class FakeJournal:
    def __init__(self) -> None:
        self.records: list[Any] = []
        self.batches: list[int] = []  # the size of each append_batch call

    def append(self, record: Any) -> bool:
        self.records.append(record)
        return True

    def append_batch(self, records: Any) -> None:
        self.batches.append(len(records))
        self.records.extend(records)

    offer_market = append

    def market_due(self, instrument: str, ts_ns: int) -> bool:
        return True


def _bridge() -> tuple[JournalBridge, FakeJournal]:
    fake = FakeJournal()
    bridge = JournalBridge(fake, "mm", {SPEC.name: SPEC}, {SPEC.name: ("glft", 0.2)})  # type: ignore[arg-type]
    return bridge, fake


def test_actions_in_prices_and_amounts() -> None:
    bridge, fake = _bridge()
    bridge.actions(
        [
            act.Insert(1, SPEC.name, 7, Side.SELL, 30_015, 25),
            act.Amend(2, SPEC.name, 7, "oid", 30_012, 30),
            act.Cancel(3, SPEC.name, None, "oid"),
            act.MassQuote(4, SPEC.name, (Level(29_990, 5),), ()),
            act.CancelAll(5, "kill"),
        ],
        now_ns=123,
    )
    ins, amend, cancel, mq, kill = fake.records
    assert fake.batches == [5]  # one event's actions: one frame
    assert all(isinstance(r, OrderAction) and r.ts_ns == 123 for r in fake.records)
    assert (ins.action, ins.side, ins.price, ins.amount) == ("insert", -1, 3001.5, 0.25)
    assert (amend.order_id, amend.price, amend.amount) == ("oid", 3001.2, 0.3)
    assert cancel.action == "cancel" and cancel.client_order_id is None
    assert mq.levels == [[1.0, 2999.0, 0.05]]
    assert kill.action == "cancel_all"


def test_order_update_writes_the_update_and_each_fill() -> None:
    bridge, fake = _bridge()
    fill = ev.Fill("t1", Side.BUY, 30_000, 2, True, math.nan)
    u = ev.OrderUpdate(
        9, SPEC.name, "oid", 7, Side.BUY, ev.OrderStatus.from_wire("partially_filled"),
        30_000, 5, 2, 3, (fill,),
    )  # fmt: skip
    bridge.order_update(u, position_lots=4)
    update, rec = fake.records
    assert fake.batches == [2]  # the update and its fill: one frame
    assert update.status == "partially_filled" and update.filled_amount == 0.02
    assert isinstance(rec, Fill)
    assert (rec.price, rec.amount, rec.fee, rec.position_after) == (3000.0, 0.02, 0.0, 0.04)
    assert rec.maker_taker == "maker"


def test_replayed_fills_are_one_frame_and_none_is_nothing() -> None:
    bridge, fake = _bridge()
    fills = [ev.Fill(f"t{i}", Side.SELL, 30_000 + i, 1, False, 0.5) for i in range(3)]
    bridge.replayed_fills(SPEC.name, fills, now_ns=11, position_lots=-3)
    bridge.replayed_fills(SPEC.name, [], now_ns=12, position_lots=-3)
    assert fake.batches == [3]  # one append_batch for the replay; an empty one writes nothing
    assert [r.trade_id for r in fake.records] == ["t0", "t1", "t2"]
    first = fake.records[0]
    assert (first.order_id, first.client_order_id, first.side) == ("", None, -1)
    assert (first.price, first.fee, first.position_after) == (3000.0, 0.5, -0.03)
    assert first.maker_taker == "taker" and first.ts_ns == 11


def test_decisions_become_quote_and_risk_records() -> None:
    bridge, fake = _bridge()
    report = act.QuoteReport(
        5, SPEC.name, 3000.0, 0.5, 1.0, 2.0, -3, 3000.4, (Level(29_995, 1),),
        (Level(30_010, 2),), act.TradingState.ACTIVE, 1.0,
    )  # fmt: skip
    bridge.decisions(
        [report, act.KillSwitch(6, SPEC.name, "max loss", -12.5), act.NoQuoteReport(7, "", "x")]
    )
    quote, kill, no_quote = fake.records
    assert fake.batches == [3]
    assert isinstance(quote, QuoteDecision)
    assert (quote.model, quote.gamma, quote.q) == ("glft", 0.2, -0.03)
    assert quote.spread == 1.5 and quote.bids == [[2999.5, 0.01]]
    assert isinstance(kill, RiskEvent) and kill.kind == "kill_switch" and "-12.5" in kill.detail
    assert no_quote.kind == "no_quote"


class _Position:
    amount = 0.5
    average_price = 100.0
    realised = 1.0
    fees = 0.1

    def unrealised(self, mark: float) -> float:
        return (mark - self.average_price) * self.amount


class _Instrument:
    position = _Position()

    def __init__(self, mark: float) -> None:
        self._mark = mark

    def mark(self) -> float:
        return self._mark


def test_positions_are_spread_round_robin_over_calls() -> None:
    bridge, fake = _bridge()
    instruments = {f"I{n}": _Instrument(100.0 + n) for n in range(10)}
    seen: list[str] = []
    for tick in range(5):  # share 0.25 of 10 -> 3 per call, wrapping around
        bridge.positions(instruments, now_ns=tick, share=0.25)
        batch = [r.instrument for r in fake.records]
        fake.records.clear()
        assert len(batch) == 3
        assert fake.batches[-1] == 3
        seen += batch
    # every instrument in turn, in order, then again from the start
    assert seen == [f"I{n % 10}" for n in range(15)]
    bridge.positions(instruments, now_ns=99)  # share 1.0: all of them, once each
    assert sorted(r.instrument for r in fake.records) == sorted(instruments)
    by_name = {r.instrument: r for r in fake.records}
    assert by_name["I3"].mark == 103.0 and by_name["I3"].unrealized_pnl == (103.0 - 100.0) * 0.5


def test_an_anomalous_fill_is_journaled_as_a_risk_event() -> None:
    bridge, fake = _bridge()
    what = "fill t9 at 1e+12 is 99.9% from the mark 3000 (risk.price_band 5.0%)"
    bridge.decisions([act.FillAnomaly(8, SPEC.name, "t9", "x-1", None, what, True)])
    (event,) = fake.records
    assert isinstance(event, RiskEvent) and event.kind == "fill_anomaly"
    assert event.state == "halt" and "1e+12" in event.detail and "x-1" in event.detail
