"""One instrument's limit order book: price-time priority in integer ticks and lots.

Each side is a dict price -> FIFO queue plus a sorted list of prices (bisect), so the best
price is O(1), adding a new level O(log n + n memmove) and matching walks levels best first.
The book also remembers which levels changed since the last `drain_level_changes`, with their
amount before the first change, so the engine can emit only real level changes.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator

from thalex_mm.domain import Side
from thalex_mm.exchange.engine.orders import Order


class _BookSide:
    __slots__ = ("amounts", "is_bid", "prices", "queues")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.prices: list[int] = []  # ascending
        self.queues: dict[int, deque[Order]] = {}
        self.amounts: dict[int, int] = {}

    def best(self) -> int | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.is_bid else self.prices[0]

    def levels_best_first(self) -> Iterator[int]:
        return reversed(self.prices) if self.is_bid else iter(self.prices)

    def add(self, order: Order, lots: int) -> None:
        price = order.price
        assert price is not None
        queue = self.queues.get(price)
        if queue is None:
            queue = deque()
            self.queues[price] = queue
            self.amounts[price] = 0
            bisect.insort(self.prices, price)
        queue.append(order)
        self.amounts[price] += lots

    def remove(self, order: Order, lots: int) -> None:
        price = order.price
        assert price is not None
        queue = self.queues[price]
        queue.remove(order)
        self._reduce(price, lots)

    def _reduce(self, price: int, lots: int) -> None:
        left = self.amounts[price] - lots
        if left <= 0 and not self.queues[price]:
            del self.queues[price]
            del self.amounts[price]
            del self.prices[bisect.bisect_left(self.prices, price)]
        else:
            self.amounts[price] = left


class OrderBook:
    """Resting orders of one instrument."""

    __slots__ = ("_changed", "asks", "bids", "name", "version")

    def __init__(self, name: str) -> None:
        self.name = name
        self.version = 0  # bumped on every change: lets readers cache what they derive
        self.bids = _BookSide(is_bid=True)
        self.asks = _BookSide(is_bid=False)
        # (side, price) -> level amount before its first change since the last drain
        self._changed: dict[tuple[Side, int], int] = {}

    def side(self, side: Side) -> _BookSide:
        return self.bids if side is Side.BUY else self.asks

    def best_bid(self) -> int | None:
        return self.bids.best()

    def best_ask(self) -> int | None:
        return self.asks.best()

    def best(self, side: Side) -> int | None:
        return self.side(side).best()

    def level_amount(self, side: Side, price: int) -> int:
        return self.side(side).amounts.get(price, 0)

    def _note(self, side: Side, price: int) -> None:
        self.version += 1
        key = (side, price)
        if key not in self._changed:
            self._changed[key] = self.side(side).amounts.get(price, 0)

    def add(self, order: Order) -> None:
        """Rest an order at the back of its price level."""
        assert order.price is not None
        self._note(order.side, order.price)
        self.side(order.side).add(order, order.remaining)
        order.resting = True

    def remove(self, order: Order) -> None:
        """Take a resting order out (before it is closed, so `remaining` is still its size)."""
        assert order.price is not None
        self._note(order.side, order.price)
        self.side(order.side).remove(order, order.amount - order.filled)
        order.resting = False

    def reduce_in_place(self, order: Order, new_amount: int) -> None:
        """Shrink a resting order without losing its place in the queue."""
        assert order.price is not None
        self._note(order.side, order.price)
        book_side = self.side(order.side)
        book_side.amounts[order.price] -= order.amount - new_amount
        order.amount = new_amount

    def crosses(self, side: Side, price: int | None) -> bool:
        """Would an order on ``side`` at ``price`` (None = market) trade on arrival?"""
        best = self.best(side.opposite)
        if best is None:
            return False
        if price is None:
            return True
        return price >= best if side is Side.BUY else price <= best

    def take(self, side: Side, limit: int | None, lots: int) -> list[tuple[Order, int, int]]:
        """Match an incoming order against the opposite side, best price then oldest first.

        Returns (maker, price_ticks, lots) per match, with the maker's `filled` not yet
        updated; makers that will be completely filled are already out of the book.
        """
        opp = self.side(side.opposite)
        matches: list[tuple[Order, int, int]] = []
        left = lots
        while left > 0 and opp.prices:
            price = opp.prices[-1] if opp.is_bid else opp.prices[0]
            if limit is not None and (price > limit if side is Side.BUY else price < limit):
                break
            self._note(side.opposite, price)
            queue = opp.queues[price]
            while left > 0 and queue:
                maker = queue[0]
                avail = maker.amount - maker.filled
                qty = avail if avail <= left else left
                matches.append((maker, price, qty))
                left -= qty
                if qty == avail:
                    queue.popleft()
                    maker.resting = False
                opp._reduce(price, qty)
                if price not in opp.queues:
                    break
        return matches

    def drain_level_changes(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bid_changes, ask_changes) as (price_ticks, lots now) for levels that changed."""
        bids: list[tuple[int, int]] = []
        asks: list[tuple[int, int]] = []
        for (side, price), before in self._changed.items():
            now = self.level_amount(side, price)
            if now != before:
                (bids if side is Side.BUY else asks).append((price, now))
        self._changed.clear()
        return bids, asks

    def levels(self, side: Side, depth: int | None = None) -> list[tuple[int, int]]:
        """Aggregated (price_ticks, lots), best first."""
        book_side = self.side(side)
        out: list[tuple[int, int]] = []
        for price in book_side.levels_best_first():
            if depth is not None and len(out) >= depth:
                break
            out.append((price, book_side.amounts[price]))
        return out

    def queue(self, side: Side, price: int) -> list[Order]:
        """Orders at one level in time priority (for tests and inspection)."""
        return list(self.side(side).queues.get(price, ()))

    def orders(self) -> Iterator[Order]:
        for book_side in (self.bids, self.asks):
            for price in book_side.levels_best_first():
                yield from book_side.queues[price]
