"""How good our fills were: the edge at fill against fair value, and markouts after it.

Fair value is the instrument's mark as the runner sees it pass by (``Instrument.mark()``: the
ticker's mark, the mid while no mark is known), never a mid that includes our own quotes.
For a fill (side s = ±1, price p, amount a) with fair f when it happened:

- edge at fill: s·(f − p)·a, in quote currency (USD), summed and per unit traded;
- markout at horizon h: s·(f(t+h) − p)·a, f(t+h) the fair as of h after the fill; only fills
  whose whole horizon lies inside the run count, the others are counted as left out;
- inventory: s·a·(F − f), F the final fair: what price moves did to the position.

Edge + inventory = Σ s·a·(F − p), the whole trading PnL of fills valued at F (what realised
plus unrealised PnL add up to in average-cost accounting), so with the carried-in position,
fees and funding the decomposition of the core's total PnL is exact (``decompose``).

Cost: O(1) per fill (one append per horizon); resolving is O(1) amortised per fill, on fair
updates and the runner's timer; at most ``max_pending`` fills wait per horizon.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass

HORIZONS_S = (1, 5, 30)
MAX_PENDING = 65_536  # per horizon: beyond it the oldest waiting fill is dropped (counted)
FAIR_MEMORY = 4_096  # fair at fill, per trade id, kept for the journal's fill records
_NS = 1_000_000_000


class Horizon:
    """The markouts of one horizon: fills waiting for it, and the resolved sums."""

    __slots__ = ("dropped", "fills", "horizon_ns", "pending", "seconds", "total", "volume")

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.horizon_ns = seconds * _NS
        self.pending: deque[tuple[int, int, float, float]] = deque()  # due, side, price, amount
        self.total = 0.0  # Σ s·(f(t+h) − p)·a over resolved fills
        self.volume = 0.0  # Σ a over resolved fills
        self.fills = 0
        self.dropped = 0  # fills pushed out by MAX_PENDING before their horizon

    def resolve(self, now_ns: int, fair: float, *, inclusive: bool) -> None:
        """Fills due before ``now_ns`` (or at it, ``inclusive``) get ``fair``: the fair value
        that held from the previous update until now."""
        pending = self.pending
        while pending and (pending[0][0] < now_ns or (inclusive and pending[0][0] == now_ns)):
            _, side, price, amount = pending.popleft()
            self.total += side * (fair - price) * amount
            self.volume += amount
            self.fills += 1

    @property
    def left_out(self) -> int:
        """Fills without the whole horizon: still waiting (too close to the end) or dropped."""
        return len(self.pending) + self.dropped


class FillQuality:
    """Edge at fill, markouts and the inventory term for one instrument."""

    __slots__ = (
        "edge",
        "fair",
        "fair_at",
        "horizons",
        "max_pending",
        "net_amount",
        "net_fair",
        "no_fair",
        "volume",
    )

    def __init__(
        self, horizons_s: tuple[int, ...] = HORIZONS_S, max_pending: int = MAX_PENDING
    ) -> None:
        self.fair = math.nan  # the latest fair value
        self.horizons = tuple(Horizon(h) for h in horizons_s)
        self.max_pending = max_pending
        self.edge = 0.0  # Σ s·(f − p)·a
        self.volume = 0.0  # Σ a
        self.net_amount = 0.0  # Σ s·a: the position the fills built
        self.net_fair = 0.0  # Σ s·a·f: its value at the fairs at fill
        self.no_fair = 0  # fills before any fair was known (edge 0: all in inventory)
        # trade id -> fair at fill, the newest FAIR_MEMORY (OrderedDict: O(1) to drop the oldest)
        self.fair_at: OrderedDict[str, float] = OrderedDict()

    def on_fair(self, now_ns: int, fair: float) -> None:
        """A new fair value at ``now_ns`` (NaN or <= 0: none, ignored)."""
        if not fair > 0.0 or fair == self.fair:
            return
        old = self.fair
        if old > 0.0:
            for h in self.horizons:
                if h.pending:
                    h.resolve(now_ns, old, inclusive=False)
        self.fair = fair

    def advance(self, now_ns: int) -> None:
        """Resolve what is due by ``now_ns`` at the current fair (the runner's timer)."""
        fair = self.fair
        if fair > 0.0:
            for h in self.horizons:
                if h.pending:
                    h.resolve(now_ns, fair, inclusive=True)

    def on_fill(self, now_ns: int, trade_id: str, side: int, price: float, amount: float) -> float:
        """Count one fill at the current fair; returns that fair (the price when none is
        known yet: no edge, and the price move goes to the inventory term)."""
        fair = self.fair
        if not fair > 0.0:
            fair = price
            self.no_fair += 1
        self.edge += side * (fair - price) * amount
        self.volume += amount
        self.net_amount += side * amount
        self.net_fair += side * amount * fair
        for h in self.horizons:
            pending = h.pending
            if len(pending) >= self.max_pending:
                pending.popleft()
                h.dropped += 1
            pending.append((now_ns + h.horizon_ns, side, price, amount))
        memory = self.fair_at
        if len(memory) >= FAIR_MEMORY:
            memory.popitem(last=False)
        memory[trade_id] = fair
        return fair

    def inventory(self, final_fair: float) -> float:
        """Σ s·a·(F − f): what the price moves after each fill did to the position."""
        if not final_fair > 0.0:
            return 0.0
        return final_fair * self.net_amount - self.net_fair


@dataclass(frozen=True, slots=True)
class Decomposition:
    """total = edge + inventory + carried − fees + funding + unexplained (all USD)."""

    edge: float
    inventory: float
    carried: float  # the position taken over at start, from its entry price to the final fair
    fees: float
    funding: float
    total: float
    unexplained: float  # 0 unless the core counted fills the run did not (or vice versa)


def decompose(
    quality: FillQuality,
    *,
    final_fair: float,
    start_amount: float,
    start_price: float,
    fees: float,
    funding: float,
    total: float,
) -> Decomposition:
    """Split the core's ``total`` PnL into its sources."""
    inventory = quality.inventory(final_fair)
    carried = start_amount * (final_fair - start_price) if start_amount and final_fair > 0 else 0.0
    explained = quality.edge + inventory + carried - fees + funding
    return Decomposition(quality.edge, inventory, carried, fees, funding, total, total - explained)
