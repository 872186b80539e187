"""A fixed market-data rate (``md_rate``) and the exchange's counters.

Behaviour tests, not timing budgets: the rate must be respected within a wide tolerance.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
import websockets
from _protocol_kit import MS

from thalex_mm.exchange import server as server_module
from thalex_mm.exchange.local import ExchangeConfig, LocalExchange
from thalex_mm.exchange.pacing import MAX_BURST_S
from thalex_mm.exchange.session import Session

N_EXTRA = 7  # 10 instruments in all


def subscribe(exchange: LocalExchange, channels: list[str], wall_ns: int) -> Session:
    session = exchange.hub.open_session(wall_ns)
    request = {"method": "public/subscribe", "params": {"channels": channels}, "id": 1}
    session.receive(json.dumps(request), wall_ns)
    exchange.hub.take_ready()
    session.take_output()  # the reply and the snapshots
    return session


def ticker_channels(exchange: LocalExchange) -> list[str]:
    return [f"ticker.{i.name}.raw" for i in exchange.engine.instruments()]


def drive(exchange: LocalExchange, session: Session, start_ns: int, ms: int) -> Counter[str]:
    """Tick the hub every simulated millisecond; count notifications per channel."""
    counts: Counter[str] = Counter()
    for step in range(1, ms + 1):
        exchange.hub.tick(start_ns + step * MS)
        exchange.hub.take_ready()
        for frame in session.take_output():
            counts[json.loads(frame)["channel_name"]] += 1
    return counts


def test_raw_tickers_are_published_at_md_rate_spread_over_the_channels() -> None:
    rate, seconds = 2_000.0, 2
    config = ExchangeConfig(extra_instruments=N_EXTRA, md_rate=rate, step_ms=1.0, seed=4)
    exchange = LocalExchange(config)
    start = exchange.hub.clock.wall_origin_ns
    channels = ticker_channels(exchange)
    book = "book.SYN001-PERPETUAL.none.all.raw"
    session = subscribe(exchange, [*channels, book, "ticker.SYN002-PERPETUAL.100ms"], start)
    counts = drive(exchange, session, start, seconds * 1000)
    paced = sum(counts[c] for c in channels)
    assert 0.5 * rate * seconds <= paced <= 1.5 * rate * seconds, counts
    share = rate * seconds / len(channels)
    for channel in channels:  # round robin: every channel gets its share
        assert 0.5 * share <= counts[channel] <= 1.5 * share, (channel, counts[channel])
    assert counts[book] > 0  # book channels stay on change
    assert 0 < counts["ticker.SYN002-PERPETUAL.100ms"] <= seconds * 10 + 1  # delays still apply
    stats = exchange.hub.stats()
    assert stats.paced_publications == paced
    assert stats.totals.frames_dropped == 0
    # the market moves each mark every millisecond, a channel is published every 5 ms:
    # the merged changes are counted, on the feed and on the subscriber
    assert stats.paced_coalesced > paced
    assert session.counters.coalesced == stats.paced_coalesced
    assert stats.paced_repeats < 0.05 * paced


def test_a_stall_is_caught_up_only_partly_and_the_rest_counted_missed() -> None:
    rate = 1_000.0
    exchange = LocalExchange(ExchangeConfig(md_rate=rate, seed=2))
    start = exchange.hub.clock.wall_origin_ns
    session = subscribe(exchange, ticker_channels(exchange), start)
    exchange.hub.tick(start + 2_000 * MS)  # two seconds without a tick
    exchange.hub.take_ready()
    sent = len(session.take_output())
    assert sent == pytest.approx(rate * MAX_BURST_S, abs=1)
    assert exchange.hub.stats().paced_missed == pytest.approx(rate * (2 - MAX_BURST_S), abs=2)


def test_without_md_rate_nothing_is_paced() -> None:
    exchange = LocalExchange(ExchangeConfig(seed=2))
    start = exchange.hub.clock.wall_origin_ns
    session = subscribe(exchange, ticker_channels(exchange), start)
    counts = drive(exchange, session, start, 200)  # 10 market steps of 20 ms
    assert sum(counts.values()) == 3 * 10  # every mark change of the 3 instruments
    assert exchange.hub.stats().paced_publications == 0


async def count_over_socket(url: str, warmup_s: float, seconds: float) -> int:
    async with websockets.connect(url, compression=None, close_timeout=0.2) as ws:
        await ws.send('{"method":"public/instruments","params":{},"id":1}')
        names = [i["instrument_name"] for i in json.loads(await ws.recv())["result"]]
        channels = [f"ticker.{name}.raw" for name in names]
        await ws.send(json.dumps({"method": "public/subscribe", "params": {"channels": channels}}))
        loop = asyncio.get_running_loop()
        count, started = 0, loop.time()
        while loop.time() < started + warmup_s + seconds:
            message = await asyncio.wait_for(ws.recv(decode=False), 2.0)
            if loop.time() >= started + warmup_s and message.startswith(b'{"channel_name":"ticker'):
                count += 1
        return count


async def test_md_rate_is_what_a_client_receives_over_a_socket() -> None:
    rate, seconds = 3_000.0, 1.5
    config = ExchangeConfig(extra_instruments=N_EXTRA, md_rate=rate, step_ms=2.0, tick_ms=1.0)
    async with LocalExchange(config) as exchange:
        count = await count_over_socket(exchange.url, 0.3, seconds)
        for _ in range(200):  # until the server has seen the close
            if not exchange.hub.sessions:
                break
            await asyncio.sleep(0.01)
        stats = exchange.hub.stats()
    assert 0.5 * rate * seconds <= count <= 1.5 * rate * seconds
    totals = stats.totals
    assert totals.frames_dropped == 0
    assert totals.frames_written >= count
    # every frame queued was either written or counted as still queued at the close
    assert totals.frames_written + totals.frames_unsent_at_close == totals.frames_out
    assert stats.slow_consumer_disconnects == 0


async def test_a_client_that_stops_reading_is_cut_off_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server_module, "SLOW_CONSUMER_BYTES", 256 << 10)
    config = ExchangeConfig(extra_instruments=N_EXTRA, md_rate=50_000.0, step_ms=2.0, tick_ms=1.0)
    async with LocalExchange(config) as exchange:
        async with websockets.connect(
            exchange.url, compression=None, max_queue=1, close_timeout=0.2
        ) as ws:
            channels = ticker_channels(exchange)
            await ws.send(
                json.dumps({"method": "public/subscribe", "params": {"channels": channels}})
            )
            for _ in range(400):  # never read: the client's queue fills, then the sockets
                if exchange.hub.slow_consumer_disconnects:
                    break
                await asyncio.sleep(0.025)
        stats = exchange.hub.stats()
    assert stats.slow_consumer_disconnects == 1
    (cut,) = [s for s in stats.sessions if s.counters.slow_consumer]
    assert cut.counters.bytes_dropped > 256 << 10
    assert cut.counters.max_write_buffer > 256 << 10


async def test_with_flow_control_a_backlogged_client_pauses_the_market_instead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server_module, "SLOW_CONSUMER_BYTES", 512 << 10)
    config = ExchangeConfig(
        extra_instruments=N_EXTRA,
        md_rate=50_000.0,
        step_ms=2.0,
        tick_ms=1.0,
        flow_control_bytes=64 << 10,
    )
    async with (
        LocalExchange(config) as exchange,
        websockets.connect(exchange.url, compression=None, max_queue=1, close_timeout=0.2) as ws,
    ):
        channels = ticker_channels(exchange)
        await ws.send(json.dumps({"method": "public/subscribe", "params": {"channels": channels}}))
        for _ in range(200):
            if exchange.hub.flow_control_pauses > 20:
                break
            await asyncio.sleep(0.01)
        stats = exchange.hub.stats()
    assert stats.flow_control_pauses > 20
    assert stats.slow_consumer_disconnects == 0  # held back, never cut off
    assert stats.paced_missed > 0  # the paused time is not caught up in a burst
