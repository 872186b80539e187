"""Shared helpers for the core tests: a spec, builders, and a tiny fake venue.

The fake venue keeps our orders as the exchange would, answers actions with the replies the
real venue sends (``OrderUpdate`` with ``reply_to``, ``ActionRejected`` code 1 for orders that
are gone) and can fill orders, so tests drive the order manager through real round trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thalex_mm.core.actions import Action, Amend, Cancel, Insert
from thalex_mm.core.config import OrderManagerConfig
from thalex_mm.core.events import ActionRejected, Fill, OrderStatus, OrderUpdate
from thalex_mm.core.guard import OrderGuard
from thalex_mm.core.ids import IdSource
from thalex_mm.core.order_manager import OrderManager
from thalex_mm.domain import InstrumentKind, InstrumentSpec, Level, Side

NAME = "BTC-PERPETUAL"
SPEC = InstrumentSpec(NAME, InstrumentKind.PERPETUAL, "BTCUSD", 1.0, 0.001, 0.001, "FBTCUSD")
MS = 1_000_000


def ladder(*pairs: tuple[int, int]) -> tuple[Level, ...]:
    return tuple(Level(p, a) for p, a in pairs)


def make_manager(**cfg: object) -> OrderManager:
    config = OrderManagerConfig(**cfg)  # type: ignore[arg-type]
    guard = OrderGuard(SPEC, max_order_lots=1000, price_band=0.0)
    return OrderManager(NAME, config, guard, IdSource(first_client_order_id=100))


def sync(
    mgr: OrderManager,
    bids: tuple[Level, ...],
    asks: tuple[Level, ...],
    now: int,
    room: int = 10_000,
) -> list[Action]:
    actions: list[Action] = []
    mgr.sync(
        bids, asks, now, buy_room=room, sell_room=room, reduce_only_side=None,
        actions=actions, decisions=[],
    )  # fmt: skip
    return actions


@dataclass
class VenueOrder:
    cid: int | None
    oid: str
    side: Side
    price: int
    amount: int
    filled: int = 0
    status: OrderStatus = OrderStatus.OPEN


@dataclass
class FakeVenue:
    """Holds orders, queues one reply per action, answers them when told."""

    orders: dict[str, VenueOrder] = field(default_factory=dict)
    by_cid: dict[int, str] = field(default_factory=dict)
    pending: list[tuple[int, Action]] = field(default_factory=list)
    next_oid: int = 1
    next_trade: int = 1

    def submit(self, actions: list[Action]) -> None:
        for a in actions:
            self.pending.append((a.action_id, a))

    def _find(self, cid: int | None, oid: str) -> VenueOrder | None:
        if oid:
            return self.orders.get(oid)
        if cid is not None and cid in self.by_cid:
            return self.orders.get(self.by_cid[cid])
        return None

    def _update(
        self, o: VenueOrder, now: int, reply_to: int, fills: tuple[Fill, ...] = ()
    ) -> OrderUpdate:
        return OrderUpdate(
            now, NAME, o.oid, o.cid, o.side, o.status, o.price, o.amount, o.filled,
            max(0, o.amount - o.filled) if o.status.is_active else 0, fills, "mm", "", reply_to,
        )  # fmt: skip

    def answer(self, index: int, now: int) -> OrderUpdate | ActionRejected:
        aid, a = self.pending.pop(index)
        if isinstance(a, Insert):
            oid = f"o{self.next_oid}"
            self.next_oid += 1
            o = VenueOrder(a.client_order_id, oid, a.side, a.price_ticks, a.amount_lots)
            self.orders[oid] = o
            self.by_cid[a.client_order_id] = oid
            return self._update(o, now, aid)
        assert isinstance(a, Amend | Cancel)
        found = self._find(a.client_order_id, a.order_id)
        if found is None or not found.status.is_active:
            return ActionRejected(now, aid, 1, "order not found")
        if isinstance(a, Amend):
            found.price = a.price_ticks
            found.amount = a.amount_lots
            if found.amount <= found.filled:
                found.status = _closed(found)
        else:
            found.status = _closed(found)
        return self._update(found, now, aid)

    def answer_all(self, now: int) -> list[OrderUpdate | ActionRejected]:
        out = []
        while self.pending:
            out.append(self.answer(0, now))
        return out

    def fill(self, oid: str, lots: int, now: int) -> OrderUpdate:
        o = self.orders[oid]
        lots = min(lots, o.amount - o.filled)
        o.filled += lots
        tid = f"t{self.next_trade}"
        self.next_trade += 1
        o.status = OrderStatus.FILLED if o.filled >= o.amount else OrderStatus.PARTIALLY_FILLED
        return self._update(o, now, 0, (Fill(tid, o.side, o.price, lots),))

    def active(self) -> list[VenueOrder]:
        return [o for o in self.orders.values() if o.status.is_active]


def _closed(o: VenueOrder) -> OrderStatus:
    return OrderStatus.CANCELLED_PARTIALLY_FILLED if o.filled else OrderStatus.CANCELLED


def deliver(mgr: OrderManager, replies: list[OrderUpdate | ActionRejected]) -> None:
    for r in replies:
        if isinstance(r, ActionRejected):
            mgr.on_rejected(r.action_id, r.code, r.now_ns, [])
        else:
            mgr.on_update(r, [])


def round_trip(mgr: OrderManager, venue: FakeVenue, actions: list[Action], now: int) -> None:
    venue.submit(actions)
    deliver(mgr, venue.answer_all(now))
