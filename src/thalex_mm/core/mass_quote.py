"""Mass-quote mode: one ``MassQuote`` per instrument per cycle, both sides, multi-level.

The venue manages mass quotes per (session, instrument, side) and replaces a side atomically,
so there is nothing to track per order: we remember the ladder we last sent, send a new one
when it differs materially (a level moved by at least the amend threshold, a size changed,
levels appeared or vanished) or the refresh interval has passed, keep at most one mass quote
per instrument unanswered, and respect the minimum interval between updates. Quoting needs
the product's market-maker protection group set first (``SetMMProtection``), again after a
reconnect and after the group trips.

Each level is capped at the protection group's quote amount (``mm_quote_amount``; the
instrument's maximum order size is lowered to it), since the venue refuses a larger level
(error 44) and then keeps that side's previous quotes. A side the venue still refuses is
sent empty (so its stale quotes go) and backed off: the first retry after ``_BACKOFF_NS``,
doubling per consecutive failure up to ``_MAX_BACKOFF_NS``. A mass quote or protection
request unanswered after ``reply_timeout_ms`` is given up and sent again (a mass quote
replaces the sides atomically, so a resend is safe).
"""

from __future__ import annotations

from thalex_mm.core.actions import (
    Action,
    Decision,
    GuardRejection,
    Ladder,
    MassQuote,
    OrderAnomaly,
    SetMMProtection,
)
from thalex_mm.core.config import OrderManagerConfig
from thalex_mm.core.events import MassQuoteResult
from thalex_mm.core.guard import OrderGuard
from thalex_mm.core.ids import IdSource
from thalex_mm.domain import Side

_MS = 1_000_000
_PROTECTION_ERRORS = frozenset((22, 23))  # InvalidProtGroup, ProtNotSet
_NEVER = -(1 << 62)
_BACKOFF_NS = 1_000_000_000
_MAX_BACKOFF_NS = 30_000_000_000
_BID, _ASK = Side.BUY, Side.SELL


class MassQuoteManager:
    __slots__ = (
        "_backoff_until",
        "_failures",
        "_force",
        "_min_interval_ns",
        "_protection_sent_ns",
        "_refill_ns",
        "_refresh_ns",
        "_timeout_ns",
        "cfg",
        "guard",
        "ids",
        "inflight_action_id",
        "instrument",
        "last_sent_ns",
        "paused",
        "product",
        "protection_action_id",
        "protection_ready",
        "protection_tripped_ns",
        "sent_asks",
        "sent_bids",
    )

    def __init__(
        self,
        instrument: str,
        product: str,
        cfg: OrderManagerConfig,
        guard: OrderGuard,
        ids: IdSource,
    ) -> None:
        self.instrument = instrument
        self.product = product
        self.cfg = cfg
        self.guard = guard
        self.ids = ids
        self.sent_bids: Ladder = ()
        self.sent_asks: Ladder = ()
        self.last_sent_ns = _NEVER
        self.inflight_action_id = 0
        self.protection_ready = False
        self.protection_action_id = 0
        self.protection_tripped_ns = _NEVER
        self.paused = False
        self._min_interval_ns = int(cfg.min_update_interval_ms * _MS)
        self._refresh_ns = int(cfg.refresh_interval_ms * _MS)
        self._refill_ns = int(cfg.mm_refill_delay_ms * _MS)
        self._timeout_ns = int(cfg.reply_timeout_ms * _MS)
        self._protection_sent_ns = _NEVER
        self._force = False  # send the next ladder even if it equals the last one
        self._failures = [0, 0]  # consecutive refusals per side (bids, asks)
        self._backoff_until = [_NEVER, _NEVER]  # a refused side is sent empty until then

    def owns_action(self, action_id: int) -> bool:
        return action_id in (self.inflight_action_id, self.protection_action_id)

    def _ensure_protection(self, now_ns: int, actions: list[Action]) -> bool:
        if self.protection_ready:
            return True
        if (
            self.protection_action_id == 0
            and now_ns - self.protection_tripped_ns >= self._refill_ns
        ):
            aid = self.ids.action_id()
            cfg = self.cfg
            actions.append(
                SetMMProtection(aid, self.product, cfg.mm_trade_amount, cfg.mm_quote_amount)
            )
            self.protection_action_id = aid
            self._protection_sent_ns = now_ns
        elif self.protection_action_id and now_ns - self._protection_sent_ns > self._timeout_ns:
            self.protection_action_id = 0  # no answer: ask again on the next cycle
        return False

    def sync(
        self,
        bids: Ladder,
        asks: Ladder,
        now_ns: int,
        actions: list[Action],
        decisions: list[Decision],
    ) -> None:
        if self.paused or not self._ensure_protection(now_ns, actions):
            return
        if self.inflight_action_id:
            if now_ns - self.last_sent_ns <= self._timeout_ns:
                return
            self.inflight_action_id = 0  # no answer: what is on the book is unknown
            self._force = True
        cap = self.cfg.max_orders_per_side
        backoff = self._backoff_until
        bids = () if now_ns < backoff[0] else self._guarded(bids[:cap], now_ns, decisions)
        asks = () if now_ns < backoff[1] else self._guarded(asks[:cap], now_ns, decisions)
        while len(bids) + len(asks) > self.cfg.max_orders_total:
            if len(bids) >= len(asks):
                bids = bids[:-1]
            else:
                asks = asks[:-1]
        since = now_ns - self.last_sent_ns
        if not self._force and not self._differs(bids, asks):
            same = bids == self.sent_bids and asks == self.sent_asks
            if same or self._refresh_ns <= 0 or since < self._refresh_ns:
                return
        if since < self._min_interval_ns:
            return
        aid = self.ids.action_id()
        actions.append(MassQuote(aid, self.instrument, bids, asks, self.cfg.label))
        self.sent_bids = bids
        self.sent_asks = asks
        self.last_sent_ns = now_ns
        self.inflight_action_id = aid
        self._force = False

    def pull(self, now_ns: int, actions: list[Action]) -> None:
        """Remove every quote (empty sides), if any are out and nothing is in flight."""
        if self.paused or not (self.sent_bids or self.sent_asks or self._force):
            return
        if self.inflight_action_id:
            if now_ns - self.last_sent_ns <= self._timeout_ns:
                return
            self.inflight_action_id = 0
        aid = self.ids.action_id()
        actions.append(MassQuote(aid, self.instrument, (), (), self.cfg.label))
        self.sent_bids = self.sent_asks = ()
        self.last_sent_ns = now_ns
        self.inflight_action_id = aid
        self._force = False

    def _guarded(self, ladder: Ladder, now_ns: int, decisions: list[Decision]) -> Ladder:
        check = self.guard.check
        for price, lots in ladder:
            if check(price, lots) is not None:
                break
        else:
            return ladder
        kept = []
        for level in ladder:
            reason = check(level[0], level[1])
            if reason is None:
                kept.append(level)
            else:
                decisions.append(
                    GuardRejection(now_ns, self.instrument, level[0], level[1], reason)
                )
        return tuple(kept)

    def _differs(self, bids: Ladder, asks: Ladder) -> bool:
        n = self.cfg.amend_threshold_ticks
        for new, old in ((bids, self.sent_bids), (asks, self.sent_asks)):
            if len(new) != len(old):
                return True
            for (p1, a1), (p0, a0) in zip(new, old, strict=True):
                if a1 != a0 or abs(p1 - p0) >= n:
                    return True
        return False

    # --- replies ------------------------------------------------------------------------
    def on_result(self, r: MassQuoteResult, decisions: list[Decision]) -> None:
        if r.action_id != self.inflight_action_id:
            return
        self.inflight_action_id = 0
        failed = [False, False]
        for err in r.errors:
            decisions.append(
                OrderAnomaly(r.now_ns, self.instrument, None, "", err.message, err.code)
            )
            if err.code in _PROTECTION_ERRORS:
                self.protection_ready = False
            elif err.side is not _ASK:
                failed[0] = True
            if err.code not in _PROTECTION_ERRORS and err.side is not _BID:
                failed[1] = True
        if r.n_fail:
            # What is on the book is uncertain: make the next cycle send again (a refused
            # side empty, to remove what the venue kept of it).
            self.sent_bids = self.sent_asks = ()
            self._force = True
        for i in (0, 1):
            if failed[i]:
                n = self._failures[i] = self._failures[i] + 1
                wait = min(_MAX_BACKOFF_NS, _BACKOFF_NS << min(n - 1, 8))
                self._backoff_until[i] = r.now_ns + wait
            elif r.now_ns >= self._backoff_until[i]:
                self._failures[i] = 0  # the side went through (it was not backed off)

    def on_acknowledged(self, action_id: int) -> None:
        if action_id == self.protection_action_id:
            self.protection_action_id = 0
            self.protection_ready = True

    def on_rejected(
        self, action_id: int, code: int, now_ns: int, decisions: list[Decision]
    ) -> None:
        decisions.append(OrderAnomaly(now_ns, self.instrument, None, "", "rejected", code))
        if action_id == self.inflight_action_id:
            self.inflight_action_id = 0
            self.sent_bids = self.sent_asks = ()
            self._force = True
            if code in _PROTECTION_ERRORS:
                self.protection_ready = False
        elif action_id == self.protection_action_id:
            self.protection_action_id = 0
            self.protection_tripped_ns = now_ns  # retry after the refill delay

    def on_protection_tripped(self, now_ns: int) -> None:
        """The venue cancelled our quotes; refill after the delay and quote afresh."""
        self.protection_ready = False
        self.protection_tripped_ns = now_ns
        self.sent_bids = self.sent_asks = ()

    def on_disconnected(self) -> None:
        self.paused = True

    def on_resynced(self) -> None:
        """A new session: no quotes, no protection group, nothing in flight."""
        self.paused = False
        self.inflight_action_id = 0
        self.protection_action_id = 0
        self.protection_ready = False
        self.protection_tripped_ns = _NEVER
        self.sent_bids = self.sent_asks = ()
        self._force = False
        self._failures = [0, 0]
        self._backoff_until = [_NEVER, _NEVER]
