"""Extra synthetic perpetuals: listed, schema-valid, tradable, market-priced, configurable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _protocol_kit import KEYS, MS, PRIVATE_PEM, PUBLIC_PEM, T0, find_reply, make_token
from _thalex_schema import check_frame

from thalex_mm.errors import UserError
from thalex_mm.exchange.config_file import load_config
from thalex_mm.exchange.engine import (
    MatchingEngine,
    default_instruments,
    synthetic_perpetuals,
)
from thalex_mm.exchange.hub import ExchangeHub, SimClock
from thalex_mm.exchange.local import ExchangeConfig, LocalExchange
from thalex_mm.exchange.market import MarketConfig, SyntheticMarket
from thalex_mm.exchange.session import Session
from thalex_mm.venue.thalex.auth import KeyRing

N_EXTRA = 7


class Desk:
    """A sans-I/O hub listing the regular and ``N_EXTRA`` extra instruments; every frame it
    returns is validated against the official schemas."""

    def __init__(self) -> None:
        instruments = default_instruments(T0) + synthetic_perpetuals(N_EXTRA, T0)
        self.engine = MatchingEngine(instruments)
        keyring = KeyRing()
        for key_id, account in KEYS.items():
            keyring.add(key_id, PUBLIC_PEM, account)
        self.hub = ExchangeHub(self.engine, keyring, SimClock(T0, T0))
        self.wall_ns = T0
        self.methods: dict[int, dict[Any, str]] = {}

    def open(self, key_id: str) -> Session:
        session = self.hub.open_session(self.wall_ns)
        self.methods[session.session_id] = {}
        self.call(session, "public/login", {"token": make_token(key_id, PRIVATE_PEM, T0 / 1e9)})
        return session

    def call(self, session: Session, method: str, params: dict[str, Any]) -> Any:
        self.wall_ns += MS
        request_id = len(self.methods[session.session_id]) + 1
        self.methods[session.session_id][request_id] = method
        frame = {"method": method, "params": params, "id": request_id}
        session.receive(json.dumps(frame), self.wall_ns)
        self.hub.take_ready()
        messages = [json.loads(f) for f in session.take_output()]
        for message in messages:
            check_frame(message, self.methods[session.session_id])
        reply = find_reply(messages, request_id)
        assert "error" not in reply, reply
        return reply["result"]


def test_names_indices_and_products_are_distinct_and_numbered() -> None:
    extra = synthetic_perpetuals(12, T0)
    assert [i.name for i in extra][:2] == ["SYN001-PERPETUAL", "SYN002-PERPETUAL"]
    assert extra[-1].name == "SYN012-PERPETUAL"
    assert len({i.spec.underlying for i in extra}) == 12
    assert {i.spec.product for i in extra} == {f"F{i.spec.underlying}" for i in extra}
    assert all(i.is_perpetual for i in extra)
    with pytest.raises(ValueError, match="extra_instruments"):
        synthetic_perpetuals(1000, T0)


def test_extra_instruments_are_listed_with_schema_valid_descriptions() -> None:
    desk = Desk()
    session = desk.open("K000000001")
    listed = desk.call(session, "public/instruments", {})
    names = {item["instrument_name"] for item in listed}
    expected = {f"SYN{n:03d}-PERPETUAL" for n in range(1, N_EXTRA + 1)}
    assert expected <= names
    assert len(names) == 3 + N_EXTRA
    one = desk.call(session, "public/instrument", {"instrument_name": "SYN004-PERPETUAL"})
    assert one["underlying"] == "SYN004USD"
    assert one["product"] == "FSYN004USD"


def test_an_extra_instrument_trades_like_any_other() -> None:
    desk = Desk()
    name = "SYN003-PERPETUAL"
    desk.hub.publish(desk.engine.set_index(T0, "SYN003USD", 1075.0), T0)
    desk.hub.publish(desk.engine.set_mark(T0, name, 1075.5, funding_rate=0.0), T0)
    alice, bob = desk.open("K000000001"), desk.open("K000000002")
    desk.call(alice, "private/subscribe", {"channels": ["account.portfolio"]})
    resting = desk.call(
        alice,
        "private/insert",
        {"instrument_name": name, "direction": "buy", "amount": 0.25, "price": 1075.3},
    )
    assert resting["status"] == "open"
    taken = desk.call(
        bob,
        "private/insert",
        {"instrument_name": name, "direction": "sell", "amount": 0.1, "price": 1070.0},
    )
    assert taken["filled_amount"] == pytest.approx(0.1)
    assert taken["fills"][0]["price"] == pytest.approx(1075.3)  # at the resting price
    assert desk.engine.position_lots("A000000001", name) == 10  # 0.1 in 0.01 lots
    assert desk.engine.position_lots("A000000002", name) == -10
    ticker = desk.call(alice, "public/ticker", {"instrument_name": name})
    assert ticker["last_price"] == pytest.approx(1075.3)


def test_synthetic_market_prices_and_quotes_every_extra_instrument() -> None:
    config = ExchangeConfig(extra_instruments=4, seed=3)
    exchange = LocalExchange(config)  # not started: no socket, the hub already stepped once
    engine, hub = exchange.engine, exchange.hub
    for step in range(1, 51):
        hub.tick(hub.clock.wall_origin_ns + step * 20 * MS)
    for n in range(1, 5):
        name = f"SYN{n:03d}-PERPETUAL"
        index = engine.index_price(f"SYN{n:03d}USD")
        assert index is not None and abs(index / (1000 + 25 * n) - 1) < 0.01
        book = engine.book(name, depth=None)
        assert book is not None and book.bids and book.asks  # background liquidity
        mark = engine.mark_price(name)
        assert mark is not None and book.bids[0][0] < mark < book.asks[0][0]


def test_listing_extras_leaves_the_regular_index_paths_unchanged() -> None:
    def btc_path(extra: int) -> list[float]:
        engine = MatchingEngine(default_instruments(T0) + synthetic_perpetuals(extra, T0))
        prices = dict(MarketConfig().initial_prices)
        prices.update({f"SYN{n:03d}USD": 1000.0 for n in range(1, extra + 1)})
        market = SyntheticMarket(engine, MarketConfig(seed=5, initial_prices=prices))
        market.start(T0)
        path = []
        for i in range(1, 200):
            market.step(T0 + i * 100 * MS)
            path.append(market.index("BTCUSD"))
        return path

    assert btc_path(0) == btc_path(6)


def test_config_file_options_and_their_errors(tmp_path: Path) -> None:
    good = tmp_path / "load.toml"
    good.write_text("[exchange]\nextra_instruments = 97\nmd_rate = 10000\n", encoding="utf-8")
    config = load_config(good, {})
    assert (config.extra_instruments, config.md_rate) == (97, 10000)
    for text, word in (
        ("extra_instruments = 1000", "extra_instruments"),
        ("extra_instruments = 2.5", "extra_instruments"),
        ("md_rate = -1", "md_rate"),
        ('md_rate = "fast"', "md_rate"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(f"[exchange]\n{text}\n", encoding="utf-8")
        with pytest.raises(UserError, match=word):
            load_config(bad, {})
    with pytest.raises(ValueError, match="replay"):
        ExchangeConfig(extra_instruments=2, replay="some-window")
