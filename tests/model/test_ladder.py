import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.domain import InstrumentKind, InstrumentSpec
from thalex_mm.model.ladder import (
    LadderParams,
    Level,
    PreparedLadder,
    build_ladder,
    fibonacci_gaps,
)

BTC = InstrumentSpec("BTC-PERPETUAL", InstrumentKind.PERPETUAL, "BTCUSD", 1.0, 0.001, 0.001)
ETH = InstrumentSpec("ETH-PERPETUAL", InstrumentKind.PERPETUAL, "ETHUSD", 0.1, 0.01, 0.05)


def test_fibonacci_gaps_and_default_offsets() -> None:
    gaps = fibonacci_gaps(7)
    assert gaps[:2] == (1, 2)
    assert all(gaps[i] == gaps[i - 1] + gaps[i - 2] for i in range(2, 7))
    offsets = LadderParams(levels=6, placement="ticks", base_step_ticks=3).offsets_ticks()
    # level i sits 3·(1 + 2 + … ) ticks behind the best
    assert offsets == tuple(3 * sum(gaps[:i]) for i in range(6))


def test_custom_spacing_and_multipliers() -> None:
    params = LadderParams(
        levels=3, placement="ticks", base_step_ticks=2, spacing=(5, 1), base_size_lots=4,
        size_multipliers=(1, 2, 3),
    )  # fmt: skip
    bids, asks = build_ladder(99.5, 100.5, 100.0, 0.0, params=params, spec=BTC)
    assert bids == (Level(99, 4), Level(89, 8), Level(87, 12))
    assert asks == (Level(101, 4), Level(111, 8), Level(113, 12))


def test_rounding_bids_down_asks_up() -> None:
    bids, asks = build_ladder(
        1999.97, 2000.01, 2000.0, 0.0, params=LadderParams(levels=1, base_size_lots=5), spec=ETH
    )
    assert ETH.ticks_to_price(bids[0].price_ticks) == pytest.approx(1999.9)
    assert ETH.ticks_to_price(asks[0].price_ticks) == pytest.approx(2000.1)


def test_min_spread_widens_symmetrically() -> None:
    params = LadderParams(levels=1, min_spread_ticks=10)
    bids, asks = build_ladder(100.2, 100.4, 100.3, 0.0, params=params, spec=BTC)
    assert asks[0].price_ticks - bids[0].price_ticks >= 10
    # centre stays where the model put it (within a tick)
    assert abs((asks[0].price_ticks + bids[0].price_ticks) / 2 - 100.5) <= 1.0


def test_inventory_shrinks_only_the_growing_side() -> None:
    params = LadderParams(levels=2, base_size_lots=100, eta=0.1)
    bids, asks = build_ladder(99.0, 101.0, 100.0, 5.0, params=params, spec=BTC)
    expected = round(100 * math.exp(-0.5))
    assert [lvl.amount_lots for lvl in bids] == [expected, expected]
    assert [lvl.amount_lots for lvl in asks] == [100, 100]
    bids, asks = build_ladder(99.0, 101.0, 100.0, -5.0, params=params, spec=BTC)
    assert [lvl.amount_lots for lvl in bids] == [100, 100]
    assert [lvl.amount_lots for lvl in asks] == [expected, expected]


def test_levels_shrunk_below_minimum_are_dropped() -> None:
    params = LadderParams(levels=2, base_size_lots=5, eta=1.0)  # ETH min is 5 lots
    bids, asks = build_ladder(99.0, 101.0, 100.0, 3.0, params=params, spec=ETH)
    assert bids == ()
    assert len(asks) == 2


def test_max_distance_drops_far_levels() -> None:
    params = LadderParams(levels=6, placement="ticks", max_distance_ticks=5)
    bids, asks = build_ladder(99.0, 101.0, 100.0, 0.0, params=params, spec=BTC)
    # offsets 0,1,3,6,...: the level at 100 − (1 + 6) = 93 is 7 ticks away, dropped
    assert [lvl.price_ticks for lvl in bids] == [99, 98, 96]
    assert [lvl.price_ticks for lvl in asks] == [101, 102, 104]


def test_non_positive_prices_are_dropped() -> None:
    bids, asks = build_ladder(2.0, 4.0, 3.0, 0.0, params=LadderParams(levels=6), spec=BTC)
    assert [lvl.price_ticks for lvl in bids] == [2, 1]
    assert len(asks) == 6


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("levels", {"levels": 0}),
        ("base_step_ticks", {"placement": "ticks", "base_step_ticks": 0}),
        ("base_step_ticks", {"base_step_ticks": 2}),  # not with the model's placement
        ("spacing", {"placement": "ticks", "levels": 4, "spacing": (1, 2)}),
        ("spacing", {"placement": "ticks", "levels": 2, "spacing": (0,)}),
        ("spacing", {"levels": 3, "spacing": (1, 2)}),  # not with the model's placement
        ("placement", {"placement": "fibonacci"}),
        ("base_size_lots", {"base_size_lots": 0}),
        ("size_multipliers", {"levels": 2, "size_multipliers": (1.0,)}),
        ("size_multipliers", {"levels": 1, "size_multipliers": (float("nan"),)}),
        ("eta", {"eta": -1.0}),
        ("min_spread_ticks", {"min_spread_ticks": 0}),
        ("max_distance_ticks", {"max_distance_ticks": 0}),
    ],
)
def test_bad_ladder_params_name_the_field(field: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=field):
        LadderParams(**kwargs)  # type: ignore[arg-type]


def test_build_ladder_rejects_non_finite() -> None:
    with pytest.raises(ValueError, match="bid_price"):
        build_ladder(float("nan"), 1.0, 1.0, 0.0, params=LadderParams(), spec=BTC)


@given(
    bid=st.floats(-1e4, 1e5),
    width=st.floats(-500, 500),
    q=st.floats(-1e3, 1e3),
    levels=st.integers(1, 10),
    step=st.integers(1, 5),
    min_spread=st.integers(1, 20),
    max_dist=st.one_of(st.none(), st.integers(1, 200)),
    eta=st.floats(0, 2),
    base=st.integers(1, 50),
    placement=st.sampled_from(["model", "model_fibonacci", "ticks"]),
    model_step=st.floats(0, 50),
)
@settings(max_examples=400)
def test_ladder_never_crosses_and_stays_positive(
    bid: float,
    width: float,
    q: float,
    levels: int,
    step: int,
    min_spread: int,
    max_dist: int | None,
    eta: float,
    base: int,
    placement: str,
    model_step: float,
) -> None:
    params = LadderParams(
        levels=levels,
        placement=placement,  # type: ignore[arg-type]
        base_step_ticks=step if placement == "ticks" else None,
        base_size_lots=base,
        eta=eta,
        min_spread_ticks=min_spread,
        max_distance_ticks=max_dist,
    )
    ask = bid + width  # the model may even hand us a crossed pair
    mid = max((bid + ask) / 2, 0.5)
    bids, asks = build_ladder(
        bid, ask, mid, q, params=params, spec=ETH, bid_step=model_step, ask_step=model_step
    )
    assert len(bids) <= levels and len(asks) <= levels
    for side in (bids, asks):
        for lvl in side:
            assert lvl.price_ticks > 0
            assert lvl.amount_lots >= ETH.min_lots
            if max_dist is not None:
                assert abs(lvl.price_ticks - mid / ETH.tick_size) <= max_dist + 1e-9
    assert all(a.price_ticks > b.price_ticks for a, b in itertools.pairwise(bids))
    assert all(b.price_ticks > a.price_ticks for a, b in itertools.pairwise(asks))
    if bids and asks:
        assert asks[0].price_ticks - bids[0].price_ticks >= min_spread
    # rounding direction: the best bid is never above the model bid unless the minimum
    # spread had to widen a crossed/narrow pair
    if bids and asks and ETH.price_to_ticks_ceil(ask) - ETH.price_to_ticks_floor(bid) >= min_spread:
        assert bids[0].price_ticks == ETH.price_to_ticks_floor(bid)
        assert asks[0].price_ticks == ETH.price_to_ticks_ceil(ask)


def _reference_ladder(
    best_bid: int, best_ask: int, mid_ticks: float, q: float, params: LadderParams, min_lots: int
) -> tuple[list[Level], list[Level]]:
    """The ladder by its definition: keep a level iff price > 0, within max distance, size ok."""
    m = params.min_spread_ticks
    if best_ask - best_bid < m:
        total = best_bid + best_ask
        best_bid = math.floor((total - m) / 2)
        best_ask = math.ceil((total + m) / 2)
    mults = params.size_multipliers or (1.0,) * params.levels
    f_bid = math.exp(-params.eta * q) if q > 0 else 1.0
    f_ask = math.exp(params.eta * q) if q < 0 else 1.0
    max_d = math.inf if params.max_distance_ticks is None else params.max_distance_ticks
    bids: list[Level] = []
    asks: list[Level] = []
    for i, off in enumerate(params.offsets_ticks()):
        base = params.base_size_lots * mults[i]
        for side, price, f in ((bids, best_bid - off, f_bid), (asks, best_ask + off, f_ask)):
            size = int(base * f + 0.5)
            if price > 0 and abs(price - mid_ticks) <= max_d and size >= min_lots:
                side.append(Level(price, size))
    return bids, asks


@given(
    best_bid=st.integers(-50, 400),
    width=st.integers(-20, 60),
    mid_shift=st.floats(-30, 30),
    q=st.floats(-20, 20),
    levels=st.integers(1, 8),
    mults=st.lists(st.floats(0.1, 3.0), min_size=8, max_size=8),
    eta=st.floats(0, 0.5),
    base=st.integers(1, 20),
    min_spread=st.integers(1, 5),
    max_dist=st.one_of(st.none(), st.integers(1, 80)),
)
@settings(max_examples=300)
def test_prepared_ladder_matches_its_definition(
    best_bid: int,
    width: int,
    mid_shift: float,
    q: float,
    levels: int,
    mults: list[float],
    eta: float,
    base: int,
    min_spread: int,
    max_dist: int | None,
) -> None:
    params = LadderParams(
        levels=levels,
        placement="ticks",
        base_size_lots=base,
        size_multipliers=tuple(mults[:levels]),
        eta=eta,
        min_spread_ticks=min_spread,
        max_distance_ticks=max_dist,
    )
    best_ask = best_bid + width
    mid_ticks = (best_bid + best_ask) / 2 + mid_shift
    mid = mid_ticks * ETH.tick_size
    # distances that round (bid down, ask up) exactly to best_bid / best_ask
    bid_d = mid - (best_bid + 0.5) * ETH.tick_size
    ask_d = (best_ask - 0.5) * ETH.tick_size - mid
    got = PreparedLadder(params, ETH).build(mid, bid_d, ask_d, q)
    want = _reference_ladder(best_bid, best_ask, mid / ETH.tick_size, q, params, ETH.min_lots)
    assert (list(got[0]), list(got[1])) == want


def test_model_placement_puts_level_i_where_the_model_quotes_after_i_fills() -> None:
    # per-lot step 3.3 USD, levels of 2 lots with a model lot of 1 lot: level i sits
    # δ(q + 2i) = δ(q) + 2i·3.3 from the mid, rounded away from it
    params = LadderParams(levels=4, base_size_lots=2)
    bids, asks = build_ladder(
        80_000 - 20.2, 80_000 + 18.7, 80_000.0, 0.0, params=params, spec=BTC,
        bid_step=3.3, ask_step=2.9, lots_per_model_lot=1.0,
    )  # fmt: skip
    assert [lv.price_ticks for lv in bids] == [
        math.floor(80_000 - 20.2 - 2 * i * 3.3) for i in range(4)
    ]
    assert [lv.price_ticks for lv in asks] == [
        math.ceil(80_000 + 18.7 + 2 * i * 2.9) for i in range(4)
    ]


def test_model_fibonacci_gaps_are_multiples_of_the_per_lot_step() -> None:
    params = LadderParams(levels=4, placement="model_fibonacci")
    bids, _ = build_ladder(
        90.0, 110.0, 100.0, 0.0, params=params, spec=BTC, bid_step=2.0, ask_step=2.0
    )
    # gaps 1, 2, 3 per-lot steps of 2.0: 90, 88, 84, 78
    assert [lv.price_ticks for lv in bids] == [90, 88, 84, 78]


def test_model_levels_closer_than_a_tick_still_get_their_own_tick() -> None:
    params = LadderParams(levels=3)
    bids, asks = build_ladder(
        95.5, 104.5, 100.0, 0.0, params=params, spec=BTC, bid_step=0.2, ask_step=0.2
    )  # 95.3 would floor to 95 again, 104.7 ceil to 105
    assert [lv.price_ticks for lv in bids] == [95, 94, 93]
    assert [lv.price_ticks for lv in asks] == [105, 106, 107]
