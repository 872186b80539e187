"""Routing of engine events to private channels, and private snapshots.

Private notifications are batched per (session, channel) for each engine call, so a mass quote
that replaces forty orders produces one ``session.orders`` message, not forty; each item is
encoded once however many sessions receive it. Public events are handed to `PublicFeeds`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from thalex_mm.exchange import translate
from thalex_mm.exchange.channels import ChannelKind
from thalex_mm.exchange.engine import (
    AccountTradeEvent,
    BookLevelsChanged,
    Event,
    IndexChanged,
    MarkChanged,
    MatchingEngine,
    MMProtectionEvent,
    OrderUpdate,
    PortfolioChanged,
    PortfolioEntry,
    TradeEvent,
)
from thalex_mm.exchange.feeds import PublicFeeds
from thalex_mm.exchange.session import Session
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.rpc import channel_key, encode, notification_frame

_CHUNK_BYTES = (1 << 20) - 4096  # split list notifications to stay under 1 MiB
_PORTFOLIO_MARK_MOVE = 0.01  # resend a portfolio line when its mark moved by more than 1 %
_KEYS = {kind: channel_key(kind.value) for kind in ChannelKind if kind.private}

Add = Callable[[Session, ChannelKind, bytes], None]


def push_list(session: Session, key: bytes, items: Sequence[bytes], snapshot: bool = False) -> None:
    """One list notification, split into several if it would exceed 1 MiB."""
    chunk: list[bytes] = []
    size = 0
    for item in items:
        if chunk and size + len(item) > _CHUNK_BYTES:
            session.push(notification_frame(key, b"[" + b",".join(chunk) + b"]", snapshot))
            snapshot, chunk, size = False, [], 0
        chunk.append(item)
        size += len(item) + 1
    if chunk or snapshot:
        session.push(notification_frame(key, b"[" + b",".join(chunk) + b"]", snapshot))


class PrivateRouter:
    """Fans engine events out to the sessions subscribed to the private channels."""

    def __init__(
        self,
        engine: MatchingEngine,
        feeds: PublicFeeds,
        sessions: dict[int, Session],
        by_account: dict[str, dict[int, Session]],
    ) -> None:
        self.engine = engine
        self.feeds = feeds
        self.sessions = sessions
        self.by_account = by_account
        self._portfolio_sent: dict[tuple[str, str], tuple[float, float | None]] = {}
        self._summary_sent: dict[str, bytes] = {}

    # ---- routing -------------------------------------------------------------------------
    def publish(self, events: Iterable[Event], sim_ns: int) -> None:
        """Route engine events: private ones batched per (session, channel), public ones to
        the feeds (published by `PublicFeeds.flush`)."""
        batches: dict[tuple[int, ChannelKind], list[bytes]] = {}
        targets: dict[int, Session] = {}

        def add(session: Session, kind: ChannelKind, item: bytes) -> None:
            targets[session.session_id] = session
            batches.setdefault((session.session_id, kind), []).append(item)

        marks_moved: set[str] = set()
        feeds = self.feeds
        for event in events:
            if isinstance(event, MarkChanged):  # the market's bulk first
                feeds.on_instrument(event.instrument_name)
                marks_moved.add(event.instrument_name)
                continue
            if isinstance(event, IndexChanged):
                feeds.on_index(event.underlying)
                continue
            if isinstance(event, OrderUpdate):
                self._route_order(event, add)
            elif isinstance(event, BookLevelsChanged):
                self.feeds.on_instrument(event.instrument_name)
            elif isinstance(event, TradeEvent):
                self.feeds.on_trade(event.trade)
            elif isinstance(event, AccountTradeEvent):
                subscribers = self._account_subscribers(event.account, ChannelKind.TRADE_HISTORY)
                if subscribers:
                    item = encode(translate.trade(event.record))
                    for session in subscribers:
                        add(session, ChannelKind.TRADE_HISTORY, item)
            elif isinstance(event, PortfolioChanged):
                self._route_portfolio(event.account, event.entry, add)
            elif isinstance(event, MMProtectionEvent):
                owner = self.sessions.get(event.session_id)
                if owner is not None and ChannelKind.MM_PROTECTION in owner.private_channels:
                    update = wire.MmProtectionUpdate(
                        product=event.product,
                        remaining_amount=event.remaining_amount,
                        reason=str(event.reason),
                    )
                    add(owner, ChannelKind.MM_PROTECTION, encode(update))
        if marks_moved:
            self._route_marks(marks_moved, add)
        for (session_id, kind), items in batches.items():
            push_list(targets[session_id], _KEYS[kind], items)

    def _account_subscribers(self, account: str, kind: ChannelKind) -> list[Session]:
        sessions = self.by_account.get(account)
        if not sessions:
            return []
        return [s for s in sessions.values() if kind in s.private_channels]

    def _route_order(self, event: OrderUpdate, add: Add) -> None:
        order = event.order
        item: bytes | None = None
        owner = self.sessions.get(event.session_id)
        if owner is not None and ChannelKind.SESSION_ORDERS in owner.private_channels:
            item = encode(translate.order_status(order))
            add(owner, ChannelKind.SESSION_ORDERS, item)
        sessions = self.by_account.get(event.account)
        if not sessions:
            return
        persistent = order.persistent and not order.is_mass_quote
        closed = order.delete_reason is not None
        for session in sessions.values():
            channels = session.private_channels
            if not channels:
                continue
            if ChannelKind.ACCOUNT_ORDERS in channels or (
                persistent and ChannelKind.PERSISTENT_ORDERS in channels
            ):
                if item is None:
                    item = encode(translate.order_status(order))
                if ChannelKind.ACCOUNT_ORDERS in channels:
                    add(session, ChannelKind.ACCOUNT_ORDERS, item)
                if persistent and ChannelKind.PERSISTENT_ORDERS in channels:
                    add(session, ChannelKind.PERSISTENT_ORDERS, item)
            if (
                closed
                and ChannelKind.ORDER_HISTORY in channels
                and (order.filled_amount > 0 or persistent)
            ):
                add(session, ChannelKind.ORDER_HISTORY, encode(translate.order_history(order)))

    def _route_portfolio(
        self,
        account: str,
        entry: PortfolioEntry,
        add: Add,
    ) -> None:
        """Send a line when its position changed or its mark moved by more than 1 %."""
        key = (account, entry.instrument_name)
        sent = self._portfolio_sent.get(key)
        if sent is not None and sent[0] == entry.position:
            last_mark, mark = sent[1], entry.mark_price
            if last_mark is None or mark is None:
                return
            if abs(mark - last_mark) <= _PORTFOLIO_MARK_MOVE * abs(last_mark):
                return
        subscribers = self._account_subscribers(account, ChannelKind.PORTFOLIO)
        if not subscribers:
            return
        self._portfolio_sent[key] = (entry.position, entry.mark_price)
        item = encode(translate.portfolio_entry(entry))
        for session in subscribers:
            add(session, ChannelKind.PORTFOLIO, item)

    def _route_marks(self, instruments: set[str], add: Add) -> None:
        """Marks moved: re-check the portfolio lines of subscribed accounts on them."""
        for account, sessions in self.by_account.items():
            if not any(ChannelKind.PORTFOLIO in s.private_channels for s in sessions.values()):
                continue
            for entry in self.engine.open_portfolio_entries(account, instruments):
                self._route_portfolio(account, entry, add)

    def flush_summaries(self) -> None:
        """Periodic ``account.summary``: the current summary of every subscribed account,
        sent when it differs from the last one sent (marks move unrealised PnL too)."""
        for account, sessions in self.by_account.items():
            subscribers = [
                s for s in sessions.values() if ChannelKind.SUMMARY in s.private_channels
            ]
            if not subscribers:
                continue
            payload = encode(translate.account_summary(self.engine.account_summary(account)))
            if self._summary_sent.get(account) == payload:
                continue
            self._summary_sent[account] = payload
            frame = notification_frame(_KEYS[ChannelKind.SUMMARY], payload)
            for session in subscribers:
                session.push(frame)

    # ---- private snapshots ---------------------------------------------------------------
    def private_snapshot(self, session: Session, kind: ChannelKind, sim_ns: int) -> None:
        account = session.account
        assert account is not None
        key = _KEYS[kind]
        if kind is ChannelKind.SESSION_ORDERS:
            orders = self.engine.session_open_orders(session.session_id)
        elif kind is ChannelKind.ACCOUNT_ORDERS:
            orders = self.engine.open_orders(account)
        elif kind is ChannelKind.PERSISTENT_ORDERS:
            orders = [
                o for o in self.engine.open_orders(account) if o.persistent and not o.is_mass_quote
            ]
        elif kind is ChannelKind.PORTFOLIO:
            lines = self.engine.portfolio(account)
            for line in lines:
                self._portfolio_sent[(account, line.instrument_name)] = (
                    line.position,
                    line.mark_price,
                )
            items = [encode(translate.portfolio_entry(line)) for line in lines]
            push_list(session, key, items, snapshot=True)
            return
        elif kind is ChannelKind.SUMMARY:
            payload = encode(translate.account_summary(self.engine.account_summary(account)))
            self._summary_sent[account] = payload
            session.push(notification_frame(key, payload))
            return
        else:
            return
        items = [encode(translate.order_status(o, existing=True)) for o in orders]
        push_list(session, key, items, snapshot=True)
