"""Fills journaled once from the trade history (real fees); the journal on by default."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from thalex_mm.app.journaling import JournalBridge, TradeJournal
from thalex_mm.app.launch import RunOptions, effective_config
from thalex_mm.app.run_stats import format_summary
from thalex_mm.app.settings import (
    AppConfig,
    JournalConfig,
    config_from_data,
    order_labels,
    private_channels,
)
from thalex_mm.cli import run as run_cli
from thalex_mm.core import events as ev
from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side
from thalex_mm.errors import UserError
from thalex_mm.journal import DEFAULT_URL, Fill, OrderUpdate
from thalex_mm.journal.query import fill_key
from thalex_mm.venue.thalex import messages as wire

SPEC = InstrumentSpec("BTC-PERPETUAL", InstrumentKind.PERPETUAL, "BTCUSD", 1.0, 0.001, 0.001)


class FakeJournal:
    def __init__(self) -> None:
        self.records: list[Any] = []
        self.batches: list[int] = []  # the size of each append_batch call

    def append(self, record: Any) -> bool:
        self.records.append(record)
        return True

    def append_batch(self, records: Any) -> None:
        self.batches.append(len(records))
        self.records.extend(records)


def _trade(n: int, **kw: Any) -> wire.Trade:
    fields: dict[str, Any] = {
        "trade_id": f"T{n}", "order_id": f"O{n}", "instrument_name": "BTC-PERPETUAL",
        "direction": "sell", "price": 60_000.0 + n, "amount": 0.003, "fee": 0.018 + n,
        "maker_taker": "maker", "label": "mm", "client_order_id": 100 + n,
        "position_after": -0.003 * n, "trade_type": "normal",
    }  # fmt: skip
    fields.update(kw)
    return wire.Trade(**fields)


def _tj(**kw: Any) -> tuple[TradeJournal, FakeJournal]:
    fake = FakeJournal()
    return TradeJournal(fake, "mm", **kw), fake  # type: ignore[arg-type]


def test_live_trades_are_journaled_once_with_the_venues_fee() -> None:
    tj, fake = _tj(known=[fill_key("T1", "O1")])
    knew = tj.on_trades([_trade(1), _trade(2), _trade(3, trade_type="daily_mark")], True, 5)
    assert knew  # T1 came from an earlier run
    assert tj.on_trades([_trade(2)], True, 6)  # a repeat: known now, not journaled again
    (fill,) = fake.records
    assert fake.batches == [1, 0]  # one batch per notification (T1 known, T3 not a fill)
    t = _trade(2)
    assert isinstance(fill, Fill) and fill.ts_ns == 5 and fill.strategy == "mm"
    assert (fill.trade_id, fill.order_id, fill.client_order_id) == ("T2", "O2", 102)
    assert (fill.side, fill.price, fill.amount) == (-1, t.price, t.amount)
    assert (fill.fee, fill.maker_taker, fill.position_after) == (t.fee, "maker", t.position_after)


def test_both_legs_of_a_self_trade_are_journaled() -> None:
    # Two of our orders trading with each other share the trade id, not the order id.
    tj, fake = _tj()
    buy = _trade(7, order_id="O7-buy", direction="buy", maker_taker="taker")
    sell = _trade(7, order_id="O7-sell")
    tj.on_trades([buy, sell], True, 1)
    tj.on_trades([sell], True, 2)  # a repeat of one leg
    assert sorted((r.order_id, r.side) for r in fake.records) == [("O7-buy", 1), ("O7-sell", -1)]


def test_catch_up_on_a_fresh_journal_claims_nothing() -> None:
    tj, fake = _tj(catch_up=False)
    assert tj.on_trades([_trade(1), _trade(2)], False, 1)  # True: stop paging
    assert fake.records == []
    # a later catch-up (a reconnect in this run) covers the gap
    assert not tj.on_trades([_trade(3)], False, 2)
    assert [r.trade_id for r in fake.records] == ["T3"] and tj.caught_up == 1


def test_catch_up_claims_only_our_labels_and_stops_at_known_trades() -> None:
    tj, fake = _tj(known=[fill_key("T1", "O1")], labels=frozenset({"mm", "hedge"}))
    page = [_trade(4), _trade(3, label="other-bot"), _trade(2, label="hedge"), _trade(1)]
    assert tj.on_trades(page, False, 9)
    assert [r.trade_id for r in fake.records] == ["T4", "T2"]
    assert tj.caught_up == 2 and tj.journaled == 2


def test_bridge_leaves_fills_to_the_trade_history() -> None:
    fake = FakeJournal()
    bridge = JournalBridge(fake, "mm", {SPEC.name: SPEC}, {}, fills_from_trades=True)  # type: ignore[arg-type]
    fill = ev.Fill("T1", Side.BUY, 60_000, 3, True)
    update = ev.OrderUpdate(
        7, SPEC.name, "O1", 5, Side.BUY, ev.OrderStatus.from_wire("filled"), 60_000, 3, 3, 0,
        (fill,),
    )  # fmt: skip
    bridge.order_update(update, 3)
    bridge.replayed_fills(SPEC.name, [fill], now_ns=8, position_lots=3)
    assert [type(r) for r in fake.records] == [OrderUpdate]
    bridge.fills_from_trades = False  # a runner without the trade history: the feed's fills
    bridge.order_update(update, 3)
    assert [type(r) for r in fake.records] == [OrderUpdate, OrderUpdate, Fill]


# --- on by default ---------------------------------------------------------------------------
def test_journal_is_on_by_default_to_sqlite_under_data() -> None:
    cfg = effective_config(RunOptions())
    assert cfg.journal.enabled and cfg.journal.url == DEFAULT_URL == "sqlite:///data/journal.db"
    assert "account.trade_history" in private_channels(cfg)  # where the fees come from


def test_no_journal_and_journal_url_overrides(tmp_path: Path) -> None:
    assert not effective_config(RunOptions(no_journal=True)).journal.enabled
    cfg = effective_config(RunOptions(journal="sqlite:///x.db"))
    assert cfg.journal.enabled and cfg.journal.url == "sqlite:///x.db"
    off = tmp_path / "off.toml"
    off.write_text("[journal]\nenabled = false\n")
    assert not effective_config(RunOptions(config=off)).journal.enabled
    # an explicit --journal turns a config's journal back on
    assert effective_config(RunOptions(config=off, journal="sqlite:///y.db")).journal.enabled
    with pytest.raises(UserError, match="cannot be combined"):
        effective_config(RunOptions(journal="sqlite:///x.db", no_journal=True))
    with pytest.raises(UserError, match="needs a URL"):
        effective_config(RunOptions(journal=" "))
    with pytest.raises(ValueError, match=r"journal\.url"):
        JournalConfig(url="")


def test_cli_refuses_journal_with_no_journal() -> None:
    parser = argparse.ArgumentParser()
    run_cli.register(parser.add_subparsers())
    args = parser.parse_args(["run", "--no-journal"])
    assert args.no_journal and args.journal is None
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--no-journal", "--journal", "sqlite:///a.db"])


def test_order_labels_cover_instruments_and_hedges() -> None:
    cfg = config_from_data(
        {
            "instruments": [
                {"name": "A-PERPETUAL", "orders": {"label": "qa"}},
                {"name": "B-PERPETUAL"},
            ],
            "hedges": [
                {"quoted": "A-PERPETUAL", "hedge": "B-PERPETUAL", "threshold": 0.01, "label": "hx"}
            ],
        }
    )
    assert order_labels(cfg) == {"qa", "mm", "hx"}
    assert order_labels(AppConfig()) == {"mm"}


def test_summary_says_where_the_journal_is() -> None:
    summary: dict[str, Any] = {
        "mode": "m", "venue": "v", "duration_s": 1.0, "stop_reason": "duration",
        "instruments": {}, "msgs_in": 0, "msgs_in_per_s": 0.0, "msgs_out": 0,
        "msgs_out_per_s": 0.0, "tick_to_order_us_p50": None, "tick_to_order_us_p99": None,
        "throttle_errors": 0, "reconnects": 0, "journal": "sqlite:///data/journal.db",
    }  # fmt: skip
    text = format_summary(summary)
    assert "journal: sqlite:///data/journal.db" in text
    assert "thalex-mm journal summary --journal sqlite:///data/journal.db" in text
    assert "journal: off" in format_summary({**summary, "journal": None})


def test_catch_up_stops_at_the_first_known_trade() -> None:
    # newest first: T3 is known, so T2 and T1 are older than a journaled fill (an earlier
    # run's, or another journal's) and are not adopted
    tj, fake = _tj(known=[fill_key("T3", "O3")])
    assert tj.on_trades([_trade(5), _trade(4), _trade(3), _trade(2), _trade(1)], False, 9)
    assert [r.trade_id for r in fake.records] == ["T5", "T4"] and tj.caught_up == 2


def test_catch_up_never_adopts_trades_older_than_the_journal() -> None:
    tj, fake = _tj(since_ns=1_000 * 10**9)
    page = [_trade(3, time=1_002.0), _trade(2, time=999.5), _trade(1, time=998.0)]
    assert tj.on_trades(page, False, 9)  # True: stop paging, the rest is older still
    assert [r.trade_id for r in fake.records] == ["T3"]
    # a live trade is ours whatever its time says
    assert not tj.on_trades([_trade(4, time=1.0)], True, 10)
    assert [r.trade_id for r in fake.records] == ["T3", "T4"]


def test_a_sweep_journals_the_gap_behind_a_known_trade_and_nothing_older() -> None:
    """A garbled account.trade_history frame hid T2; T3 arrived live. A catch-up stops at T3
    (newest first) and never sees T2; the sweep after the bad frame reads past it, and keeps
    to the window and to our labels."""
    tj, fake = _tj(labels=frozenset({"mm"}))
    tj.on_trades([_trade(1, time=100.0)], True, 0)
    tj.on_trades([_trade(3, time=130.0)], True, 0)
    page = [  # newest first, as the venue pages
        _trade(4, time=140.0, label="other"),
        _trade(3, time=130.0),
        _trade(2, time=120.0),
        _trade(1, time=100.0),
        _trade(0, time=50.0),
    ]
    assert tj.on_trades(page, False, 0) is True  # the catch-up knew T3 and stopped
    assert [r.trade_id for r in fake.records] == ["T1", "T3"]
    assert tj.sweep(page, 60.0, 0) == 1
    assert [r.trade_id for r in fake.records] == ["T1", "T3", "T2"]  # not T0 (too old), T4
    assert tj.sweep(page, 60.0, 0) == 0 and tj.swept == 1  # once
