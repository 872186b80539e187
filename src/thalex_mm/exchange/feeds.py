"""Public market-data feeds: one shared feed per subscribed channel name, fanned out to sessions.

Each payload is built and encoded once per publication, whatever the number of subscribers.
Engine events only mark feeds dirty; `PublicFeeds.flush(now)` publishes every dirty feed whose
delay has elapsed, so a ``100ms`` channel coalesces everything that happened in between into one
message (book channels send the net level changes since their last message). Book feeds keep
the levels they last published, which makes ``nlevels``, ``grouping``, delays and late
subscribers (who get those levels as their snapshot) all consistent.

With a market-data rate (``md_rate`` > 0, for load tests) raw ``ticker``/``lwt`` feeds are not
published on change: `pacing.MdPacer` publishes them round-robin at that aggregate rate, and
the changes merged into one publication are counted (``coalesced``), never lost silently.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from thalex_mm.exchange import translate
from thalex_mm.exchange.channels import ChannelKind, ChannelSpec
from thalex_mm.exchange.engine import ExchangeInstrument, MatchingEngine, PublicTrade, TickerData
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.rpc import channel_key, encode, notification_frame

RECENT_TRADES_SNAPSHOT = 100
MAX_ALL_LEVELS = 10_000  # "all" levels, capped so a snapshot stays well under 1 MiB


class Subscriber(Protocol):
    session_id: int

    def push(self, frame: bytes) -> None: ...

    def note_coalesced(self, count: int) -> None: ...


@dataclass(eq=False, slots=True)
class PublicFeed:
    spec: ChannelSpec
    key: bytes
    subscribers: dict[int, Subscriber] = field(default_factory=dict)
    next_due_ns: int = 0
    last_payload: bytes = b""
    bids: dict[float, float] = field(default_factory=dict)  # book: levels last published
    asks: dict[float, float] = field(default_factory=dict)
    book_trades: list[wire.BookTrade] = field(default_factory=list)  # not yet published
    recent_trades: list[wire.RecentTrade] = field(default_factory=list)
    paced: bool = False  # published by the md pacer, not on change
    updates: int = 0  # paced: flushes that changed it since its last publication

    def send(self, payload: bytes, snapshot: bool = False) -> None:
        frame = notification_frame(self.key, payload, snapshot)
        for subscriber in self.subscribers.values():
            subscriber.push(frame)


def _visible(
    levels: Iterable[tuple[float, float]], grouping: float | None, nlevels: int | None, bid: bool
) -> dict[float, float]:
    """Levels as a channel shows them: grouped to its price step and cut to its depth."""
    out: dict[float, float] = {}
    for price, amount in levels:
        if grouping is None:
            key = price
        elif bid:
            key = round(math.floor(price / grouping + 1e-9) * grouping, 8)
        else:
            key = round(math.ceil(price / grouping - 1e-9) * grouping, 8)
        if key in out:
            out[key] = round(out[key] + amount, 8)
        elif nlevels is not None and len(out) >= nlevels:
            break
        else:
            out[key] = amount
    return out


def _changes(old: dict[float, float], new: dict[float, float], bid: bool) -> list[wire.BookLevel]:
    changed = [(p, a, a) for p, a in new.items() if old.get(p) != a]
    changed.extend((p, 0.0, 0.0) for p in old if p not in new)
    changed.sort(reverse=bid)
    return changed


class PublicFeeds:
    """The registry of public feeds and their publication logic."""

    def __init__(
        self,
        engine: MatchingEngine,
        instruments: Iterable[ExchangeInstrument],
        *,
        paced_raw: bool = False,
    ) -> None:
        self._engine = engine
        self.paced_raw = paced_raw  # raw ticker/lwt feeds are published by a pacer
        self.paced: list[PublicFeed] = []  # in subscription order (the pacer's round robin)
        self._touched: set[PublicFeed] = set()
        self.publications = 0  # public messages published (each goes to every subscriber)
        self.frames = 0  # public notification frames pushed to sessions
        self._instruments = {i.name: i for i in instruments}
        self.feeds: dict[str, PublicFeed] = {}
        self._by_instrument: dict[str, list[PublicFeed]] = {}
        self._by_underlying: dict[str, list[PublicFeed]] = {}
        self._dirty: set[PublicFeed] = set()
        # keyed (instrument or underlying, is lwt): the names never clash, enums hash slowly
        self._payloads: dict[tuple[str, bool], bytes | None] = {}
        # last encoding per (kind, instrument), reused while the engine's ticker is unchanged
        self._encoded: dict[tuple[str, bool], tuple[TickerData, bytes | None]] = {}

    # ---- subscriptions -------------------------------------------------------------------
    def subscribe(self, spec: ChannelSpec, subscriber: Subscriber, now_ns: int) -> None:
        feed = self.feeds.get(spec.name)
        if feed is None:
            feed = self._create(spec, now_ns)
        elif subscriber.session_id in feed.subscribers:
            return
        feed.subscribers[subscriber.session_id] = subscriber
        self._send_initial(feed, subscriber, now_ns)

    def unsubscribe(self, name: str, subscriber: Subscriber) -> bool:
        feed = self.feeds.get(name)
        if feed is None or feed.subscribers.pop(subscriber.session_id, None) is None:
            return False
        if not feed.subscribers:
            self._remove(feed)
        return True

    def system_event(self, event: str) -> None:
        feed = self.feeds.get("system")
        if feed is not None:
            self._send(feed, encode(wire.SystemEvent(event=event)))

    def _create(self, spec: ChannelSpec, now_ns: int) -> PublicFeed:
        feed = PublicFeed(spec=spec, key=channel_key(spec.name), next_due_ns=now_ns + spec.delay_ns)
        self.feeds[spec.name] = feed
        if (
            self.paced_raw
            and spec.delay_ns == 0
            and spec.kind in (ChannelKind.TICKER, ChannelKind.LWT)
        ):
            feed.paced = True
            self.paced.append(feed)
        if spec.kind in (ChannelKind.TICKER, ChannelKind.LWT, ChannelKind.BOOK) or (
            spec.kind is ChannelKind.RECENT_TRADES and spec.single_instrument
        ):
            self._by_instrument.setdefault(spec.target, []).append(feed)
        elif spec.kind in (ChannelKind.PRICE_INDEX, ChannelKind.RECENT_TRADES):
            self._by_underlying.setdefault(spec.target, []).append(feed)
        if spec.kind is ChannelKind.BOOK:
            self._refresh_book(feed, now_ns)
        elif spec.kind in (ChannelKind.TICKER, ChannelKind.LWT, ChannelKind.PRICE_INDEX):
            feed.last_payload = self._encode_state(spec, now_ns) or b""
        return feed

    def _remove(self, feed: PublicFeed) -> None:
        del self.feeds[feed.spec.name]
        self._dirty.discard(feed)
        self._touched.discard(feed)
        if feed.paced:
            self.paced.remove(feed)
        for index in (self._by_instrument, self._by_underlying):
            group = index.get(feed.spec.target)
            if group is not None and feed in group:
                group.remove(feed)

    def _send_initial(self, feed: PublicFeed, subscriber: Subscriber, now_ns: int) -> None:
        kind = feed.spec.kind
        frame: bytes | None = None
        if kind is ChannelKind.BOOK:
            snapshot = wire.BookUpdate(
                bid_changes=[(p, a, a) for p, a in feed.bids.items()],
                ask_changes=[(p, a, a) for p, a in feed.asks.items()],
                time=now_ns / 1e9,
            )
            frame = notification_frame(feed.key, encode(snapshot), snapshot=True)
        elif kind is ChannelKind.INSTRUMENTS:
            added = [wire.InstrumentChange(added=translate.instrument(i)) for i in self._listed()]
            frame = notification_frame(feed.key, encode(added), snapshot=True)
        elif kind is ChannelKind.RECENT_TRADES:
            trades = [translate.recent_trade(t) for t in self._recent_trades(feed.spec)]
            frame = notification_frame(feed.key, encode(trades), snapshot=True)
        elif feed.last_payload:
            frame = notification_frame(feed.key, feed.last_payload)
        if frame is not None:
            subscriber.push(frame)

    def _listed(self) -> list[ExchangeInstrument]:
        return list(self._instruments.values())

    def _recent_trades(self, spec: ChannelSpec) -> list[PublicTrade]:
        if spec.single_instrument:
            return self._engine.recent_trades(spec.target, RECENT_TRADES_SNAPSHOT)
        merged: list[PublicTrade] = []
        for item in self._instruments.values():
            if item.spec.underlying == spec.target:
                merged.extend(self._engine.recent_trades(item.name, RECENT_TRADES_SNAPSHOT))
        merged.sort(key=lambda t: t.time_ns)
        return merged[-RECENT_TRADES_SNAPSHOT:]

    # ---- engine events -------------------------------------------------------------------
    def on_instrument(self, instrument_name: str) -> None:
        """Book, mark or last trade of an instrument changed."""
        for feed in self._by_instrument.get(instrument_name, ()):
            if feed.paced:
                self._touched.add(feed)
            elif feed.spec.kind is not ChannelKind.RECENT_TRADES:
                self._dirty.add(feed)

    def on_trade(self, trade: PublicTrade) -> None:
        book_item = translate.book_trade(trade)
        recent_item = translate.recent_trade(trade)
        for feed in self._by_instrument.get(trade.instrument_name, ()):
            if feed.spec.kind is ChannelKind.BOOK:
                feed.book_trades.append(book_item)
            elif feed.spec.kind is ChannelKind.RECENT_TRADES:
                feed.recent_trades.append(recent_item)
            if feed.paced:
                self._touched.add(feed)
            else:
                self._dirty.add(feed)
        instrument = self._instruments.get(trade.instrument_name)
        if instrument is not None:
            for feed in self._by_underlying.get(instrument.spec.underlying, ()):
                if feed.spec.kind is ChannelKind.RECENT_TRADES:
                    feed.recent_trades.append(recent_item)
                    self._dirty.add(feed)

    def on_index(self, underlying: str) -> None:
        for feed in self._by_underlying.get(underlying, ()):
            if feed.spec.kind is ChannelKind.PRICE_INDEX:
                self._dirty.add(feed)

    # ---- publication ---------------------------------------------------------------------
    def flush(self, now_ns: int) -> None:
        """Publish every dirty feed whose delay has elapsed; the rest stay pending."""
        if self._touched:
            for feed in self._touched:
                feed.updates += 1
            self._touched.clear()
        if not self._dirty:
            return
        self._payloads.clear()  # values are shared by the feeds of one flush only
        for feed in [f for f in self._dirty if f.next_due_ns <= now_ns]:
            self._dirty.discard(feed)
            feed.next_due_ns = now_ns + feed.spec.delay_ns
            self._publish(feed, now_ns)

    def _publish(self, feed: PublicFeed, now_ns: int) -> None:
        kind = feed.spec.kind
        if kind is ChannelKind.BOOK:
            payload = self._book_update(feed, now_ns)
            if payload is not None:
                self._send(feed, payload)
        elif kind is ChannelKind.RECENT_TRADES:
            if feed.recent_trades:
                trades, feed.recent_trades = feed.recent_trades, []
                self._send(feed, encode(trades))
        else:
            payload = self._build_state(feed, now_ns)
            if payload is not None and payload != feed.last_payload:
                feed.last_payload = payload
                self._send(feed, payload)

    def _send(self, feed: PublicFeed, payload: bytes) -> None:
        self.publications += 1
        self.frames += len(feed.subscribers)
        feed.send(payload)

    def publish_paced(self, feed: PublicFeed, now_ns: int) -> tuple[bool, int] | None:
        """Publish a paced feed's current state now, changed or not (the rate is the point).

        Returns (repeat: the payload equals its last publication, changes merged into it), or
        None when there is nothing to publish yet.
        """
        payload = self._encode_state(feed.spec, now_ns)
        if payload is None:
            return None
        merged = max(feed.updates - 1, 0)
        repeat = payload == feed.last_payload
        feed.updates = 0
        feed.last_payload = payload
        if merged:
            for subscriber in feed.subscribers.values():
                subscriber.note_coalesced(merged)
        self._send(feed, payload)
        return repeat, merged

    def _build_state(self, feed: PublicFeed, now_ns: int) -> bytes | None:
        """The encoded current value of a state feed, shared by feeds that differ only in
        their delay."""
        key = (feed.spec.target, feed.spec.kind is ChannelKind.LWT)
        if key in self._payloads:
            return self._payloads[key]
        payload = self._payloads[key] = self._encode_state(feed.spec, now_ns)
        return payload

    def _encode_state(self, spec: ChannelSpec, now_ns: int) -> bytes | None:
        if spec.kind is ChannelKind.PRICE_INDEX:
            price = self._engine.index_price(spec.target)
            if price is None:
                return None
            stamp = self._engine.index_time_ns(spec.target) or now_ns
            return encode(translate.index(spec.target, price, stamp))
        data = self._engine.ticker(spec.target, now_ns)
        if data is None:
            return None
        key = (spec.target, spec.kind is ChannelKind.LWT)
        last = self._encoded.get(key)
        if last is not None and last[0] is data:
            return last[1]
        payload: bytes | None
        if spec.kind is ChannelKind.LWT:
            light = translate.lwt(data)
            payload = None if light is None else encode(light)
        else:
            ticker = translate.ticker(data, self._instruments[spec.target].spec.kind)
            payload = None if ticker is None else encode(ticker)
        self._encoded[key] = (data, payload)
        return payload

    def _refresh_book(self, feed: PublicFeed, now_ns: int) -> tuple[float, float] | None:
        """Recompute the visible levels; returns the book totals (or None: no such book)."""
        snapshot = self._engine.book(feed.spec.target, depth=None)
        if snapshot is None:
            return None
        spec = feed.spec
        depth = MAX_ALL_LEVELS if spec.nlevels is None else spec.nlevels
        feed.bids = _visible(snapshot.bids, spec.grouping, depth, bid=True)
        feed.asks = _visible(snapshot.asks, spec.grouping, depth, bid=False)
        total_bid = round(math.fsum(a for _, a in snapshot.bids), 8)
        total_ask = round(math.fsum(a for _, a in snapshot.asks), 8)
        return total_bid, total_ask

    def _book_update(self, feed: PublicFeed, now_ns: int) -> bytes | None:
        old_bids, old_asks = feed.bids, feed.asks
        totals = self._refresh_book(feed, now_ns)
        if totals is None:
            return None
        bid_changes = _changes(old_bids, feed.bids, bid=True)
        ask_changes = _changes(old_asks, feed.asks, bid=False)
        trades, feed.book_trades = feed.book_trades, []
        if not (bid_changes or ask_changes or trades):
            return None
        update = wire.BookUpdate(
            bid_changes=bid_changes or None,
            ask_changes=ask_changes or None,
            trades=trades or None,
            total_bid_amount=totals[0],
            total_ask_amount=totals[1],
            time=now_ns / 1e9,
        )
        return encode(update)
