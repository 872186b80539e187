"""Benchmark: does the default demo earn, and as much as theory says it should?

The demo's instrument config (what ``thalex-mm run`` quotes with no config) runs on the
production core against the synthetic market, sans-I/O on simulated time
(``backtest/synthetic.py``), for ``SECONDS`` simulated seconds on each of ``SEEDS`` seeds.
Its mean PnL per minute (the venue's own records: cash + position × final fair − fees) is
held against the expected PnL of the same policy in that market, computed from the policy's
stationary inventory chain with the market's true σ, A, k and fee (``model/theory.py``):

- ``econ_pnl_per_min``: mean over seeds, USD per minute, with ``econ_pnl_per_min_se`` (the
  Monte Carlo standard error, std / √seeds) and ``econ_pnl_per_min_min`` (the worst seed);
- ``econ_theory_pnl_per_min``: the chain's expectation for the demo's policy quoted with the
  true parameters; ``econ_pnl_vs_theory`` = measured / theory (budget 0.7–1.3);
- ``econ_riskneutral_theory_pnl_per_min``: the chain for the risk-neutral one-level optimum
  (δ = fee + 1/k) within the same position limit, for scale;
- ``econ_edge_usd_per_btc``, ``econ_fee_usd_per_btc``: edge at fill against fair and fees per
  unit traded (why it earns);
- ``econ_informed_pnl_per_min``: the same demo with informed takers on (0.5/s, each trading
  toward the fair price 5 s ahead), mean over seeds: must stay positive.
"""

from __future__ import annotations

import math
import statistics
import time

from thalex_mm.app.settings import demo_instrument
from thalex_mm.backtest.synthetic import START_NS, SyntheticSimulation
from thalex_mm.core.config import EngineConfig, InstrumentConfig
from thalex_mm.core.engine import Engine
from thalex_mm.core.quoter import shape_side
from thalex_mm.exchange.engine import default_instruments
from thalex_mm.exchange.market import MarketConfig
from thalex_mm.model.ladder import LadderParams
from thalex_mm.model.quote import MarketInputs, QuoteDecision, QuoteEngine, QuoteParams
from thalex_mm.model.theory import SideLevels, stationary_pnl

NAME = "BTC-PERPETUAL"
SEEDS = 5
SECONDS = 120.0
INFORMED_RATE_PER_S = 0.5  # per instrument
INFORMED_HORIZON_S = 5.0  # they know the fair price this far ahead
YEAR_S = 365.0 * 24 * 3600


def demo_config() -> InstrumentConfig:
    """The demo instrument on the local exchange's BTC-PERPETUAL spec."""
    d = demo_instrument(NAME)
    spec = {i.spec.name: i.spec for i in default_instruments(START_NS)}[NAME]
    return InstrumentConfig(
        spec, quote=d.quote, quoter=d.quoter, orders=d.orders, risk=d.risk,
        accounting=d.accounting,
    )  # fmt: skip


def market_truth(market: MarketConfig, price: float) -> tuple[float, float, float]:
    """(σ price units/√s, A per second per side, k per price unit) of the synthetic market."""
    sigma = price * market.volatility / math.sqrt(YEAR_S)
    k = market.taker_decay_per_bp / (price * 1e-4)
    return sigma, market.taker_rate_per_s, k


def policy_theory(cfg: InstrumentConfig, params: QuoteParams, market: MarketConfig) -> float:
    """Expected PnL per minute of ``params`` quoted with the market's true inputs, averaged
    over where the fair price sits within a tick (the rounding of the quotes)."""
    spec = cfg.spec
    fair0 = market.initial_prices[spec.underlying]
    sigma, A, k = market_truth(market, fair0)
    fee = cfg.accounting.maker_fee_rate * fair0
    max_lots = spec.amount_to_lots_floor(cfg.risk.max_position)
    max_order = spec.amount_to_lots_floor(cfg.risk.max_order_amount or cfg.risk.max_position)
    limits = (spec.min_lots, max(spec.min_lots, max_order))
    engine = QuoteEngine(params, spec)
    tick = spec.tick_size
    results = []
    for frac in (0.125, 0.375, 0.625, 0.875):
        fair = fair0 + frac * tick

        def policy(q: int, fair: float = fair) -> tuple[SideLevels, SideLevels]:
            d = engine.quote(MarketInputs(fair, sigma, A, k, q * spec.amount_step, fee))
            assert isinstance(d, QuoteDecision)
            # the engine's own shaping: each side trimmed to the room the position leaves
            bids = [
                (fair - p * tick, n) for p, n in shape_side(d.bids, True, max_lots - q, 1.0, limits)
            ]
            asks = [
                (p * tick - fair, n) for p, n in shape_side(d.asks, True, max_lots + q, 1.0, limits)
            ]
            return bids, asks

        chain = stationary_pnl(
            policy, A_bid=A, k_bid=k, A_ask=A, k_ask=k, fee=fee,
            amount_step=spec.amount_step, q_min=-max_lots, q_max=max_lots,
        )  # fmt: skip
        results.append(chain.pnl_per_s * 60.0)
    return statistics.fmean(results)


def _simulate(seed: int, market: MarketConfig) -> tuple[float, float, float, float]:
    """(PnL, edge, fees, volume) of one simulated demo run."""
    engine = Engine(EngineConfig((demo_config(),)))
    result = SyntheticSimulation(engine, market).run(SECONDS)
    return result.pnl(NAME), result.edge(NAME), result.fees(NAME), result.volume(NAME)


def run(quick: bool) -> dict[str, float | int | str]:
    seeds = 2 if quick else SEEDS
    cfg = demo_config()
    started = time.perf_counter()
    runs = [_simulate(seed, MarketConfig(seed=seed)) for seed in range(seeds)]
    informed = [
        _simulate(
            seed,
            MarketConfig(
                seed=seed,
                informed_rate_per_s=INFORMED_RATE_PER_S,
                informed_horizon_s=INFORMED_HORIZON_S,
            ),
        )
        for seed in range(seeds)
    ]
    wall = time.perf_counter() - started
    per_min = [pnl * 60.0 / SECONDS for pnl, *_ in runs]
    mean = statistics.fmean(per_min)
    se = statistics.stdev(per_min) / math.sqrt(len(per_min)) if len(per_min) > 1 else math.nan
    theory = policy_theory(cfg, cfg.quote, MarketConfig())
    neutral = QuoteParams(gamma_usd=1e-9, ladder=LadderParams(levels=1))
    volume = sum(v for *_, v in runs)
    return {
        "econ_seeds": seeds,
        "econ_simulated_s_per_seed": SECONDS,
        "econ_pnl_per_min": round(mean, 3),
        "econ_pnl_per_min_se": round(se, 3),
        "econ_pnl_per_min_min": round(min(per_min), 3),
        "econ_theory_pnl_per_min": round(theory, 3),
        "econ_pnl_vs_theory": round(mean / theory, 3) if theory > 0 else math.nan,
        "econ_riskneutral_theory_pnl_per_min": round(
            policy_theory(cfg, neutral, MarketConfig()), 3
        ),
        "econ_edge_usd_per_btc": round(sum(e for _, e, _, _ in runs) / volume, 2),
        "econ_fee_usd_per_btc": round(sum(f for _, _, f, _ in runs) / volume, 2),
        "econ_informed_pnl_per_min": round(
            statistics.fmean(pnl * 60.0 / SECONDS for pnl, *_ in informed), 3
        ),
        "econ_sim_speedup": round(2 * seeds * SECONDS / wall, 1),
    }
