"""Run statistics: fills counted once, edge against fair, action counts, the summary text."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.app.run_stats import (
    INSTRUMENT_KEYS,
    RunStats,
    format_summary,
    instrument_summary,
)
from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side

SPEC = InstrumentSpec("BTC-PERPETUAL", InstrumentKind.PERPETUAL, "BTCUSD", 1.0, 0.001, 0.001)


def _fill(trade_id: str, side: Side, price: int, lots: int) -> ev.Fill:
    return ev.Fill(trade_id, side, price, lots, True, math.nan)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(79_000, 81_000),
            st.integers(1, 50),
            st.integers(0, 30),  # trade id: repeats are the same trade seen twice
        ),
        max_size=40,
    ),
    st.floats(79_000, 81_000),
)
def test_fills_are_counted_once_with_the_edge_against_fair(
    fills: list[tuple[Side, int, int, int]], fair: float
) -> None:
    stats = RunStats([SPEC], 8)
    st_ = stats.by_name[SPEC.name]
    st_.quality.on_fair(0, fair)
    first: dict[int, tuple[Side, int, int]] = {}
    for side, price, lots, tid in fills:
        if stats.new_fill(str(tid)):
            st_.on_fill(_fill(str(tid), side, price, lots), 0)
        first.setdefault(tid, (side, price, lots))
    assert st_.fills == len(first)
    assert st_.volume_lots == sum(lots for _, _, lots in first.values())
    edge = sum(int(s) * (fair - p) * lots * 0.001 for s, p, lots in first.values())
    assert st_.quality.edge == pytest.approx(edge, abs=1e-6)


def test_max_inventory_tracks_the_largest_absolute_position() -> None:
    stats = RunStats([SPEC], 8)
    st_ = stats.by_name[SPEC.name]
    for lots in (1, 3, -5, 2):
        st_.on_position(lots)
    assert st_.max_inventory_lots == 5


def test_actions_are_counted_per_instrument() -> None:
    stats = RunStats([SPEC], 8)
    stats.count_actions(
        [
            act.Insert(1, SPEC.name, 1, Side.BUY, 100, 1),
            act.Insert(2, SPEC.name, 2, Side.SELL, 101, 1),
            act.Amend(3, SPEC.name, 1, "o1", 99, 1),
            act.Cancel(4, SPEC.name, 2, "o2"),
            act.Insert(5, "OTHER", 3, Side.BUY, 1, 1),
            act.CancelAll(6, "kill"),
        ]
    )
    st_ = stats.by_name[SPEC.name]
    assert (st_.inserts, st_.amends, st_.cancels, st_.mass_quotes) == (2, 1, 1, 0)


def test_summary_has_every_key_and_the_text_shows_the_numbers() -> None:
    stats = RunStats([SPEC], 8)
    st_ = stats.by_name[SPEC.name]
    st_.quality.on_fair(0, 80_010.0)
    st_.on_fill(_fill("t1", Side.BUY, 80_000, 3), 0)
    st_.tick_to_order.ring.add(250_000)
    inst = instrument_summary(
        st_, position_lots=3, realised=1.5, unrealised=-0.25, fees=0.1, total_pnl=1.15,
        state="ACTIVE", elapsed_s=2.0,
    )  # fmt: skip
    assert set(inst) == set(INSTRUMENT_KEYS)
    assert inst["final_position"] == 0.003 and inst["volume"] == 0.003
    assert inst["edge_usd"] == pytest.approx(10.0 * 0.003)
    assert inst["tick_to_order_us_p50"] == 250.0
    summary = {
        "mode": "test", "venue": "ws://x", "duration_s": 2.0, "stop_reason": "duration",
        "instruments": {SPEC.name: inst}, "msgs_in": 10, "msgs_in_per_s": 5.0, "msgs_out": 4,
        "msgs_out_per_s": 2.0, "tick_to_order_us_p50": 250.0, "tick_to_order_us_p99": None,
        "throttle_errors": 0, "reconnects": 0,
    }  # fmt: skip
    text = format_summary(summary)
    assert "BTC-PERPETUAL [ACTIVE]" in text
    assert "1 fills, volume 0.003" in text
    assert "final +0.003" in text and "p50 250 us" in text and "p99 n/a" in text
