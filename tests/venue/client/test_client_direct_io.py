"""Direct I/O (the default) against the fake venue: an order caused by a market-data frame is
written on the same loop turn, with the stamps the runner's tick-to-order samples use; the
writer-task path (direct_io=False) behaves the same from the outside."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.domain import Side
from thalex_mm.venue.thalex.client import ClientConfig, ThalexClient
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.throttle import RequestClass, Throttle, ThrottleConfig

TICKER = {
    "mark_price": 100000.0,
    "index": 100000.0,
    "best_bid_price": 99990.0,
    "best_bid_amount": 1.0,
    "best_ask_price": 100010.0,
    "best_ask_amount": 1.0,
    "funding_rate": 0.0,
    "mark_timestamp": 1.0,
    "delta": 1.0,
}


def _insert(action_id: int) -> act.Insert:
    return act.Insert(action_id, "BTC-PERPETUAL", action_id, Side.BUY, 99950, 100)


@pytest.mark.parametrize("direct_io", [True, False])
async def test_a_tick_that_causes_orders_gets_them_written_and_stamped(
    venue: Any, credentials: Credentials, direct_io: bool
) -> None:
    seen: list[tuple[int, int, int]] = []  # (rx stamp, batch before send, batch after)
    written: list[tuple[int, int, int]] = []
    client: ThalexClient
    replies: list[ev.Event] = []

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.Ticker):
            before = client.tx_batches
            client.send_actions([_insert(100 + len(seen)), _insert(200 + len(seen))])
            seen.append((client.rx_perf_ns, before, client.tx_batches))
        elif isinstance(event, ev.OrderUpdate):
            replies.append(event)

    cfg = ClientConfig(public_channels=("ticker.BTC-PERPETUAL.raw",), close_timeout_s=1.0)
    client = ThalexClient(venue.url, credentials, on_event, cfg, direct_io=direct_io)
    client.on_batch_written = lambda batch, w, t, n: written.append((batch, w, t))
    await client.start()
    try:
        t_push = time.perf_counter_ns()
        await venue.push("ticker.BTC-PERPETUAL.raw", TICKER)
        async with asyncio.timeout(5):
            while len(replies) < 2:
                await asyncio.sleep(0.01)
    finally:
        await client.close()
    assert len(seen) == 1
    rx, before, after = seen[0]
    assert rx >= t_push  # stamped when the frame arrived, not at client start
    if direct_io:
        assert after == before + 1  # written inside send_actions, both orders in one batch
    tx = next(t for b, _, t in written if b > before)
    assert tx >= rx
    assert venue.methods[0].count("private/insert") == 2
    assert client.tx_frames >= 2


async def test_direct_io_writes_queued_requests_when_the_throttle_allows(
    venue: Any, credentials: Credentials
) -> None:
    """More orders than the bucket holds: the rest leave later via the writer task."""
    cfg = ClientConfig(
        public_channels=("ticker.BTC-PERPETUAL.raw",),
        close_timeout_s=1.0,
        throttle=ThrottleConfig(headroom=0.1),  # 5 orders/s once non-persistent
    )
    updates: list[ev.Event] = []
    client = ThalexClient(
        venue.url,
        credentials,
        lambda e: updates.append(e) if isinstance(e, ev.OrderUpdate) else None,
        cfg,
    )
    await client.start()
    try:
        client.send_actions([_insert(i) for i in range(1, 9)])
        assert client.protocol.queued > 0  # some had to wait
        async with asyncio.timeout(5):
            while len(updates) < 8:
                await asyncio.sleep(0.02)
    finally:
        await client.close()
    assert venue.methods[0].count("private/insert") == 8


def test_rate_scale_multiplies_the_documented_rates() -> None:
    plain = Throttle(0, ThrottleConfig(headroom=1.0))
    scaled = Throttle(0, ThrottleConfig(headroom=1.0, rate_scale=4.0))
    for throttle in (plain, scaled):
        throttle.set_non_persistent(0, 50.0)
    plain_bucket = plain.bucket(RequestClass.ORDER)
    scaled_bucket = scaled.bucket(RequestClass.ORDER)
    assert scaled_bucket.rate_per_s == pytest.approx(4 * plain_bucket.rate_per_s)
    sent = sum(scaled.try_acquire(RequestClass.ORDER, 0) for _ in range(1000))
    assert sent == int(scaled_bucket.capacity)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf")])
def test_rate_scale_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="rate_scale"):
        ThrottleConfig(rate_scale=bad)
