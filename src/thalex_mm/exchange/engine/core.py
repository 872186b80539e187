"""Engine state and the shared machinery: fills, closing orders, MM-protection trips, events.

Every public mutating call runs as: `_begin()`, work that appends to the batch, `_finish()`,
which also evaluates MM protection (after the whole incoming order, so groups can overshoot)
and assembles the events in the documented order.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from thalex_mm.domain import Side
from thalex_mm.exchange.engine.accounts import Account, account_summary, portfolio_entry
from thalex_mm.exchange.engine.book import OrderBook
from thalex_mm.exchange.engine.events import (
    AccountSummaryChanged,
    AccountTradeEvent,
    BookLevelsChanged,
    Event,
    MMProtectionEvent,
    OrderUpdate,
    PortfolioChanged,
    TradeEvent,
)
from thalex_mm.exchange.engine.instruments import ExchangeInstrument
from thalex_mm.exchange.engine.orders import Order, ProtectionGroup
from thalex_mm.exchange.engine.ticker_cache import TickerCache
from thalex_mm.exchange.engine.types import (
    AccountSummary,
    ChangeReason,
    DeleteReason,
    FillInfo,
    MakerTaker,
    MMProtectionReason,
    PortfolioEntry,
    PublicTrade,
    TradeRecord,
)

_ORDER_ID_SPACE = 1 << 64  # 16 hex digits, as Thalex's order ids
_MAX_EPOCH = 1 << 62  # µs since 1970 stay far below (about 2^50.7 in 2026)
_CLOSED_KEPT = 10_000  # closed orders still found by `order(order_id)`
_RECENT_TRADES_KEPT = 1_000
_CLIENT_REASONS = frozenset({DeleteReason.CLIENT_CANCEL, DeleteReason.CLIENT_BULK_CANCEL})


@dataclass(slots=True)
class _Batch:
    own: list[Event] = field(default_factory=list)
    matches: list[Event] = field(default_factory=list)
    account_trades: list[Event] = field(default_factory=list)
    portfolio: dict[tuple[str, str], None] = field(default_factory=dict)
    books: dict[str, None] = field(default_factory=dict)
    extra: list[Event] = field(default_factory=list)  # MM-protection and session events
    mm_hits: dict[tuple[int, str], float] = field(default_factory=dict)


class EngineCore:
    """Books, orders, accounts and market numbers; no public trading methods."""

    def __init__(
        self,
        instruments: Sequence[ExchangeInstrument],
        *,
        default_balance: float = 1_000_000.0,
        id_epoch: int = 0,
    ) -> None:
        """``id_epoch`` seeds the order and trade ids (see `_next_order_id`): give each start a
        later one (`LocalExchange` uses the wall clock in µs), so a restarted exchange never
        reuses an id a client has already seen."""
        if not instruments:
            raise ValueError("instruments: the engine needs at least one instrument")
        if not 0 <= id_epoch < _MAX_EPOCH:
            raise ValueError(f"id_epoch must be 0..{_MAX_EPOCH - 1}, got {id_epoch}")
        self._id_epoch = id_epoch
        self._instruments: dict[str, ExchangeInstrument] = {}
        self._products: dict[str, list[str]] = {}
        self._by_underlying: dict[str, list[str]] = {}
        for inst in instruments:
            self._by_underlying.setdefault(inst.spec.underlying, []).append(inst.name)
            if inst.name in self._instruments:
                raise ValueError(f"instruments: {inst.name} listed twice")
            self._instruments[inst.name] = inst
            self._products.setdefault(inst.spec.product, []).append(inst.name)
        self._books = {name: OrderBook(name) for name in self._instruments}
        self._default_balance = default_balance
        self._accounts: dict[str, Account] = {}
        self._live: dict[str, Order] = {}
        self._closed: OrderedDict[str, Order] = OrderedDict()
        self._session_live: dict[int, dict[str, Order]] = {}
        self._account_live: dict[str, dict[str, Order]] = {}
        # Live reduce_only orders per (account, instrument): re-cut on every position change,
        # so they are indexed apart instead of scanning all of the account's live orders.
        self._reduce_only_live: dict[tuple[str, str], dict[str, Order]] = {}
        # working lots per (account, instrument, side), kept incrementally for margin numbers
        self._open_lots: dict[tuple[str, str, Side], int] = {}
        self._by_client: dict[int, dict[int, Order]] = {}
        self._quotes: dict[tuple[int, str, Side], list[Order]] = {}
        self._groups: dict[tuple[int, str], ProtectionGroup] = {}
        self._marks: dict[str, float] = {}
        self._mark_time: dict[str, int] = {}
        self._funding_rates: dict[str, float] = {}
        self._index: dict[str, float] = {}
        self._index_time: dict[str, int] = {}
        self._last_price: dict[str, int] = {}
        self._book_time: dict[str, int] = {}  # last time each book's levels changed
        self._volume_lots: dict[str, int] = dict.fromkeys(self._instruments, 0)
        self._value: dict[str, float] = dict.fromkeys(self._instruments, 0.0)
        self._long_lots: dict[str, int] = dict.fromkeys(self._instruments, 0)
        self._recent: dict[str, deque[PublicTrade]] = {
            name: deque(maxlen=_RECENT_TRADES_KEPT) for name in self._instruments
        }
        self._order_seq = 0
        self._trade_seq = 0
        self._prio_seq = 0
        self._batch = _Batch()
        self.summary_events = True  # False: no AccountSummaryChanged (nobody reads them)
        self._tickers = TickerCache()  # see MatchingEngine.ticker

    # ---- accounts ------------------------------------------------------------------------
    def add_account(self, number: str, balance: float) -> None:
        """Create (or re-fund) an account; unknown accounts are created on first use."""
        account = self._accounts.get(number)
        if account is None:
            self._accounts[number] = Account(number, balance)
        else:
            account.deposit += balance - account.balance

    def _account(self, number: str) -> Account:
        account = self._accounts.get(number)
        if account is None:
            account = Account(number, self._default_balance)
            self._accounts[number] = account
        return account

    # ---- ids -----------------------------------------------------------------------------
    def _next_order_id(self) -> str:
        """16 hex digits: the epoch plus a sequence number. A later start's epoch (µs) is past
        every id of an earlier one unless that one issued more than an order per µs."""
        self._order_seq += 1
        return f"{(self._id_epoch + self._order_seq) % _ORDER_ID_SPACE:016X}"

    def _next_priority(self) -> int:
        self._prio_seq += 1
        return self._prio_seq

    def _next_trade_id(self) -> str:
        """32 hex digits: the epoch, then a sequence number of its own."""
        self._trade_seq += 1
        return f"{self._id_epoch:016X}{self._trade_seq:016X}"

    # ---- order registry ------------------------------------------------------------------
    def _add_open(self, order: Order, lots: int) -> None:
        key = (order.account, order.spec.name, order.side)
        self._open_lots[key] = self._open_lots.get(key, 0) + lots

    def _register(self, order: Order) -> None:
        self._add_open(order, order.amount - order.filled)
        self._live[order.order_id] = order
        self._session_live.setdefault(order.session_id, {})[order.order_id] = order
        self._account_live.setdefault(order.account, {})[order.order_id] = order
        if order.reduce_only:
            key = (order.account, order.spec.name)
            self._reduce_only_live.setdefault(key, {})[order.order_id] = order
        if order.client_order_id is not None:
            self._by_client.setdefault(order.session_id, {})[order.client_order_id] = order

    def _close(self, order: Order, reason: DeleteReason, now_ns: int) -> None:
        """Take an order out of the book and every index, and record it in history."""
        if order.resting:
            self._books[order.spec.name].remove(order)
            self._batch.books[order.spec.name] = None
        self._add_open(order, -order.remaining)
        order.close(reason, now_ns)
        self._live.pop(order.order_id, None)
        if order.reduce_only:
            reducing = self._reduce_only_live.get((order.account, order.spec.name))
            if reducing is not None:
                reducing.pop(order.order_id, None)
        self._closed[order.order_id] = order
        if len(self._closed) > _CLOSED_KEPT:
            self._closed.popitem(last=False)
        session_orders = self._session_live.get(order.session_id)
        if session_orders is not None:
            session_orders.pop(order.order_id, None)
        account_orders = self._account_live.get(order.account)
        if account_orders is not None:
            account_orders.pop(order.order_id, None)
        if order.client_order_id is not None:
            by_client = self._by_client.get(order.session_id)
            if by_client is not None and by_client.get(order.client_order_id) is order:
                del by_client[order.client_order_id]
        if order.is_mass_quote:
            quotes = self._quotes.get((order.session_id, order.spec.name, order.side))
            if quotes is not None and order in quotes:
                quotes.remove(order)
        unfilled = order.filled == 0
        hidden = unfilled and (
            order.is_mass_quote or (not order.persistent and reason in _CLIENT_REASONS)
        )
        if not hidden:
            self._account(order.account).order_history.append(order)

    def _rest(self, order: Order) -> None:
        self._books[order.spec.name].add(order)
        self._batch.books[order.spec.name] = None

    # ---- matching ------------------------------------------------------------------------
    def _match(self, taker: Order, now_ns: int, *, count_taker_quote: bool = True) -> None:
        """Trade ``taker`` against the book up to its limit and remaining amount."""
        book = self._books[taker.spec.name]
        if not book.crosses(taker.side, taker.price):
            return
        matches = book.take(taker.side, taker.price, taker.amount - taker.filled)
        if matches:
            self._batch.books[taker.spec.name] = None
        for maker, price, lots in matches:
            self._fill(taker, maker, price, lots, now_ns, count_taker_quote=count_taker_quote)

    def _fill(
        self,
        taker: Order,
        maker: Order,
        price: int,
        lots: int,
        now_ns: int,
        *,
        count_taker_quote: bool,
    ) -> None:
        inst = self._instruments[taker.spec.name]
        spec = inst.spec
        batch = self._batch
        trade_id = self._next_trade_id()
        price_f = spec.ticks_to_price(price)
        amount_f = spec.lots_to_amount(lots)
        maker_fill = FillInfo(trade_id, price_f, amount_f, now_ns, MakerTaker.MAKER)
        taker_fill = FillInfo(trade_id, price_f, amount_f, now_ns, MakerTaker.TAKER)
        maker.add_fill(maker_fill, lots)
        taker.add_fill(taker_fill, lots)
        self._add_open(maker, -lots)
        self._add_open(taker, -lots)
        if maker.filled >= maker.amount:
            self._close(maker, DeleteReason.FILLED, now_ns)
        batch.matches.append(
            OrderUpdate(
                maker.account, maker.session_id, maker.snapshot(ChangeReason.FILL, (maker_fill,))
            )
        )
        public = PublicTrade(spec.name, trade_id, price_f, amount_f, taker.side, now_ns)
        batch.matches.append(TradeEvent(public))
        self._recent[spec.name].append(public)
        self._last_price[spec.name] = price
        self._tickers.traded(spec.name)
        self._volume_lots[spec.name] += lots
        self._value[spec.name] += price_f * amount_f
        index = self._index.get(spec.underlying)
        for order, rate, role in (
            (taker, inst.taker_fee_rate, MakerTaker.TAKER),
            (maker, inst.maker_fee_rate, MakerTaker.MAKER),
        ):
            account = self._account(order.account)
            pos = account.position(spec.name)
            long_before = max(pos.lots, 0)
            fee = rate * price_f * amount_f
            realised = account.apply_fill(inst, order.side, price_f, lots, fee)
            self._long_lots[spec.name] += max(pos.lots, 0) - long_before
            record = TradeRecord(
                trade_id=trade_id,
                order_id=order.order_id,
                instrument_name=spec.name,
                direction=order.side,
                price=price_f,
                amount=amount_f,
                time_ns=now_ns,
                maker_taker=role,
                fee=fee,
                fee_rate=rate,
                position_after=spec.lots_to_amount(pos.lots),
                realised_pnl=realised,
                index=index,
                label=order.label,
                client_order_id=order.client_order_id,
            )
            account.trade_history.append(record)
            batch.account_trades.append(AccountTradeEvent(order.account, order.session_id, record))
            batch.portfolio[(order.account, spec.name)] = None
        if maker.is_mass_quote:
            key = (maker.session_id, spec.product)
            batch.mm_hits[key] = batch.mm_hits.get(key, 0.0) + amount_f
        if taker.is_mass_quote and count_taker_quote:
            key = (taker.session_id, spec.product)
            batch.mm_hits[key] = batch.mm_hits.get(key, 0.0) + amount_f

    # ---- MM protection -------------------------------------------------------------------
    def _delete_group_quotes(
        self, session_id: int, product: str, reason: DeleteReason, now_ns: int
    ) -> None:
        for name in self._products.get(product, ()):
            for side in (Side.BUY, Side.SELL):
                for order in list(self._quotes.get((session_id, name, side), ())):
                    self._close(order, reason, now_ns)
                    self._batch.extra.append(
                        OrderUpdate(order.account, session_id, order.snapshot(ChangeReason.CANCEL))
                    )

    def _evaluate_protection(self, now_ns: int) -> None:
        hits = self._batch.mm_hits
        self._batch.mm_hits = {}
        for (session_id, product), amount in hits.items():
            group = self._groups.get((session_id, product))
            if group is None:
                continue
            group.executed += amount
            remaining = group.remaining
            self._batch.extra.append(
                MMProtectionEvent(
                    group.account, session_id, product, remaining, MMProtectionReason.EXECUTIONS
                )
            )
            if remaining <= 0 and not group.tripped:
                group.tripped = True
                self._delete_group_quotes(session_id, product, DeleteReason.MM_PROTECTION, now_ns)

    # ---- reduce-only ---------------------------------------------------------------------
    def _recut_reduce_only(self, now_ns: int) -> None:
        """Cut resting reduce_only orders to the position after it changed (best effort, as
        Thalex): kept in place with change_reason `amend`, or deleted (delete_reason
        `admin_cancel`, an exchange-side cancel) when the position no longer allows any."""
        for account, name in list(self._batch.portfolio):
            pos = self._account(account).position(name).lots
            candidates = self._reduce_only_live.get((account, name))
            if not candidates:
                continue
            for order in sorted(candidates.values(), key=lambda o: o.seq):
                closing = (pos > 0 and order.side is Side.SELL) or (
                    pos < 0 and order.side is Side.BUY
                )
                allowed = abs(pos) if closing else 0
                if order.remaining <= allowed:
                    continue
                if allowed == 0:
                    self._close(order, DeleteReason.ADMIN_CANCEL, now_ns)
                    change = ChangeReason.CANCEL
                else:
                    new_amount = order.filled + allowed
                    self._add_open(order, new_amount - order.amount)
                    if order.resting:
                        self._books[name].reduce_in_place(order, new_amount)
                        self._batch.books[name] = None
                    else:
                        order.amount = new_amount
                    change = ChangeReason.AMEND
                self._batch.extra.append(
                    OrderUpdate(order.account, order.session_id, order.snapshot(change))
                )

    # ---- batches -------------------------------------------------------------------------
    def _begin(self) -> None:
        self._batch = _Batch()

    def _finish(self, now_ns: int) -> list[Event]:
        if self._batch.portfolio:
            self._recut_reduce_only(now_ns)
        self._evaluate_protection(now_ns)
        batch = self._batch
        events: list[Event] = [*batch.own, *batch.matches, *batch.extra, *batch.account_trades]
        accounts: dict[str, None] = {}
        for account, name in batch.portfolio:
            events.append(PortfolioChanged(account, self._portfolio_entry(account, name)))
            accounts[account] = None
        if self.summary_events:
            events.extend(AccountSummaryChanged(a, self._summary(a)) for a in accounts)
        for name in batch.books:
            book = self._books[name]
            bids, asks = book.drain_level_changes()
            if bids or asks:
                self._book_time[name] = now_ns
                spec = self._instruments[name].spec
                events.append(
                    BookLevelsChanged(
                        name,
                        tuple((spec.ticks_to_price(p), spec.lots_to_amount(q)) for p, q in bids),
                        tuple((spec.ticks_to_price(p), spec.lots_to_amount(q)) for p, q in asks),
                        now_ns,
                    )
                )
        self._batch = _Batch()
        return events

    # ---- account views -------------------------------------------------------------------
    def _portfolio_entry(self, account: str, name: str) -> PortfolioEntry:
        inst = self._instruments[name]
        pos = self._account(account).position(name)
        return portfolio_entry(
            inst, pos, self._marks.get(name), self._index.get(inst.spec.underlying)
        )

    def _summary(self, account: str) -> AccountSummary:
        """Margin counts the larger open side per instrument at mark (or last trade price)."""
        order_margin = 0.0
        for inst in self._instruments.values():
            name = inst.name
            lots = max(
                self._open_lots.get((account, name, Side.BUY), 0),
                self._open_lots.get((account, name, Side.SELL), 0),
            )
            if lots == 0:
                continue
            ref = self._marks.get(name)
            if ref is None:
                last = self._last_price.get(name)
                ref = 0.0 if last is None else inst.spec.ticks_to_price(last)
            order_margin += inst.spec.lots_to_amount(lots) * ref * inst.initial_margin_rate
        return account_summary(self._account(account), self._instruments, self._marks, order_margin)
