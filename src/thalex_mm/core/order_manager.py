"""Desired ladder vs live orders → the fewest actions that close the gap (per-order mode).

Each cycle, per side:
1. Orders and levels are paired best-first, by rank, or shifted by one or two levels when that
   needs fewer actions (the ladder moved by whole levels: one order moves, the rest stay);
   orders left without a level are moved to levels left without an order.
2. A pair is amended in place when the price moved by at least ``amend_threshold_ticks`` or
   the size differs (or any difference once ``refresh_interval`` has passed since the
   order's last action), but not sooner than ``min_update_interval`` after that last action.
3. Orders left over are cancelled; levels left over are inserted while the per-side and total
   caps allow (orders awaiting a cancel still count towards the caps).

Safety, whatever the replies do: no second action on an order whose last one is unanswered;
a new bid price must stay below every price any of our asks may have (worst case over
confirmed and in-flight prices), and the other way round; the worst-case remaining size of
all orders on a side never exceeds the room the risk manager gives that side; every price and
size passes the final guard.
"""

from __future__ import annotations

from operator import attrgetter

from thalex_mm.core.actions import Action, Amend, Cancel, Decision, GuardRejection, Insert, Ladder
from thalex_mm.core.config import OrderManagerConfig
from thalex_mm.core.guard import OrderGuard
from thalex_mm.core.ids import IdSource
from thalex_mm.core.order_tracker import OrderTracker
from thalex_mm.core.orders import Order, OrderState
from thalex_mm.domain import Side

_MS = 1_000_000
_BIG = 1 << 62
_SHIFTS = (1, -1, 2, -2)
_TARGET_PRICE = attrgetter("target_price_ticks")


class OrderManager(OrderTracker):
    """The diff: desired ladders in, actions out (the bookkeeping is ``OrderTracker``'s)."""

    __slots__ = (
        "_min_interval_ns",
        "_ranked",
        "_refresh_ns",
        "_side_key",
        "_side_wake",
        "_slot_ns",
        "guard",
    )

    def __init__(
        self, instrument: str, cfg: OrderManagerConfig, guard: OrderGuard, ids: IdSource
    ) -> None:
        super().__init__(instrument, cfg, ids)
        self.guard = guard
        self._min_interval_ns = int(cfg.min_update_interval_ms * _MS)
        self._refresh_ns = int(cfg.refresh_interval_ms * _MS)
        self._slot_ns: dict[tuple[Side, int], int] = {}  # last insert per (side, level)
        # Quiet fast path, per side (0 = bids, 1 = asks): the last diff's inputs and when a
        # time rule (min interval, refresh) may next allow an action; with those unchanged
        # and no order changed (``_side_dirty``), the side is skipped.
        self._side_key: list[object] = [None, None]
        self._side_wake = [_BIG, _BIG]
        # per side: the orders best first, when the last diff found nothing to do
        self._ranked: list[list[Order] | None] = [None, None]

    # --- the diff -----------------------------------------------------------------------
    def sync(
        self,
        bids: Ladder,
        asks: Ladder,
        now_ns: int,
        *,
        buy_room: int,
        sell_room: int,
        reduce_only_side: Side | None,
        actions: list[Action],
        decisions: list[Decision],
    ) -> None:
        """Emit the actions that move our orders towards ``bids``/``asks`` (best first)."""
        if self.paused or self.bulk_cancel_id:
            return
        cap_side = self.cfg.max_orders_per_side
        bids = bids[:cap_side]
        asks = asks[:cap_side]
        total_cap = self.cfg.max_orders_total
        while len(bids) + len(asks) > total_cap:  # trim the far end of the longer side
            if len(bids) >= len(asks):
                bids = bids[:-1]
            else:
                asks = asks[:-1]
        dirty = self._side_dirty
        keys = self._side_key
        wake = self._side_wake
        ask_floor = _BIG
        for o in self.asks:
            p = o.price_ticks if o.price_ticks < o.target_price_ticks else o.target_price_ticks
            if p < ask_floor:  # noqa: PLR1730 - min() is slower on this hot path
                ask_floor = p
        key = (bids, buy_room, reduce_only_side is Side.BUY, ask_floor)
        if dirty[0] or now_ns >= wake[0] or key != keys[0]:
            keys[0] = key
            if dirty[0] or now_ns >= wake[0] or not self._still_quiet(0, bids):
                dirty[0] = False
                self._sync_side(
                    Side.BUY, bids, self.bids, bound=ask_floor, room=buy_room,
                    reduce_only=reduce_only_side is Side.BUY, now=now_ns, actions=actions,
                    decisions=decisions,
                )  # fmt: skip
        bid_ceiling = -_BIG
        for o in self.bids:
            p = o.price_ticks if o.price_ticks > o.target_price_ticks else o.target_price_ticks
            if p > bid_ceiling:  # noqa: PLR1730
                bid_ceiling = p
        key = (asks, sell_room, reduce_only_side is Side.SELL, bid_ceiling)
        if dirty[1] or now_ns >= wake[1] or key != keys[1]:
            keys[1] = key
            if dirty[1] or now_ns >= wake[1] or not self._still_quiet(1, asks):
                dirty[1] = False
                self._sync_side(
                    Side.SELL, asks, self.asks, bound=bid_ceiling, room=sell_room,
                    reduce_only=reduce_only_side is Side.SELL, now=now_ns, actions=actions,
                    decisions=decisions,
                )  # fmt: skip

    def _sync_side(
        self,
        side: Side,
        desired: Ladder,
        orders: list[Order],
        *,
        bound: int,
        room: int,
        reduce_only: bool,
        now: int,
        actions: list[Action],
        decisions: list[Decision],
    ) -> None:
        buy = side is Side.BUY
        n = len(desired)
        pending_cancel = OrderState.PENDING_CANCEL
        active: list[Order] = []
        exposure = 0  # worst-case remaining lots of every order on this side
        for o in orders:
            if o.state != pending_cancel:
                active.append(o)
            filled = o.filled_lots
            a = o.amount_lots if o.amount_lots > o.target_amount_lots else o.target_amount_lots
            if a > filled:
                exposure += a - filled
        if len(active) > 1:
            active.sort(key=_TARGET_PRICE, reverse=buy)
        shift, cost = self._best_shift(active, desired)
        refresh = self._refresh_ns
        # Every order within the threshold of its level: the common quiet case.
        side_index = 0 if buy else 1
        self._side_wake[side_index] = _BIG
        quiet = cost == 0 and len(orders) == n
        if quiet and (refresh <= 0 or not self._refresh_due(active, desired, refresh, now, buy)):
            self._ranked[side_index] = active if refresh <= 0 else None
            return
        self._ranked[side_index] = None
        paired: list[Order | None] = [None] * n
        surplus: list[Order] = []
        for j, o in enumerate(active):
            i = j + shift
            if 0 <= i < n:
                paired[i] = o
            else:
                surplus.append(o)
        if surplus:  # move leftover orders to leftover levels rather than cancel + insert
            free = [i for i in range(n) if paired[i] is None]
            for i, o in zip(free, surplus, strict=False):
                paired[i] = o
            surplus = surplus[len(free) :]
        cfg = self.cfg
        wake = _BIG
        min_iv = self._min_interval_ns
        instrument = self.instrument
        # 1. pull surplus orders first: always allowed, never rate limited
        for extra in surplus:
            if not extra.in_flight:
                aid = self.ids.action_id()
                actions.append(Cancel(aid, instrument, extra.client_order_id, extra.order_id))
                extra.send_cancel(aid, now)
                self._by_action[aid] = extra
        # 2. amend pairs
        live = OrderState.LIVE
        threshold = cfg.amend_threshold_ticks
        for i in range(n):
            pair = paired[i]
            if pair is None or pair.state != live:
                continue
            o = pair
            price, lots = desired[i]
            dp = o.price_ticks - price
            if dp < 0:
                dp = -dp
            remaining = o.amount_lots - o.filled_lots
            if dp == 0 and remaining == lots:
                continue
            last = o.last_action_ns
            since = now - last
            if dp < threshold and remaining == lots:
                if refresh <= 0:
                    continue
                if since < refresh:
                    wake = min(wake, last + refresh)
                    continue
            if since < min_iv:
                wake = min(wake, last + min_iv)
                continue
            if (price >= bound) if buy else (price <= bound):
                continue  # would cross one of our own quotes on the other side: wait
            if lots > remaining:  # growing: stay within the room
                lots = min(lots, remaining + max(0, room - exposure))
            if lots == remaining and dp == 0:
                continue
            if lots <= 0:
                continue
            reason = self.guard.check(price, lots)
            if reason is not None:
                decisions.append(GuardRejection(now, instrument, price, lots, reason))
                continue
            aid = self.ids.action_id()
            total = o.filled_lots + lots
            actions.append(Amend(aid, instrument, o.client_order_id, o.order_id, price, total))
            exposure += max(0, lots - remaining)
            o.send_amend(aid, price, total, now)
            self._by_action[aid] = o
        # 3. insert missing levels, within the caps and the room
        count_side = len(orders)
        count_total = len(self.bids) + len(self.asks)
        for i in range(n):
            if paired[i] is not None:
                continue
            if count_side >= cfg.max_orders_per_side or count_total >= cfg.max_orders_total:
                break
            price, lots = desired[i]
            slot = (side, i)
            if min_iv > 0:
                last_insert = self._slot_ns.get(slot, -_BIG)
                if now - last_insert < min_iv:
                    wake = min(wake, last_insert + min_iv)
                    continue
            if (price >= bound) if buy else (price <= bound):
                continue
            lots = min(lots, room - exposure)
            if lots < self.guard.min_lots:
                continue
            reason = self.guard.check(price, lots)
            if reason is not None:
                decisions.append(GuardRejection(now, instrument, price, lots, reason))
                continue
            aid = self.ids.action_id()
            cid = self.ids.client_order_id()
            actions.append(
                Insert(aid, instrument, cid, side, price, lots, True, reduce_only, cfg.label)
            )
            o = Order(
                instrument, cid, side, price, lots, action_id=aid, now_ns=now,
                reduce_only=reduce_only,
            )  # fmt: skip
            orders.append(o)
            self._by_cid[cid] = o
            self._by_action[aid] = o
            self._slot_ns[slot] = now
            exposure += lots
            count_side += 1
            count_total += 1
        self._side_wake[side_index] = wake

    def _still_quiet(self, side_index: int, desired: Ladder) -> bool:
        """Whether the orders of a side where nothing changed since its last (quiet) diff are
        all still within the threshold of the new ladder: the cheap test for the common tick."""
        ranked = self._ranked[side_index]
        if ranked is None or len(ranked) != len(desired):
            return False
        threshold = self.cfg.amend_threshold_ticks
        for o, level in zip(ranked, desired, strict=True):
            d = o.target_price_ticks - level[0]
            if (
                d >= threshold
                or -d >= threshold
                or o.target_amount_lots - o.filled_lots != level[1]
            ):
                return False
        return True

    def _refresh_due(
        self, active: list[Order], desired: Ladder, refresh: int, now: int, buy: bool
    ) -> bool:
        """Whether a small difference left alone is due for the forced refresh (and when the
        next one will be)."""
        wake = _BIG
        due = False
        for o, level in zip(active, desired, strict=False):
            if o.price_ticks != level[0]:
                at = o.last_action_ns + refresh
                due = due or at <= now
                wake = min(wake, at)
        self._side_wake[0 if buy else 1] = wake
        return due

    def _best_shift(self, active: list[Order], desired: Ladder) -> tuple[int, int]:
        """The alignment of orders to levels (rank, or shifted by one or two levels when the
        ladder moved by whole levels) that needs the fewest actions. A shift is only worth
        costing when it lines an order up exactly with a level (cheap to test)."""
        threshold = self.cfg.amend_threshold_ticks
        best_cost = _actions_needed(active, desired, 0, threshold)
        best = 0
        m = len(active)
        n = len(desired)
        if best_cost > 1 and m and n:
            for shift in _SHIFTS:
                if shift > 0:
                    if shift >= n or active[0].target_price_ticks != desired[shift][0]:
                        continue
                elif -shift >= m or active[-shift].target_price_ticks != desired[0][0]:
                    continue
                cost = _actions_needed(active, desired, shift, threshold)
                if cost < best_cost:
                    best, best_cost = shift, cost
        return best, best_cost

    def cancel_everything(self, now_ns: int, actions: list[Action]) -> None:
        """Cancel every order that has nothing in flight (HALTED, stale data, shutdown)."""
        if self.paused or self.bulk_cancel_id:
            return
        self._touch()
        for o in self.bids + self.asks:
            if not o.in_flight:
                aid = self.ids.action_id()
                actions.append(Cancel(aid, self.instrument, o.client_order_id, o.order_id))
                o.send_cancel(aid, now_ns)
                self._by_action[aid] = o


def _actions_needed(active: list[Order], desired: Ladder, shift: int, threshold: int) -> int:
    """Actions needed when order j is paired with level j + shift (both best first)."""
    n = len(desired)
    cost = 0
    paired = 0
    for j, o in enumerate(active):
        i = j + shift
        if 0 <= i < n:
            paired += 1
            price, lots = desired[i]
            p = o.target_price_ticks
            if abs(p - price) >= threshold or o.target_amount_lots - o.filled_lots != lots:
                cost += 1
    # leftover orders are moved to leftover levels; the rest are cancelled or inserted
    return cost + max(len(active) - paired, n - paired)
