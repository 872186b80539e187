"""account.trade_history -> FillsReplayed with real fees, and the catch-up after a resync."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.core import events as ev
from thalex_mm.core.config import AccountingConfig
from thalex_mm.core.position import Position, TradeIds
from thalex_mm.domain import Side
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex import requests as rq
from thalex_mm.venue.thalex.auth import generate_key_pair
from thalex_mm.venue.thalex.client_config import ClientConfig, RequestFailedError
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.protocol import ThalexProtocol
from thalex_mm.venue.thalex.session_setup import CATCH_UP_PAGES, SessionSetup
from thalex_mm.venue.thalex.translate import Translator

from .test_translate import BTC, ETH_FUT, OPTION


class Sink:
    def __init__(self, known: Sequence[str] = ()) -> None:
        self.known = set(known)
        self.calls: list[tuple[list[str], bool]] = []

    def on_trades(self, trades: Sequence[wire.Trade], live: bool, now_ns: int) -> bool:
        ids = [t.trade_id or "" for t in trades]
        self.calls.append((ids, live))
        return any(i in self.known for i in ids)

    def sweep(self, trades: Sequence[wire.Trade], since_s: float, now_ns: int) -> int:
        return 0


def _trade(n: int, name: str = "BTC-PERPETUAL", **kw: Any) -> wire.Trade:
    fields: dict[str, Any] = {
        "trade_id": f"T{n}", "order_id": f"O{n}", "instrument_name": name,
        "direction": "buy" if n % 2 else "sell", "price": 50_000.0 + n, "amount": 0.002,
        "fee": 0.01 * n, "maker_taker": "maker", "trade_type": "normal", "label": "mm",
    }  # fmt: skip
    fields.update(kw)
    return wire.Trade(**fields)


def _routed() -> tuple[Translator, ThalexProtocol, list[ev.Event]]:
    out: list[ev.Event] = []
    tr = Translator(out.append)
    tr.set_instruments([BTC, ETH_FUT, OPTION])
    proto = ThalexProtocol(lambda *a: None, 0)
    entry = tr.handler_for("account.trade_history")
    assert entry is not None
    proto.route("account.trade_history", *entry)
    return tr, proto, out


def _frame(trades: list[wire.Trade]) -> bytes:
    return msgspec.json.encode({"channel_name": "account.trade_history", "notification": trades})


def test_trade_history_notification_becomes_fills_with_fees() -> None:
    tr, proto, out = _routed()
    sink = Sink()
    tr.trade_sink = sink
    trades = [
        _trade(1),
        _trade(2, "ETH-27MAR26", price=3000.1, amount=0.05, maker_taker="taker"),
        _trade(3, trade_type="daily_mark"),  # not a fill
        _trade(4, "BTC-27MAR26-100000-C"),  # not traded by the engine
        _trade(5),
    ]
    proto.receive(_frame(trades), 77)
    assert [type(e) for e in out] == [ev.FillsReplayed, ev.FillsReplayed]
    btc, eth = out  # type: ignore[misc]
    assert isinstance(btc, ev.FillsReplayed) and isinstance(eth, ev.FillsReplayed)
    assert btc.now_ns == 77 and btc.instrument == "BTC-PERPETUAL"
    assert [f.trade_id for f in btc.fills] == ["T1", "T5"]
    assert [f.fee for f in btc.fills] == [0.01, 0.05]
    assert [f.side for f in btc.fills] == [Side.BUY, Side.BUY]
    spec = tr.specs["BTC-PERPETUAL"]
    assert btc.fills[0].price_ticks == spec.price_to_ticks_exact(50_001.0)
    assert btc.fills[0].amount_lots == spec.amount_to_lots_exact(0.002)
    (f,) = eth.fills
    assert f.side is Side.SELL and not f.is_maker and f.fee == pytest.approx(0.02)
    assert f.price_ticks == tr.specs["ETH-27MAR26"].price_to_ticks_exact(3000.1)
    assert sink.calls == [(["T1", "T2", "T3", "T4", "T5"], True)]  # the sink sees all, live
    assert tr.dropped_unknown_instrument == 1


def test_missing_fee_is_unknown_not_zero() -> None:
    _, proto, out = _routed()
    proto.receive(_frame([_trade(1, fee=None)]), 1)
    (e,) = out
    assert isinstance(e, ev.FillsReplayed) and math.isnan(e.fills[0].fee)


def test_core_replaces_its_fee_estimate_with_the_real_fee_once() -> None:
    """The order feed's fill first (estimated fee), then the trade history's (real fee)."""
    tr, proto, out = _routed()
    spec = tr.specs["BTC-PERPETUAL"]
    pos = Position(spec, AccountingConfig(maker_fee_rate=0.0002), TradeIds())
    trade = _trade(1, fee=0.0123)
    feed_fill = ev.Fill("T1", Side.BUY, spec.price_to_ticks_floor(50_001.0), 2, True)
    assert pos.apply(feed_fill)
    estimate = pos.fees
    assert estimate == pytest.approx(0.0002 * 50_001.0 * 0.002)
    proto.receive(_frame([trade]), 2)
    proto.receive(_frame([trade]), 3)  # the same notification again changes nothing
    for e in out:
        assert isinstance(e, ev.FillsReplayed)
        for f in e.fills:
            assert not pos.apply(f)  # same trade id: the position is not applied twice
    assert pos.lots == 2 and pos.fees == pytest.approx(0.0123)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["BTC-PERPETUAL", "ETH-27MAR26"]),
            st.floats(-5, 5, allow_nan=False),
            st.sampled_from(["normal", "liquidation", "daily_mark", None]),
        ),
        max_size=30,
    )
)
def test_fees_per_instrument_add_up(rows: list[tuple[str, float, str | None]]) -> None:
    _, proto, out = _routed()
    trades = [
        _trade(n, name, fee=fee, trade_type=kind, price=3000.0 if name[0] == "E" else 50_000.0)
        for n, (name, fee, kind) in enumerate(rows)
    ]
    proto.receive(_frame(trades), 5)
    got: dict[str, float] = {}
    for e in out:
        assert isinstance(e, ev.FillsReplayed)
        got[e.instrument] = got.get(e.instrument, 0.0) + sum(f.fee for f in e.fills)
    for name in ("BTC-PERPETUAL", "ETH-27MAR26"):
        want = sum(
            t.fee or 0.0
            for t in trades
            if t.instrument_name == name and t.trade_type != "daily_mark"
        )
        assert got.get(name, 0.0) == pytest.approx(want)


# --- the catch-up after a (re)connection ------------------------------------------------
class FakeVenue:
    """private/trade_history newest first, paged by offset bookmarks."""

    def __init__(self, n: int, page: int) -> None:
        self.trades = [_trade(i) for i in range(n, 0, -1)]
        self.page = page
        self.requests: list[rq.HistoryParams] = []

    async def call(self, method: str, params: Any) -> Any:
        assert method == "private/trade_history"
        self.requests.append(params)
        start = int(params.bookmark or 0)
        end = start + min(self.page, params.limit)
        chunk = self.trades[start:end]
        return wire.TradeHistoryResult(chunk, str(end) if end < len(self.trades) else None)


def _setup(venue: FakeVenue, tr: Translator) -> SessionSetup:
    return SessionSetup(
        call=venue.call, credentials=None, config=ClientConfig(), translator=tr,
        protocol=ThalexProtocol(lambda *a: None, 0), on_system=lambda *a: None,
        wall_clock_s=lambda: 0.0, clock_ns=lambda: 9,
    )  # fmt: skip


async def test_catch_up_pages_back_until_a_recorded_trade() -> None:
    tr, _, out = _routed()
    venue = FakeVenue(n=25, page=10)
    sink = Sink(known=["T8"])  # T25..T16, T15..T6 (holds T8): stop after page 2
    tr.trade_sink = sink
    assert await _setup(venue, tr).catch_up_trades() == 2
    assert [live for _, live in sink.calls] == [False, False]
    assert sink.calls[0][0][0] == "T25" and sink.calls[1][0][-1] == "T6"
    assert all(p.sort == "descending" for p in venue.requests)
    assert out == []  # catch-up trades go to the sink only; the core seeds from the portfolio


async def test_catch_up_ends_at_the_oldest_trade_or_the_page_cap() -> None:
    tr, _, _ = _routed()
    tr.trade_sink = Sink()
    venue = FakeVenue(n=25, page=10)
    assert await _setup(venue, tr).catch_up_trades() == 3  # 10 + 10 + 5, no bookmark after
    venue = FakeVenue(n=10 * (CATCH_UP_PAGES + 5), page=10)
    assert await _setup(venue, tr).catch_up_trades() == CATCH_UP_PAGES


async def test_a_failed_catch_up_does_not_stop_the_session() -> None:
    """Login, subscribe, snapshots; the trade history then fails: the session still resyncs."""
    tr, _, _ = _routed()
    sink = Sink()
    tr.trade_sink = sink
    asked: list[str] = []

    async def call(method: str, params: Any) -> Any:
        asked.append(method)
        if method == "private/trade_history":
            raise RequestFailedError(method, 31, "not supported")
        if method == "public/login":
            return wire.LoginResult(account_number="A1")
        if method == "public/instruments":
            return [BTC]
        return []  # cancel-on-disconnect, subscribe, open_orders, portfolio

    private_pem, _ = generate_key_pair()
    setup = SessionSetup(
        call=call, credentials=Credentials("K1", private_pem, "test"),
        config=ClientConfig(private_channels=("session.orders", "account.trade_history")),
        translator=tr, protocol=ThalexProtocol(lambda *a: None, 0), on_system=lambda *a: None,
        wall_clock_s=lambda: 1.7e9, clock_ns=lambda: 9,
    )  # fmt: skip
    resynced = await setup.run()
    assert isinstance(resynced, ev.Resynced) and resynced.now_ns == 9
    assert asked[-1] == "private/trade_history"  # after subscribing and the snapshots
    assert asked.index("private/subscribe") < asked.index("private/trade_history")
    assert sink.calls == []
