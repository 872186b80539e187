"""The production core against the local exchange's synthetic market, on simulated time.

No sockets, no wall clock, no threads: the ``Engine`` from core/ trades against the local
exchange's ``MatchingEngine`` driven by its ``SyntheticMarket``, and time is a number this
loop advances. Orders reach the venue ``latency_ms`` after the core sent them; market data,
order updates and replies reach the core ``latency_ms`` after the venue produced them; the
market steps every ``step_ms`` and the core's timer fires every ``timer_ms``. Deterministic
for a seed. This is what the estimator tests and the economics benchmark run on (minutes of
market in seconds), because the truth is known here: the market's own volatility, taker
rate A and reach decay k.

What is simulated and what is not: the matching, fees, the background maker, uninformed and
informed takers are the local exchange's own; there are no rate limits, no MM protection
refills beyond what the engine asks, no reconnects, and funding is not paid (runs are
minutes long, the funding interval an hour). Mass-quote mode is not supported here.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.core.engine import Engine
from thalex_mm.domain import InstrumentSpec, Side
from thalex_mm.exchange.engine import (
    AccountTradeEvent,
    BookLevelsChanged,
    MakerTaker,
    MarkChanged,
    MatchingEngine,
    OrderSnapshot,
    OrderStatus,
    OrderUpdate,
    SessionRef,
    TimeInForce,
    TradeEvent,
    default_instruments,
)
from thalex_mm.exchange.market import MarketConfig, SyntheticMarket

_NS = 1_000_000_000
_MS = 1_000_000
START_NS = 1_767_225_600 * _NS  # 2026-01-01 00:00 UTC: a fixed, valid start for the venue
ACCOUNT = "SIM-MM"
SESSION = SessionRef(ACCOUNT, 1, persistent=False)

_ACTIONS = (act.Insert, act.Amend, act.Cancel, act.CancelAll, act.SetMMProtection, act.MassQuote)
_STATUS = {
    OrderStatus.OPEN: ev.OrderStatus.OPEN,
    OrderStatus.PARTIALLY_FILLED: ev.OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED: ev.OrderStatus.FILLED,
    OrderStatus.CANCELLED: ev.OrderStatus.CANCELLED,
    OrderStatus.CANCELLED_PARTIALLY_FILLED: ev.OrderStatus.CANCELLED_PARTIALLY_FILLED,
}


@dataclass(frozen=True, slots=True)
class SimFill:
    """One of our fills as the venue recorded it, with the fair price at that moment."""

    ts_ns: int
    instrument: str
    side: Side
    price: float
    amount: float
    fee: float
    maker: bool
    fair: float


@dataclass(slots=True)
class SimulationResult:
    """What a simulated run did, per instrument, from the venue's own records."""

    duration_s: float
    fills: list[SimFill] = field(default_factory=list)
    final_fair: dict[str, float] = field(default_factory=dict)
    reports: list[act.QuoteReport] = field(default_factory=list)
    decisions: int = 0

    def pnl(self, instrument: str) -> float:
        """Cash + position × final fair − fees: the venue's view of our PnL."""
        fair = self.final_fair[instrument]
        return sum(
            int(f.side) * f.amount * (fair - f.price) - f.fee
            for f in self.fills
            if f.instrument == instrument
        )

    def edge(self, instrument: str) -> float:
        """Σ side·amount·(fair at fill − price): what the fills earned against fair."""
        return sum(
            int(f.side) * f.amount * (f.fair - f.price)
            for f in self.fills
            if f.instrument == instrument
        )

    def fees(self, instrument: str) -> float:
        return sum(f.fee for f in self.fills if f.instrument == instrument)

    def volume(self, instrument: str) -> float:
        return sum(f.amount for f in self.fills if f.instrument == instrument)


class SyntheticSimulation:
    """Runs one ``Engine`` against the synthetic market; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        market: MarketConfig,
        *,
        latency_ms: float = 1.0,
        step_ms: float = 20.0,
        timer_ms: float = 100.0,
        maker_fee_rate: float | None = None,
        taker_fee_rate: float | None = None,
        on_decisions: Callable[[int, list[act.Decision]], None] | None = None,
    ) -> None:
        for name, value in (("step_ms", step_ms), ("timer_ms", timer_ms)):
            if not (0.0 < value < math.inf):
                raise ValueError(f"{name} must be a positive number, got {value}")
        if not (0.0 <= latency_ms < math.inf):
            raise ValueError(f"latency_ms must be a number >= 0, got {latency_ms}")
        self.core = engine
        instruments = default_instruments(START_NS)
        fees: dict[str, float] = {}
        if maker_fee_rate is not None:
            fees["maker_fee_rate"] = maker_fee_rate
        if taker_fee_rate is not None:
            fees["taker_fee_rate"] = taker_fee_rate
        instruments = [dataclasses.replace(i, **fees) for i in instruments]  # type: ignore[arg-type]
        self.venue = MatchingEngine(instruments, default_balance=1e9)
        self.venue.add_account(ACCOUNT, 1e9)
        self.market = SyntheticMarket(self.venue, market)
        self.specs: dict[str, InstrumentSpec] = {i.spec.name: i.spec for i in instruments}
        self.latency_ns = int(latency_ms * _MS)
        self.step_ns = int(step_ms * _MS)
        self.timer_ns = int(timer_ms * _MS)
        self.on_decisions = on_decisions
        self.now_ns = START_NS
        self._queue: list[tuple[int, int, Any]] = []  # (due ns, seq, core event or action)
        self._seq = 0
        self._fair: dict[str, float] = {}
        self._fees: dict[str, float] = {}  # trade id -> our fee, from the venue's records
        self.result = SimulationResult(0.0)

    # --- plumbing ------------------------------------------------------------------------
    def _later(self, item: Any, delay_ns: int) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (self.now_ns + delay_ns, self._seq, item))

    def _to_core(self, events: Iterable[ev.Event] | ev.Event) -> None:
        self._later(events, self.latency_ns)

    def _handle(self, item: Any) -> None:
        actions: list[act.Action] = []
        decisions: list[act.Decision] = []
        if isinstance(item, list):
            self.core.handle_batch(item, actions, decisions)
        else:
            self.core.handle_into(item, actions, decisions)
        self._after_core(actions, decisions)

    def _after_core(self, actions: list[act.Action], decisions: list[act.Decision]) -> None:
        for a in actions:
            self._later(a, self.latency_ns)
        if decisions:
            self.result.decisions += len(decisions)
            self.result.reports.extend(d for d in decisions if isinstance(d, act.QuoteReport))
            if self.on_decisions is not None:
                self.on_decisions(self.now_ns, decisions)

    # --- venue -> core -------------------------------------------------------------------
    def _translate(self, events: Iterable[Any]) -> None:
        ours: list[ev.Event] = []
        for e in events:
            if isinstance(e, AccountTradeEvent) and e.account == ACCOUNT:
                self._record_fill(e)
        for e in events:
            if isinstance(e, BookLevelsChanged):
                spec = self.specs[e.instrument_name]
                self._to_core(
                    ev.BookUpdate(
                        self.now_ns + self.latency_ns,
                        e.instrument_name,
                        tuple(
                            (spec.price_to_ticks_floor(p), spec.amount_to_lots_floor(a))
                            for p, a in e.bid_changes
                        ),
                        tuple(
                            (spec.price_to_ticks_ceil(p), spec.amount_to_lots_floor(a))
                            for p, a in e.ask_changes
                        ),
                    )
                )
            elif isinstance(e, TradeEvent):
                t = e.trade
                spec = self.specs[t.instrument_name]
                self._to_core(
                    ev.PublicTrade(
                        self.now_ns + self.latency_ns,
                        t.instrument_name,
                        spec.price_to_ticks_floor(t.price + 0.5 * spec.tick_size),
                        spec.amount_to_lots_floor(t.amount + 0.5 * spec.amount_step),
                        t.taker_direction,
                        t.time_ns,
                    )
                )
            elif isinstance(e, MarkChanged):
                self._fair[e.instrument_name] = e.mark_price
                spec = self.specs[e.instrument_name]
                index = self.venue.index_price(spec.underlying) or e.mark_price
                self._to_core(
                    ev.Ticker(
                        self.now_ns + self.latency_ns,
                        e.instrument_name,
                        e.mark_price,
                        index,
                        e.funding_rate or 0.0,
                    )
                )
            elif isinstance(e, OrderUpdate) and e.account == ACCOUNT:
                ours.append(self._order_update(e.order, 0))
        if ours:
            self._to_core(ours if len(ours) > 1 else ours[0])

    def _record_fill(self, e: AccountTradeEvent) -> None:
        r = e.record
        self._fees[r.trade_id] = r.fee
        self.result.fills.append(
            SimFill(
                r.time_ns,
                r.instrument_name,
                r.direction,
                r.price,
                r.amount,
                r.fee,
                r.maker_taker is MakerTaker.MAKER,
                self._fair.get(r.instrument_name, r.price),
            )
        )

    def _order_update(self, o: OrderSnapshot, reply_to: int) -> ev.OrderUpdate:
        spec = self.specs[o.instrument_name]
        fills = tuple(
            ev.Fill(
                f.trade_id,
                o.direction,
                spec.price_to_ticks_floor(f.price + 0.5 * spec.tick_size),
                spec.amount_to_lots_floor(f.amount + 0.5 * spec.amount_step),
                f.maker_taker is MakerTaker.MAKER,
                self._fees.get(f.trade_id, ev.NO_FEE),
            )
            for f in o.fills
        )
        lots = spec.amount_to_lots_floor
        half = 0.5 * spec.amount_step
        return ev.OrderUpdate(
            self.now_ns + self.latency_ns,
            o.instrument_name,
            o.order_id,
            o.client_order_id,
            o.direction,
            _STATUS[o.status],
            0 if o.price is None else spec.price_to_ticks_floor(o.price + 0.5 * spec.tick_size),
            lots(o.amount + half),
            lots(o.filled_amount + half),
            lots(o.remaining_amount + half),
            fills,
            o.label or "",
            str(o.delete_reason or ""),
            reply_to,
        )

    # --- core -> venue -------------------------------------------------------------------
    def _apply(self, a: act.Action) -> None:
        now = self.now_ns
        due = now + self.latency_ns
        venue = self.venue
        match a:
            case act.Insert():
                spec = self.specs[a.instrument]
                out = venue.insert(
                    now, SESSION, instrument_name=a.instrument, direction=a.side,
                    amount=spec.lots_to_amount(a.amount_lots),
                    price=spec.ticks_to_price(a.price_ticks),
                    time_in_force=TimeInForce.IOC if a.immediate_or_cancel else None,
                    client_order_id=a.client_order_id, label=a.label or None,
                    post_only=a.post_only and not a.immediate_or_cancel,
                    reduce_only=a.reduce_only,
                )  # fmt: skip
            case act.Amend():
                spec = self.specs[a.instrument]
                out = venue.amend(
                    now, SESSION, amount=spec.lots_to_amount(a.amount_lots),
                    price=spec.ticks_to_price(a.price_ticks), order_id=a.order_id or None,
                    client_order_id=None if a.order_id else a.client_order_id,
                )  # fmt: skip
            case act.Cancel():
                out = venue.cancel(
                    now, SESSION, order_id=a.order_id or None,
                    client_order_id=None if a.order_id else a.client_order_id,
                )  # fmt: skip
            case act.CancelAll():
                count = venue.cancel_all(now, SESSION)
                self._translate(count.events)
                self._later(ev.ActionAcknowledged(due, a.action_id), self.latency_ns)
                return
            case act.SetMMProtection():
                prot = venue.set_mm_protection(
                    now, SESSION, product=a.product, trade_amount=a.trade_amount,
                    quote_amount=a.quote_amount,
                )  # fmt: skip
                self._translate(prot.events)
                self._later(ev.ActionAcknowledged(due, a.action_id), self.latency_ns)
                return
            case act.MassQuote():
                raise NotImplementedError("the synthetic simulation has no mass-quote mode")
        self._translate(out.events)
        if out.error is not None:
            reply: ev.Event = ev.ActionRejected(due, a.action_id, out.error.code, out.error.message)
        else:
            assert out.result is not None
            reply = self._order_update(out.result, a.action_id)
        self._later(reply, self.latency_ns)

    # --- the loop ------------------------------------------------------------------------
    def run(self, duration_s: float) -> SimulationResult:
        """Advance ``duration_s`` simulated seconds; returns the run's result."""
        if not (0.0 < duration_s < math.inf):
            raise ValueError(f"duration_s must be a positive number, got {duration_s}")
        end = self.now_ns + int(duration_s * _NS)
        next_step = self.now_ns
        next_timer = self.now_ns + self.timer_ns
        queue = self._queue
        while True:
            due = queue[0][0] if queue else end + 1
            t = min(next_step, next_timer, due)
            if t > end:
                break
            self.now_ns = t
            if due == t:
                _, _, item = heapq.heappop(queue)
                if isinstance(item, _ACTIONS):
                    self._apply(item)
                else:
                    self._handle(item)
            elif next_step == t:
                self._translate(self.market.step(t))
                next_step += self.step_ns
            else:
                self._handle(ev.Timer(t))
                next_timer += self.timer_ns
        self.now_ns = end
        self.result.duration_s += duration_s
        self.result.final_fair = dict(self._fair)
        return self.result
