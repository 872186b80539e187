"""Benchmark: the local exchange's matching engine (exchange/engine).

- ``matching_orders_per_s``: a mixed random flow from four accounts (≈70 % limit inserts within
  ±20 ticks of mid, some crossing; ≈20 % cancels; ≈10 % market orders) against a book kept a
  few hundred orders deep; operations per second over the whole run, events included.
- ``matching_insert_cancel_us_median``: one resting insert plus its cancel, each pair timed on
  its own with perf_counter_ns, on a book with ~200 resting orders.
- ``matching_mass_quote_us_median``: one mass quote replacing 5 + 5 levels that all moved.
The operation streams are generated up front (seeded) so generation is not timed.
"""

from __future__ import annotations

import gc
import random
import statistics
import time

from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side
from thalex_mm.exchange.engine import (
    ExchangeInstrument,
    MatchingEngine,
    OrderType,
    QuoteEntry,
    QuoteSide,
    SessionRef,
)

NAME = "BTC-PERPETUAL"
SPEC = InstrumentSpec(NAME, InstrumentKind.PERPETUAL, "BTCUSD", 1.0, 0.001, 0.001, "FBTCUSD")
SESSIONS = [SessionRef(f"ACC{i}", i + 1, persistent=i % 2 == 0) for i in range(4)]
MID = 80_000


def _engine() -> MatchingEngine:
    return MatchingEngine([ExchangeInstrument(SPEC)])


def _seed_book(engine: MatchingEngine, per_side: int, rng: random.Random) -> None:
    for i in range(per_side):
        for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
            engine.insert(
                i, SESSIONS[i % 4], instrument_name=NAME, direction=side,
                amount=rng.randint(1, 50) / 1000, price=MID + sign * rng.randint(1, 40),
            )  # fmt: skip


def _mixed_flow(n: int) -> float:
    rng = random.Random(1)
    engine = _engine()
    _seed_book(engine, 150, rng)
    ops: list[tuple[int, SessionRef, Side, int, int, float]] = []
    for _ in range(n):
        r = rng.random()
        kind = 0 if r < 0.7 else (1 if r < 0.9 else 2)
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        offset = rng.randint(-5, 20)  # mostly passive, some crossing
        price = MID - int(side) * offset
        ops.append((kind, rng.choice(SESSIONS), side, price, rng.randint(1, 50), rng.random()))
    live: list[tuple[SessionRef, str]] = []
    gc.collect()
    start = time.perf_counter_ns()
    now = 1_000
    for kind, session, side, price, lots, pick in ops:
        now += 1
        if kind == 0:
            out = engine.insert(
                now, session, instrument_name=NAME, direction=side, amount=lots / 1000,
                price=price,
            )  # fmt: skip
            if out.result is not None and out.result.remaining_amount > 0:
                live.append((session, out.result.order_id))
        elif kind == 1 and live:
            idx = int(pick * len(live))
            live[idx], live[-1] = live[-1], live[idx]
            owner, order_id = live.pop()
            engine.cancel(now, owner, order_id=order_id)  # may be filled already: error 1
        else:
            engine.insert(
                now, session, instrument_name=NAME, direction=side, amount=lots / 1000,
                order_type=OrderType.MARKET,
            )  # fmt: skip
    elapsed = time.perf_counter_ns() - start
    return n / (elapsed / 1e9)


def _insert_cancel(n: int) -> float:
    rng = random.Random(2)
    engine = _engine()
    _seed_book(engine, 100, rng)
    session = SESSIONS[0]
    prices = [MID - rng.randint(1, 40) for _ in range(n)]
    samples: list[int] = []
    gc.collect()
    for i, price in enumerate(prices):
        t0 = time.perf_counter_ns()
        out = engine.insert(
            10_000 + i, session, instrument_name=NAME, direction=Side.BUY, amount=0.01, price=price
        )
        assert out.result is not None
        engine.cancel(10_000 + i, session, order_id=out.result.order_id)
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1000.0


def _mass_quote(n: int) -> float:
    engine = _engine()
    maker = SessionRef("MM", 99, persistent=False)
    engine.set_mm_protection(0, maker, product="FBTCUSD", trade_amount=1e6, quote_amount=1e6)
    samples: list[int] = []
    gc.collect()
    for i in range(n):
        mid = MID + (i % 7) - 3
        bids = QuoteSide(tuple((float(mid - 2 - j * 3), 0.1) for j in range(5)))
        asks = QuoteSide(tuple((float(mid + 2 + j * 3), 0.1) for j in range(5)))
        t0 = time.perf_counter_ns()
        engine.mass_quote(i + 1, maker, [QuoteEntry(NAME, bids, asks)])
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1000.0


def run(quick: bool) -> dict[str, float | int | str]:
    n_flow = 20_000 if quick else 200_000
    n_pairs = 5_000 if quick else 50_000
    n_quotes = 2_000 if quick else 20_000
    return {
        "matching_orders_per_s": round(_mixed_flow(n_flow)),
        "matching_insert_cancel_us_median": round(_insert_cancel(n_pairs), 2),
        "matching_mass_quote_us_median": round(_mass_quote(n_quotes), 2),
    }
