"""Position and PnL from fills: each fill once, flips, fees, funding, reconciliation."""

from __future__ import annotations

import math

import pytest
from _core_testkit import MS, SPEC
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.core.config import AccountingConfig
from thalex_mm.core.events import Fill, PortfolioEntry
from thalex_mm.core.position import Position, TradeIds
from thalex_mm.domain import Side

STEP = SPEC.amount_step


def make(**cfg: object) -> Position:
    return Position(SPEC, AccountingConfig(**cfg), TradeIds(10_000))  # type: ignore[arg-type]


def fill(tid: str, side: Side, price: int, lots: int, fee: float = 0.0, maker: bool = True) -> Fill:
    return Fill(tid, side, price, lots, maker, fee)


def test_partial_fills_build_the_average_entry():
    p = make()
    p.apply(fill("a", Side.BUY, 100, 2))
    p.apply(fill("b", Side.BUY, 110, 3))
    assert p.lots == 5
    assert p.average_price == pytest.approx((100 * 2 + 110 * 3) / 5)
    assert p.realised == 0.0


def test_the_same_fill_twice_counts_once():
    p = make()
    f = fill("t1", Side.SELL, 100, 4, fee=0.5)
    assert p.apply(f) is True
    assert p.apply(f) is False  # e.g. RPC result and order feed
    assert p.lots == -4 and p.fees == 0.5 and p.fill_count == 1


def test_flip_through_zero_realises_the_closed_part_only():
    p = make()
    p.apply(fill("a", Side.BUY, 100, 3))
    p.apply(fill("b", Side.SELL, 120, 5))  # closes 3 at +20 each, opens 2 short at 120
    assert p.lots == -2
    assert p.realised == pytest.approx(20 * 3 * STEP)
    assert p.average_price == 120
    p.apply(fill("c", Side.BUY, 90, 2))  # short 2 from 120 covered at 90: +30 each
    assert p.lots == 0 and p.average_price == 0.0
    assert p.realised == pytest.approx((60 + 60) * STEP)


def test_unrealised_and_total_pnl_with_fees_and_funding():
    p = make()
    p.apply(fill("a", Side.BUY, 100, 10, fee=0.2))
    p.apply_funding(-0.05)
    assert p.unrealised(105.0) == pytest.approx(5 * 10 * STEP)
    assert p.total_pnl(105.0) == pytest.approx(5 * 10 * STEP - 0.2 - 0.05)


def test_estimated_fee_is_replaced_by_the_real_one():
    p = make(maker_fee_rate=0.0002, taker_fee_rate=0.0005)
    p.apply(fill("a", Side.BUY, 1000, 10, fee=math.nan, maker=False))
    estimated = 0.0005 * 1000 * 10 * STEP
    assert p.fees == pytest.approx(estimated)
    p.apply(fill("a", Side.BUY, 1000, 10, fee=0.004))  # the trade history, later
    assert p.fees == pytest.approx(0.004) and p.lots == 10
    p.apply(fill("a", Side.BUY, 1000, 10, fee=0.004))  # and again: no change
    assert p.fees == pytest.approx(0.004)


def test_trade_id_memory_is_bounded():
    ids = TradeIds(capacity=3)
    for t in "abcd":
        assert ids.add(t)
    assert len(ids) == 3 and "a" not in ids and "d" in ids


def test_discrepancy_reported_after_grace_and_when_resolved():
    p = make(reconcile_grace_ms=100, adopt_venue_position=False)
    p.apply(fill("a", Side.BUY, 100, 5))
    venue = PortfolioEntry(SPEC.name, 7, 100.0)
    assert p.reconcile(venue, 0) is None  # a fill may still be on its way
    assert p.reconcile(None, 50 * MS) is None
    assert p.disagreement is None  # within the grace period: quoting goes on
    report = p.reconcile(None, 150 * MS)
    assert report is not None and not report.resolved
    assert (report.core_lots, report.venue_lots) == (5, 7)
    assert p.disagreement is not None and "not quoting until they agree" in p.disagreement
    assert p.reconcile(None, 200 * MS) is None  # reported once
    p.apply(fill("b", Side.BUY, 100, 2))
    resolved = p.reconcile(None, 210 * MS)
    assert resolved is not None and resolved.resolved and p.disagreement is None


def test_matching_portfolio_is_quiet_and_tolerance_applies():
    p = make(reconcile_grace_ms=0, reconcile_tolerance=0.002)
    p.apply(fill("a", Side.SELL, 100, 5))
    assert p.reconcile(PortfolioEntry(SPEC.name, -5), 0) is None
    assert p.reconcile(PortfolioEntry(SPEC.name, -7), 1) is None  # within 2 lots
    assert p.reconcile(PortfolioEntry(SPEC.name, -8), 2) is not None


def test_adopting_the_venue_position():
    p = make(reconcile_grace_ms=0, adopt_venue_position=True)
    p.apply(fill("a", Side.BUY, 100, 5))
    assert p.reconcile(PortfolioEntry(SPEC.name, 3, 101.0), 0) is not None
    assert p.lots == 3 and p.average_price == 101.0


fills = st.lists(
    st.tuples(
        st.integers(0, 30),  # trade id (small range: many duplicates)
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(50, 150),
        st.integers(1, 20),
        st.floats(-0.01, 0.05),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(fills, st.integers(50, 150))
def test_position_equals_the_sum_of_unique_fills(raw, mark):
    p = make()
    unique: dict[str, tuple[Side, int, int, float]] = {}
    for tid, *trade in raw:
        key = f"t{tid}"
        # the same trade id always describes the same trade
        side, price, lots, fee = unique.setdefault(key, tuple(trade))
        p.apply(fill(key, side, price, lots, fee))
    assert p.lots == sum(s * q for s, _, q, _ in unique.values())
    assert p.fill_count == len(unique)
    # PnL identity: realised + unrealised - fees == cash flow + inventory at the mark - fees
    cash = sum(-s * px * q * STEP for s, px, q, _ in unique.values())
    fees = sum(f for *_, f in unique.values())
    expected = cash + p.lots * STEP * mark - fees
    assert p.total_pnl(float(mark)) == pytest.approx(expected, abs=1e-9)
