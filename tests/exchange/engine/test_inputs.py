"""Hostile client input never raises or corrupts the book; default instrument set."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.domain import InstrumentKind, Side
from thalex_mm.exchange.engine import (
    Collar,
    MatchingEngine,
    OrderType,
    QuoteEntry,
    QuoteSide,
    SessionRef,
    TimeInForce,
    default_instruments,
)

T0 = 1_763_000_000 * 1_000_000_000  # 2025-11-13
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0.0, -0.0, 1e-12, 0.0015, 100.5, 1e300]),
)
S = SessionRef("X", 1, persistent=False)


def check_book(engine: MatchingEngine) -> None:
    for inst in engine.instruments():
        book = engine.order_book(inst.name)
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask
        for side in (Side.BUY, Side.SELL):
            for price, lots in book.levels(side):
                assert price > 0 and lots > 0
                assert lots == sum(o.amount - o.filled for o in book.queue(side, price))


@settings(max_examples=300, deadline=None)
@given(
    amount=numbers,
    price=st.one_of(st.none(), numbers),
    name=st.sampled_from(["BTC-PERPETUAL", "ETH-PERPETUAL", "", "btc-perpetual"]),
    order_type=st.sampled_from(list(OrderType)),
    tif=st.one_of(st.none(), st.sampled_from(list(TimeInForce))),
    collar=st.one_of(st.none(), st.sampled_from(list(Collar))),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    amend_amount=numbers,
    amend_price=numbers,
)
def test_garbage_inserts_and_amends_return_errors_not_exceptions(
    amount: float, price: float | None, name: str, order_type: OrderType,
    tif: TimeInForce | None, collar: Collar | None, flags: tuple[bool, bool, bool],
    amend_amount: float, amend_price: float,
) -> None:  # fmt: skip
    engine = MatchingEngine(default_instruments(T0))
    engine.set_mark(1, "BTC-PERPETUAL", 80_000.0)
    engine.insert(1, SessionRef("M", 2), instrument_name="BTC-PERPETUAL", direction=Side.SELL,
                  amount=1.0, price=80_010)  # fmt: skip
    post, reject, reduce = flags
    out = engine.insert(
        2, S, instrument_name=name, direction=Side.BUY, amount=amount, price=price,
        order_type=order_type, time_in_force=tif, collar=collar, post_only=post,
        reject_post_only=reject, reduce_only=reduce,
    )  # fmt: skip
    assert (out.error is None) != (out.result is None)
    check_book(engine)
    if out.result is not None and out.result.remaining_amount > 0:
        amended = engine.amend(
            3, S, order_id=out.result.order_id, amount=amend_amount, price=amend_price
        )
        assert (amended.error is None) != (amended.result is None)
        if amended.result is not None:
            r = amended.result
            assert abs(r.filled_amount + r.remaining_amount - r.amount) < 1e-9 or (
                r.remaining_amount == 0
            )
    check_book(engine)


@settings(max_examples=150, deadline=None)
@given(levels=st.lists(st.tuples(numbers, numbers), max_size=12))
def test_garbage_mass_quotes_fail_per_side(levels: list[tuple[float, float]]) -> None:
    engine = MatchingEngine(default_instruments(T0))
    engine.set_mm_protection(1, S, product="FBTCUSD", trade_amount=1.0, quote_amount=5.0)
    side = QuoteSide(tuple(levels))
    out = engine.mass_quote(
        2, S, [QuoteEntry("BTC-PERPETUAL", side, side), QuoteEntry("NOPE", side)]
    )
    assert out.result is not None
    assert out.result.n_success + out.result.n_fail == 3
    check_book(engine)


def test_default_instruments_follow_contract_specs() -> None:
    perp, future, eth = default_instruments(T0)
    assert perp.name == "BTC-PERPETUAL" and perp.spec.kind is InstrumentKind.PERPETUAL
    assert (perp.spec.tick_size, perp.spec.amount_step, perp.spec.min_amount) == (1, 0.001, 0.001)
    assert eth.name == "ETH-PERPETUAL" and eth.spec.product == "FETHUSD"
    assert (eth.spec.tick_size, eth.spec.amount_step, eth.spec.min_amount) == (0.1, 0.01, 0.01)
    assert future.spec.kind is InstrumentKind.FUTURE and future.spec.product == "FBTCUSD"
    expiry = dt.datetime.fromtimestamp(future.spec.expiry_ts, tz=dt.UTC)
    assert expiry.weekday() == 4 and expiry.hour == 8 and expiry.month % 3 == 0
    assert future.name == f"BTC-{expiry.strftime('%d%b%y').upper()}"
    days = (expiry.timestamp() - T0 / 1e9) / 86400
    assert 60 <= days <= 160
