"""Edge at fill against fair, markouts and the PnL decomposition, checked against arithmetic
done here by hand and against the core's own accounting (``Position``)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.app.markouts import FAIR_MEMORY, FillQuality, decompose
from thalex_mm.app.run_stats import (
    INSTRUMENT_KEYS,
    RunStats,
    format_summary,
    instrument_summary,
)
from thalex_mm.core import events as ev
from thalex_mm.core.config import AccountingConfig
from thalex_mm.core.position import Position, TradeIds
from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side

SPEC = InstrumentSpec("BTC-PERPETUAL", InstrumentKind.PERPETUAL, "BTCUSD", 1.0, 0.001, 0.001)
S = 1_000_000_000


def _position() -> Position:
    return Position(SPEC, AccountingConfig(), TradeIds(64))


def test_a_scripted_run_gives_the_hand_computed_edge_markouts_and_sources() -> None:
    stats = RunStats([SPEC], 8)
    st_ = stats.by_name[SPEC.name]
    q = st_.quality
    pos = _position()

    def fill(t: float, tid: str, side: Side, price: int, lots: int, fee: float) -> None:
        f = ev.Fill(tid, side, price, lots, True, fee)
        new, applied = stats.new_fill(tid), pos.apply(f)
        assert new and applied
        st_.on_fill(f, int(t * S))

    q.on_fair(0 * S, 80_000.0)
    fill(0.2, "t1", Side.BUY, 79_990, 3, 0.024)  # fair 80,000
    q.on_fair(int(0.7 * S), 80_004.0)
    fill(1.1, "t2", Side.SELL, 80_010, 1, -0.002)  # fair 80,004 (a rebate)
    q.on_fair(int(1.5 * S), 79_996.0)  # t1's 1 s (due 1.2 s) saw 80,004
    stats.advance(int(2.5 * S))  # t2's 1 s (due 2.1 s) sees 79,996
    q.on_fair(4 * S, 80_020.0)
    stats.advance(int(5.5 * S))  # t1's 5 s (due 5.2 s) sees 80,020
    q.on_fair(6 * S, 80_008.0)
    stats.advance(int(6.3 * S))  # t2's 5 s (due 6.1 s) sees 80,008
    stats.advance(10 * S)  # the end: neither has its 30 s
    pos.apply_funding(0.005)
    final = 80_008.0

    # by hand: side * (fair - price) * amount
    edge = 1 * (80_000 - 79_990) * 0.003 + -1 * (80_004 - 80_010) * 0.001  # 0.030 + 0.006
    m1 = 1 * (80_004 - 79_990) * 0.003 + -1 * (79_996 - 80_010) * 0.001  # 0.042 + 0.014
    m5 = 1 * (80_020 - 79_990) * 0.003 + -1 * (80_008 - 80_010) * 0.001  # 0.090 + 0.002
    inventory = 0.003 * (final - 80_000) - 0.001 * (final - 80_004)  # 0.024 - 0.004
    fees = 0.024 - 0.002
    # the core's PnL: buy 3 at 79,990, sell 1 at 80,010 realises 20 * 0.001; 2 lots open
    realised = (80_010 - 79_990) * 0.001
    unrealised = (final - 79_990) * 0.002
    total = realised + unrealised - fees + 0.005
    assert pos.realised == pytest.approx(realised, rel=1e-12)
    assert pos.total_pnl(final) == pytest.approx(total, rel=1e-12)

    s = instrument_summary(
        st_, position_lots=pos.lots, realised=pos.realised, unrealised=pos.unrealised(final),
        fees=pos.fees, total_pnl=pos.total_pnl(final), state="ACTIVE", elapsed_s=10.0,
        final_fair=final, funding=pos.funding,
    )  # fmt: skip
    assert set(s) == set(INSTRUMENT_KEYS)
    assert s["edge_usd"] == pytest.approx(edge, abs=1e-9)
    assert s["edge_usd_per_unit"] == pytest.approx(edge / 0.004, abs=1e-6)  # 9 USD/BTC
    assert s["fees_usd_per_unit"] == pytest.approx(fees / 0.004, abs=1e-6)
    assert s["markout_1s_usd"] == pytest.approx(m1, abs=1e-9)
    assert s["markout_1s_usd_per_unit"] == pytest.approx(m1 / 0.004, abs=1e-6)
    assert (s["markout_1s_fills"], s["markout_1s_left_out"]) == (2, 0)
    assert s["markout_5s_usd"] == pytest.approx(m5, abs=1e-9)
    assert (s["markout_5s_fills"], s["markout_5s_left_out"]) == (2, 0)
    assert (s["markout_30s_fills"], s["markout_30s_left_out"]) == (0, 2)
    assert s["markout_30s_usd_per_unit"] is None
    assert s["inventory_pnl"] == pytest.approx(inventory, abs=1e-9)
    assert s["funding"] == pytest.approx(0.005) and s["carried_pnl"] == 0.0
    # the identity, unrounded: edge + inventory - fees + funding = the core's total
    parts = decompose(
        q, final_fair=final, start_amount=0.0, start_price=0.0, fees=pos.fees,
        funding=pos.funding, total=pos.total_pnl(final),
    )  # fmt: skip
    explained = parts.edge + parts.inventory - parts.fees + parts.funding
    assert explained == pytest.approx(total, rel=1e-9)
    assert abs(parts.unexplained) <= 1e-9 * abs(total)
    # and in words: edge 9.00 vs fees 5.50 USD/BTC per unit traded
    assert "edge at fill +9.00 USD/BTC vs fees 5.50 USD/BTC" in s["pnl_why"]
    assert "the edge covered the fees by 3.50 USD/BTC" in s["pnl_why"]
    assert f"price moves on the position {inventory:+.4f} USD" in s["pnl_why"]
    # the journal's fill records get the fair at fill by trade id
    assert stats.fair_at_fill(SPEC.name, "t1") == 80_000.0
    assert stats.fair_at_fill(SPEC.name, "t2") == 80_004.0
    assert stats.fair_at_fill(SPEC.name, "unknown") == 80_008.0  # else the latest


def test_a_carried_position_is_its_own_source() -> None:
    """A restart takes over 5 lots at 80,100 from the venue: the core's PnL includes their
    move to the final fair, the carried term, and nothing is left unexplained."""
    stats = RunStats([SPEC], 8)
    st_ = stats.by_name[SPEC.name]
    pos = _position()
    pos.seed(ev.PortfolioEntry(SPEC.name, 5, 80_100.0), ())
    st_.on_start(pos.lots, pos.average_price)
    st_.quality.on_fair(0, 80_050.0)
    f = ev.Fill("t1", Side.SELL, 80_060, 2, True, 0.0)
    pos.apply(f)
    st_.on_fill(f, 1)
    final = 80_040.0
    parts = decompose(
        st_.quality, final_fair=final, start_amount=st_.start_amount,
        start_price=st_.start_price, fees=pos.fees, funding=0.0, total=pos.total_pnl(final),
    )  # fmt: skip
    assert parts.carried == pytest.approx(0.005 * (80_040 - 80_100))
    assert parts.edge == pytest.approx(-1 * (80_050 - 80_060) * 0.002)
    assert parts.inventory == pytest.approx(-0.002 * (80_040 - 80_050))
    assert abs(parts.unexplained) <= 1e-9 * abs(parts.total)


def test_markouts_wait_in_bounded_memory_and_the_dropped_are_counted() -> None:
    q = FillQuality(horizons_s=(1,), max_pending=3)
    q.on_fair(0, 100.0)
    for i in range(5):
        q.on_fill(i, f"t{i}", 1, 99.0, 1.0)
    (h,) = q.horizons
    assert len(h.pending) == 3 and h.dropped == 2 and h.left_out == 5
    q.advance(2 * S)
    assert (h.fills, h.left_out, len(h.pending)) == (3, 2, 0)
    assert h.total == pytest.approx(3 * (100.0 - 99.0))
    for i in range(FAIR_MEMORY + 10):  # the fair-at-fill memory keeps only the newest
        q.on_fill(10 * S, f"u{i}", 1, 99.0, 1.0)
    assert len(q.fair_at) == FAIR_MEMORY and "u9" not in q.fair_at and "u10" in q.fair_at


def test_no_fair_yet_means_no_edge_and_the_move_goes_to_inventory() -> None:
    q = FillQuality()
    assert q.on_fill(0, "t", -1, 80_000.0, 0.01) == 80_000.0
    assert q.edge == 0.0 and q.no_fair == 1
    assert q.inventory(80_100.0) == pytest.approx(-0.01 * 100.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("mark"), st.integers(79_000, 81_000)),
            st.tuples(
                st.sampled_from([Side.BUY, Side.SELL]),
                st.integers(79_000, 81_000),
                st.integers(1, 20),
                st.floats(-0.01, 0.05),
            ),
        ),
        min_size=1,
        max_size=60,
    ),
    st.floats(-1.0, 1.0),
)
def test_the_sources_add_up_to_the_cores_total_pnl(steps: list[tuple], funding: float) -> None:
    stats = RunStats([SPEC], 8)
    st_ = stats.by_name[SPEC.name]
    pos = _position()
    fair = math.nan
    for i, step in enumerate(steps):
        t = i * S // 2
        if step[0] == "mark":
            fair = float(step[1])
            st_.quality.on_fair(t, fair)
            stats.advance(t)
            continue
        side, price, lots, fee = step
        f = ev.Fill(f"t{i}", side, price, lots, True, fee)
        pos.apply(f)
        new = stats.new_fill(f.trade_id)
        assert new
        st_.on_fill(f, t)
    pos.apply_funding(funding)
    final = fair if fair > 0 else 80_000.0
    total = pos.total_pnl(final)
    parts = decompose(
        st_.quality, final_fair=final, start_amount=0.0, start_price=0.0, fees=pos.fees,
        funding=pos.funding, total=total,
    )  # fmt: skip
    explained = parts.edge + parts.inventory - parts.fees + parts.funding
    scale = max(abs(total), st_.quality.volume * final * 1e-6, 1e-9)
    assert abs(explained - total) <= 1e-9 * scale
    # and every fill is either measured or left out at each horizon
    for h in st_.quality.horizons:
        assert h.fills + h.left_out == st_.fills


def test_the_text_summary_says_why() -> None:
    stats = RunStats([SPEC], 8)
    st_ = stats.by_name[SPEC.name]
    st_.quality.on_fair(0, 80_010.0)
    st_.on_fill(ev.Fill("t1", Side.BUY, 80_000, 2, True, 0.0), 0)
    inst = instrument_summary(
        st_, position_lots=2, realised=0.0, unrealised=0.02, fees=0.016, total_pnl=0.004,
        state="ACTIVE", elapsed_s=2.0, final_fair=80_010.0,
    )  # fmt: skip
    summary = {
        "mode": "test", "venue": "ws://x", "duration_s": 2.0, "stop_reason": "duration",
        "instruments": {SPEC.name: inst}, "msgs_in": 10, "msgs_in_per_s": 5.0, "msgs_out": 4,
        "msgs_out_per_s": 2.0, "tick_to_order_us_p50": None, "tick_to_order_us_p99": None,
        "throttle_errors": 0, "reconnects": 0,
    }  # fmt: skip
    text = format_summary(summary)
    # edge 10 USD/BTC on 0.002 BTC = 0.02 USD; fees 0.016 / 0.002 = 8 USD/BTC
    assert "edge      at fill vs fair +0.0200 USD (+10.00 USD/BTC), fees 8.00 USD/BTC" in text
    assert "left out (too near the end) 1 s 1, 5 s 1, 30 s 1" in text
    assert "= total +0.0040" in text
    assert "why       edge at fill +10.00 USD/BTC vs fees 8.00 USD/BTC" in text
