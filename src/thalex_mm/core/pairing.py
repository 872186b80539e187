"""The order manager's pure helpers: price bounds, exposure, and how well a pairing of
orders (best first) with ladder levels (best first) fits, for ``order_manager.py``."""

from __future__ import annotations

from thalex_mm.core.actions import Ladder
from thalex_mm.core.orders import Order

BIG = 1 << 62
SHIFTS = (1, -1, 2, -2)  # the alignments tried besides rank: the ladder moved by whole levels


def lowest_ask(asks: list[Order]) -> int:
    """The lowest price any of our asks may have (confirmed or in flight)."""
    floor = BIG
    for o in asks:
        p = o.price_ticks if o.price_ticks < o.target_price_ticks else o.target_price_ticks
        if p < floor:  # noqa: PLR1730 - min() is slower on this hot path
            floor = p
    return floor


def highest_bid(bids: list[Order]) -> int:
    """The highest price any of our bids may have (confirmed or in flight)."""
    ceiling = -BIG
    for o in bids:
        p = o.price_ticks if o.price_ticks > o.target_price_ticks else o.target_price_ticks
        if p > ceiling:  # noqa: PLR1730
            ceiling = p
    return ceiling


def exposure(orders: list[Order]) -> int:
    """Worst-case remaining lots of ``orders`` (confirmed or in-flight size, the larger)."""
    exposure = 0
    for o in orders:
        filled = o.filled_lots
        a = o.amount_lots if o.amount_lots > o.target_amount_lots else o.target_amount_lots
        if a > filled:
            exposure += a - filled
    return exposure


def shift_candidate(active: list[Order], desired: Ladder) -> bool:
    """Whether some shift in ``SHIFTS`` lines an order up exactly with a level."""
    first_order = active[0].target_price_ticks
    first_level = desired[0][0]
    m = len(active)
    n = len(desired)
    for shift in SHIFTS:
        if shift > 0:
            if shift < n and first_order == desired[shift][0]:
                return True
        elif -shift < m and active[-shift].target_price_ticks == first_level:
            return True
    return False


def all_within(orders: list[Order], desired: Ladder, threshold: int) -> bool:
    """Whether each order (target price and remaining size) is within the threshold of the
    level of its rank."""
    for o, (price, lots) in zip(orders, desired, strict=False):
        d = o.target_price_ticks - price
        if d >= threshold or -d >= threshold or o.target_amount_lots - o.filled_lots != lots:
            return False
    return True


def actions_needed(active: list[Order], desired: Ladder, shift: int, threshold: int) -> int:
    """Actions needed when order j is paired with level j + shift (both best first)."""
    n = len(desired)
    m = len(active)
    if shift >= 0:
        pairs = zip(active, desired[shift:], strict=False)
        paired = min(m, n - shift)
    else:
        pairs = zip(active[-shift:], desired, strict=False)
        paired = min(m + shift, n)
    cost = 0
    for o, (price, lots) in pairs:
        d = o.target_price_ticks - price
        if d >= threshold or -d >= threshold or o.target_amount_lots - o.filled_lots != lots:
            cost += 1
    # leftover orders are moved to leftover levels; the rest are cancelled or inserted
    return cost + max(m - paired, n - paired)


def best_shift(active: list[Order], desired: Ladder, threshold: int) -> tuple[int, bool]:
    """The alignment of orders to levels (rank, or shifted by one or two levels when the
    ladder moved by whole levels) that needs the fewest actions, and whether it needs
    none. A shift is only worth costing when it lines an order up exactly with a level
    (cheap to test); without one, the rank pairing is the answer and a mismatch on the
    first level settles "not quiet" (the all-levels move, the common busy case)."""
    m = len(active)
    n = len(desired)
    if m and n and shift_candidate(active, desired):
        best_cost = actions_needed(active, desired, 0, threshold)
        best = 0
        if best_cost > 1:
            for shift in SHIFTS:
                if shift > 0:
                    if shift >= n or active[0].target_price_ticks != desired[shift][0]:
                        continue
                elif -shift >= m or active[-shift].target_price_ticks != desired[0][0]:
                    continue
                cost = actions_needed(active, desired, shift, threshold)
                if cost < best_cost:
                    best, best_cost = shift, cost
        return best, best_cost == 0
    return 0, m == n and all_within(active, desired, threshold)
