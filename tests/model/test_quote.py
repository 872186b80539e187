import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.domain import InstrumentKind, InstrumentSpec
from thalex_mm.model.formulas import as_distances, glft_coefficients, glft_half_spreads
from thalex_mm.model.quote import (
    LadderParams,
    MarketInputs,
    NoQuote,
    QuoteDecision,
    QuoteEngine,
    QuoteParams,
    compute_quotes,
)

BTC = InstrumentSpec("BTC-PERPETUAL", InstrumentKind.PERPETUAL, "BTCUSD", 1.0, 0.001, 0.001)
GLFT = QuoteParams(model="glft", gamma_usd=10, lot_size=0.001, ladder=LadderParams(levels=6))
AS = QuoteParams(model="avellaneda_stoikov", gamma_usd=1, lot_size=0.001, horizon_s=60.0)


def _inputs(mid: float = 60_000.0, position: float = 0.0, **kw: float) -> MarketInputs:
    base = {"sigma": 6.0, "A": 2.0, "k": 0.15}
    base.update(kw)
    return MarketInputs(mid=mid, position=position, **base)


def _decision(result: QuoteDecision | NoQuote) -> QuoteDecision:
    assert isinstance(result, QuoteDecision), result
    return result


def test_glft_flat_inventory_is_symmetric_and_matches_formula() -> None:
    d = _decision(compute_quotes(_inputs(), GLFT, BTC))
    bid_d, ask_d = glft_half_spreads(0.0, glft_coefficients(0.01, 6.0, 0.15, 2.0))
    assert d.bid_distance == pytest.approx(bid_d)
    assert d.ask_distance == pytest.approx(ask_d)
    assert d.reservation_price == pytest.approx(60_000.0)
    assert d.bids[0].price_ticks == math.floor(60_000.0 - bid_d)
    assert d.asks[0].price_ticks == math.ceil(60_000.0 + ask_d)
    assert len(d.bids) == len(d.asks) == 6


def test_glft_long_inventory_skews_down_in_lots_of_lot_size() -> None:
    flat = _decision(compute_quotes(_inputs(), GLFT, BTC))
    long = _decision(compute_quotes(_inputs(position=0.005), GLFT, BTC))  # 5 lots of 0.001
    omega = glft_coefficients(0.01, 6.0, 0.15, 2.0).omega
    assert long.reservation_price == pytest.approx(60_000.0 - 5 * omega)
    assert long.bid_distance - flat.bid_distance == pytest.approx(5 * omega)
    assert flat.ask_distance - long.ask_distance == pytest.approx(5 * omega)
    assert long.bids[0].price_ticks < flat.bids[0].price_ticks


def test_as_model_matches_formula_with_rolling_horizon() -> None:
    d = _decision(compute_quotes(_inputs(position=-0.003), AS, BTC))
    bid_d, ask_d = as_distances(-3.0, gamma=0.001, sigma=6.0, tau=60.0, k=0.15)
    assert d.bid_distance == pytest.approx(bid_d)
    assert d.ask_distance == pytest.approx(ask_d)
    assert d.reservation_price == pytest.approx(60_000.0 + 3 * 0.001 * 36.0 * 60.0)


def test_engine_cache_follows_changing_k_and_A() -> None:
    engine = QuoteEngine(GLFT, BTC)
    for k, A in [(0.15, 2.0), (0.3, 2.0), (0.3, 5.0), (0.15, 2.0)]:
        cached = _decision(engine.quote(_inputs(k=k, A=A)))
        fresh = _decision(QuoteEngine(GLFT, BTC).quote(_inputs(k=k, A=A)))
        assert cached == fresh
    as_engine = QuoteEngine(AS, BTC)
    first = _decision(as_engine.quote(_inputs(k=0.15)))
    second = _decision(as_engine.quote(_inputs(k=0.5)))
    assert second.ask_distance < first.ask_distance  # larger k, tighter spread


def test_compute_quotes_switches_params() -> None:
    a = _decision(compute_quotes(_inputs(position=0.01), GLFT, BTC))
    b = _decision(compute_quotes(_inputs(position=0.01), AS, BTC))
    assert a.bid_distance != pytest.approx(b.bid_distance)
    assert _decision(compute_quotes(_inputs(position=0.01), GLFT, BTC)) == a


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mid", float("nan")),
        ("mid", 0.0),
        ("mid", -5.0),
        ("mid", math.inf),
        ("sigma", -1.0),
        ("sigma", float("nan")),
        ("k", 0.0),
        ("k", -0.1),
        ("A", 0.0),
        ("A", float("nan")),
        ("position", float("nan")),
    ],
)
@pytest.mark.parametrize("params", [GLFT, AS], ids=["glft", "as"])
def test_bad_inputs_give_no_quote_naming_the_field(
    field: str, value: float, params: QuoteParams
) -> None:
    fields = {"mid": 60_000.0, "sigma": 6.0, "A": 2.0, "k": 0.15, "position": 0.0}
    fields[field] = value
    result = compute_quotes(MarketInputs(**fields), params, BTC)
    assert isinstance(result, NoQuote)
    assert result.reason.startswith(field)


def test_everything_dropped_is_no_quote() -> None:
    params = QuoteParams(ladder=LadderParams(levels=2, max_distance_ticks=1))
    result = compute_quotes(_inputs(sigma=0.0, k=0.01), params, BTC)  # c1 ≈ 98 > 1 tick
    assert isinstance(result, NoQuote)
    assert "dropped" in result.reason


def test_overflowing_model_is_no_quote() -> None:
    result = compute_quotes(_inputs(sigma=1e307, position=10.0), GLFT, BTC)
    assert isinstance(result, NoQuote)
    assert "not finite" in result.reason


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("model", {"model": "nope"}),
        ("gamma_usd", {"gamma_usd": 0.0}),
        ("gamma_usd", {"gamma_usd": -1.0}),
        ("gamma_usd", {"gamma_usd": float("nan")}),
        ("lot_size", {"lot_size": 0.0}),
        ("horizon_s", {"horizon_s": -1.0}),
        ("ladder", {"ladder": "x"}),
    ],
)
def test_bad_params_raise_naming_the_field(field: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=field):
        QuoteParams(**kwargs)  # type: ignore[arg-type]


@given(
    model=st.sampled_from(["glft", "avellaneda_stoikov"]),
    gamma=st.floats(1e-6, 10.0),
    fee=st.floats(-5.0, 50.0),
    shift=st.floats(-50.0, 50.0),
    widen=st.floats(0.0, 20.0),
    ask_k=st.one_of(st.none(), st.floats(1e-4, 1e3)),
    mid=st.floats(0.01, 1e6),
    sigma=st.floats(0.0, 1e3),
    A=st.floats(1e-3, 1e3),
    k=st.floats(1e-4, 1e3),
    position=st.floats(-10.0, 10.0),
    eta=st.floats(0.0, 1.0),
    min_spread=st.integers(1, 10),
)
@settings(max_examples=300)
def test_quotes_never_cross_or_go_negative(
    model: str,
    gamma: float,
    fee: float,
    shift: float,
    widen: float,
    ask_k: float | None,
    mid: float,
    sigma: float,
    A: float,
    k: float,
    position: float,
    eta: float,
    min_spread: int,
) -> None:
    params = QuoteParams(
        model=model,  # type: ignore[arg-type]
        gamma_usd=gamma / 0.001,
        lot_size=0.001,
        ladder=LadderParams(levels=6, base_size_lots=10, eta=eta, min_spread_ticks=min_spread),
    )
    spec = InstrumentSpec("X", InstrumentKind.PERPETUAL, "X", 0.5, 0.001, 0.001)
    inputs = MarketInputs(mid, sigma, A, k, position, fee, A, ask_k, shift, widen)
    result = QuoteEngine(params, spec).quote(inputs)
    if isinstance(result, NoQuote):
        assert result.reason
        return
    prices = [lvl.price_ticks for lvl in result.bids + result.asks]
    assert all(p > 0 for p in prices)
    assert all(lvl.amount_lots >= 1 for lvl in result.bids + result.asks)
    if result.bids and result.asks:
        assert result.asks[0].price_ticks - result.bids[0].price_ticks >= min_spread
    assert all(
        a.price_ticks > b.price_ticks for a, b in zip(result.bids, result.bids[1:], strict=False)
    )
    assert all(
        b.price_ticks > a.price_ticks for a, b in zip(result.asks, result.asks[1:], strict=False)
    )
    # The model's skew has the right sign: long inventory never raises the reservation price.
    if position > 0:
        assert result.reservation_price <= mid + shift
    elif position < 0:
        assert result.reservation_price >= mid + shift


@pytest.mark.parametrize("params", [GLFT, AS], ids=["glft", "as"])
@pytest.mark.parametrize("position", [0.0, 0.004, -0.007])
@pytest.mark.parametrize("fee", [8.0, -1.6, 0.0])
def test_a_fee_moves_every_distance_out_by_exactly_the_fee(
    params: QuoteParams, position: float, fee: float
) -> None:
    free = _decision(QuoteEngine(params, BTC).quote(_inputs(position=position)))
    paid = _decision(QuoteEngine(params, BTC).quote(_inputs(position=position, fee=fee)))
    assert paid.bid_distance - free.bid_distance == pytest.approx(fee, abs=1e-9)
    assert paid.ask_distance - free.ask_distance == pytest.approx(fee, abs=1e-9)
    assert paid.reservation_price == pytest.approx(free.reservation_price)  # centre unchanged


def test_the_fee_term_is_the_risk_neutral_optimum_shifted() -> None:
    # γ → 0: GLFT's c1 → 1/k, so the best distance is f + 1/k, the maximiser of
    # A·e^(−kδ)·(δ − f) (its derivative A·e^(−kδ)·(1 − k(δ − f)) vanishes there)
    k, fee = 0.05, 8.0
    params = QuoteParams(gamma_usd=1e-9, lot_size=0.001, ladder=LadderParams(levels=1))
    d = _decision(QuoteEngine(params, BTC).quote(_inputs(sigma=7.0, k=k, A=2.0, fee=fee)))
    assert d.bid_distance == pytest.approx(fee + 1 / k, rel=1e-6)
    assert d.ask_distance == pytest.approx(fee + 1 / k, rel=1e-6)


@pytest.mark.parametrize("model", ["glft", "avellaneda_stoikov"])
def test_gamma_per_usd_prices_the_same_risk_the_same_whatever_the_lot_size(model: str) -> None:
    # The same gamma_usd with ten times the lot: one lot of 0.01 is ten lots of 0.001. The
    # inventory term of a position is then the same: exactly in A–S; in GLFT once A counts
    # fills of the same contract volume per second (A·Δ fixed), up to its factor
    # (1 + γΔ/k)^(1 + k/γΔ), which goes from e·(1 + x/2) to e as x = γΔ/k → 0 (here x = 0.013
    # and 0.13: 6 % apart). Under the old per-lot gamma the same change moved it 10×.
    small = QuoteParams(model=model, gamma_usd=2.0, lot_size=0.001)  # type: ignore[arg-type]
    large = QuoteParams(model=model, gamma_usd=2.0, lot_size=0.01)  # type: ignore[arg-type]
    for position in (0.0, 0.02, -0.05):
        a = _decision(QuoteEngine(small, BTC).quote(_inputs(position=position, A=20.0)))
        b = _decision(QuoteEngine(large, BTC).quote(_inputs(position=position, A=2.0)))
        flat_a = _decision(QuoteEngine(small, BTC).quote(_inputs(A=20.0)))
        flat_b = _decision(QuoteEngine(large, BTC).quote(_inputs(A=2.0)))
        skew_a = flat_a.reservation_price - a.reservation_price
        skew_b = flat_b.reservation_price - b.reservation_price
        tolerance = 1e-9 if model == "avellaneda_stoikov" else 0.06
        assert skew_a == pytest.approx(skew_b, rel=tolerance, abs=1e-9)
    assert small.gamma_per_lot(BTC) == pytest.approx(0.002)
    assert large.gamma_per_lot(BTC) == pytest.approx(0.02)


def test_per_side_intensity_prices_each_side_with_its_own_takers() -> None:
    both = _decision(QuoteEngine(GLFT, BTC).quote(_inputs(k=0.15, A=2.0)))
    thin_asks = _decision(
        QuoteEngine(GLFT, BTC).quote(
            MarketInputs(60_000.0, 6.0, 2.0, 0.15, 0.0, ask_A=2.0, ask_k=0.05)
        )
    )
    assert thin_asks.bid_distance == pytest.approx(both.bid_distance)
    assert thin_asks.ask_distance > both.ask_distance  # takers reach further: quote further


def test_the_default_lot_is_one_ladder_level() -> None:
    params = QuoteParams(gamma_usd=3.0, ladder=LadderParams(base_size_lots=5))
    assert params.model_lot(BTC) == pytest.approx(0.005)
    assert params.gamma_per_lot(BTC) == pytest.approx(0.015)
