"""Simulated participants. They trade through the engine's public calls, so the book is real.

- `BackgroundMaker` keeps a ladder of mass quotes around each instrument's fair price.
- `UninformedTakers` send Poisson sweeps whose depth is exponential: a resting order δ bps from
  fair is hit at rate A·e^(−kδ).
- `InformedTrader` knows the fair price a horizon ahead (`MarketConfig.informed_horizon_s`;
  0: the end of the step) and takes the quotes the move will make stale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

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
from thalex_mm.exchange.engine.instruments import SYNTHETIC_PREFIX
from thalex_mm.exchange.market.config import MarketConfig

_BIG = 1e9  # MM-protection amounts for the background maker: never trips within a step
_BPS = 1e-4


def is_extra(instrument_name: str) -> bool:
    """One of the extra load-test perpetuals (SYN001-PERPETUAL …)?"""
    return instrument_name.startswith(SYNTHETIC_PREFIX)


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
        self._quoted_book: dict[str, int] = {}  # book version right after our last quote

    def _needs_quote(self, name: str, fair: float) -> bool:
        last = self._quoted_fair.get(name)
        cfg = self.config
        threshold = cfg.extra_requote_bps if is_extra(name) else cfg.maker_requote_bps
        if last is None or abs(fair / last - 1.0) * 1e4 > threshold:
            return True
        if self.engine.order_book(name).version == self._quoted_book.get(name):
            return False  # nothing traded or moved in the book since we quoted
        full = (
            self.engine.quote_count(self.session.session_id, name) >= 2 * self.config.maker_levels
        )
        if full:
            self._quoted_book[name] = self.engine.order_book(name).version
        return not full

    def _protect(self, now_ns: int, products: Iterable[str]) -> list[Event]:
        """Keep (huge) MM protection set on the groups about to be quoted."""
        events: list[Event] = []
        for product in products:
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
        products = {
            inst.spec.product
            for inst in (self.engine.instrument(e.instrument_name) for e in entries)
            if inst is not None
        }
        events = self._protect(now_ns, sorted(products))
        out = self.engine.mass_quote(now_ns, self.session, entries, label="background")
        events.extend(out.events)
        for entry in entries:
            self._quoted_book[entry.instrument_name] = self.engine.order_book(
                entry.instrument_name
            ).version
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
        self._listed: list[str] = []
        self._regular: list[str] = []
        self._extra: list[str] = []

    def run(self, now_ns: int, dt_s: float, fairs: Mapping[str, float]) -> list[Event]:
        cfg = self.config
        events: list[Event] = []
        listed = list(fairs)
        if listed != self._listed:  # (re)split regular and extra instruments
            self._listed = listed
            self._regular = [name for name in listed if not is_extra(name)]
            self._extra = [name for name in listed if is_extra(name)]
        regular, extra = self._regular, self._extra
        for names, rate in ((regular, cfg.taker_rate_per_s), (extra, cfg.extra_taker_rate_per_s)):
            if names and rate > 0:
                self._arrive(now_ns, dt_s, fairs, names=names, rate=rate, events=events)
        return events

    def _arrive(
        self,
        now_ns: int,
        dt_s: float,
        fairs: Mapping[str, float],
        *,
        names: list[str],
        rate: float,
        events: list[Event],
    ) -> None:
        """One Poisson draw for all (instrument, side) streams, then each arrival picks its
        stream uniformly: the same independent Poisson processes, at O(1) cost per quiet
        step however many instruments are listed."""
        mean_reach = 1.0 / self.config.taker_decay_per_bp
        arrivals = int(self.rng.poisson(rate * dt_s * 2 * len(names)))
        if arrivals == 0:
            return
        streams = self.rng.integers(0, 2 * len(names), size=arrivals)
        reaches = self.rng.exponential(mean_reach, size=arrivals)
        for stream, reach_bps in zip(streams.tolist(), reaches.tolist(), strict=True):
            name = names[stream >> 1]
            side = Side.BUY if stream & 1 == 0 else Side.SELL
            inst = self.engine.instrument(name)
            if inst is None:
                continue
            spec = inst.spec
            fair = fairs[name]
            if side is Side.BUY:
                limit = spec.price_to_ticks_floor(fair * (1.0 + reach_bps * _BPS))
            else:
                limit = spec.price_to_ticks_ceil(fair * (1.0 - reach_bps * _BPS))
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


class InformedTrader:
    """Trades ahead of the index: buys before a rise, sells before a fall, up to the fair
    price it foresees (``fairs_next``: the horizon's, from the market's path buffer)."""

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
        names = list(fairs_now)
        total = int(self.rng.poisson(cfg.informed_rate_per_s * dt_s * len(names)))
        if total == 0:
            return events
        # one draw for all instruments, split uniformly: independent Poisson arrivals each
        counts = np.bincount(self.rng.integers(0, len(names), size=total), minlength=len(names))
        for name, arrivals_np in zip(names, counts.tolist(), strict=True):
            arrivals = int(arrivals_np)
            fair = fairs_now[name]
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
