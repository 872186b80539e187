"""The sans-I/O heart of the local exchange: sessions, methods, the market clock.

The server feeds it bytes and the wall clock (``wall_ns``); it returns nothing but fills the
sessions' outboxes (`take_ready` lists the sessions with output). The engine and the synthetic
market run on *simulated* time, ``sim = sim_origin + (wall - wall_origin) * time_scale``;
market-data delays and all timestamps in messages use it. Rate limits, heartbeats and the
login ``iat`` check are about the connection, so they use the wall clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from thalex_mm.exchange import methods_private as priv
from thalex_mm.exchange import methods_public as pub
from thalex_mm.exchange.channels import ChannelKind, ChannelSpec, parse_channel
from thalex_mm.exchange.engine import Event, MatchingEngine, Outcome
from thalex_mm.exchange.faults import FaultInjector
from thalex_mm.exchange.feeds import PublicFeeds
from thalex_mm.exchange.pacing import MdPacer
from thalex_mm.exchange.routing import PrivateRouter
from thalex_mm.exchange.session import Bucket, Handler, Session
from thalex_mm.exchange.stats import ExchangeStats, SessionCounters, SessionStats
from thalex_mm.venue.thalex.auth import KeyRing
from thalex_mm.venue.thalex.rpc import RequestFrame, error_frame, result_frame

T = TypeVar("T")
_NS = 1_000_000_000
_RETIRED_KEPT = 100  # closed sessions still listed by `stats()`
_MAX_ERROR_MESSAGE = 300  # engine messages may quote client input; keep replies short

METHODS: dict[str, tuple[Handler | None, bool, int]] = {
    # name: (handler or None for session-level methods, needs login, rate-limit bucket)
    "public/login": (None, False, Bucket.NONE),
    "private/set_cancel_on_disconnect": (None, True, Bucket.NONE),
    "public/subscribe": (None, False, Bucket.NONE),
    "private/subscribe": (None, True, Bucket.NONE),
    "unsubscribe": (None, False, Bucket.NONE),
    "public/unsubscribe": (None, False, Bucket.NONE),
    "private/unsubscribe": (None, False, Bucket.NONE),
    "public/instruments": (pub.instruments, False, Bucket.NONE),
    "public/all_instruments": (pub.instruments, False, Bucket.NONE),
    "public/instrument": (pub.instrument, False, Bucket.NONE),
    "public/ticker": (pub.ticker, False, Bucket.NONE),
    "public/index": (pub.index, False, Bucket.NONE),
    "public/book": (pub.book, False, Bucket.NONE),
    "public/system_info": (pub.system_info, False, Bucket.NONE),
    "private/insert": (priv.insert, True, Bucket.ORDERS),
    "private/buy": (priv.buy, True, Bucket.ORDERS),
    "private/sell": (priv.sell, True, Bucket.ORDERS),
    "private/amend": (priv.amend, True, Bucket.ORDERS),
    "private/mass_quote": (priv.mass_quote, True, Bucket.ORDERS),
    "private/set_mm_protection": (priv.set_mm_protection, True, Bucket.ORDERS),
    "private/cancel": (priv.cancel, True, Bucket.CANCELS),
    "private/cancel_all": (priv.cancel_all, True, Bucket.CANCELS),
    "private/cancel_session": (priv.cancel_session, True, Bucket.CANCELS),
    "private/cancel_mass_quote": (priv.cancel_mass_quote, True, Bucket.CANCELS),
    "private/open_orders": (priv.open_orders, True, Bucket.NONE),
    "private/portfolio": (priv.portfolio, True, Bucket.NONE),
    "private/trade_history": (priv.trade_history, True, Bucket.NONE),
    "private/order_history": (priv.order_history, True, Bucket.NONE),
    "private/account_summary": (priv.account_summary, True, Bucket.NONE),
}


class Market(Protocol):
    """What the hub needs from the synthetic market: advance to ``now_ns``, return events."""

    def step(self, now_ns: int) -> list[Event]: ...


@dataclass(frozen=True, slots=True)
class SimClock:
    """Simulated time as a linear function of wall time (``time_scale`` sim s per real s)."""

    wall_origin_ns: int
    sim_origin_ns: int
    time_scale: float = 1.0

    def sim_ns(self, wall_ns: int) -> int:
        return self.sim_origin_ns + int((wall_ns - self.wall_origin_ns) * self.time_scale)


class ExchangeHub:
    """Sessions, the method table, event routing and the market clock of one exchange."""

    def __init__(
        self,
        engine: MatchingEngine,
        keyring: KeyRing,
        clock: SimClock,
        *,
        market: Market | None = None,
        step_ns: int = 20_000_000,
        rate_scale: float = 1.0,
        summary_interval_ns: int = _NS,
        md_rate: float = 0.0,
        market_name: str = "synthetic market",
        faults: FaultInjector | None = None,
    ) -> None:
        self.engine = engine
        self.faults = faults  # refuses requests while a fault says so (None: never)
        self.market_name = market_name  # what drives the books, for banners and summaries
        engine.summary_events = False  # account.summary is periodic (`router.flush_summaries`)
        self.keyring = keyring
        self.clock = clock
        self.market = market
        self.step_ns = step_ns
        self.rate_scale = rate_scale
        self.methods = METHODS
        instruments = engine.instruments()
        self._tick_sizes = {i.name: i.spec.tick_size for i in instruments}
        self._underlyings = {i.spec.underlying for i in instruments}
        self.feeds = PublicFeeds(engine, instruments, paced_raw=md_rate > 0)
        self.pacer = MdPacer(self.feeds, md_rate, clock.wall_origin_ns) if md_rate > 0 else None
        self.slow_consumer_disconnects = 0
        self.flow_control_pauses = 0  # clock ticks the server skipped for a backlogged client
        self._retired: deque[Session] = deque()
        self._retired_totals = SessionCounters()  # sessions that left the `_retired` window
        self.sessions: dict[int, Session] = {}
        self.by_account: dict[str, dict[int, Session]] = {}
        self.started_ns = clock.sim_origin_ns
        self.market_ns = clock.sim_origin_ns
        self.internal_errors: list[BaseException] = []
        self.internal_error_count = 0
        self._ready: list[Session] = []
        self._next_session_id = 1
        self.router = PrivateRouter(engine, self.feeds, self.sessions, self.by_account)
        if market is not None:  # the first prices and book exist before anyone connects
            self.publish(market.step(self.market_ns), self.market_ns)
        self._summary_interval_ns = summary_interval_ns
        self._next_summary_ns = clock.sim_origin_ns

    # ---- time and sessions ---------------------------------------------------------------
    def sim_ns(self, wall_ns: int) -> int:
        return self.clock.sim_ns(wall_ns)

    def open_session(self, wall_ns: int) -> Session:
        session = Session(self, self._next_session_id, wall_ns)
        self._next_session_id += 1
        self.sessions[session.session_id] = session
        return session

    def on_login(self, session: Session) -> None:
        assert session.account is not None
        self.by_account.setdefault(session.account, {})[session.session_id] = session

    def close_session(self, session: Session, wall_ns: int) -> None:
        """Disconnect or heartbeat timeout: the engine deletes the session's non-persistent
        orders (delete_reason session_end) and resets its MM protection groups."""
        if session.closed:
            return
        session.closed = True
        self._retired.append(session)
        if len(self._retired) > _RETIRED_KEPT:
            self._retired_totals.add(self._retired.popleft().counters)
        session.drop_subscriptions()
        self.sessions.pop(session.session_id, None)
        if session.account is not None:
            self.by_account.get(session.account, {}).pop(session.session_id, None)
        sim_ns = self.sim_ns(wall_ns)
        self.publish(self.engine.end_session(sim_ns, session.session_id), sim_ns)
        self.feeds.flush(sim_ns)

    def mark_ready(self, session: Session) -> None:
        self._ready.append(session)

    def take_ready(self) -> list[Session]:
        ready, self._ready = self._ready, []
        return ready

    def record_internal_error(self, exc: BaseException) -> None:
        self.internal_error_count += 1
        if len(self.internal_errors) < 100:
            self.internal_errors.append(exc)

    def note_slow_consumer(self, session: Session, buffered_bytes: int) -> None:
        """The server cut off a client that stopped reading (its buffer passed the limit)."""
        session.counters.slow_consumer = True
        session.counters.bytes_dropped += buffered_bytes
        self.slow_consumer_disconnects += 1

    def stats(self) -> ExchangeStats:
        """Counters for load tests (see `stats.py`); cheap enough to poll."""
        totals = SessionCounters()
        totals.add(self._retired_totals)
        listed: list[SessionStats] = []
        for session, is_open in [(s, False) for s in self._retired] + [
            (s, True) for s in self.sessions.values()
        ]:
            totals.add(session.counters)
            counters = SessionCounters(**{
                f: getattr(session.counters, f) for f in SessionCounters.__dataclass_fields__
            })  # fmt: skip
            listed.append(SessionStats(session.session_id, session.account, is_open, counters))
        pacer = self.pacer
        return ExchangeStats(
            md_rate=0.0 if pacer is None else pacer.rate,
            publications=self.feeds.publications,
            public_frames=self.feeds.frames,
            paced_publications=0 if pacer is None else pacer.publications,
            paced_repeats=0 if pacer is None else pacer.repeats,
            paced_coalesced=0 if pacer is None else pacer.coalesced,
            paced_missed=0 if pacer is None else pacer.missed,
            slow_consumer_disconnects=self.slow_consumer_disconnects,
            flow_control_pauses=self.flow_control_pauses,
            totals=totals,
            sessions=tuple(listed[-_RETIRED_KEPT:]),
        )

    def parse_channel(self, name: str) -> ChannelSpec:
        return parse_channel(name, self._tick_sizes, self._underlyings)

    # ---- the clock -----------------------------------------------------------------------
    def tick(self, wall_ns: int, max_steps: int = 1000) -> list[Session]:
        """Advance the market in ``step_ns`` steps up to now, publish, expire dead sessions.

        Returns the sessions closed for a missed heartbeat (the server closes their sockets).
        """
        sim_ns = self.sim_ns(wall_ns)
        steps = 0
        while self.market_ns + self.step_ns <= sim_ns and steps < max_steps:
            self.market_ns += self.step_ns
            steps += 1
            if self.market is not None:
                self.publish(self.market.step(self.market_ns), self.market_ns)
                self.feeds.flush(self.market_ns)
        if steps == max_steps:  # fell behind: skip ahead rather than spiral
            self.market_ns = sim_ns
            skip = getattr(self.market, "skip_to", None)
            if skip is not None:  # do not simulate the skipped time in one huge step later
                skip(sim_ns)
        if sim_ns >= self._next_summary_ns:
            self._next_summary_ns = sim_ns + self._summary_interval_ns
            self.router.flush_summaries()
        self.feeds.flush(sim_ns)
        if self.pacer is not None:
            self.pacer.pace(wall_ns, sim_ns)
        dead = [
            s
            for s in self.sessions.values()
            if s.cod_timeout_ns is not None and wall_ns - s.last_rx_ns > s.cod_timeout_ns
        ]
        for session in dead:
            self.close_session(session, wall_ns)
        return dead

    def hold(self, wall_ns: int) -> None:
        """The server skipped a clock tick because a client is backlogged (flow control)."""
        self.flow_control_pauses += 1
        if self.pacer is not None:
            self.pacer.hold(wall_ns)

    def flush_public(self, sim_ns: int) -> None:
        self.feeds.flush(sim_ns)

    # ---- replies -------------------------------------------------------------------------
    def finish(
        self, frame: RequestFrame, outcome: Outcome[T], sim_ns: int, convert: Callable[[T], Any]
    ) -> bytes:
        """Fan out the outcome's events, then build the reply (so feeds precede the reply)."""
        self.publish(outcome.events, sim_ns)
        if outcome.error is not None:
            message = outcome.error.message
            if len(message) > _MAX_ERROR_MESSAGE:
                message = message[: _MAX_ERROR_MESSAGE - 3] + "..."
            return error_frame(bytes(frame.id), outcome.error.code, message)
        result = outcome.result
        return result_frame(bytes(frame.id), None if result is None else convert(result))

    def publish(self, events: Iterable[Event], sim_ns: int) -> None:
        self.router.publish(events, sim_ns)

    def private_snapshot(self, session: Session, kind: ChannelKind, sim_ns: int) -> None:
        self.router.private_snapshot(session, kind, sim_ns)
