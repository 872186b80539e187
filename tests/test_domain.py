import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side

BTC_PERP = InstrumentSpec(
    name="BTC-PERPETUAL",
    kind=InstrumentKind.PERPETUAL,
    underlying="BTCUSD",
    tick_size=1.0,
    amount_step=0.001,
    min_amount=0.001,
    product="FBTCUSD",
)
ETH_PERP = InstrumentSpec(
    name="ETH-PERPETUAL",
    kind=InstrumentKind.PERPETUAL,
    underlying="ETHUSD",
    tick_size=0.1,
    amount_step=0.01,
    min_amount=0.01,
    product="FETHUSD",
)


def test_side_sign_and_wire() -> None:
    assert Side.BUY * 3 == 3 and Side.SELL * 3 == -3
    assert Side.BUY.opposite is Side.SELL
    assert Side.from_wire("sell") is Side.SELL
    assert Side.BUY.wire == "buy"
    with pytest.raises(ValueError, match="unknown side"):
        Side.from_wire("long")


def test_spec_rejects_non_positive_tick() -> None:
    with pytest.raises(ValueError, match="tick_size"):
        InstrumentSpec("X", InstrumentKind.PERPETUAL, "XUSD", 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="amount_step"):
        InstrumentSpec("X", InstrumentKind.PERPETUAL, "XUSD", 1.0, math.nan, 1.0)


def test_exact_alignment_on_decimal_ticks() -> None:
    # 0.1-tick prices that are not exactly representable in binary must still be aligned.
    assert ETH_PERP.price_to_ticks_exact(3000.3) == 30003
    assert ETH_PERP.price_to_ticks_exact(3000.35) is None
    assert BTC_PERP.price_to_ticks_exact(10000.92) is None
    assert BTC_PERP.amount_to_lots_exact(0.123) == 123
    assert BTC_PERP.amount_to_lots_exact(0.1234) is None


@given(st.floats(min_value=0.01, max_value=1e6, allow_nan=False))
def test_floor_and_ceil_bracket_the_price(price: float) -> None:
    lo = ETH_PERP.price_to_ticks_floor(price)
    hi = ETH_PERP.price_to_ticks_ceil(price)
    assert ETH_PERP.ticks_to_price(lo) <= price + 1e-9
    assert ETH_PERP.ticks_to_price(hi) >= price - 1e-9
    assert 0 <= hi - lo <= 1


@given(st.integers(min_value=1, max_value=10**8))
def test_ticks_round_trip(ticks: int) -> None:
    price = ETH_PERP.ticks_to_price(ticks)
    assert ETH_PERP.price_to_ticks_exact(price) == ticks
    assert ETH_PERP.price_to_ticks_floor(price) == ticks
    assert ETH_PERP.price_to_ticks_ceil(price) == ticks


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1.7976931348623157e308])
def test_non_finite_or_overflowing_values_are_never_aligned(value: float) -> None:
    assert ETH_PERP.price_to_ticks_exact(value) is None
    assert ETH_PERP.amount_to_lots_exact(value) is None
    with pytest.raises(ValueError, match="finite"):
        ETH_PERP.price_to_ticks_floor(value)
    with pytest.raises(ValueError, match="finite"):
        ETH_PERP.price_to_ticks_ceil(value)
