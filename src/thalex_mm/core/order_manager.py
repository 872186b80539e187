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

Speed (the diff runs on every event): a side is not diffed again while its inputs (ladder,
room, the other side's bound) and its orders are unchanged, or while the new ladder is within
the threshold of orders that owe nothing; a reply that lands an order exactly where the last
diff sent it does not count as a change when that diff left nothing owed. A side where the
guard refused a level is diffed again when the guard's reference (the mark) moves. These
skips only ever skip diffs that would find nothing to do (``tests/core/test_fast_paths.py``).
"""

from __future__ import annotations

from operator import attrgetter
from typing import cast

from thalex_mm.core import pairing
from thalex_mm.core.actions import Action, Amend, Cancel, Decision, GuardRejection, Insert, Ladder
from thalex_mm.core.config import OrderManagerConfig
from thalex_mm.core.guard import OrderGuard
from thalex_mm.core.ids import IdSource
from thalex_mm.core.order_tracker import OrderTracker
from thalex_mm.core.orders import Order, OrderState
from thalex_mm.core.pairing import BIG
from thalex_mm.domain import Side

_MS = 1_000_000
_TARGET_PRICE = attrgetter("target_price_ticks")
# Enum members as module constants: ``Side.BUY`` costs a class attribute lookup (~60 ns)
# each time, which adds up on the per-level loops below.
_BUY = Side.BUY
_SELL = Side.SELL
_LIVE = OrderState.LIVE
_PENDING_CANCEL = OrderState.PENDING_CANCEL


class OrderManager(OrderTracker):
    """The diff: desired ladders in, actions out (the bookkeeping is ``OrderTracker``'s)."""

    __slots__ = (
        "_bounds",
        "_guard_refused",
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
        self._side_wake = [BIG, BIG]
        # Per side: the orders best first when the last diff left nothing owed to any order
        # (quiet, or settled: every order exactly on its level once the amends land), else
        # None. While set, a reply or feed update that leaves an order exactly at its target
        # needs no new diff (``_order_at_target``), nor does a new ladder within the
        # threshold of it (``_still_quiet``).
        self._ranked: list[list[Order] | None] = [None, None]
        # the price our bids must stay below (lowest ask, worst case) and the one our asks
        # must stay above; None when the orders they come from may have changed (that side
        # is dirty or was just diffed: the same rule as ``_side_dirty``)
        self._bounds: list[int | None] = [None, None]
        # per side: the guard's reference when it last refused a level there (None: no
        # refusal); a new reference may accept it, so the side must be diffed again
        self._guard_refused: list[float | None] = [None, None]

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
        refused = self._guard_refused
        if refused[0] is not None or refused[1] is not None:
            ref = self.guard.reference_ticks
            for i in (0, 1):
                if refused[i] is not None and refused[i] != ref:
                    refused[i] = None
                    dirty[i] = True
        keys = self._side_key
        wake = self._side_wake
        bounds = self._bounds
        ask_floor = bounds[0]
        if ask_floor is None or dirty[1]:
            ask_floor = bounds[0] = pairing.lowest_ask(self.asks)
        key = (bids, buy_room, reduce_only_side is _BUY, ask_floor)
        if dirty[0] or now_ns >= wake[0] or key != keys[0]:
            keys[0] = key
            if dirty[0] or now_ns >= wake[0] or not self._still_quiet(0, bids):
                dirty[0] = False
                self._sync_side(
                    _BUY, bids, self.bids, bound=ask_floor, room=buy_room,
                    reduce_only=reduce_only_side is _BUY, now=now_ns, actions=actions,
                    decisions=decisions,
                )  # fmt: skip
                bounds[1] = None
        bid_ceiling = bounds[1]
        if bid_ceiling is None or dirty[0]:
            bid_ceiling = bounds[1] = pairing.highest_bid(self.bids)
        key = (asks, sell_room, reduce_only_side is _SELL, bid_ceiling)
        if dirty[1] or now_ns >= wake[1] or key != keys[1]:
            keys[1] = key
            if dirty[1] or now_ns >= wake[1] or not self._still_quiet(1, asks):
                dirty[1] = False
                self._sync_side(
                    _SELL, asks, self.asks, bound=bid_ceiling, room=sell_room,
                    reduce_only=reduce_only_side is _SELL, now=now_ns, actions=actions,
                    decisions=decisions,
                )  # fmt: skip
                bounds[0] = None

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
        buy = side is _BUY
        n = len(desired)
        active = [o for o in orders if o.state is not _PENDING_CANCEL]
        if len(active) > 1:
            active.sort(key=_TARGET_PRICE, reverse=buy)
        shift, all_within = pairing.best_shift(active, desired, self.cfg.amend_threshold_ticks)
        refresh = self._refresh_ns
        # Every order within the threshold of its level: the common quiet case.
        side_index = 0 if buy else 1
        self._side_wake[side_index] = BIG
        quiet = all_within and len(orders) == n
        if quiet and (refresh <= 0 or not self._refresh_due(active, desired, refresh, now, buy)):
            self._ranked[side_index] = active if refresh <= 0 else None
            return
        self._ranked[side_index] = None
        surplus: list[Order] = []
        if shift == 0 and len(active) <= n:  # the usual pairing: by rank
            paired: list[Order | None] = list(active)
            paired += [None] * (n - len(active))
        else:
            paired = [None] * n
            for j, order in enumerate(active):
                i = j + shift
                if 0 <= i < n:
                    paired[i] = order
                else:
                    surplus.append(order)
        if surplus:  # move leftover orders to leftover levels rather than cancel + insert
            free = [i for i in range(n) if paired[i] is None]
            for i, order in zip(free, surplus, strict=False):
                paired[i] = order
            surplus = surplus[len(free) :]
        cfg = self.cfg
        wake = BIG
        min_iv = self._min_interval_ns
        instrument = self.instrument
        # 1. pull surplus orders first: always allowed, never rate limited
        for extra in surplus:
            if not extra.in_flight:
                aid = self.ids.action_id()
                actions.append(Cancel(aid, instrument, extra.client_order_id, extra.order_id))
                extra.send_cancel(aid, now)
                self._by_action[aid] = extra
        # Settled: once the amends below land, every order sits exactly on its level (so the
        # orders are in rank order and nothing is owed), unless something is left, skipped or
        # trimmed on the way.
        settled = refresh <= 0 and not surplus and len(orders) == n
        # 2. amend pairs. ``exposure``, the worst-case remaining lots of the side's orders, is
        # summed only when a size grows (or a level is inserted): amends that do not grow an
        # order (LIVE: target == confirmed) leave that sum unchanged, so summing late is exact.
        exposure = -1
        threshold = cfg.amend_threshold_ticks
        check = self.guard.check
        new_action_id = self.ids.action_id
        by_action = self._by_action
        for o, level in zip(paired, desired, strict=True):
            if o is None or o.state is not _LIVE:
                settled = False
                continue
            price, lots = level
            dp = o.price_ticks - price
            if dp < 0:
                dp = -dp
            filled = o.filled_lots
            remaining = o.amount_lots - filled
            if remaining == lots and dp < threshold:  # within the threshold: leave it...
                if dp == 0:
                    continue
                settled = False  # (settled means every order exactly on its level)
                if refresh <= 0:
                    continue
                last = o.last_action_ns
                if now - last < refresh:  # ...until the refresh is due
                    wake = min(wake, last + refresh)
                    continue
            last = o.last_action_ns
            if now - last < min_iv:
                wake = min(wake, last + min_iv)
                settled = False
                continue
            if (price >= bound) if buy else (price <= bound):
                settled = False
                continue  # would cross one of our own quotes on the other side: wait
            if lots > remaining:  # growing: stay within the room
                if exposure < 0:
                    exposure = pairing.exposure(orders)
                allowed = remaining + max(0, room - exposure)
                if lots > allowed:
                    lots = allowed
                    settled = False
            if lots == remaining and dp == 0:
                continue
            if lots <= 0:
                settled = False
                continue
            reason = check(price, lots)
            if reason is not None:
                decisions.append(GuardRejection(now, instrument, price, lots, reason))
                self._guard_refused[side_index] = self.guard.reference_ticks
                settled = False
                continue
            aid = new_action_id()
            total = filled + lots
            actions.append(Amend(aid, instrument, o.client_order_id, o.order_id, price, total))
            if lots > remaining:
                exposure += lots - remaining
            o.send_amend(aid, price, total, now)
            by_action[aid] = o
        if settled:  # every level has its order, at its price once the amends land
            self._ranked[side_index] = cast(list[Order], paired)
        # 3. insert missing levels, within the caps and the room
        if None in paired:
            self._insert_missing(
                side, desired, orders, paired, bound=bound,
                room=room - (exposure if exposure >= 0 else pairing.exposure(orders)),
                reduce_only=reduce_only, now=now, decisions=decisions, actions=actions,
                wake=wake,
            )  # fmt: skip
        else:
            self._side_wake[side_index] = wake

    def _insert_missing(
        self,
        side: Side,
        desired: Ladder,
        orders: list[Order],
        paired: list[Order | None],
        *,
        bound: int,
        room: int,
        reduce_only: bool,
        now: int,
        actions: list[Action],
        decisions: list[Decision],
        wake: int,
    ) -> None:
        """Insert the levels left without an order, within the caps and the ``room`` (lots)
        the side's orders leave."""
        cfg = self.cfg
        buy = side is _BUY
        min_iv = self._min_interval_ns
        instrument = self.instrument
        count_side = len(orders)
        count_total = len(self.bids) + len(self.asks)
        for i in range(len(desired)):
            if paired[i] is not None:
                continue
            if count_side >= cfg.max_orders_per_side or count_total >= cfg.max_orders_total:
                break
            price, lots = desired[i]
            slot = (side, i)
            if min_iv > 0:
                last_insert = self._slot_ns.get(slot, -BIG)
                if now - last_insert < min_iv:
                    wake = min(wake, last_insert + min_iv)
                    continue
            if (price >= bound) if buy else (price <= bound):
                continue
            lots = min(lots, room)
            if lots < self.guard.min_lots:
                continue
            reason = self.guard.check(price, lots)
            if reason is not None:
                decisions.append(GuardRejection(now, instrument, price, lots, reason))
                self._guard_refused[0 if buy else 1] = self.guard.reference_ticks
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
            room -= lots
            count_side += 1
            count_total += 1
        self._side_wake[0 if buy else 1] = wake

    def _order_at_target(self, side_index: int) -> None:
        """An update left an order LIVE exactly at its target: a new diff of its side can
        only find something to do if the last one left something owed."""
        if self._ranked[side_index] is None:
            self._side_dirty[side_index] = True
        else:  # only the worst-case price the other side must respect may have changed
            self._bounds[1 - side_index] = None

    def _still_quiet(self, side_index: int, desired: Ladder) -> bool:
        """Whether the orders of a side where nothing changed since its last (quiet) diff are
        all still within the threshold of the new ladder: the cheap test for the common tick."""
        ranked = self._ranked[side_index]
        if ranked is None or len(ranked) != len(desired):
            return False
        return pairing.all_within(ranked, desired, self.cfg.amend_threshold_ticks)

    def _refresh_due(
        self, active: list[Order], desired: Ladder, refresh: int, now: int, buy: bool
    ) -> bool:
        """Whether a small difference left alone is due for the forced refresh (and when the
        next one will be)."""
        wake = BIG
        due = False
        for o, level in zip(active, desired, strict=False):
            if o.price_ticks != level[0]:
                at = o.last_action_ns + refresh
                due = due or at <= now
                wake = min(wake, at)
        self._side_wake[0 if buy else 1] = wake
        return due

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
