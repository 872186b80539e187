"""The fill keys we have counted, in bounded memory, so a fill the venue repeats counts once.

The venue repeats a fill in two ways, and each needs its own memory:

- *In flight*: the same fill arrives in the RPC result of our order, on ``session.orders`` and
  ``account.orders``, and (it lags: the central database first) on ``account.trade_history``,
  which brings the real fee. These copies are seconds apart. A FIFO of the newest
  ``capacity`` keys covers them: with the default 4096 that is over 40 s of copies even at
  100 fills/s (a busy 100-instrument simulation makes ~30/s), ~1 MB when full.
- *At a resync*: ``private/open_orders`` (and an ``existing`` order-feed snapshot) lists the
  fills of every order still open, however old they are. Those keys are *pinned* to their
  order id while the order is open (``pin``), whatever the FIFO has forgotten, and unpinned
  when an update says the order closed or a resync does not list it (``keep_only``). This
  memory is bounded by our open orders times their fills; as a safety net (a venue that
  replaced a partly filled quote without reporting it closed), at most ``capacity`` orders
  stay pinned, the oldest released first.

Each key remembers its *estimated* fee (the order feed carries none) until the real one
arrives (``take_estimate``), and forgets it with the key. Memory therefore stops growing once
the FIFO is full, instead of growing with every fill of the run.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping

_NO_FEE = math.nan  # the value of a key without an estimate


class TradeIds:
    """A bounded memory of fill keys (oldest forgotten first), shared by all instruments,
    plus the keys pinned to open orders. A key is a trade id, or ``(trade_id, side)`` as
    ``Position`` uses it (``position.fill_key``)."""

    __slots__ = ("_fifo", "_pinned", "_pins", "_seen", "capacity")

    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError(f"trade id memory must be >= 1, got {capacity}")
        self.capacity = capacity
        self._seen: dict[object, float] = {}  # key -> estimated fee (NaN: none)
        self._fifo: deque[object] = deque()
        self._pins: dict[str, set[object]] = {}  # open order id -> keys of its fills
        self._pinned: dict[object, int] = {}  # key -> number of orders pinning it

    def add(self, trade_id: object) -> bool:
        """Remember ``trade_id`` (any hashable key); False when it was already known."""
        seen = self._seen
        if trade_id in seen or trade_id in self._pinned:
            return False
        seen[trade_id] = _NO_FEE
        fifo = self._fifo
        fifo.append(trade_id)
        if len(fifo) > self.capacity:
            del seen[fifo.popleft()]
        return True

    def __contains__(self, trade_id: object) -> bool:
        return trade_id in self._seen or trade_id in self._pinned

    def __len__(self) -> int:
        """Keys in the FIFO (pinned ones are counted by ``pinned``)."""
        return len(self._seen)

    @property
    def pinned(self) -> int:
        return len(self._pinned)

    # --- estimated fees ---------------------------------------------------------------------
    def set_estimate(self, trade_id: object, fee: float) -> None:
        """Remember the fee estimated for a key just added (forgotten with the key)."""
        if trade_id in self._seen:
            self._seen[trade_id] = fee

    def take_estimate(self, trade_id: object) -> float | None:
        """The estimate for ``trade_id`` (then cleared), or None when there is none."""
        fee = self._seen.get(trade_id, _NO_FEE)
        if math.isnan(fee):
            return None
        self._seen[trade_id] = _NO_FEE
        return fee

    # --- keys of open orders ----------------------------------------------------------------
    def pin(self, order_id: str, keys: Iterable[object]) -> None:
        """Keep ``keys`` (fills of the open order ``order_id``) until the order closes."""
        pins = self._pins
        held = pins.get(order_id)
        if held is None:
            if len(pins) >= self.capacity:  # the safety net: see the module docstring
                self.unpin(next(iter(pins)))
            held = pins[order_id] = set()
        pinned = self._pinned
        for key in keys:
            if key not in held:
                held.add(key)
                pinned[key] = pinned.get(key, 0) + 1

    def unpin(self, order_id: str) -> None:
        """The order closed: its fills can no longer be listed again as an open order's."""
        held = self._pins.pop(order_id, None)
        if held is None:
            return
        pinned = self._pinned
        for key in held:
            n = pinned[key] - 1
            if n:
                pinned[key] = n
            else:
                del pinned[key]

    def keep_only(self, open_order_ids: Iterable[str]) -> None:
        """After a resync: unpin every order the venue no longer lists as open."""
        still_open = set(open_order_ids)
        for order_id in [o for o in self._pins if o not in still_open]:
            self.unpin(order_id)

    def pins(self) -> Mapping[str, set[object]]:
        """Open order id -> pinned keys (read-only view, for tests and tools)."""
        return self._pins
