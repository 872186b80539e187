"""Wire <-> core: Thalex messages become core events, core actions become Thalex requests.

This is the only place where floats from the wire meet the core's integer ticks and lots, and
it converts with the instrument's ``InstrumentSpec`` only (bids round down, asks up, order
prices exactly). Channel handlers are built once per subscription with the instrument already
bound, so a notification costs one dict lookup (in the protocol) and one conversion here.

Replies echo the action: a successful insert/amend/cancel becomes ``OrderUpdate(reply_to=
action_id)``, any error ``ActionRejected(action_id, code)`` (negative codes are the client's
own, see ``protocol.LocalError``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, assert_never

from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.domain import InstrumentSpec, Level, Side
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex import requests as rq
from thalex_mm.venue.thalex.convert import (
    order_update,
    portfolio_entry,
    spec_from_instrument,
    wire_amount_lots,
    wire_price_ticks,
)
from thalex_mm.venue.thalex.protocol import LocalError, NotificationHandler, RpcError
from thalex_mm.venue.thalex.trades import TradeSink, fills_by_instrument

log = logging.getLogger(__name__)

EventSink = Callable[[ev.Event], None]
# (method, params, context): context is the core action whose reply this request produces.
WireRequest = tuple[str, Any, Any]

_SIDE_FROM_QUOTE_ERROR = {"bid": Side.BUY, "buy": Side.BUY, "ask": Side.SELL, "sell": Side.SELL}


def _ladder(spec: InstrumentSpec, levels: tuple[Level, ...]) -> list[tuple[float, float]]:
    return [
        (spec.ticks_to_price(lv.price_ticks), spec.lots_to_amount(lv.amount_lots)) for lv in levels
    ]


class Translator:
    """Holds the instrument specs and the event sink; converts in both directions."""

    def __init__(self, emit: EventSink, reject: EventSink | None = None) -> None:
        self.emit = emit
        # Rejections decided while an action is being submitted; the client defers them so the
        # app never re-enters the core from inside its own send_actions call.
        self.reject = reject or emit
        self.specs: dict[str, InstrumentSpec] = {}
        self.dropped_unknown_instrument = 0
        # order updates with a status this client does not know (dropped; logged once each)
        self.dropped_unknown_status = 0
        self._unknown_statuses: set[str] = set()
        # Set by the app to receive the order updates of one feed message together, so the
        # core applies them all before it quotes (Engine.handle_batch); None: one by one.
        self.emit_batch: Callable[[list[ev.Event]], None] | None = None
        # Set by the app to record fills with their real fees (e.g. the journal); when set,
        # every (re)connection also catches up on private/trade_history (session_setup).
        self.trade_sink: TradeSink | None = None

    def set_instruments(self, instruments: Iterable[wire.Instrument]) -> None:
        """Replace the spec table from a ``public/instruments`` result."""
        specs: dict[str, InstrumentSpec] = {}
        for inst in instruments:
            spec = spec_from_instrument(inst)
            if spec is not None:
                specs[spec.name] = spec
        self.specs = specs

    # --- actions -> requests -------------------------------------------------------------
    def requests_for(self, action: act.Action, now_ns: int) -> list[WireRequest]:
        """The wire requests for one action; [] (and an ActionRejected) if it cannot be sent."""
        match action:
            case act.CancelAll():
                out: list[WireRequest] = [("private/cancel_all", None, action)]
                if action.include_mass_quotes:
                    out.append(("private/cancel_mass_quote", None, action))
                return out
            case act.SetMMProtection():
                params = rq.SetMmProtectionParams(
                    product=action.product,
                    trade_amount=action.trade_amount,
                    quote_amount=action.quote_amount,
                )
                return [("private/set_mm_protection", params, action)]
            case act.Insert() | act.Amend() | act.Cancel() | act.MassQuote():
                spec = self.specs.get(action.instrument)
                if spec is None:
                    self.reject(
                        ev.ActionRejected(
                            now_ns,
                            action.action_id,
                            LocalError.UNKNOWN_INSTRUMENT,
                            f"no instrument spec for {action.instrument!r}",
                        )
                    )
                    return []
                return [_order_request(spec, action)]
            case _:
                assert_never(action)

    # --- replies -> events ---------------------------------------------------------------
    def on_reply(self, action: Any, result: Any, error: RpcError | None, now_ns: int) -> None:
        """Turn the reply to an action's request into the event the core expects."""
        action_id: int = action.action_id
        if error is not None:
            self.emit(ev.ActionRejected(now_ns, action_id, error.code, error.message))
            return
        if isinstance(result, wire.OrderStatus):
            spec = self.specs.get(result.instrument_name or "")
            if spec is None:
                self.dropped_unknown_instrument += 1
                return
            update = self._order_update(spec, result, now_ns, action_id)
            if update is None:  # the outcome is unknown: in flight until the reply timeout
                self.emit(
                    ev.ActionRejected(
                        now_ns, action_id, LocalError.BAD_REPLY, f"order status {result.status!r}"
                    )
                )
                return
            self.emit(update)
        elif isinstance(result, wire.MassQuoteResult):
            spec = self.specs.get(getattr(action, "instrument", ""))
            errors = tuple(
                ev.MassQuoteError(
                    e.code,
                    e.message,
                    _SIDE_FROM_QUOTE_ERROR.get(e.side or ""),
                    spec.price_to_ticks_exact(e.price) if spec and e.price is not None else None,
                )
                for e in result.errors
            )
            self.emit(
                ev.MassQuoteResult(now_ns, action_id, result.n_success, result.n_fail, errors)
            )
        elif isinstance(action, act.CancelAll | act.SetMMProtection):
            self.emit(ev.ActionAcknowledged(now_ns, action_id))

    # --- notifications -> events ---------------------------------------------------------
    def handler_for(self, channel: str) -> tuple[Any, NotificationHandler] | None:
        """(payload type, handler) for a channel the core consumes, or None."""
        prefix, _, rest = channel.partition(".")
        instrument = rest.partition(".")[0]
        if prefix == "ticker":
            return wire.Ticker, self._ticker_handler(instrument)
        if prefix == "lwt":
            return wire.Lwt, self._lwt_handler(instrument)
        if prefix == "book":
            return wire.BookUpdate, self._book_handler(instrument)
        if channel in ("session.orders", "account.orders", "account.persistent_orders"):
            return list[wire.OrderStatus], self._orders
        if channel == "account.portfolio":
            return list[wire.PortfolioEntry], self._portfolio
        if channel == "session.mm_protection":
            return list[wire.MmProtectionUpdate], self._mm_protection
        if channel == "account.trade_history":
            return list[wire.Trade], self._trades
        return None

    def _ticker_handler(self, instrument: str) -> NotificationHandler:
        emit = self.emit

        def on_ticker(t: wire.Ticker, snapshot: bool, now_ns: int) -> None:
            spec = self.specs.get(instrument)
            if spec is None:
                self.dropped_unknown_instrument += 1
                return
            bid, ask = t.best_bid_price, t.best_ask_price
            emit(
                ev.Ticker(
                    now_ns,
                    instrument,
                    t.mark_price,
                    t.index,
                    t.funding_rate or 0.0,
                    0 if bid is None else spec.price_to_ticks_floor(bid),
                    0 if bid is None else spec.amount_to_lots_floor(t.best_bid_amount or 0.0),
                    0 if ask is None else spec.price_to_ticks_ceil(ask),
                    0 if ask is None else spec.amount_to_lots_floor(t.best_ask_amount or 0.0),
                )
            )

        return on_ticker

    def _lwt_handler(self, instrument: str) -> NotificationHandler:
        emit = self.emit

        def on_lwt(t: wire.Lwt, snapshot: bool, now_ns: int) -> None:
            spec = self.specs.get(instrument)
            if spec is None:
                self.dropped_unknown_instrument += 1
                return
            b, a = t.b, t.a
            emit(
                ev.BookTop(
                    now_ns,
                    instrument,
                    0 if b is None else spec.price_to_ticks_floor(b[0]),
                    0 if b is None else spec.amount_to_lots_floor(b[1]),
                    0 if a is None else spec.price_to_ticks_ceil(a[0]),
                    0 if a is None else spec.amount_to_lots_floor(a[1]),
                )
            )

        return on_lwt

    def _book_handler(self, instrument: str) -> NotificationHandler:
        emit = self.emit

        def on_book(u: wire.BookUpdate, snapshot: bool, now_ns: int) -> None:
            spec = self.specs.get(instrument)
            if spec is None:
                self.dropped_unknown_instrument += 1
                return
            floor, ceil, lots = (
                spec.price_to_ticks_floor,
                spec.price_to_ticks_ceil,
                wire_amount_lots,
            )
            bids = tuple((floor(lv[0]), lots(spec, lv[1])) for lv in u.bid_changes or ())
            asks = tuple((ceil(lv[0]), lots(spec, lv[1])) for lv in u.ask_changes or ())
            if bids or asks or snapshot:
                emit(ev.BookUpdate(now_ns, instrument, bids, asks, snapshot))
            if u.trades and not snapshot:
                for tr in u.trades:
                    emit(
                        ev.PublicTrade(
                            now_ns,
                            instrument,
                            wire_price_ticks(spec, tr[0]),
                            wire_amount_lots(spec, tr[1]),
                            Side.BUY if tr[2] == "buy" else Side.SELL,
                            int(tr[3] * 1e9),
                        )
                    )

        return on_book

    def _orders(self, orders: list[wire.OrderStatus], snapshot: bool, now_ns: int) -> None:
        specs = self.specs
        updates: list[ev.Event] = []
        for o in orders:
            spec = specs.get(o.instrument_name or "")
            if spec is None:
                self.dropped_unknown_instrument += 1
                continue
            update = self._order_update(spec, o, now_ns)
            if update is not None:
                updates.append(update)
        emit_batch = self.emit_batch
        if emit_batch is not None and len(updates) > 1:
            emit_batch(updates)
            return
        emit = self.emit
        for u in updates:
            emit(u)

    def _portfolio(self, entries: list[wire.PortfolioEntry], snapshot: bool, now_ns: int) -> None:
        converted = self.portfolio(entries)
        if converted:
            self.emit(ev.PortfolioSnapshot(now_ns, converted))

    def _mm_protection(
        self, updates: list[wire.MmProtectionUpdate], snapshot: bool, now_ns: int
    ) -> None:
        for u in updates:
            self.emit(ev.MMProtectionUpdate(now_ns, u.product, u.remaining_amount, u.reason))

    def _trades(self, trades: list[wire.Trade], snapshot: bool, now_ns: int) -> None:
        """Real fees: ``FillsReplayed`` per instrument (see ``trades.py``), then the sink."""
        by_instrument, unknown = fills_by_instrument(self.specs, trades)
        self.dropped_unknown_instrument += unknown
        for name, fills in by_instrument.items():
            self.emit(ev.FillsReplayed(now_ns, name, tuple(fills)))
        sink = self.trade_sink
        if sink is not None:
            sink.on_trades(trades, True, now_ns)

    def caught_up_trades(self, trades: Sequence[wire.Trade], now_ns: int) -> bool:
        """Trades from a ``private/trade_history`` catch-up: to the trade sink only (the core
        learns the position from the resync's portfolio); True when the sink knew some."""
        sink = self.trade_sink
        return True if sink is None else sink.on_trades(trades, False, now_ns)

    def swept_trades(self, trades: Sequence[wire.Trade], since_s: float, now_ns: int) -> int:
        """Trades read after a frame that did not decode: to the trade sink, which records
        the ones it missed since ``since_s``; how many it recorded."""
        sink = self.trade_sink
        return 0 if sink is None else sink.sweep(trades, since_s, now_ns)

    # --- resync ----------------------------------------------------------------------------
    def portfolio(self, entries: Iterable[wire.PortfolioEntry]) -> tuple[ev.PortfolioEntry, ...]:
        specs = self.specs
        return tuple(
            portfolio_entry(specs[p.instrument_name], p)
            for p in entries
            if p.instrument_name in specs
        )

    def resynced(
        self,
        now_ns: int,
        open_orders: Iterable[wire.OrderStatus],
        portfolio: Iterable[wire.PortfolioEntry],
    ) -> ev.Resynced:
        """The ``Resynced`` event from a fresh ``open_orders`` and ``portfolio``."""
        specs = self.specs
        converted = (
            self._order_update(specs[o.instrument_name], o, now_ns)
            for o in open_orders
            if o.instrument_name in specs
        )
        orders = tuple(u for u in converted if u is not None)
        return ev.Resynced(now_ns, orders, self.portfolio(portfolio))

    def _order_update(
        self, spec: InstrumentSpec, o: wire.OrderStatus, now_ns: int, reply_to: int = 0
    ) -> ev.OrderUpdate | None:
        """``order_update``, or None for a status this client does not know: one warning
        line per new value (not a traceback per message), and the rest of the message is
        still handled."""
        try:
            return order_update(spec, o, now_ns, reply_to)
        except ValueError as exc:
            try:
                ev.OrderStatus.from_wire(o.status)
            except ValueError:
                pass  # the status it is
            else:
                raise  # something else: not this method's to hide
            self.dropped_unknown_status += 1
            if o.status not in self._unknown_statuses:
                self._unknown_statuses.add(o.status)
                log.warning(
                    "%s: order %s ignored: %s (further ones with it are counted, not logged)",
                    spec.name, o.order_id, exc,
                )  # fmt: skip
            return None


def _order_request(
    spec: InstrumentSpec, action: act.Insert | act.Amend | act.Cancel | act.MassQuote
) -> WireRequest:
    """The one request of an instrument's order action (prices and amounts to the wire)."""
    match action:
        case act.Amend():
            by_id = bool(action.order_id)
            amend = rq.AmendParams(
                price=spec.ticks_to_price(action.price_ticks),
                amount=spec.lots_to_amount(action.amount_lots),
                order_id=action.order_id if by_id else None,
                client_order_id=None if by_id else action.client_order_id,
            )
            return ("private/amend", amend, action)
        case act.Insert():
            ioc = action.immediate_or_cancel
            insert = rq.InsertParams(
                direction="buy" if action.side is Side.BUY else "sell",
                instrument_name=action.instrument,
                amount=spec.lots_to_amount(action.amount_lots),
                price=spec.ticks_to_price(action.price_ticks),
                client_order_id=action.client_order_id,
                label=action.label or None,
                post_only=True if action.post_only and not ioc else None,
                reduce_only=True if action.reduce_only else None,
                time_in_force="immediate_or_cancel" if ioc else None,
            )
            return ("private/insert", insert, action)
        case act.Cancel():
            by_id = bool(action.order_id)
            cancel = rq.CancelParams(
                order_id=action.order_id if by_id else None,
                client_order_id=None if by_id else action.client_order_id,
            )
            return ("private/cancel", cancel, action)
        case act.MassQuote():
            quote = rq.DoubleSidedQuote(
                i=action.instrument, b=_ladder(spec, action.bids), a=_ladder(spec, action.asks)
            )
            mass_quote = rq.MassQuoteParams(
                quotes=[quote], label=action.label or None,
                post_only=True if action.post_only else None,
            )  # fmt: skip
            return ("private/mass_quote", mass_quote, action)
        case _:
            assert_never(action)
