"""Our orders on one instrument, as the venue's replies and feeds tell us about them.

``OrderTracker`` finds the order an update belongs to (by the in-flight action id, then the
client order id, then the venue's order id), applies it through the order state machine
(``orders.py``), forgets closed orders (remembering their ids for a while, so a late update
cannot resurrect one), adopts live orders with our label that it does not know (a previous
run, a lost reply) so the diff can reuse or cancel them, and rebuilds itself from the
venue's open orders after a reconnect. The diff itself lives in ``order_manager.py``.

On a resync, a venue order is ours only by its order id (client order ids are unique per
session only) and on the same side; anything else goes through the label check of an
unknown order. The engine then cancels every order kept from the old session, by order id:
after a half-open reconnect such an order may still trade, with its fills reported on the
old session's feed only, so quoting with it would leave a ghost level.

An action unanswered after ``reply_timeout_ms`` is reported and resolved: the order is
cancelled (by order id, or by client order id for an insert without a reply), and the
cancel is retried on each further timeout; a late reply then finds the order awaiting that
cancel. Nothing stays in flight forever; a resync settles whatever is left. A reply the
client could not decode (``BAD_REPLY``) says nothing about the outcome: the order stays in
flight until that timeout, rather than being closed while it may be live.
"""

from __future__ import annotations

from collections import deque

from thalex_mm.core.actions import Action, Cancel, Decision
from thalex_mm.core.actions import OrderAnomaly as Anomaly
from thalex_mm.core.config import OrderManagerConfig
from thalex_mm.core.events import OrderUpdate
from thalex_mm.core.ids import IdSource
from thalex_mm.core.orders import BAD_REPLY, Order, OrderState
from thalex_mm.domain import Side

_MS = 1_000_000
_CLOSED_MEMORY = 4096
_BUY = Side.BUY
_LIVE = OrderState.LIVE


class OrderTracker:
    __slots__ = (
        "_by_action",
        "_by_cid",
        "_by_oid",
        "_closed",
        "_closed_fifo",
        "_reported",
        "_side_dirty",
        "_timeout_ns",
        "asks",
        "bids",
        "bulk_cancel_id",
        "cfg",
        "ids",
        "instrument",
        "paused",
    )

    def __init__(self, instrument: str, cfg: OrderManagerConfig, ids: IdSource) -> None:
        self.instrument = instrument
        self.cfg = cfg
        self.ids = ids
        self.bids: list[Order] = []  # every order not CLOSED, any state
        self.asks: list[Order] = []
        self.paused = False  # disconnected: nothing can be sent until a resync
        self.bulk_cancel_id = 0  # a CancelAll is unanswered: send nothing until it is
        self._by_cid: dict[int, Order] = {}
        self._by_oid: dict[str, Order] = {}
        self._by_action: dict[int, Order] = {}
        self._closed: set[object] = set()  # recently closed ids, to ignore late updates
        self._closed_fifo: deque[object] = deque()
        self._reported: set[int] = set()  # action ids already reported as timed out
        self._timeout_ns = int(cfg.reply_timeout_ms * _MS)
        # per side (0 = bids, 1 = asks): an order changed since the last diff of that side
        self._side_dirty = [True, True]

    # --- queries ------------------------------------------------------------------------
    def open_orders(self) -> list[Order]:
        return self.bids + self.asks

    def exposure(self, side: Side) -> int:
        """Worst-case remaining lots of our orders on ``side`` (pending ones included)."""
        return sum(o.worst_remaining() for o in (self.bids if side is Side.BUY else self.asks))

    def owns_action(self, action_id: int) -> bool:
        return action_id in self._by_action

    # --- the kill switch's cancel-all ----------------------------------------------------
    def mark_bulk_cancel(self, action_id: int, now_ns: int) -> None:
        """A CancelAll went out: every order awaits it, and nothing is sent meanwhile."""
        self.bulk_cancel_id = action_id
        self._touch()
        for o in self.bids + self.asks:
            if o.state == OrderState.LIVE:
                o.send_cancel(action_id, now_ns)

    def end_bulk_cancel(self, action_id: int) -> None:
        """The CancelAll was answered; orders the feed has not closed are LIVE again."""
        if action_id == self.bulk_cancel_id:
            self.bulk_cancel_id = 0
        self._touch()
        for o in self.bids + self.asks:
            if o.state == OrderState.PENDING_CANCEL and o.inflight_action_id == action_id:
                o.on_rejected(0)

    # --- replies and feed ---------------------------------------------------------------
    def knows(self, u: OrderUpdate) -> bool:
        """``u`` is about an order this tracker placed, adopted or closed (by any id)."""
        cid, oid = u.client_order_id, u.order_id
        return (
            (u.reply_to != 0 and u.reply_to in self._by_action)
            or (cid is not None and (cid in self._by_cid or cid in self._closed))
            or (oid != "" and (oid in self._by_oid or oid in self._closed))
        )

    def on_update(self, u: OrderUpdate, decisions: list[Decision]) -> None:
        o = self._by_action.pop(u.reply_to, None) if u.reply_to else None
        if o is None and u.client_order_id is not None:
            o = self._by_cid.get(u.client_order_id)
        if o is None and u.order_id:
            o = self._by_oid.get(u.order_id)
        if o is None:
            if self._unknown(u, decisions) is not None:
                self._touch()
            return
        side_index = 0 if o.side is _BUY else 1
        price, amount, filled = o.target_price_ticks, o.target_amount_lots, o.filled_lots
        if o.on_update(u) and u.reply_to != 0:
            self._by_action.pop(u.reply_to, None)
        if o.order_id and o.order_id not in self._by_oid:
            self._by_oid[o.order_id] = o
        if (
            o.state is _LIVE
            and o.price_ticks == price
            and o.amount_lots == amount
            and o.filled_lots == filled
        ):
            self._order_at_target(side_index)  # a reply confirming our action, say
        else:
            self._side_dirty[side_index] = True
        if o.state == OrderState.CLOSED:
            self._forget(o)

    def on_rejected(
        self, action_id: int, code: int, now_ns: int, decisions: list[Decision]
    ) -> None:
        o = self._by_action.pop(action_id, None)
        if o is None:
            return
        self._touch()
        decisions.append(
            Anomaly(now_ns, self.instrument, o.client_order_id, o.order_id, "rejected", code)
        )
        if code == BAD_REPLY:
            return  # the outcome is unknown: still in flight, the reply timeout resolves it
        if o.inflight_action_id == action_id:
            o.on_rejected(code)
            if o.state == OrderState.CLOSED:
                self._forget(o)

    def _unknown(self, u: OrderUpdate, decisions: list[Decision]) -> Order | None:
        if u.order_id in self._closed or u.client_order_id in self._closed:
            return None  # a late message for an order we have already closed
        if not u.status.is_active:
            return None
        if u.label != self.cfg.label or self.cfg.mass_quote:
            return None  # someone else's order, or a mass quote (tracked per side, not per order)
        # One of ours we do not know (a previous run, a lost reply): adopt it so the diff
        # reuses or cancels it.
        o = Order(
            self.instrument, u.client_order_id, u.side, u.price_ticks, u.amount_lots,
            action_id=0, now_ns=0,
        )  # fmt: skip
        o.order_id = u.order_id
        o.filled_lots = u.filled_lots
        o.state = OrderState.LIVE
        o.inflight_action_id = 0
        (self.bids if u.side is Side.BUY else self.asks).append(o)
        if u.client_order_id is not None:
            self._by_cid[u.client_order_id] = o
        if u.order_id:
            self._by_oid[u.order_id] = o
        decisions.append(
            Anomaly(u.now_ns, self.instrument, u.client_order_id, u.order_id, "adopted")
        )
        return o

    def _order_at_target(self, side_index: int) -> None:
        """An update left an order LIVE at the price and size last asked for, with no fill:
        the diff (a subclass) may know that its side needs no new pass."""
        self._side_dirty[side_index] = True

    def _touch(self) -> None:
        """Both sides must be diffed again (an order closed, a resync, a bulk cancel...)."""
        self._side_dirty[0] = self._side_dirty[1] = True

    def _forget(self, o: Order) -> None:
        self._touch()  # a closed order frees room under the total cap for either side
        side_list = self.bids if o.side is Side.BUY else self.asks
        if o in side_list:
            side_list.remove(o)
        for key in (o.client_order_id, o.order_id):
            if key is not None and key != "":
                self._closed.add(key)
                self._closed_fifo.append(key)
        while len(self._closed_fifo) > _CLOSED_MEMORY:
            self._closed.discard(self._closed_fifo.popleft())
        if o.client_order_id is not None:
            self._by_cid.pop(o.client_order_id, None)
        if o.order_id:
            self._by_oid.pop(o.order_id, None)

    # --- time and connection ------------------------------------------------------------
    def check_timeouts(
        self, now_ns: int, decisions: list[Decision], actions: list[Action] | None = None
    ) -> None:
        """Report actions unanswered for longer than the reply timeout; with ``actions``,
        also resolve them: cancel the order (a new cancel replaces the lost action)."""
        timeout = self._timeout_ns
        for o in self.bids + self.asks:
            aid = o.inflight_action_id
            if not aid or now_ns - o.last_action_ns <= timeout:
                continue
            if aid not in self._reported:
                if len(self._reported) > _CLOSED_MEMORY:
                    self._reported.clear()
                self._reported.add(aid)
                decisions.append(
                    Anomaly(now_ns, self.instrument, o.client_order_id, o.order_id, "no reply")
                )
            if actions is None or self.paused or aid == self.bulk_cancel_id:
                continue  # a CancelAll has its own timeout (the engine's)
            if not o.order_id and o.client_order_id is None:
                continue  # cannot be addressed: the next resync settles it
            self._by_action.pop(aid, None)
            new = self.ids.action_id()
            actions.append(Cancel(new, self.instrument, o.client_order_id, o.order_id))
            o.resend_cancel(new, now_ns)
            self._by_action[new] = o
            self._touch()

    def on_disconnected(self) -> None:
        self.paused = True
        self.bulk_cancel_id = 0

    def on_resynced(self, open_orders: tuple[OrderUpdate, ...], decisions: list[Decision]) -> None:
        """The venue's open orders are the truth: keep those, close the rest, adopt ours."""
        self.paused = False
        self._touch()
        self._by_action.clear()
        seen: set[int] = set()
        for u in open_orders:
            if u.instrument != self.instrument:
                continue
            o = self._by_oid.get(u.order_id) if u.order_id else None
            if o is not None and o.side is not u.side:
                o = None  # not the order we know by that id: treat as unknown
            if o is None:
                adopted = self._unknown(u, decisions)
                if adopted is not None:
                    seen.add(id(adopted))
                    if adopted.client_order_id is not None:  # an old session's id
                        self._by_cid.pop(adopted.client_order_id, None)
                        adopted.client_order_id = None
                continue
            seen.add(id(o))
            o.order_id = u.order_id
            o.price_ticks = o.target_price_ticks = u.price_ticks
            o.amount_lots = o.target_amount_lots = u.amount_lots
            o.filled_lots = u.filled_lots
            o.state = OrderState.LIVE
            o.inflight_action_id = 0
            # a new session cannot address the order by its old client order id
            if o.client_order_id is not None:
                self._by_cid.pop(o.client_order_id, None)
            o.client_order_id = None
            self._by_oid[o.order_id] = o
        for o in self.bids + self.asks:
            if id(o) not in seen:
                o.force_close()
                self._forget(o)
