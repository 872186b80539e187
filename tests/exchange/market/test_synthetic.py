"""The synthetic market: determinism, the A·e^(−kδ) fill law, and adverse selection."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from thalex_mm.app.settings import MAX_INFORMED_HORIZON_S as RUN_MAX_HORIZON
from thalex_mm.app.settings import config_from_data
from thalex_mm.app.strict_convert import ConfigError
from thalex_mm.domain import Side
from thalex_mm.exchange.engine import (
    AccountTradeEvent,
    Collar,
    ExchangeInstrument,
    MatchingEngine,
    OrderUpdate,
    SessionRef,
    TradeEvent,
    default_instruments,
)
from thalex_mm.exchange.market import INFORMED_SESSION, MarketConfig, SyntheticMarket
from thalex_mm.exchange.market.config import MAX_INFORMED_HORIZON_S

T0 = 1_763_000_000 * 1_000_000_000
PERP = "BTC-PERPETUAL"
ME = SessionRef("ME", 42, persistent=True)


def btc_perp_only() -> list[ExchangeInstrument]:
    return [i for i in default_instruments(T0) if i.name == PERP]


def trade_tape(seed: int, steps: int = 400) -> list[tuple[str, str, float, float, int]]:
    engine = MatchingEngine(default_instruments(T0))
    market = SyntheticMarket(engine, MarketConfig(seed=seed, informed_rate_per_s=0.5))
    market.start(T0)
    tape = []
    for i in range(1, steps + 1):
        for e in market.step(T0 + i * 250_000_000):
            if isinstance(e, TradeEvent):
                t = e.trade
                side = int(t.taker_direction)
                tape.append((t.instrument_name, t.trade_id, t.price, t.amount, side))
    return tape


def test_same_seed_same_trades_and_other_seed_differs() -> None:
    first = trade_tape(11)
    assert len(first) > 50
    assert trade_tape(11) == first
    assert trade_tape(12) != first


def test_market_publishes_index_marks_and_a_two_sided_book() -> None:
    engine = MatchingEngine(default_instruments(T0))
    market = SyntheticMarket(engine, MarketConfig(seed=3))
    market.start(T0)
    market.step(T0 + 5 * 1_000_000_000)  # takers may have eaten levels during the step
    market.maker.requote(T0 + 5 * 1_000_000_000 + 1, market.fair_prices(T0 + 5 * 1_000_000_000))
    for inst in engine.instruments():
        book = engine.book(inst.name)
        mark = engine.mark_price(inst.name)
        assert mark is not None and len(book.bids) == 5 and len(book.asks) == 5
        assert book.bids[0][0] < mark < book.asks[0][0]
    assert engine.index_price("BTCUSD") == pytest.approx(market.index("BTCUSD"))
    future = next(i for i in engine.instruments() if i.name.startswith("BTC-") and i.name != PERP)
    years = (future.spec.expiry_ts - (T0 / 1e9 + 5)) / (365.25 * 86400)
    expected = market.index("BTCUSD") * (1 + market.config.future_basis_per_year * years)
    assert engine.mark_price(future.name) == pytest.approx(expected)


def test_funding_is_paid_at_interval_boundaries() -> None:
    engine = MatchingEngine(btc_perp_only())
    cfg = MarketConfig(seed=5, funding_interval_s=10.0, taker_rate_per_s=0.0)
    market = SyntheticMarket(engine, cfg)
    market.start(T0)
    engine.insert(
        T0 + 1, ME, instrument_name=PERP, direction=Side.BUY, amount=1.0, price=100_000,
        collar=Collar.CLAMP,
    )  # fmt: skip
    assert engine.position_lots("ME", PERP) == 1000
    market.step(T0 + 9 * 1_000_000_000)
    assert engine.account_summary("ME").realised_perpetual_funding == 0.0
    market.step(T0 + 11 * 1_000_000_000)
    paid = engine.account_summary("ME").realised_perpetual_funding
    rate = market.funding_rate(PERP)
    assert paid == pytest.approx(-1.0 * engine.mark_price(PERP) * rate)


@pytest.mark.parametrize("delta_bps", [1.0, 4.0])
def test_fill_rate_at_distance_follows_exponential_law(delta_bps: float) -> None:
    """A bid δ bps under fair is hit at rate A·e^(−kδ): count fills per step and compare.

    Fair is constant (no volatility), no background book, the bid is re-placed each step, so
    each step fills it with probability 1 − exp(−A·e^(−kδ')·dt) where δ' is its real distance.
    The tolerance is 4 binomial standard deviations.
    """
    A, k, dt_ns, steps = 4.0, 0.35, 100_000_000, 12_000
    cfg = MarketConfig(
        seed=17, volatility=0.0, jumps_per_day=0.0, perp_premium_vol=0.0,
        regime_switch_per_hour=0.0, maker_levels=0, taker_rate_per_s=A, taker_decay_per_bp=k,
    )  # fmt: skip
    engine = MatchingEngine(btc_perp_only())
    market = SyntheticMarket(engine, cfg)
    market.start(T0)
    spec = engine.instrument(PERP).spec
    fair = market.fair_prices(T0)[PERP]
    ticks = spec.price_to_ticks_floor(fair * (1 - delta_bps * 1e-4))
    real_delta = (fair - spec.ticks_to_price(ticks)) / fair * 1e4
    fills = 0
    order_id = None
    for i in range(1, steps + 1):
        if order_id is None or engine.order(order_id).remaining_amount == 0:
            out = engine.insert(
                T0 + i * dt_ns - 1, ME, instrument_name=PERP, direction=Side.BUY, amount=0.001,
                price=spec.ticks_to_price(ticks),
            )  # fmt: skip
            order_id = out.result.order_id
        events = market.step(T0 + i * dt_ns)
        fills += sum(
            1
            for e in events
            if isinstance(e, OrderUpdate) and e.order.order_id == order_id and e.order.fills
        )
    p = 1 - math.exp(-A * math.exp(-k * real_delta) * dt_ns / 1e9)
    expected = steps * p
    sigma = math.sqrt(steps * p * (1 - p))
    assert abs(fills - expected) < 4 * sigma, (fills, expected, sigma)


def maker_markout(
    informed_rate: float, seed: int = 23, steps: int = 3_000, horizon: int = 0
) -> list[float]:
    """Markouts (fair ``horizon`` steps after the fill's step minus fill price, signed, USD
    per BTC) of a quoter one basis point either side of fair, re-quoting every second."""
    cfg = MarketConfig(
        seed=seed, volatility=1.0, informed_rate_per_s=informed_rate, informed_min_move_bps=0.3,
        taker_rate_per_s=0.5,
    )  # fmt: skip
    engine = MatchingEngine(btc_perp_only())
    market = SyntheticMarket(engine, cfg)
    market.start(T0)
    spec = engine.instrument(PERP).spec
    fills: list[tuple[int, Side, float]] = []
    fair_path: list[float] = []
    dt_ns = 1_000_000_000
    for i in range(1, steps + 1):
        now = T0 + i * dt_ns
        fair = market.fair_prices(now)[PERP]
        engine.cancel_all(now - 2, ME)
        for side in (Side.BUY, Side.SELL):
            if side is Side.BUY:
                ticks = spec.price_to_ticks_floor(fair * (1 - 1e-4))
            else:
                ticks = spec.price_to_ticks_ceil(fair * (1 + 1e-4))
            engine.insert(
                now - 1, ME, instrument_name=PERP, direction=side, amount=0.01,
                price=spec.ticks_to_price(ticks),
            )  # fmt: skip
        for e in market.step(now):
            if isinstance(e, OrderUpdate) and e.account == "ME":
                for f in e.order.fills:
                    fills.append((i, e.order.direction, f.price))
        fair_path.append(market.fair_prices(now)[PERP])
    marks = [
        int(side) * (fair_path[min(i - 1 + horizon, steps - 1)] - price) for i, side, price in fills
    ]
    return marks


def mean_and_se(xs: list[float]) -> tuple[float, float]:
    n = len(xs)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / (n - 1)
    return mean, math.sqrt(var / n)


def test_informed_flow_creates_adverse_selection() -> None:
    """Same seed, informed flow off vs on: the quoter's mean markout drops by > 3 SE."""
    calm, calm_se = mean_and_se(maker_markout(0.0))
    informed, informed_se = mean_and_se(maker_markout(2.0))
    assert calm - informed > 3 * math.hypot(calm_se, informed_se), (calm, informed)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("volatility", -1.0),
        ("taker_decay_per_bp", 0.0),
        ("maker_levels", 11),
        ("funding_interval_s", float("nan")),
        ("perp_premium_mean", 0.5),
        ("informed_horizon_s", -1.0),
        ("informed_horizon_s", 61.0),
        ("informed_horizon_s", float("inf")),
    ],
)
def test_config_validation_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        replace(MarketConfig(), **{field: value})


def test_missing_initial_price_is_a_clear_error() -> None:
    engine = MatchingEngine(default_instruments(T0))
    with pytest.raises(ValueError, match="ETHUSD"):
        SyntheticMarket(engine, MarketConfig(initial_prices={"BTCUSD": 1.0}))


def run_path(
    horizon_s: float, steps: int = 600, dt_ns: int = 100_000_000, seed: int = 31
) -> tuple[list[tuple[float, ...]], list[tuple[int, str, Side]]]:
    """(marks of every instrument after each step, informed trades as (step, name, side)),
    with one skip of the clock half-way (the driver falling behind)."""
    engine = MatchingEngine(default_instruments(T0))
    cfg = MarketConfig(
        seed=seed, volatility=1.0, informed_rate_per_s=1.0, informed_horizon_s=horizon_s,
        maker_half_spread_bps=0.2, maker_level_step_bps=0.5,  # so a 100 ms move can reach it
    )  # fmt: skip
    market = SyntheticMarket(engine, cfg)
    market.start(T0)
    names = [i.name for i in engine.instruments()]
    marks: list[tuple[float, ...]] = []
    trades: list[tuple[int, str, Side]] = []
    now = T0
    for i in range(steps):
        now += dt_ns
        if i == steps // 2:
            market.skip_to(now)
            now += dt_ns
        for e in market.step(now):
            if isinstance(e, AccountTradeEvent) and e.account == INFORMED_SESSION.account:
                trades.append((i, e.record.instrument_name, e.record.direction))
        marks.append(tuple(engine.mark_price(name) or 0.0 for name in names))
    return marks, trades


def test_the_market_path_for_a_seed_is_the_same_whatever_the_informed_horizon() -> None:
    base, trades = run_path(0.0)
    assert trades  # the informed flow did trade
    for horizon in (0.05, 2.0, 12.5):
        marks, trades = run_path(horizon)
        assert marks == base, horizon
        assert trades


def agreement(horizon_s: float, over_s: float, dt_s: float = 0.1) -> tuple[float, int]:
    """How often informed trades point the way the fair price then moves over ``over_s``
    (from the mark before the trade's step), and how many trades were counted."""
    marks, trades = run_path(horizon_s, steps=1_500)
    names = [i.name for i in default_instruments(T0)]
    ahead = round(over_s / dt_s)
    agree = total = 0
    for step, name, side in trades:
        if step == 0 or step + ahead >= len(marks):
            continue
        col = names.index(name)
        move = marks[step + ahead][col] - marks[step - 1][col]
        if move != 0:
            total += 1
            agree += (move > 0) == (side is Side.BUY)
    return agree / total, total


def test_informed_trades_see_the_fair_move_over_their_horizon() -> None:
    """With a 5 s horizon the informed takers trade the way the fair price then moves over
    those 5 s (they read it from the path the market later follows); knowing only the next
    100 ms step (horizon 0), they are barely better than a coin over 5 s."""
    seen, n = agreement(5.0, over_s=5.0)
    blind, m = agreement(0.0, over_s=5.0)
    assert n > 50 and m > 50
    assert seen > 0.97, seen
    assert blind < 0.75, blind


def test_the_run_config_bounds_the_horizon_like_the_market_config() -> None:
    assert RUN_MAX_HORIZON == MAX_INFORMED_HORIZON_S
    lx = config_from_data(
        {"local_exchange": {"informed_rate_per_s": 0.5, "informed_horizon_s": 5}}
    ).local_exchange
    assert (lx.informed_rate_per_s, lx.informed_horizon_s) == (0.5, 5.0)
    with pytest.raises(ConfigError, match=r"local_exchange: informed_horizon_s must be 0\.\.60"):
        config_from_data({"local_exchange": {"informed_horizon_s": 61}})
