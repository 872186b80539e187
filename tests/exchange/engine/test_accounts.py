"""Positions, average price, realised/unrealised PnL, fees and funding."""

from __future__ import annotations

from typing import Any

import pytest

from thalex_mm.domain import Side
from thalex_mm.exchange.engine import (
    AccountSummaryChanged,
    AccountTradeEvent,
    MakerTaker,
    PortfolioChanged,
)

PERP = "BTC-PERPETUAL"
MAKER_FEE = -0.0002
TAKER_FEE = 0.0005
BUY, SELL = Side.BUY, Side.SELL


def entry(desk: Any, account: str) -> Any:
    (line,) = [p for p in desk.engine.portfolio(account) if p.instrument_name == PERP]
    return line


def trade(desk: Any, maker: Any, taker: Any, maker_side: Side, price: float, amount: float) -> Any:
    desk.limit(maker, maker_side, price, amount)
    return desk.market(taker, maker_side.opposite, amount)


def test_fees_taker_pays_and_negative_maker_fee_is_rebate(desk: Any) -> None:
    desk.limit(desk.a, SELL, 50_000, 0.2)
    out = desk.engine.insert(
        desk.tick(), desk.b, instrument_name=PERP, direction=BUY, amount=0.2, price=50_000
    )
    records = {
        e.record.maker_taker: e.record for e in out.events if isinstance(e, AccountTradeEvent)
    }
    notional = 50_000 * 0.2
    assert records[MakerTaker.TAKER].fee == pytest.approx(TAKER_FEE * notional)
    assert records[MakerTaker.MAKER].fee == pytest.approx(MAKER_FEE * notional)
    assert records[MakerTaker.MAKER].fee < 0
    a = desk.engine.account_summary("A")
    b = desk.engine.account_summary("B")
    assert a.balance == pytest.approx(100_000 - MAKER_FEE * notional)  # rebate credited
    assert b.balance == pytest.approx(100_000 - TAKER_FEE * notional)
    assert a.session_fees == pytest.approx(MAKER_FEE * notional)
    summaries = [e.account for e in out.events if isinstance(e, AccountSummaryChanged)]
    assert summaries == ["B", "A"]  # taker first


def test_average_price_realised_pnl_and_flip(desk: Any) -> None:
    trade(desk, desk.c, desk.a, SELL, 100, 1.0)  # A buys 1 @ 100
    trade(desk, desk.c, desk.a, SELL, 110, 1.0)  # A buys 1 @ 110 -> avg 105
    line = entry(desk, "A")
    assert line.position == pytest.approx(2.0) and line.average_price == pytest.approx(105)
    trade(desk, desk.c, desk.a, BUY, 120, 1.5)  # A sells 1.5 @ 120 -> realise 1.5 * 15
    line = entry(desk, "A")
    assert line.realised_pnl == pytest.approx(22.5)
    assert line.position == pytest.approx(0.5) and line.average_price == pytest.approx(105)
    trade(desk, desk.c, desk.a, BUY, 100, 1.5)  # A sells 1.5 @ 100: close 0.5 (-2.5), short 1
    line = entry(desk, "A")
    assert line.realised_pnl == pytest.approx(22.5 - 2.5)
    assert line.position == pytest.approx(-1.0) and line.average_price == pytest.approx(100)
    trade(desk, desk.c, desk.a, SELL, 90, 1.0)  # A buys back 1 @ 90: +10
    line = entry(desk, "A")
    assert line.position == 0 and line.average_price is None
    assert line.realised_pnl == pytest.approx(30.0)
    c = entry(desk, "C")
    assert c.position == 0 and c.realised_pnl == pytest.approx(-30.0)


def test_unrealised_pnl_follows_mark(desk: Any) -> None:
    trade(desk, desk.c, desk.a, SELL, 1_000, 0.5)
    desk.engine.set_mark(desk.tick(), PERP, 1_100.0)
    assert entry(desk, "A").unrealised_pnl == pytest.approx(50.0)
    assert entry(desk, "C").unrealised_pnl == pytest.approx(-50.0)
    summary = desk.engine.account_summary("A")
    assert summary.unrealised_pnl == pytest.approx(50.0)
    assert summary.margin == pytest.approx(summary.balance + 50.0)
    assert summary.required_margin == pytest.approx(0.5 * 1_100 * 0.01)


def test_portfolio_changed_for_both_accounts_on_fill(desk: Any) -> None:
    desk.limit(desk.a, SELL, 100, 0.1)
    out = desk.engine.insert(
        desk.tick(), desk.b, instrument_name=PERP, direction=BUY, amount=0.1, price=100
    )
    lines = {e.account: e.entry for e in out.events if isinstance(e, PortfolioChanged)}
    assert lines["A"].position == pytest.approx(-0.1)
    assert lines["B"].position == pytest.approx(0.1)


def test_funding_longs_pay_shorts_when_rate_positive(desk: Any) -> None:
    trade(desk, desk.c, desk.a, SELL, 1_000, 2.0)  # A long 2, C short 2
    desk.engine.set_mark(desk.tick(), PERP, 1_000.0)
    before_a = desk.engine.account_summary("A").balance
    before_c = desk.engine.account_summary("C").balance
    events = desk.engine.apply_funding(desk.tick(), PERP, 0.0001)
    assert {e.account for e in events if isinstance(e, PortfolioChanged)} == {"A", "C"}
    assert desk.engine.account_summary("A").balance == pytest.approx(before_a - 0.2)
    assert desk.engine.account_summary("C").balance == pytest.approx(before_c + 0.2)
    assert entry(desk, "A").realised_funding == pytest.approx(-0.2)


def test_trade_history_and_open_interest(desk: Any) -> None:
    trade(desk, desk.c, desk.a, SELL, 1_000, 0.3)
    (rec,) = desk.engine.trade_history("A")
    assert rec.direction is BUY and rec.position_after == pytest.approx(0.3)
    assert rec.maker_taker is MakerTaker.TAKER and len(rec.trade_id) == 32
    (crec,) = desk.engine.trade_history("C")
    assert crec.trade_id == rec.trade_id and crec.maker_taker is MakerTaker.MAKER
    ticker = desk.engine.ticker(PERP, desk.now)
    assert ticker.open_interest == pytest.approx(0.3) and ticker.last_price == 1_000
    assert ticker.volume == pytest.approx(0.3)


def test_required_margin_counts_larger_open_side(desk: Any) -> None:
    desk.engine.set_mark(desk.tick(), PERP, 1_000.0)
    desk.limit(desk.a, BUY, 990, 0.3)
    desk.limit(desk.a, BUY, 980, 0.2)
    desk.limit(desk.a, SELL, 1_010, 0.4)
    assert desk.engine.open_amounts("A", PERP) == (pytest.approx(0.5), pytest.approx(0.4))
    assert desk.engine.account_summary("A").required_margin == pytest.approx(0.5 * 1_000 * 0.01)
    desk.market(desk.b, SELL, 0.35)  # fills 0.3 @ 990 and 0.05 @ 980
    assert desk.engine.open_amounts("A", PERP) == (pytest.approx(0.15), pytest.approx(0.4))
    summary = desk.engine.account_summary("A")
    assert summary.required_margin == pytest.approx((0.4 + 0.35) * 1_000 * 0.01)
