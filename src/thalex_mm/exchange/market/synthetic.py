"""The synthetic market: index, marks, funding and simulated participants, stepped by time.

Deterministic for a given `MarketConfig.seed`: each component draws from its own generator
spawned from one SeedSequence, so the same seed and the same `step` times give the same trades.
The driver (the server) owns the clock and calls `step(now_ns)` with any spacing; gaps longer
than `max_step_s` are simulated as several sub-steps.

The price path (indices, regimes, perpetual premiums) is drawn ahead into a buffer of
time-stamped points, as far as ``informed_horizon_s`` past the current step, each point one
step's spacing after the previous one: informed flow reads the fair price ``h`` seconds ahead
from the same path the market then follows. The path draws from its own generators in the
same order whatever the horizon, so with evenly spaced steps (the exchange's `step_ms`) it is
the same for every horizon, and the same as with no buffer (horizon 0).

Within a (sub-)step: take the path point for the step → informed flow trades toward the fair
price ``h`` ahead against the old book → indices and marks move (→ engine) → funding if an
interval boundary passed → the background maker re-quotes around the new fair prices →
uninformed takers arrive.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace

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


@dataclass(frozen=True, slots=True)
class _PathPoint:
    """The simulated world at ``t_ns``: index and regime per underlying, premium per perpetual
    (in the market's underlying / perpetual order)."""

    t_ns: int
    index: tuple[float, ...]
    stressed: tuple[bool, ...]
    premium: tuple[float, ...]


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
        # The processes are the path's frontier (its last drawn point), not the present.
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
        self._underlying_pos = {u: i for i, u in enumerate(self._indices)}
        self._premium_pos = {name: i for i, name in enumerate(self._premiums)}
        for session in (MAKER_SESSION, TAKER_SESSION, INFORMED_SESSION):
            engine.add_account(session.account, _PARTICIPANT_BALANCE)
        self.maker = BackgroundMaker(engine, MAKER_SESSION, cfg)
        self.takers = UninformedTakers(engine, TAKER_SESSION, cfg, taker_rng)
        self.informed = InformedTrader(engine, INFORMED_SESSION, cfg, informed_rng)
        self._last_ns: int | None = None
        self._horizon_ns = round(cfg.informed_horizon_s * _NS)
        self._now = self._frontier_point(0)  # the present (re-stamped by start)
        self._ahead: deque[_PathPoint] = deque()  # drawn, not yet reached; oldest first
        # (name, its underlying's position, its premium's position or None, expiry s or None)
        self._priced = [
            (
                inst.name,
                self._underlying_pos[inst.spec.underlying],
                self._premium_pos.get(inst.name),
                inst.spec.expiry_ts,
            )
            for inst in engine.instruments()
        ]

    # ---- the path ---------------------------------------------------------------------------
    def _frontier_point(self, t_ns: int) -> _PathPoint:
        return _PathPoint(
            t_ns,
            tuple(p.price for p in self._indices.values()),
            tuple(p.stressed for p in self._indices.values()),
            tuple(p.value for p in self._premiums.values()),
        )

    def _draw(self, t_ns: int) -> _PathPoint:
        """Advance the frontier to ``t_ns`` in one move (indices first, then premiums: the
        order every step has drawn in)."""
        frontier = self._ahead[-1] if self._ahead else self._now
        dt_s = (t_ns - frontier.t_ns) / _NS
        for process in self._indices.values():
            process.propose(dt_s)
            process.commit()
        for premium in self._premiums.values():
            premium.step(dt_s)
        point = self._frontier_point(t_ns)
        self._ahead.append(point)
        return point

    def _extend(self, now_ns: int, spacing_ns: int) -> _PathPoint:
        """Draw the path to cover ``now_ns`` and the horizon past it (in steps of
        ``spacing_ns``, the spacing steps are arriving at); the point the informed trader
        reads: the last one at or before ``now_ns`` + horizon."""
        frontier_ns = self._ahead[-1].t_ns if self._ahead else self._now.t_ns
        if frontier_ns < now_ns:
            self._draw(now_ns)
        target_ns = now_ns + self._horizon_ns
        while self._ahead[-1].t_ns < target_ns:
            self._draw(self._ahead[-1].t_ns + spacing_ns)
        seen = self._now
        for point in self._ahead:
            if point.t_ns > target_ns:
                break
            seen = point
        return seen

    def _advance_path(self, now_ns: int) -> None:
        """Make the last point at or before ``now_ns`` the present."""
        while self._ahead and self._ahead[0].t_ns <= now_ns:
            self._now = self._ahead.popleft()

    # ---- prices ---------------------------------------------------------------------------
    def index(self, underlying: str) -> float:
        return self._now.index[self._underlying_pos[underlying]]

    def stressed(self, underlying: str) -> bool:
        return self._now.stressed[self._underlying_pos[underlying]]

    def fair_prices(self, now_ns: int) -> dict[str, float]:
        """Mark of every instrument from the current index (futures: basis at ``now_ns``)."""
        return self._fairs(self._now, now_ns)

    def _fairs(self, point: _PathPoint, now_ns: int) -> dict[str, float]:
        now_s = now_ns / _NS
        basis = self.config.future_basis_per_year
        out: dict[str, float] = {}
        for name, underlying, premium, expiry in self._priced:
            index = point.index[underlying]
            if premium is not None:
                out[name] = index * (1.0 + point.premium[premium])
            else:
                out[name] = future_mark(
                    index, basis, expiry if expiry is not None else now_s, now_s
                )
        return out

    def funding_rate(self, instrument_name: str) -> float:
        premium = self._now.premium[self._premium_pos[instrument_name]]
        return funding_rate(premium, self.config.funding_cap)

    # ---- driving --------------------------------------------------------------------------
    def _publish(self, now_ns: int, fairs: dict[str, float]) -> list[Event]:
        events: list[Event] = []
        for underlying, position in self._underlying_pos.items():
            events.extend(self.engine.set_index(now_ns, underlying, self._now.index[position]))
        cap = self.config.funding_cap
        for name, _underlying, premium, _expiry in self._priced:
            rate = None if premium is None else funding_rate(self._now.premium[premium], cap)
            events.extend(self.engine.set_mark(now_ns, name, fairs[name], funding_rate=rate))
        return events

    def start(self, now_ns: int) -> list[Event]:
        """Publish the first prices and the background book."""
        self._last_ns = now_ns
        self._now = replace(self._now, t_ns=now_ns)
        fairs = self.fair_prices(now_ns)
        events = self._publish(now_ns, fairs)
        events.extend(self.maker.requote(now_ns, fairs))
        return events

    def skip_to(self, now_ns: int) -> None:
        """Jump the clock without simulating the gap (the driver fell behind real time); the
        path drawn ahead moves with the clock, so it continues as if no time had passed."""
        if self._last_ns is not None and now_ns > self._last_ns:
            shift = now_ns - self._last_ns
            self._now = replace(self._now, t_ns=self._now.t_ns + shift)
            self._ahead = deque(replace(p, t_ns=p.t_ns + shift) for p in self._ahead)
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
        seen = self._extend(now_ns, now_ns - last_ns)
        events = self.informed.run(
            now_ns, dt_s, fairs_now, self._fairs(seen, now_ns + self._horizon_ns)
        )
        self._advance_path(now_ns)
        fairs_next = self.fair_prices(now_ns)
        events.extend(self._publish(now_ns, fairs_next))
        interval_ns = self.config.funding_interval_s * _NS
        if math.floor(now_ns / interval_ns) > math.floor(last_ns / interval_ns):
            for name in self._premiums:
                events.extend(self.engine.apply_funding(now_ns, name, self.funding_rate(name)))
        events.extend(self.maker.requote(now_ns, fairs_next))
        events.extend(self.takers.run(now_ns, dt_s, fairs_next))
        return events
