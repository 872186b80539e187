"""Benchmark: one compute_quotes call (6 + 6 levels, BTC-perpetual sized), GLFT and A–S.

Each call gets a different mid and position (pre-generated, so generating them is not timed)
so nothing can be served from a cache that a live engine would not also hit; A and k stay
fixed, as they do between estimator refits. Each call is timed on its own with
perf_counter_ns; a round's median/p90/p99 are taken, and the reported value is the median over
rounds.
"""

from __future__ import annotations

import gc
import random
import statistics
import time

from thalex_mm.domain import InstrumentKind, InstrumentSpec
from thalex_mm.model.quote import (
    LadderParams,
    MarketInputs,
    QuoteDecision,
    QuoteParams,
    compute_quotes,
)

BTC_PERP = InstrumentSpec(
    name="BTC-PERPETUAL",
    kind=InstrumentKind.PERPETUAL,
    underlying="BTCUSD",
    tick_size=1.0,
    amount_step=0.001,
    min_amount=0.001,
    product="FBTCUSD",
)
LADDER = LadderParams(levels=6, base_size_lots=20, eta=0.005)


def _inputs(n: int, seed: int) -> list[MarketInputs]:
    rng = random.Random(seed)
    # sigma ≈ 6 USD/√s is ~3 % daily vol at 60 000; A, k as fitted on recorded BTC trades.
    return [
        MarketInputs(
            mid=60_000.0 + rng.uniform(-300.0, 300.0),
            sigma=6.0 + rng.uniform(-0.5, 0.5),
            A=2.0,
            k=0.15,
            position=rng.uniform(-0.05, 0.05),
        )
        for _ in range(n)
    ]


def _percentile(sorted_ns: list[int], pct: float) -> float:
    return float(sorted_ns[min(len(sorted_ns) - 1, int(pct / 100.0 * len(sorted_ns)))])


def _time_model(params: QuoteParams, calls: int, rounds: int) -> tuple[float, float, float]:
    """(median, p90, p99) microseconds per call, each the median over rounds."""
    inputs = _inputs(calls, seed=7)
    spec = BTC_PERP
    first = compute_quotes(inputs[0], params, spec)  # warm-up and sanity check
    if not (isinstance(first, QuoteDecision) and len(first.bids) == len(first.asks) == 6):
        raise RuntimeError(f"benchmark inputs do not give a 6+6 ladder: {first!r}")
    clock = time.perf_counter_ns
    medians: list[float] = []
    p90s: list[float] = []
    p99s: list[float] = []
    for _ in range(rounds):
        gc.collect()
        samples: list[int] = []
        append = samples.append
        for x in inputs:
            t0 = clock()
            compute_quotes(x, params, spec)
            append(clock() - t0)
        samples.sort()
        medians.append(_percentile(samples, 50))
        p90s.append(_percentile(samples, 90))
        p99s.append(_percentile(samples, 99))
    to_us = 1e-3
    return (
        statistics.median(medians) * to_us,
        statistics.median(p90s) * to_us,
        statistics.median(p99s) * to_us,
    )


def run(quick: bool) -> dict[str, float | int | str]:
    calls, rounds = (2_000, 3) if quick else (20_000, 7)
    out: dict[str, float | int | str] = {}
    models = (
        ("quote", QuoteParams(model="glft", gamma_usd=10.0, lot_size=0.001, ladder=LADDER)),
        (
            "quote_as",
            QuoteParams(model="avellaneda_stoikov", gamma_usd=1.0, horizon_s=60.0, ladder=LADDER),
        ),
    )
    for prefix, params in models:
        med, p90, p99 = _time_model(params, calls, rounds)
        out[f"{prefix}_us_median"] = round(med, 3)
        out[f"{prefix}_us_p90"] = round(p90, 3)
        out[f"{prefix}_us_p99"] = round(p99, 3)
    out["quote_calls_per_round"] = calls
    out["quote_rounds"] = rounds
    return out
