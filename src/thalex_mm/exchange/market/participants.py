"""Simulated participants. They trade through the engine's public calls, so the book is real.

- `BackgroundMaker` keeps a ladder of mass quotes around each instrument's fair price.
- `UninformedTakers` send Poisson sweeps whose depth is exponential: a resting order δ bps from
  fair is hit at rate A·e^(−kδ).
- `InformedTrader` knows the next fair price and takes the quotes the move will make stale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from thalex_mm.domain import InstrumentSpec, Side
from thalex_mm.exchange.engine import (
    Collar,
    Event,
    MatchingEngine,
    QuoteEntry,
    QuoteSide,
    SessionRef,
    TimeInForce,
)
from thalex_mm.exchange.market.config import MarketConfig

_BIG = 1e9  # MM-protection amounts for the background maker: never trips within a step
_BPS = 1e-4


def level_price(spec: InstrumentSpec, fair: float, side: Side, distance_bps: float) -> int:
    """Tick of a price ``distance_bps`` from fair, rounded away from fair (passive side)."""
    if side is Side.BUY:
        return spec.price_to_ticks_floor(fair * (1.0 - distance_bps * _BPS))
    return spec.price_to_ticks_ceil(fair * (1.0 + distance_bps * _BPS))


def lots_for_notional(spec: InstrumentSpec, notional: float, price: float) -> int:
    return max(spec.min_lots, spec.amount_to_lots_floor(notional / price))


def volume_through(engine: MatchingEngine, name: str, taker_side: Side, limit: int) -> int:
    """Lots resting on the opposite side at prices the taker's limit reaches."""
    book = engine.order_book(name)
    total = 0
    for price, lots in book.levels(taker_side.opposite):
        if price > limit if taker_side is Side.BUY else price < limit:
            break
        total += lots
    return total


class BackgroundMaker:
    """Several levels of quotes per side around fair, refreshed every step."""

    def __init__(self, engine: MatchingEngine, session: SessionRef, config: MarketConfig) -> None:
        self.engine = engine
        self.session = session
        self.config = config
        self._quoted_fair: dict[str, float] = {}

    def _needs_quote(self, name: str, fair: float) -> bool:
        last = self._quoted_fair.get(name)
        if last is None or abs(fair / last - 1.0) * 1e4 > self.config.maker_requote_bps:
            return True
        return self.engine.quote_count(self.session.session_id, name) < 2 * self.config.maker_levels

    def _protect(self, now_ns: int) -> list[Event]:
        events: list[Event] = []
        for product in self.engine.products():
            remaining = self.engine.mm_protection_remaining(self.session.session_id, product)
            if remaining is None or remaining < _BIG / 2:
                out = self.engine.set_mm_protection(
                    now_ns, self.session, product=product, trade_amount=_BIG, quote_amount=_BIG
                )
                events.extend(out.events)
        return events

    def requote(self, now_ns: int, fairs: Mapping[str, float]) -> list[Event]:
        cfg = self.config
        if cfg.maker_levels == 0:
            return []
        entries: list[QuoteEntry] = []
        for name, fair in fairs.items():
            inst = self.engine.instrument(name)
            if inst is None or not self._needs_quote(name, fair):
                continue
            self._quoted_fair[name] = fair
            spec = inst.spec
            lots = lots_for_notional(spec, cfg.maker_level_notional_usd, fair)
            amount = spec.lots_to_amount(lots)
            sides: dict[Side, list[tuple[float, float]]] = {Side.BUY: [], Side.SELL: []}
            for side, levels in sides.items():
                seen: set[int] = set()
                for i in range(cfg.maker_levels):
                    distance = cfg.maker_half_spread_bps + i * cfg.maker_level_step_bps
                    ticks = level_price(spec, fair, side, distance)
                    if ticks <= 0 or ticks in seen:
                        continue
                    seen.add(ticks)
                    levels.append((spec.ticks_to_price(ticks), amount))
            bids, asks = QuoteSide(tuple(sides[Side.BUY])), QuoteSide(tuple(sides[Side.SELL]))
            entries.append(QuoteEntry(name, bids, asks))
        if not entries:
            return []
        events = self._protect(now_ns)
        out = self.engine.mass_quote(now_ns, self.session, entries, label="background")
        events.extend(out.events)
        return events


class UninformedTakers:
    """Liquidity takers whose reach into the book decays exponentially with distance."""

    def __init__(
        self,
        engine: MatchingEngine,
        session: SessionRef,
        config: MarketConfig,
        rng: np.random.Generator,
    ) -> None:
        self.engine = engine
        self.session = session
        self.config = config
        self.rng = rng

    def run(self, now_ns: int, dt_s: float, fairs: Mapping[str, float]) -> list[Event]:
        cfg = self.config
        events: list[Event] = []
        if cfg.taker_rate_per_s == 0:
            return events
        mean_reach = 1.0 / cfg.taker_decay_per_bp
        for name, fair in fairs.items():
            inst = self.engine.instrument(name)
            if inst is None:
                continue
            spec = inst.spec
            for side in (Side.BUY, Side.SELL):
                for _ in range(int(self.rng.poisson(cfg.taker_rate_per_s * dt_s))):
                    reach = float(self.rng.exponential(mean_reach))
                    if side is Side.BUY:
                        limit = spec.price_to_ticks_floor(fair * (1.0 + reach * _BPS))
                    else:
                        limit = spec.price_to_ticks_ceil(fair * (1.0 - reach * _BPS))
                    if limit <= 0:
                        continue
                    lots = volume_through(self.engine, name, side, limit)
                    if lots == 0:
                        continue
                    out = self.engine.insert(
                        now_ns, self.session, instrument_name=name, direction=side,
                        amount=spec.lots_to_amount(lots), price=spec.ticks_to_price(limit),
                        time_in_force=TimeInForce.IOC, collar=Collar.CLAMP,
                    )  # fmt: skip
                    events.extend(out.events)
        return events


class InformedTrader:
    """Trades ahead of the index: buys before a rise, sells before a fall, up to new fair."""

    def __init__(
        self,
        engine: MatchingEngine,
        session: SessionRef,
        config: MarketConfig,
        rng: np.random.Generator,
    ) -> None:
        self.engine = engine
        self.session = session
        self.config = config
        self.rng = rng

    def run(
        self,
        now_ns: int,
        dt_s: float,
        fairs_now: Mapping[str, float],
        fairs_next: Mapping[str, float],
    ) -> list[Event]:
        cfg = self.config
        events: list[Event] = []
        if cfg.informed_rate_per_s == 0:
            return events
        for name, fair in fairs_now.items():
            arrivals = int(self.rng.poisson(cfg.informed_rate_per_s * dt_s))
            nxt = fairs_next.get(name)
            inst = self.engine.instrument(name)
            if arrivals == 0 or nxt is None or inst is None:
                continue
            move_bps = (nxt / fair - 1.0) / _BPS
            if not math.isfinite(move_bps) or abs(move_bps) < cfg.informed_min_move_bps:
                continue
            spec = inst.spec
            side = Side.BUY if move_bps > 0 else Side.SELL
            limit = (
                spec.price_to_ticks_floor(nxt)
                if side is Side.BUY
                else spec.price_to_ticks_ceil(nxt)
            )
            lots = lots_for_notional(spec, cfg.informed_notional_usd, nxt) * arrivals
            if limit <= 0 or volume_through(self.engine, name, side, limit) == 0:
                continue
            out = self.engine.insert(
                now_ns, self.session, instrument_name=name, direction=side,
                amount=spec.lots_to_amount(lots), price=spec.ticks_to_price(limit),
                time_in_force=TimeInForce.IOC, collar=Collar.CLAMP,
            )  # fmt: skip
            events.extend(out.events)
        return events
