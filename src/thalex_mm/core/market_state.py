"""What we know about one instrument's market: top of book, book levels, mark, index,
funding, the last public trades, and how old all of it is.

The book is two dicts (price ticks → lots) so level changes are O(1); the best levels are
kept incrementally and rescanned only when the best level itself is removed. The stale-data
guard (``stale_reason``) refuses quoting when the top of book or the mark is missing or
crossed, or when either feed is older than the configured age: the feed that supplies the
top of book (book/lwt, or the ticker when no book feed is kept) and the ticker (the mark).
A ticker whose best bid and ask equal the book's top confirms the book as current (a quiet
book sends nothing), so a frozen book feed is caught only when the market moved.

``mid_excluding`` is the mid of the others' quotes: our own resting size is taken off each
level first, so our quotes alone at the touch do not drag the mid along with them (a
feedback loop: mid → our quotes → mid). Without depth to look behind them, it anchors to the
mark.
"""

from __future__ import annotations

from collections import deque

from thalex_mm.core.events import BookTop, BookUpdate, PublicTrade, Ticker
from thalex_mm.domain import InstrumentSpec

_TRADES_KEPT = 64


class MarketState:
    __slots__ = (
        "ask_lots",
        "ask_ticks",
        "asks",
        "bid_lots",
        "bid_ticks",
        "bids",
        "book_feed",
        "funding_rate",
        "index_price",
        "last_book_ns",
        "last_data_ns",
        "last_ticker_ns",
        "mark_price",
        "spec",
        "trades",
    )

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.bid_ticks = 0  # 0 lots: that side is empty
        self.bid_lots = 0
        self.ask_ticks = 0
        self.ask_lots = 0
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.mark_price = 0.0
        self.index_price = 0.0
        self.funding_rate = 0.0
        self.last_data_ns = -(1 << 62)  # any feed (kept for callers)
        self.last_book_ns = -(1 << 62)  # the top-of-book feed, or a ticker confirming it
        self.book_feed = False  # book/lwt events seen: they supply the top, not the ticker
        self.last_ticker_ns = -(1 << 62)
        self.trades: deque[PublicTrade] = deque(maxlen=_TRADES_KEPT)

    # --- updates ------------------------------------------------------------------------
    def on_top(self, e: BookTop) -> None:
        self.bid_ticks = e.bid_ticks
        self.bid_lots = e.bid_lots
        self.ask_ticks = e.ask_ticks
        self.ask_lots = e.ask_lots
        self.last_data_ns = self.last_book_ns = e.now_ns
        self.book_feed = True

    def on_book(self, e: BookUpdate) -> None:
        bids = self.bids
        asks = self.asks
        if e.snapshot:
            bids.clear()
            asks.clear()
        rescan_bid = rescan_ask = e.snapshot
        best_bid = self.bid_ticks if self.bid_lots else 0
        for price, lots in e.bids:
            if lots > 0:
                bids[price] = lots
                if price >= best_bid:
                    best_bid = price
                    self.bid_ticks, self.bid_lots = price, lots
            else:
                bids.pop(price, None)
                rescan_bid = rescan_bid or price == best_bid
        best_ask = self.ask_ticks if self.ask_lots else 0
        for price, lots in e.asks:
            if lots > 0:
                asks[price] = lots
                if best_ask == 0 or price <= best_ask:
                    best_ask = price
                    self.ask_ticks, self.ask_lots = price, lots
            else:
                asks.pop(price, None)
                rescan_ask = rescan_ask or price == best_ask
        if rescan_bid:
            if bids:
                self.bid_ticks = max(bids)
                self.bid_lots = bids[self.bid_ticks]
            else:
                self.bid_ticks = self.bid_lots = 0
        if rescan_ask:
            if asks:
                self.ask_ticks = min(asks)
                self.ask_lots = asks[self.ask_ticks]
            else:
                self.ask_ticks = self.ask_lots = 0
        self.last_data_ns = self.last_book_ns = e.now_ns
        self.book_feed = True

    def on_ticker(self, e: Ticker) -> None:
        self.mark_price = e.mark_price
        self.index_price = e.index_price
        self.funding_rate = e.funding_rate
        if e.best_bid_lots > 0 and e.best_ask_lots > 0:
            if not self.book_feed:
                # No book feed (the top came from tickers only): the ticker is the top.
                self.bid_ticks, self.bid_lots = e.best_bid_ticks, e.best_bid_lots
                self.ask_ticks, self.ask_lots = e.best_ask_ticks, e.best_ask_lots
                self.last_book_ns = e.now_ns
            elif e.best_bid_ticks == self.bid_ticks and e.best_ask_ticks == self.ask_ticks:
                self.last_book_ns = e.now_ns  # the book feed is quiet, not frozen
        self.last_ticker_ns = e.now_ns
        self.last_data_ns = e.now_ns

    def on_trade(self, e: PublicTrade) -> None:
        self.trades.append(e)

    # --- views --------------------------------------------------------------------------
    def mid(self) -> float:
        """The mid price in price units (NaN without both sides)."""
        if self.bid_lots <= 0 or self.ask_lots <= 0:
            return float("nan")
        return 0.5 * (self.bid_ticks + self.ask_ticks) * self.spec.tick_size

    def stale_reason(self, now_ns: int, max_age_ns: int) -> str | None:
        """Why quoting on this data would be unsafe, or None."""
        if now_ns - self.last_book_ns > max_age_ns:
            return f"no market data (book) for more than {max_age_ns / 1e6:.0f} ms"
        if self.bid_lots <= 0 or self.ask_lots <= 0:
            return "one side of the book is empty"
        if self.bid_ticks >= self.ask_ticks:
            return f"book is crossed ({self.bid_ticks} >= {self.ask_ticks} ticks)"
        if not (self.mark_price > 0.0):
            return "no mark price yet"
        if now_ns - self.last_ticker_ns > max_age_ns:
            return f"no market data (ticker) for more than {max_age_ns / 1e6:.0f} ms"
        return None

    def levels(self, depth: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """The best ``depth`` levels per side as (price, amount) floats, best first."""
        tick = self.spec.tick_size
        step = self.spec.amount_step
        if not self.bids and not self.asks:
            bids = [(self.bid_ticks * tick, self.bid_lots * step)] if self.bid_lots else []
            asks = [(self.ask_ticks * tick, self.ask_lots * step)] if self.ask_lots else []
            return bids, asks
        top_bids = sorted(self.bids, reverse=True)[:depth]
        top_asks = sorted(self.asks)[:depth]
        return (
            [(p * tick, self.bids[p] * step) for p in top_bids],
            [(p * tick, self.asks[p] * step) for p in top_asks],
        )

    def mid_excluding(self, own_bids: dict[int, int], own_asks: dict[int, int]) -> float:
        """The mid of the others' quotes (``own_*``: our resting lots per price), in price
        units; the mark when we are alone at a touch with no depth to look behind us, and
        NaN when neither is known."""
        bid = _others_best(self.bids, self.bid_ticks, self.bid_lots, own_bids, True)
        ask = _others_best(self.asks, self.ask_ticks, self.ask_lots, own_asks, False)
        if bid is None or ask is None or bid >= ask:
            return self.mark_price if self.mark_price > 0.0 else float("nan")
        return 0.5 * (bid + ask) * self.spec.tick_size

    def levels_excluding(
        self, depth: int, own_bids: dict[int, int], own_asks: dict[int, int]
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """``levels`` with our own resting lots taken off (levels left empty dropped)."""
        bids, asks = self.levels(depth + len(own_bids) + len(own_asks))
        tick = self.spec.tick_size
        step = self.spec.amount_step
        return (
            _minus(bids, own_bids, tick, step)[:depth],
            _minus(asks, own_asks, tick, step)[:depth],
        )


def _others_best(
    book: dict[int, int], top_ticks: int, top_lots: int, own: dict[int, int], bid: bool
) -> int | None:
    """The best price where someone else quotes, or None when unknown."""
    if top_lots <= 0:
        return None
    if top_lots > own.get(top_ticks, 0):
        return top_ticks  # others share the touch with us (or we are not there)
    for price in sorted(book, reverse=bid):
        if book[price] > own.get(price, 0):
            return price
    return None


def _minus(
    levels: list[tuple[float, float]], own: dict[int, int], tick: float, step: float
) -> list[tuple[float, float]]:
    out = []
    for price, amount in levels:
        mine = own.get(round(price / tick), 0) * step
        if amount - mine > 0.5 * step:
            out.append((price, amount - mine))
    return out
