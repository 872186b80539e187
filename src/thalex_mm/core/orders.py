"""The lifecycle of one of our orders, as a transition table (in the style of h11).

States: PENDING_INSERT → LIVE ⇄ PENDING_AMEND / PENDING_CANCEL → CLOSED.

Rules:
1. We send an action (amend, cancel) only from LIVE. An order whose last action is
   unanswered (any PENDING_* state) gets no second action: that is the in-flight rule.
2. Only the reply to the in-flight action (``reply_to`` / ``action_id`` equal to the one we
   sent) ends the PENDING_* state. A success reply moves to LIVE (or CLOSED for a cancel or
   when the reply shows the order inactive); an error reply moves back to LIVE, except
   "order not found" (code 1), which means the order is gone: CLOSED.
3. A feed update that shows the order inactive (filled, cancelled) moves to CLOSED from any
   state; later replies for it are ignored. Other feed updates refresh the venue's view
   (order id, filled and remaining lots) but never end an in-flight state.
4. CLOSED is final. Fills are not this module's business: ``position.py`` counts them from
   every update, deduplicated by trade id, whatever state the order is in.
"""

from __future__ import annotations

import enum

from thalex_mm.core.events import OrderUpdate
from thalex_mm.domain import Side

ORDER_NOT_FOUND = 1  # the venue's error code for an order that is already gone
BAD_REPLY = -5  # the client could not decode the reply (venue.thalex LocalError.BAD_REPLY)


class OrderState(enum.IntEnum):
    PENDING_INSERT = 0
    LIVE = 1
    PENDING_AMEND = 2
    PENDING_CANCEL = 3
    CLOSED = 4


class Input(enum.IntEnum):
    SEND_AMEND = 0
    SEND_CANCEL = 1
    REPLY_OK = 2  # the reply to the in-flight action, order still active
    REPLY_CLOSED = 3  # the reply to the in-flight action shows the order inactive
    REPLY_ERROR = 4  # an error reply other than "not found"
    REPLY_NOT_FOUND = 5
    FEED_ACTIVE = 6
    FEED_CLOSED = 7


_S = OrderState
_I = Input
# (state, input) -> next state. A missing pair is a protocol error for SEND_* (refused) and
# "no change" for replies and feed updates.
TRANSITIONS: dict[tuple[OrderState, Input], OrderState] = {
    (_S.PENDING_INSERT, _I.REPLY_OK): _S.LIVE,
    (_S.PENDING_INSERT, _I.REPLY_CLOSED): _S.CLOSED,
    (_S.PENDING_INSERT, _I.REPLY_ERROR): _S.CLOSED,  # a rejected insert never existed
    (_S.PENDING_INSERT, _I.REPLY_NOT_FOUND): _S.CLOSED,
    (_S.PENDING_INSERT, _I.FEED_CLOSED): _S.CLOSED,
    (_S.LIVE, _I.SEND_AMEND): _S.PENDING_AMEND,
    (_S.LIVE, _I.SEND_CANCEL): _S.PENDING_CANCEL,
    (_S.LIVE, _I.FEED_CLOSED): _S.CLOSED,
    (_S.PENDING_AMEND, _I.REPLY_OK): _S.LIVE,
    (_S.PENDING_AMEND, _I.REPLY_CLOSED): _S.CLOSED,  # amended to <= filled, or filled
    (_S.PENDING_AMEND, _I.REPLY_ERROR): _S.LIVE,
    (_S.PENDING_AMEND, _I.REPLY_NOT_FOUND): _S.CLOSED,
    (_S.PENDING_AMEND, _I.FEED_CLOSED): _S.CLOSED,
    (_S.PENDING_CANCEL, _I.REPLY_OK): _S.CLOSED,  # a cancel reply always closes
    (_S.PENDING_CANCEL, _I.REPLY_CLOSED): _S.CLOSED,
    (_S.PENDING_CANCEL, _I.REPLY_ERROR): _S.LIVE,  # e.g. throttled: try again later
    (_S.PENDING_CANCEL, _I.REPLY_NOT_FOUND): _S.CLOSED,
    (_S.PENDING_CANCEL, _I.FEED_CLOSED): _S.CLOSED,
}
_IN_FLIGHT = frozenset((_S.PENDING_INSERT, _S.PENDING_AMEND, _S.PENDING_CANCEL))
_SETTLED = frozenset((_S.LIVE, _S.CLOSED))


class Order:
    """Our view of one order: what the venue confirmed, and what is in flight."""

    __slots__ = (
        "amount_lots",
        "client_order_id",
        "filled_lots",
        "inflight_action_id",
        "instrument",
        "last_action_ns",
        "order_id",
        "price_ticks",
        "reduce_only",
        "side",
        "state",
        "target_amount_lots",
        "target_price_ticks",
    )

    def __init__(
        self,
        instrument: str,
        client_order_id: int | None,
        side: Side,
        price_ticks: int,
        amount_lots: int,
        *,
        action_id: int,
        now_ns: int,
        reduce_only: bool = False,
    ) -> None:
        self.instrument = instrument
        self.client_order_id = client_order_id
        self.order_id = ""
        self.side = side
        self.price_ticks = price_ticks
        self.amount_lots = amount_lots  # original amount (as the venue counts it)
        self.filled_lots = 0
        self.state = OrderState.PENDING_INSERT
        self.inflight_action_id = action_id
        self.last_action_ns = now_ns
        self.target_price_ticks = price_ticks
        self.target_amount_lots = amount_lots
        self.reduce_only = reduce_only

    # --- derived views --------------------------------------------------------------------
    @property
    def remaining_lots(self) -> int:
        return max(0, self.amount_lots - self.filled_lots)

    @property
    def in_flight(self) -> bool:
        return self.state in _IN_FLIGHT

    def worst_price(self) -> int:
        """The most aggressive price this order may have on the book right now."""
        if self.side is Side.BUY:
            return max(self.price_ticks, self.target_price_ticks)
        return min(self.price_ticks, self.target_price_ticks)

    def worst_remaining(self) -> int:
        """The largest remaining amount this order may have on the book right now."""
        return max(self.remaining_lots, self.target_amount_lots - self.filled_lots, 0)

    # --- transitions ----------------------------------------------------------------------
    def _move(self, what: Input) -> bool:
        nxt = TRANSITIONS.get((self.state, what))
        if nxt is None:
            return False
        self.state = nxt
        if nxt in _SETTLED:
            self.inflight_action_id = 0
            self.target_price_ticks = self.price_ticks
            self.target_amount_lots = self.amount_lots
        return True

    def send_amend(self, action_id: int, price_ticks: int, amount_lots: int, now_ns: int) -> None:
        # (LIVE, SEND_AMEND) -> PENDING_AMEND, inlined: this is on the hot path
        if self.state is not OrderState.LIVE:
            raise RuntimeError(f"amend refused in state {self.state.name}")
        self.state = OrderState.PENDING_AMEND
        self.inflight_action_id = action_id
        self.target_price_ticks = price_ticks
        self.target_amount_lots = amount_lots
        self.last_action_ns = now_ns

    def send_cancel(self, action_id: int, now_ns: int) -> None:
        if self.state is not OrderState.LIVE:
            raise RuntimeError(f"cancel refused in state {self.state.name}")
        self.state = OrderState.PENDING_CANCEL
        self.inflight_action_id = action_id
        self.last_action_ns = now_ns

    def resend_cancel(self, action_id: int, now_ns: int) -> None:
        """The last action got no reply in time: whatever it was, cancel the order now
        (PENDING_CANCEL; the targets stay, so the worst case still covers them)."""
        self.state = OrderState.PENDING_CANCEL
        self.inflight_action_id = action_id
        self.last_action_ns = now_ns

    def on_update(self, update: OrderUpdate) -> bool:
        """Apply a feed update or RPC result; True when it ended our in-flight action."""
        if self.state == OrderState.CLOSED:
            return False
        if update.order_id:
            self.order_id = update.order_id
        # Filled lots only grow; an older message must not roll them back.
        self.filled_lots = max(self.filled_lots, update.filled_lots)
        is_reply = update.reply_to != 0 and update.reply_to == self.inflight_action_id
        active = update.status.is_active
        if is_reply:
            self.price_ticks = update.price_ticks
            self.amount_lots = update.amount_lots
            self._move(Input.REPLY_OK if active else Input.REPLY_CLOSED)
            return True
        if not active:
            self._move(Input.FEED_CLOSED)
        elif self.state == OrderState.LIVE:
            # Nothing of ours in flight: the feed is the venue's current view.
            self.price_ticks = self.target_price_ticks = update.price_ticks
            self.amount_lots = self.target_amount_lots = update.amount_lots
        return False

    def on_rejected(self, code: int) -> None:
        """The error reply to our in-flight action."""
        self._move(Input.REPLY_NOT_FOUND if code == ORDER_NOT_FOUND else Input.REPLY_ERROR)

    def force_close(self) -> None:
        """The venue no longer has this order (a resync did not list it)."""
        self.state = OrderState.CLOSED
        self.inflight_action_id = 0

    def __repr__(self) -> str:
        return (
            f"Order(cid={self.client_order_id}, oid={self.order_id!r}, {self.side.name} "
            f"{self.remaining_lots}@{self.price_ticks}, {self.state.name})"
        )
