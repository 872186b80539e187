"""What the engine remembers between ticker requests, and when each part goes stale.

Feeds ask for an instrument's ticker on every publication; most of it rarely changes. The
ticker is cached whole, keyed by its book's version, and rebuilt from three parts that are
each dropped only when their inputs change: the book top (book version), the mark numbers
(mark, index, collars, funding: `mark_changed`) and the trade numbers (`traded`).
"""

from __future__ import annotations

from thalex_mm.exchange.engine.types import TickerData

BookTop = tuple[float | None, float | None, float | None, float | None]
MarkNumbers = tuple[float, float | None, float, float, float | None, float | None]
TradeNumbers = tuple[float | None, float, float, float]


class TickerCache:
    __slots__ = ("books", "marks", "trades", "whole")

    def __init__(self) -> None:
        self.whole: dict[str, tuple[int, TickerData]] = {}  # (book version, ticker)
        self.books: dict[str, tuple[int, BookTop]] = {}
        self.marks: dict[str, MarkNumbers] = {}
        self.trades: dict[str, TradeNumbers] = {}

    def mark_changed(self, instrument_name: str) -> None:
        """Its mark, funding rate or index price changed."""
        self.whole.pop(instrument_name, None)
        self.marks.pop(instrument_name, None)

    def traded(self, instrument_name: str) -> None:
        """Last price, volume, value or open interest changed."""
        self.whole.pop(instrument_name, None)
        self.trades.pop(instrument_name, None)
