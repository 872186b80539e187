"""The synthetic market: index, marks, funding and simulated participants, stepped by time.

Deterministic for a given `MarketConfig.seed`: each component draws from its own generator
spawned from one SeedSequence, so the same seed and the same `step` times give the same trades.
The driver (the server) owns the clock and calls `step(now_ns)` with any spacing; gaps longer
than `max_step_s` are simulated as several sub-steps.

Within a (sub-)step: draw the next index moves → informed flow trades on them against the old
book → indices and marks move (→ engine) → funding if an interval boundary passed → the
background maker re-quotes around the new fair prices → uninformed takers arrive.
"""

from __future__ import annotations

import math

import numpy as np

from thalex_mm.domain import InstrumentKind
from thalex_mm.exchange.engine import Event, MatchingEngine, SessionRef
from thalex_mm.exchange.engine.instruments import SYNTHETIC_PREFIX
from thalex_mm.exchange.market.config import MarketConfig
from thalex_mm.exchange.market.index import (
    IndexProcess,
    PremiumProcess,
    funding_rate,
    future_mark,
)
from thalex_mm.exchange.market.participants import (
    BackgroundMaker,
    InformedTrader,
    UninformedTakers,
)

_NS = 1_000_000_000

MAKER_SESSION = SessionRef("SYNTH-MAKER", -1, persistent=False)
TAKER_SESSION = SessionRef("SYNTH-TAKER", -2, persistent=True)
INFORMED_SESSION = SessionRef("SYNTH-INFORMED", -3, persistent=True)
_PARTICIPANT_BALANCE = 1e12


class SyntheticMarket:
    """Drives an engine's index, marks, funding and background order flow."""

    def __init__(self, engine: MatchingEngine, config: MarketConfig | None = None) -> None:
        self.engine = engine
        self.config = config or MarketConfig()
        cfg = self.config
        seeds = np.random.SeedSequence(cfg.seed).spawn(5)
        index_rng, premium_rng, taker_rng, informed_rng, extra_rng = (
            np.random.default_rng(s) for s in seeds
        )
        # The extra load-test underlyings (SYN…) draw from their own generator, so listing
        # them leaves the prices of the regular instruments unchanged for a seed.
        self._indices: dict[str, IndexProcess] = {}
        for underlying in engine.underlyings():
            price = cfg.initial_prices.get(underlying)
            if price is None:
                raise ValueError(f"MarketConfig.initial_prices has no price for {underlying!r}")
            extra = underlying.startswith(SYNTHETIC_PREFIX)
            self._indices[underlying] = IndexProcess(
                price, cfg, extra_rng if extra else index_rng, countdown=extra
            )
        self._premiums = {
            inst.name: PremiumProcess(
                cfg.perp_premium_mean,
                cfg,
                extra_rng if inst.spec.underlying.startswith(SYNTHETIC_PREFIX) else premium_rng,
            )
            for inst in engine.instruments()
            if inst.spec.kind is InstrumentKind.PERPETUAL
        }
        for session in (MAKER_SESSION, TAKER_SESSION, INFORMED_SESSION):
            engine.add_account(session.account, _PARTICIPANT_BALANCE)
        self.maker = BackgroundMaker(engine, MAKER_SESSION, cfg)
        self.takers = UninformedTakers(engine, TAKER_SESSION, cfg, taker_rng)
        self.informed = InformedTrader(engine, INFORMED_SESSION, cfg, informed_rng)
        self._last_ns: int | None = None
        # (name, its index process, premium process or None, expiry s or None) in listing order
        self._priced = [
            (
                inst.name,
                self._indices[inst.spec.underlying],
                self._premiums.get(inst.name),
                inst.spec.expiry_ts,
            )
            for inst in engine.instruments()
        ]

    # ---- prices ---------------------------------------------------------------------------
    def index(self, underlying: str) -> float:
        return self._indices[underlying].price

    def stressed(self, underlying: str) -> bool:
        return self._indices[underlying].stressed

    def fair_prices(self, now_ns: int, *, pending: bool = False) -> dict[str, float]:
        """Mark of every instrument from the current (or the proposed, ``pending``) index."""
        now_s = now_ns / _NS
        basis = self.config.future_basis_per_year
        out: dict[str, float] = {}
        for name, process, premium, expiry in self._priced:
            index = process.pending if pending and process.pending is not None else process.price
            if premium is not None:
                out[name] = index * (1.0 + premium.value)
            else:
                out[name] = future_mark(
                    index, basis, expiry if expiry is not None else now_s, now_s
                )
        return out

    def funding_rate(self, instrument_name: str) -> float:
        return funding_rate(self._premiums[instrument_name].value, self.config.funding_cap)

    # ---- driving --------------------------------------------------------------------------
    def _publish(self, now_ns: int, fairs: dict[str, float]) -> list[Event]:
        events: list[Event] = []
        for underlying, process in self._indices.items():
            events.extend(self.engine.set_index(now_ns, underlying, process.price))
        cap = self.config.funding_cap
        for name, _process, premium, _expiry in self._priced:
            rate = None if premium is None else funding_rate(premium.value, cap)
            events.extend(self.engine.set_mark(now_ns, name, fairs[name], funding_rate=rate))
        return events

    def start(self, now_ns: int) -> list[Event]:
        """Publish the first prices and the background book."""
        self._last_ns = now_ns
        fairs = self.fair_prices(now_ns)
        events = self._publish(now_ns, fairs)
        events.extend(self.maker.requote(now_ns, fairs))
        return events

    def skip_to(self, now_ns: int) -> None:
        """Jump the clock without simulating the gap (the driver fell behind real time)."""
        if self._last_ns is not None and now_ns > self._last_ns:
            self._last_ns = now_ns

    def step(self, now_ns: int) -> list[Event]:
        """Advance the world to ``now_ns``; returns every engine event it caused."""
        if self._last_ns is None:
            return self.start(now_ns)
        if now_ns <= self._last_ns:
            return []
        events: list[Event] = []
        max_ns = int(self.config.max_step_s * _NS)
        while self._last_ns < now_ns:
            t = min(now_ns, self._last_ns + max_ns)
            events.extend(self._advance(self._last_ns, t))
            self._last_ns = t
        return events

    def _advance(self, last_ns: int, now_ns: int) -> list[Event]:
        dt_s = (now_ns - last_ns) / _NS
        fairs_now = self.fair_prices(last_ns)
        for process in self._indices.values():
            process.propose(dt_s)
        for premium in self._premiums.values():
            premium.step(dt_s)
        fairs_next = self.fair_prices(now_ns, pending=True)
        events = self.informed.run(now_ns, dt_s, fairs_now, fairs_next)
        for process in self._indices.values():
            process.commit()
        events.extend(self._publish(now_ns, fairs_next))
        interval_ns = self.config.funding_interval_s * _NS
        if math.floor(now_ns / interval_ns) > math.floor(last_ns / interval_ns):
            for name in self._premiums:
                events.extend(self.engine.apply_funding(now_ns, name, self.funding_rate(name)))
        events.extend(self.maker.requote(now_ns, fairs_next))
        events.extend(self.takers.run(now_ns, dt_s, fairs_next))
        return events
