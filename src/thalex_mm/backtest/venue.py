"""The simulated venue of a backtest: our orders in the replayed L2 book, with a queue.

The recorded book is everyone else's liquidity; our orders are placed in it virtually, each
with the quantity ahead of it in its level's queue. How that queue moves:

* ``risk-averse``: only trades at our price consume the queue ahead (then us); when the
  level shrinks without a trade we assume the cancellations were behind us, so the queue
  ahead is only capped at the level's new size.
* ``power:N`` / ``log``: in the style of hftbacktest's probabilistic queue models, a level
  that shrinks by Δ without a trade takes Δ·f(front)/(f(front) + f(back)) from ahead of us,
  with f(x) = xᴺ or ln(1 + x) (front: quantity ahead, back: quantity behind).

Fills, always as maker at our price, never with extra slippage: a recorded trade at our
price that the queue ahead cannot absorb, a trade through our price, or the book moving
through our price. ``partial_fills=False`` fills the whole order once its turn comes (the
no-partial-fill convention). Thalex's message rates apply as on the local exchange (50 order
messages and 1000 cancels a second; over them, error 4). Orders arrive after the entry
latency; a post-only order that
would cross on arrival is cancelled (immediate_cancel); an amend that keeps its price and
does not grow keeps its place, any other loses it (as Thalex does). Fees are rate × price ×
amount, a negative maker rate is a rebate. Quantities are in the data's units (contracts of
the instrument), prices in ticks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.domain import InstrumentSpec, Side
from thalex_mm.errors import UserError
from thalex_mm.exchange.engine import ErrorCode
from thalex_mm.exchange.ratelimit import SessionLimits

_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class QueueModel:
    """How the queue ahead of our order moves when its level shrinks without a trade."""

    kind: str = "risk-averse"  # "risk-averse", "power" or "log"
    power: float = 1.0

    @classmethod
    def parse(cls, text: str) -> QueueModel:
        """``risk-averse``, ``power:N`` or ``log``; UserError otherwise."""
        if text == "risk-averse":
            return cls()
        if text == "log":
            return cls("log")
        if text.startswith("power:"):
            try:
                n = float(text.split(":", 1)[1])
            except ValueError:
                n = math.nan
            if 0.0 < n < 100.0:
                return cls("power", n)
        raise UserError(f"--queue must be risk-averse, power:N (0 < N < 100) or log, not {text!r}")

    def share_ahead(self, front: float, back: float) -> float:
        """The fraction of a non-trade decrease taken from ahead of us."""
        if self.kind == "power":
            f, b = front**self.power, back**self.power
        else:
            f, b = math.log1p(front), math.log1p(back)
        return f / (f + b) if f + b > 0.0 else 1.0


@dataclass(slots=True)
class SimOrder:
    order_id: str
    client_order_id: int | None
    side: Side
    price: int  # ticks
    amount: float  # original, contracts
    filled: float = 0.0
    ahead: float = 0.0  # quantity ahead of us in the queue
    label: str = ""
    live: bool = True

    @property
    def remaining(self) -> float:
        return self.amount - self.filled


@dataclass(frozen=True, slots=True)
class VenueFill:
    ts_ns: int
    side: Side
    price: float
    amount: float
    fee: float
    fair: float


@dataclass(slots=True)
class SimulatedVenue:
    """Our orders against the replayed book; see the module docstring."""

    spec: InstrumentSpec
    queue: QueueModel
    maker_fee: float
    taker_fee: float
    partial_fills: bool = True
    # Thalex's message rates as the local exchange applies them (a cancel-on-disconnect
    # session: 50 order messages and 1000 cancels a second); None: unlimited
    limits: SessionLimits | None = None
    throttled: int = 0
    bids: dict[int, float] = field(default_factory=dict)  # the recorded book: ticks -> qty
    asks: dict[int, float] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    fills: list[VenueFill] = field(default_factory=list)
    position: float = 0.0
    cash: float = 0.0
    fees: float = 0.0
    max_position: float = 0.0
    _next_id: int = 0
    _trade_id: int = 0
    _fair_by_trade: dict[str, float] = field(default_factory=dict)
    _best_bid: int | None = None  # kept as levels change; rescanned when the best empties
    _best_ask: int | None = None

    # --- the book --------------------------------------------------------------------------
    def best_bid(self) -> int | None:
        return self._best_bid

    def best_ask(self) -> int | None:
        return self._best_ask

    def clear_book(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self._best_bid = self._best_ask = None

    def set_level(self, bid: bool, price: int, qty: float) -> float:
        """Set one recorded level (0 removes it); returns its previous quantity."""
        if bid:
            old = self.bids.get(price, 0.0)
            best = self._best_bid
            if qty > 0.0:
                self.bids[price] = qty
                if best is None or price > best:
                    self._best_bid = price
            elif old:
                del self.bids[price]
                if price == best:
                    self._best_bid = max(self.bids) if self.bids else None
            if qty < old:
                self.level_changed(Side.BUY, price, old, qty)
        else:
            old = self.asks.get(price, 0.0)
            best = self._best_ask
            if qty > 0.0:
                self.asks[price] = qty
                if best is None or price < best:
                    self._best_ask = price
            elif old:
                del self.asks[price]
                if price == best:
                    self._best_ask = min(self.asks) if self.asks else None
            if qty < old:
                self.level_changed(Side.SELL, price, old, qty)
        return old

    def mid(self) -> float:
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return math.nan
        return 0.5 * (bid + ask) * self.spec.tick_size

    def level_changed(self, side: Side, price: int, old: float, new: float) -> None:
        """A recorded level moved from ``old`` to ``new``: queues there may shorten."""
        if new >= old or not self.orders:
            return
        for o in self.orders.values():
            if o.side is side and o.price == price and o.live:
                if self.queue.kind != "risk-averse":
                    back = max(old - o.ahead, 0.0)
                    o.ahead -= (old - new) * self.queue.share_ahead(o.ahead, back)
                o.ahead = max(0.0, min(o.ahead, new))

    # --- our orders ------------------------------------------------------------------------
    def _new_id(self) -> str:
        self._next_id += 1
        return f"SIM{self._next_id:08d}"

    def _crosses(self, side: Side, price: int) -> bool:
        opposite = self.best_ask() if side is Side.BUY else self.best_bid()
        if opposite is None:
            return False
        return price >= opposite if side is Side.BUY else price <= opposite

    def _level(self, side: Side, price: int) -> float:
        return (self.bids if side is Side.BUY else self.asks).get(price, 0.0)

    def with_thalex_limits(self, now_ns: int) -> SimulatedVenue:
        """Apply Thalex's message rates from ``now_ns`` on (see ``limits``)."""
        self.limits = SessionLimits.new(now_ns)
        self.limits.make_non_persistent(now_ns)
        return self

    def _throttled(self, a: act.Action, now_ns: int) -> bool:
        limits = self.limits
        if limits is None:
            return False
        cancel = isinstance(a, act.Cancel | act.CancelAll)
        bucket = limits.cancels if cancel else limits.orders
        if bucket.try_take(now_ns):
            return False
        self.throttled += 1
        return True

    def apply(self, a: act.Action, now_ns: int) -> list[ev.Event]:
        """An action reaching the venue: its reply (and any fills), as core events."""
        spec = self.spec
        if self._throttled(a, now_ns):  # error 4, as Thalex and the local exchange answer
            return [ev.ActionRejected(now_ns, a.action_id, ErrorCode.THROTTLE_EXCEEDED,
                                      "message rate exceeded (throttled)")]  # fmt: skip
        match a:
            case act.Insert():
                o = SimOrder(
                    self._new_id(), a.client_order_id, a.side, a.price_ticks,
                    spec.lots_to_amount(a.amount_lots), label=a.label,
                )  # fmt: skip
                if a.post_only and self._crosses(a.side, a.price_ticks):
                    o.live = False
                    return [self._update(o, now_ns, a.action_id, "immediate_cancel")]
                o.ahead = self._level(a.side, a.price_ticks)
                self.orders[o.order_id] = o
                return [self._update(o, now_ns, a.action_id)]
            case act.Amend():
                found = self._find(a.order_id, a.client_order_id)
                if found is None:
                    return [ev.ActionRejected(now_ns, a.action_id, 1, "order not found")]
                o = found
                amount = spec.lots_to_amount(a.amount_lots)
                if amount <= o.filled + _EPS:
                    return [self._close(o, now_ns, a.action_id, "client_cancel")]
                if self._crosses(o.side, a.price_ticks):
                    return [self._close(o, now_ns, a.action_id, "immediate_cancel")]
                if a.price_ticks != o.price or amount > o.amount + _EPS:
                    o.ahead = self._level(o.side, a.price_ticks)  # to the back of the queue
                o.price, o.amount = a.price_ticks, amount
                return [self._update(o, now_ns, a.action_id)]
            case act.Cancel():
                gone = self._find(a.order_id, a.client_order_id)
                if gone is None:
                    return [ev.ActionRejected(now_ns, a.action_id, 1, "order not found")]
                return [self._close(gone, now_ns, a.action_id, "client_cancel")]
            case act.CancelAll():
                out: list[ev.Event] = [
                    self._close(o, now_ns, 0, "client_bulk_cancel")
                    for o in list(self.orders.values())
                ]
                out.append(ev.ActionAcknowledged(now_ns, a.action_id))
                return out
            case act.SetMMProtection():
                return [ev.ActionAcknowledged(now_ns, a.action_id)]
            case act.MassQuote():
                raise UserError("backtests run per-order quoting; set orders.mass_quote = false")

    def _find(self, order_id: str, cid: int | None) -> SimOrder | None:
        if order_id:
            o = self.orders.get(order_id)
            return o if o is not None and o.live else None
        for o in self.orders.values():
            if o.client_order_id == cid and o.live:
                return o
        return None

    def _close(self, o: SimOrder, now_ns: int, reply_to: int, reason: str) -> ev.OrderUpdate:
        o.live = False
        self.orders.pop(o.order_id, None)
        return self._update(o, now_ns, reply_to, reason)

    def _update(
        self,
        o: SimOrder,
        now_ns: int,
        reply_to: int,
        delete_reason: str = "",
        fills: tuple[ev.Fill, ...] = (),
    ) -> ev.OrderUpdate:
        spec = self.spec
        lots = spec.amount_to_lots_floor
        half = 0.5 * spec.amount_step
        filled = o.filled >= o.amount - _EPS
        if o.live and not filled:
            status = ev.OrderStatus.PARTIALLY_FILLED if o.filled > 0 else ev.OrderStatus.OPEN
        elif filled:
            status = ev.OrderStatus.FILLED
        else:
            status = (
                ev.OrderStatus.CANCELLED_PARTIALLY_FILLED if o.filled > 0
                else ev.OrderStatus.CANCELLED
            )  # fmt: skip
        return ev.OrderUpdate(
            now_ns, spec.name, o.order_id, o.client_order_id, o.side, status, o.price,
            lots(o.amount + half), lots(o.filled + half),
            lots(max(o.amount - o.filled, 0.0) + half), fills, o.label, delete_reason, reply_to,
        )  # fmt: skip

    # --- fills -----------------------------------------------------------------------------
    def _fill(self, o: SimOrder, amount: float, now_ns: int) -> ev.OrderUpdate:
        spec = self.spec
        price = o.price * spec.tick_size
        fee = self.maker_fee * price * amount
        o.filled += amount
        sign = int(o.side)
        self.position += sign * amount
        self.cash -= sign * amount * price
        self.fees += fee
        self.max_position = max(self.max_position, abs(self.position))
        fair = self.mid()
        self.fills.append(VenueFill(now_ns, o.side, price, amount, fee, fair))
        self._trade_id += 1
        trade_id = f"ST{self._trade_id:09d}"
        self._fair_by_trade[trade_id] = fair
        fill = ev.Fill(
            trade_id, o.side, o.price,
            spec.amount_to_lots_floor(amount + 0.5 * spec.amount_step), True, fee,
        )  # fmt: skip
        if o.filled >= o.amount - _EPS:
            o.live = False
            self.orders.pop(o.order_id, None)
            return self._update(o, now_ns, 0, "filled", (fill,))
        return self._update(o, now_ns, 0, "", (fill,))

    def on_trade(self, aggressor: Side, price: int, qty: float, now_ns: int) -> list[ev.Event]:
        """A recorded trade: our resting orders on the other side it reaches fill."""
        out: list[ev.Event] = []
        hit = Side.SELL if aggressor is Side.BUY else Side.BUY
        for o in list(self.orders.values()):
            if o.side is not hit or not o.live:
                continue
            through = price > o.price if hit is Side.SELL else price < o.price
            if through:
                out.append(self._fill(o, o.remaining, now_ns))
            elif price == o.price:
                o.ahead -= qty
                if o.ahead < -_EPS:
                    take = o.remaining if not self.partial_fills else min(o.remaining, -o.ahead)
                    o.ahead = 0.0
                    out.append(self._fill(o, take, now_ns))
        return out

    def on_book_through(self, now_ns: int) -> list[ev.Event]:
        """After a book change: our orders the opposite side's best has moved through fill."""
        out: list[ev.Event] = []
        bid, ask = self.best_bid(), self.best_ask()
        for o in list(self.orders.values()):
            if not o.live:
                continue
            if (o.side is Side.BUY and ask is not None and ask <= o.price) or (
                o.side is Side.SELL and bid is not None and bid >= o.price
            ):
                out.append(self._fill(o, o.remaining, now_ns))
        return out

    def fair_at(self, trade_id: str) -> float | None:
        """The book's mid when our fill ``trade_id`` happened (None: not one of ours)."""
        return self._fair_by_trade.get(trade_id)

    def pnl(self, mark: float) -> float:
        return self.cash + self.position * mark - self.fees
