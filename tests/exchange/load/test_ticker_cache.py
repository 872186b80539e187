"""The engine's cached ticker always equals a ticker computed from scratch.

Hypothesis drives random sequences of every kind of change (resting and crossing orders,
amends, cancels, mass quotes, marks, index prices, funding) over two instruments that share
an underlying, and after each step compares `ticker` (cached) with `compute_ticker`.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.domain import Side
from thalex_mm.exchange.engine import (
    MatchingEngine,
    QuoteEntry,
    QuoteSide,
    SessionRef,
    default_instruments,
)

T0 = 1_800_000_000_000_000_000
PERP = "BTC-PERPETUAL"
ALICE = SessionRef("ALICE", 1, persistent=True)
BOB = SessionRef("BOB", 2, persistent=False)


def new_engine() -> tuple[MatchingEngine, list[str]]:
    engine = MatchingEngine(default_instruments(T0))
    names = [i.name for i in engine.instruments() if i.spec.underlying == "BTCUSD"]
    return engine, names


prices = st.integers(79_950, 80_050).map(float)
amounts = st.integers(1, 20).map(lambda n: n / 1000)
sessions = st.sampled_from([ALICE, BOB])
sides = st.sampled_from([Side.BUY, Side.SELL])
which = st.integers(0, 1)
insert = st.tuples(st.just("insert"), sessions, which, sides, prices, amounts)
step = st.one_of(
    insert,
    insert,
    insert,  # weighted: the book and trades need orders
    st.tuples(st.just("amend"), st.integers(0, 50), prices, amounts),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("mass_quote"), which, prices, amounts, st.booleans()),
    st.tuples(st.just("mark"), which, st.floats(79_000, 81_000)),
    st.tuples(st.just("index"), st.floats(79_000, 81_000)),
    st.tuples(st.just("funding"), st.floats(-0.001, 0.001)),
    st.tuples(st.just("nothing")),
)


def apply(engine: MatchingEngine, names: list[str], now: int, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "insert":
        _, who, i, side, price, amount = op
        engine.insert(
            now, who, instrument_name=names[i], direction=side, amount=amount, price=price
        )
    elif kind in ("amend", "cancel"):
        live = [o for account in ("ALICE", "BOB") for o in engine.open_orders(account)]
        if not live:
            return
        order = live[op[1] % len(live)]
        who = ALICE if order.order_id in {o.order_id for o in engine.open_orders("ALICE")} else BOB
        if kind == "amend":
            engine.amend(now, who, order_id=order.order_id, price=op[2], amount=op[3])
        else:
            engine.cancel(now, who, order_id=order.order_id)
    elif kind == "mass_quote":
        _, i, price, amount, both = op
        bid = QuoteSide(((price - 1.0, amount),))
        ask = QuoteSide(((price + 1.0, amount),)) if both else QuoteSide(())
        engine.mass_quote(now, BOB, [QuoteEntry(names[i], bid, ask)])
    elif kind == "mark":
        engine.set_mark(now, names[op[1]], op[2], funding_rate=0.0001)
    elif kind == "index":
        engine.set_index(now, "BTCUSD", op[1])
    elif kind == "funding":
        engine.apply_funding(now, PERP, op[1])


@settings(max_examples=60, deadline=None)
@given(st.lists(step, min_size=10, max_size=40))
def test_cached_ticker_equals_fresh_ticker_after_every_change(ops: list[tuple[Any, ...]]) -> None:
    engine, names = new_engine()
    engine.set_index(T0, "BTCUSD", 80_000.0)
    for name in names:
        engine.set_mark(T0, name, 80_000.0, funding_rate=0.0)
    for n, op in enumerate(ops, start=1):
        now = T0 + n * 1_000_000
        for name in names:  # read first, so a stale cache would be served after the change
            engine.ticker(name, now)
        apply(engine, names, now, op)
        for name in names:
            assert engine.ticker(name, now + 1) == engine.compute_ticker(name, now + 1), op


def test_unchanged_instrument_serves_the_same_ticker_object() -> None:
    engine, _ = new_engine()
    engine.set_index(T0, "BTCUSD", 80_000.0)
    engine.set_mark(T0, PERP, 80_010.0, funding_rate=0.0001)
    first = engine.ticker(PERP, T0)
    assert engine.ticker(PERP, T0 + 5) is first  # cached, not recomputed
    engine.insert(
        T0 + 6, ALICE, instrument_name=PERP, direction=Side.BUY, amount=0.01, price=79_990.0
    )
    second = engine.ticker(PERP, T0 + 7)
    assert first is not None and second is not None
    assert second is not first
    assert second.best_bid_price == 79_990.0 and first.best_bid_price is None


def test_instrument_without_mark_is_not_cached_across_times() -> None:
    engine, _ = new_engine()
    assert engine.ticker(PERP, T0) == engine.compute_ticker(PERP, T0)
    later = engine.ticker(PERP, T0 + 9)
    assert later is not None and later.mark_time_ns == T0 + 9  # falls back to "now"
    assert engine.ticker("NOPE", T0) is None
