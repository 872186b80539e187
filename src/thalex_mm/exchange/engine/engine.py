"""The matching engine facade: validation, matching, accounts, mass quotes, MM protection.

Sans-I/O: every call takes ``now_ns`` and returns an `Outcome` (RPC result or `EngineError`,
plus events). Client mistakes never raise.

Event order inside one Outcome (deterministic):
1. the caller's own order update(s): the insert/amend/cancel result itself (its taker fills
   inside), cancel_all / session-end deletions, or a mass quote's `replaced` deletions and
   inserts, in the order they were applied;
2. per match, in matching order: the maker's `OrderUpdate` (change_reason fill), then the
   public `TradeEvent`;
3. `MMProtectionEvent` for groups whose quotes executed, then `OrderUpdate`s of quotes deleted
   by a trip (delete_reason mm_protection); group resets (session end, cancel_mass_quote);
4. `AccountTradeEvent` for every side of every trade (taker first per trade);
5. `PortfolioChanged` per (account, instrument) touched, taker account first, then
   `AccountSummaryChanged` for the same accounts;
6. one `BookLevelsChanged` per instrument whose levels changed (net change over the call).

Choices where protocol.md leaves room: a market order against an empty opposite book is
rejected with 41; an amend to ≤ the filled amount reports change_reason `cancel` with
delete_reason `client_cancel`; reduce_only rejections use 57; mass-quote `n_success`/`n_fail`
count sides; a failed side leaves that side's old quotes in place; cancel_mass_quote deletes
with `client_cancel`. An amend keeps post_only semantics: a crossing price is re-priced one
tick behind the best opposite price, or (reject_post_only) the order is cancelled with
`immediate_cancel`, as on insert. No self-trade prevention (STP is opt-in on Thalex).
Resting reduce_only orders are re-cut after the position changes (`amend` update, or delete_reason
`admin_cancel` once nothing is left to reduce; they come with step 3's events). No margin
checks (error 24 never occurs).
"""

from __future__ import annotations

import math
from collections.abc import Collection

from thalex_mm.domain import Side
from thalex_mm.exchange.engine.book import OrderBook
from thalex_mm.exchange.engine.events import (
    Event,
    IndexChanged,
    MarkChanged,
)
from thalex_mm.exchange.engine.instruments import ExchangeInstrument
from thalex_mm.exchange.engine.orders import Order
from thalex_mm.exchange.engine.quoting import QuotingEngine
from thalex_mm.exchange.engine.ticker_cache import BookTop, MarkNumbers
from thalex_mm.exchange.engine.types import (
    AccountSummary,
    BookSnapshot,
    ChangeReason,
    OrderSnapshot,
    PortfolioEntry,
    PublicTrade,
    TickerData,
    TradeRecord,
)
from thalex_mm.exchange.engine.validation import collar_limit


class MatchingEngine(QuotingEngine):
    """All books and accounts of the local exchange.

    Construct with `default_instruments(now_ns)` (or your own `ExchangeInstrument`s);
    accounts are created with ``default_balance`` on first use (`add_account` to choose).
    Client calls: insert, amend, cancel, cancel_all (TradingEngine); set_mm_protection,
    mass_quote, cancel_mass_quote, cancel_session, end_session (QuotingEngine).
    """

    # ---- reference data ------------------------------------------------------------------
    def instruments(self) -> list[ExchangeInstrument]:
        return list(self._instruments.values())

    def instrument(self, name: str) -> ExchangeInstrument | None:
        return self._instruments.get(name)

    def products(self) -> list[str]:
        return list(self._products)

    def underlyings(self) -> list[str]:
        return sorted({i.spec.underlying for i in self._instruments.values()})

    # ---- market data in ------------------------------------------------------------------
    def set_index(self, now_ns: int, underlying: str, price: float) -> list[Event]:
        """New index price of an underlying (from the synthetic market)."""
        if not math.isfinite(price) or price <= 0:
            raise ValueError(f"index price for {underlying} must be positive, got {price}")
        self._index[underlying] = price
        self._index_time[underlying] = now_ns
        for name in self._by_underlying.get(underlying, ()):
            self._tickers.mark_changed(name)
        return [IndexChanged(underlying, price, now_ns)]

    def set_mark(
        self,
        now_ns: int,
        instrument_name: str,
        mark_price: float,
        *,
        funding_rate: float | None = None,
    ) -> list[Event]:
        """New mark (and perpetual funding rate); collars and unrealised PnL follow it.

        Portfolio lines are not pushed here (the protocol layer resends lines whose mark moved
        by more than 1 %, per §3.2, from `portfolio()`).
        """
        if instrument_name not in self._instruments:
            raise ValueError(f"unknown instrument {instrument_name!r}")
        if not math.isfinite(mark_price) or mark_price <= 0:
            raise ValueError(f"mark price for {instrument_name} must be positive")
        self._marks[instrument_name] = mark_price
        self._mark_time[instrument_name] = now_ns
        if funding_rate is not None:
            self._funding_rates[instrument_name] = funding_rate
        self._tickers.mark_changed(instrument_name)
        return [MarkChanged(instrument_name, mark_price, funding_rate, now_ns)]

    def apply_funding(self, now_ns: int, instrument_name: str, rate: float) -> list[Event]:
        """Pay one funding period at ``rate`` on every open position at the current mark."""
        inst = self._instruments.get(instrument_name)
        if inst is None or not inst.is_perpetual:
            raise ValueError(f"{instrument_name!r} is not a listed perpetual")
        mark = self._marks.get(instrument_name)
        if mark is None:
            return []
        self._begin()
        for account in self._accounts.values():
            pos = account.positions.get(instrument_name)
            if pos is None or pos.lots == 0:
                continue
            account.apply_funding(instrument_name, inst.spec.lots_to_amount(pos.lots), mark, rate)
            self._batch.portfolio[(account.number, instrument_name)] = None
        return self._finish(now_ns)

    # ---- queries -------------------------------------------------------------------------
    def order(self, order_id: str) -> OrderSnapshot | None:
        """A live or recently closed order, with all its fills."""
        order = self._live.get(order_id) or self._closed.get(order_id)
        return None if order is None else order.snapshot(ChangeReason.EXISTING)

    def open_orders(self, account: str) -> list[OrderSnapshot]:
        orders = sorted(self._account_live.get(account, {}).values(), key=_seq)
        return [o.snapshot(ChangeReason.EXISTING) for o in orders]

    def session_open_orders(self, session_id: int) -> list[OrderSnapshot]:
        orders = sorted(self._session_live.get(session_id, {}).values(), key=_seq)
        return [o.snapshot(ChangeReason.EXISTING) for o in orders]

    def order_history(self, account: str) -> list[OrderSnapshot]:
        """Closed orders, oldest first, per §2.7: unfilled mass quotes and client-cancelled
        unfilled non-persistent orders are left out."""
        found = self._accounts.get(account)
        if found is None:
            return []
        return [o.snapshot(ChangeReason.EXISTING) for o in found.order_history]

    def trade_history(self, account: str) -> list[TradeRecord]:
        found = self._accounts.get(account)
        return [] if found is None else list(found.trade_history)

    def portfolio(self, account: str) -> list[PortfolioEntry]:
        """Every instrument the account ever traded (flat lines included), listing order."""
        found = self._accounts.get(account)
        if found is None:
            return []
        return [self._portfolio_entry(account, name) for name in found.positions]

    def open_portfolio_entries(
        self, account: str, instrument_names: Collection[str]
    ) -> list[PortfolioEntry]:
        """Portfolio lines of the account's non-flat positions among ``instrument_names``, in
        `portfolio` order (cheap when marks move: flat and other lines are not built)."""
        found = self._accounts.get(account)
        if found is None:
            return []
        return [
            self._portfolio_entry(account, name)
            for name, pos in found.positions.items()
            if pos.lots != 0 and name in instrument_names
        ]

    def open_amounts(self, account: str, instrument_name: str) -> tuple[float, float]:
        """(open buy amount, open sell amount) of working orders."""
        spec = self._instruments[instrument_name].spec
        buy = self._open_lots.get((account, instrument_name, Side.BUY), 0)
        sell = self._open_lots.get((account, instrument_name, Side.SELL), 0)
        return spec.lots_to_amount(buy), spec.lots_to_amount(sell)

    def position_lots(self, account: str, instrument_name: str) -> int:
        found = self._accounts.get(account)
        pos = None if found is None else found.positions.get(instrument_name)
        return 0 if pos is None else pos.lots

    def account_summary(self, account: str) -> AccountSummary:
        return self._summary(account)

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def book(self, instrument_name: str, depth: int | None = 5) -> BookSnapshot | None:
        inst = self._instruments.get(instrument_name)
        if inst is None:
            return None
        spec = inst.spec
        book = self._books[instrument_name]
        last = self._last_price.get(instrument_name)
        return BookSnapshot(
            instrument_name,
            tuple(
                (spec.ticks_to_price(p), spec.lots_to_amount(q))
                for p, q in book.levels(Side.BUY, depth)
            ),
            tuple(
                (spec.ticks_to_price(p), spec.lots_to_amount(q))
                for p, q in book.levels(Side.SELL, depth)
            ),
            None if last is None else spec.ticks_to_price(last),
            max(self._mark_time.get(instrument_name, 0), self._book_time.get(instrument_name, 0)),
        )

    def order_book(self, instrument_name: str) -> OrderBook:
        """The live book object (integer ticks/lots), for inspection in tests and tools."""
        return self._books[instrument_name]

    def ticker(self, instrument_name: str, now_ns: int) -> TickerData | None:
        """The ticker, cached until the book, mark, index or trades of the instrument change
        (feeds ask for it on every publication). Equal to `compute_ticker`."""
        book = self._books.get(instrument_name)
        if book is None:
            return None
        cached = self._tickers.whole.get(instrument_name)
        if cached is not None and cached[0] == book.version:
            return cached[1]
        if instrument_name not in self._marks:  # mark_time falls back to now: not cacheable
            return self.compute_ticker(instrument_name, now_ns)
        inst = self._instruments[instrument_name]
        spec = inst.spec
        cache = self._tickers
        book_part = cache.books.get(instrument_name)
        if book_part is None or book_part[0] != book.version:
            book_part = (book.version, self._book_top(instrument_name))
            cache.books[instrument_name] = book_part
        mark_part = cache.marks.get(instrument_name)
        if mark_part is None:
            mark_part = cache.marks[instrument_name] = self._mark_numbers(
                inst, self._marks[instrument_name]
            )
        trades = cache.trades.get(instrument_name)
        if trades is None:
            last = self._last_price.get(instrument_name)
            trades = (
                None if last is None else spec.ticks_to_price(last),
                spec.lots_to_amount(self._volume_lots[instrument_name]),
                self._value[instrument_name],
                spec.lots_to_amount(self._long_lots[instrument_name]),
            )
            cache.trades[instrument_name] = trades
        bid_p, bid_a, ask_p, ask_a = book_part[1]
        mark, index, collar_low, collar_high, funding, funding_mark = mark_part
        data = TickerData(
            instrument_name,
            mark,
            self._mark_time[instrument_name],
            index,
            bid_p,
            bid_a,
            ask_p,
            ask_a,
            trades[0],
            trades[1],
            trades[2],
            collar_low,
            collar_high,
            trades[3],
            funding,
            funding_mark,
        )
        cache.whole[instrument_name] = (book.version, data)
        return data

    def _book_top(self, instrument_name: str) -> BookTop:
        spec = self._instruments[instrument_name].spec
        book = self._books[instrument_name]
        bid, ask = book.best_bid(), book.best_ask()
        return (
            None if bid is None else spec.ticks_to_price(bid),
            None if bid is None else spec.lots_to_amount(book.bids.amounts[bid]),
            None if ask is None else spec.ticks_to_price(ask),
            None if ask is None else spec.lots_to_amount(book.asks.amounts[ask]),
        )

    def _mark_numbers(self, inst: ExchangeInstrument, mark: float) -> MarkNumbers:
        """(mark, index, collar_low, collar_high, funding_rate, funding_mark)."""
        spec = inst.spec
        index = self._index.get(spec.underlying)
        funding = self._funding_rates.get(inst.name) if inst.is_perpetual else None
        fraction = inst.collar_fraction
        low = max(1, spec.price_to_ticks_ceil(mark * (1.0 - fraction)))  # = collar_limit()
        high = spec.price_to_ticks_floor(mark * (1.0 + fraction))
        return (
            mark,
            index,
            spec.ticks_to_price(low),
            spec.ticks_to_price(high),
            funding,
            None if funding is None or index is None else mark - index,
        )

    def compute_ticker(self, instrument_name: str, now_ns: int) -> TickerData | None:
        """The ticker computed from scratch (the reference `ticker`'s cache must equal)."""
        inst = self._instruments.get(instrument_name)
        if inst is None:
            return None
        spec = inst.spec
        book = self._books[instrument_name]
        bid, ask = book.best_bid(), book.best_ask()
        mark = self._marks.get(instrument_name)
        last = self._last_price.get(instrument_name)
        funding = self._funding_rates.get(instrument_name) if inst.is_perpetual else None
        index = self._index.get(spec.underlying)
        return TickerData(
            instrument_name=instrument_name,
            mark_price=mark,
            mark_time_ns=self._mark_time.get(instrument_name, now_ns),
            index=index,
            best_bid_price=None if bid is None else spec.ticks_to_price(bid),
            best_bid_amount=None
            if bid is None
            else spec.lots_to_amount(book.level_amount(Side.BUY, bid)),
            best_ask_price=None if ask is None else spec.ticks_to_price(ask),
            best_ask_amount=None
            if ask is None
            else spec.lots_to_amount(book.level_amount(Side.SELL, ask)),
            last_price=None if last is None else spec.ticks_to_price(last),
            volume=spec.lots_to_amount(self._volume_lots[instrument_name]),
            value=self._value[instrument_name],
            collar_low=None
            if mark is None
            else spec.ticks_to_price(collar_limit(spec, Side.SELL, mark, inst.collar_fraction)),
            collar_high=None
            if mark is None
            else spec.ticks_to_price(collar_limit(spec, Side.BUY, mark, inst.collar_fraction)),
            open_interest=spec.lots_to_amount(self._long_lots[instrument_name]),
            funding_rate=funding,
            funding_mark=None if funding is None or mark is None or index is None else mark - index,
        )

    def index_price(self, underlying: str) -> float | None:
        return self._index.get(underlying)

    def index_time_ns(self, underlying: str) -> int | None:
        return self._index_time.get(underlying)

    def mark_price(self, instrument_name: str) -> float | None:
        return self._marks.get(instrument_name)

    def recent_trades(self, instrument_name: str, limit: int = 100) -> list[PublicTrade]:
        """The latest public trades of one instrument, oldest first."""
        trades = self._recent.get(instrument_name)
        if trades is None or limit <= 0:
            return []
        return list(trades)[-limit:]

    def quote_count(self, session_id: int, instrument_name: str) -> int:
        """Live mass-quote levels of one session on one instrument (both sides)."""
        return sum(
            len(self._quotes.get((session_id, instrument_name, side), ()))
            for side in (Side.BUY, Side.SELL)
        )

    def mm_protection_remaining(self, session_id: int, product: str) -> float | None:
        """The group's remaining trade amount (None when not set / reset)."""
        group = self._groups.get((session_id, product))
        return None if group is None else group.remaining


def _seq(order: Order) -> int:
    return order.seq
