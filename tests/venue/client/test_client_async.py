"""The asyncio client against a fake server on 127.0.0.1: login, resync, reconnect, close."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.domain import Side
from thalex_mm.venue.thalex.client import (
    ClientConfig,
    RequestFailedError,
    ThalexClient,
    VenueError,
)
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.networks import Endpoint, Network
from thalex_mm.venue.thalex.protocol import LocalError
from thalex_mm.venue.thalex.reconnect import Backoff, BackoffPolicy, SessionPhase

SETUP = [
    "public/login",
    "private/set_cancel_on_disconnect",
    "public/instruments",
    "public/subscribe",
]
RESYNC = {"private/open_orders", "private/portfolio"}


class RecordingBackoff(Backoff):
    def __init__(self, delay_s: float) -> None:
        super().__init__(BackoffPolicy(initial_s=delay_s, jitter=0.0))
        self.delays: list[float] = []

    def next_delay_s(self) -> float:
        delay = super().next_delay_s()
        self.delays.append(delay)
        return delay


class Events:
    def __init__(self) -> None:
        self.items: list[ev.Event] = []

    def __call__(self, event: ev.Event) -> None:
        self.items.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.items if isinstance(e, kind)]

    async def wait(self, kind: type, count: int = 1, timeout: float = 5.0) -> None:
        async def poll() -> None:
            while len(self.of(kind)) < count:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(poll(), timeout)


def insert(action_id: int) -> act.Insert:
    return act.Insert(action_id, "BTC-PERPETUAL", action_id, Side.BUY, 99950, 100)


def make_client(venue: Any, creds: Credentials, events: Events, **kw: Any) -> ThalexClient:
    cfg = ClientConfig(
        public_channels=("ticker.BTC-PERPETUAL.raw",),
        close_timeout_s=1.0,
        request_timeout_s=3.0,
        ping_interval_s=1.0,
    )
    return ThalexClient(venue.url, creds, events, cfg, **kw)


async def test_start_logs_in_with_a_verified_jwt_then_resyncs(
    venue: Any, credentials: Credentials
) -> None:
    events = Events()
    client = make_client(venue, credentials, events)
    await client.start()
    try:
        assert venue.logins == [{"alg": "RS512", "kid": "K555000111", "typ": "JWT"}]
        calls = venue.methods[0]
        assert calls[:4] == SETUP
        assert calls[4:6] == ["public/subscribe", "private/subscribe"]
        assert set(calls[6:8]) == RESYNC
        assert client.ready and client.phase is SessionPhase.READY
        assert client.account_number == "A0001"
        assert len(events.of(ev.Resynced)) == 1
        client.send_actions([insert(1)])
        await events.wait(ev.OrderUpdate)
        (upd,) = events.of(ev.OrderUpdate)
        assert upd.reply_to == 1 and upd.price_ticks == 99950 and upd.amount_lots == 100
        await venue.push(
            "ticker.BTC-PERPETUAL.raw",
            {
                "mark_price": 1.5,
                "mark_timestamp": 1,
                "delta": 1,
                "index": 2,
                "best_bid_price": 99990,
                "best_bid_amount": 0.4,
                "extra": True,
            },
        )
        await events.wait(ev.Ticker)
        assert events.of(ev.Ticker)[0].best_bid_ticks == 99990
    finally:
        await client.close()


async def test_reconnects_with_backoff_and_resyncs_before_any_order(
    venue: Any, credentials: Credentials
) -> None:
    events = Events()
    backoff = RecordingBackoff(0.05)
    client = make_client(venue, credentials, events, backoff=backoff)
    await client.start()
    try:
        venue.refuse_next = 2  # the first two reconnect attempts fail: back-off must grow
        await venue.drop_all()
        await events.wait(ev.Disconnected)
        client.send_actions([insert(2)])  # too early: must not reach the venue
        await events.wait(ev.ActionRejected)
        assert events.of(ev.ActionRejected)[0].code == LocalError.NOT_READY
        await events.wait(ev.Resynced, 2)
        assert backoff.delays == [0.05, 0.1, 0.2]
        assert venue.connection_times[1] - venue.connection_times[0] >= 0.05 + 0.1 + 0.2
        client.send_actions([insert(3)])
        await venue.wait_for_method("private/insert", 1)
        calls = venue.methods[1]
        assert calls[:4] == SETUP
        first_order = calls.index("private/insert")
        assert set(calls[:first_order]) >= RESYNC
        assert calls.count("private/insert") == 1  # the early action was never sent
        assert len(venue.logins) == 2  # a fresh token for the new connection
    finally:
        await client.close()


async def test_system_reconnect_notice_cancels_and_reconnects_at_once(
    venue: Any, credentials: Credentials
) -> None:
    events = Events()
    backoff = RecordingBackoff(5.0)  # would make the test time out if it were used
    client = make_client(venue, credentials, events, backoff=backoff)
    await client.start()
    try:
        await venue.push("system", {"event": "reconnect"})
        await events.wait(ev.Resynced, 2)
        assert venue.methods[0][-1] == "private/cancel_session"
        assert backoff.delays == []
        assert venue.methods[1][:4] == SETUP
    finally:
        await client.close()


async def test_close_sends_cancel_session_last(venue: Any, credentials: Credentials) -> None:
    events = Events()
    client = make_client(venue, credentials, events)
    await client.start()
    client.send_actions([insert(4)])
    await events.wait(ev.OrderUpdate)
    await client.close()
    assert venue.methods[0][-1] == "private/cancel_session"
    assert client.phase is SessionPhase.CLOSED
    await asyncio.sleep(0.05)
    assert len(venue.methods) == 1  # closing does not reconnect


async def test_start_fails_fast_with_a_clear_error(venue: Any, credentials: Credentials) -> None:
    venue.refuse_next = 1
    client = make_client(venue, credentials, Events())
    with pytest.raises(VenueError, match="cannot start a Thalex session"):
        await client.start()
    await client.close()


async def test_credentials_never_appear_in_logs_or_errors(
    venue: Any,
    credentials: Credentials,
    wrong_credentials: Credentials,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    events = Events()
    good = make_client(venue, credentials, events)
    await good.start()
    good.send_actions([insert(5)])
    await events.wait(ev.OrderUpdate)
    await venue.drop_all()
    await events.wait(ev.Resynced, 2)
    await good.close()

    bad = make_client(venue, wrong_credentials, Events())
    with pytest.raises(VenueError) as info:
        await bad.start()
    await bad.close()
    assert "login refused" in str(info.value) and "19" in str(info.value)

    secrets = [credentials.key_id, *venue.tokens]
    for pem in (credentials.private_key_pem, wrong_credentials.private_key_pem):
        secrets += [line for line in pem.decode().splitlines() if "-----" not in line]
    secrets += [tok.split(".")[2] for tok in venue.tokens]  # signatures
    texts = [caplog.text, str(info.value), repr(info.value), repr(good), repr(credentials)]
    assert caplog.records  # the client did log (connects, reconnects, cancel_session)
    for text in texts:
        for secret in secrets:
            assert secret not in text


async def test_drop_during_setup_fails_start_at_once_not_after_the_request_timeout(
    venue: Any, credentials: Credentials
) -> None:
    venue.drop_on = "private/open_orders"
    cfg = ClientConfig(request_timeout_s=60.0, close_timeout_s=1.0)
    client = ThalexClient(venue.url, credentials, Events(), cfg)
    with pytest.raises(VenueError, match="connection lost"):
        await asyncio.wait_for(client.start(), 10.0)  # far below the 60 s request timeout
    await client.close()


async def test_core_may_send_orders_from_inside_the_resynced_event(
    venue: Any, credentials: Credentials
) -> None:
    events = Events()
    client: ThalexClient

    def on_event(event: ev.Event) -> None:
        events(event)
        if isinstance(event, ev.Resynced):
            client.send_actions([insert(len(events.of(ev.Resynced)))])

    client = make_client(venue, credentials, on_event)  # type: ignore[arg-type]
    await client.start()
    try:
        await events.wait(ev.OrderUpdate)
        assert events.of(ev.ActionRejected) == []
        assert venue.methods[0][-1] == "private/insert"
    finally:
        await client.close()


async def test_production_start_is_loud_and_queries_work(
    venue: Any, credentials: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    events = Events()
    # the fake server stands in for production: only the banner logic is under test here
    endpoint = Endpoint(Network.PRODUCTION, venue.url)
    client = ThalexClient(endpoint, credentials, events, ClientConfig(close_timeout_s=1.0))
    await client.start()
    try:
        banner = [
            r for r in caplog.records if "LIVE TRADING ON THALEX PRODUCTION" in r.getMessage()
        ]
        assert len(banner) == 1 and banner[0].levelno == logging.WARNING
        assert await client.call("private/portfolio") == []
        with pytest.raises(RequestFailedError) as info:
            await client.call("public/does_not_exist")
        assert info.value.code == 31
    finally:
        await client.close()


def test_runs_under_uvloop(fake_venue_class: Any, credentials: Credentials) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> list[str]:
        venue = fake_venue_class()
        await venue.start()
        events = Events()
        client = make_client(venue, credentials, events)
        await client.start()
        client.send_actions([insert(1)])
        await events.wait(ev.OrderUpdate)
        await client.close()
        await venue.stop()
        calls: list[str] = venue.methods[0]
        return calls

    calls = uvloop.run(scenario())
    assert calls[-2:] == ["private/insert", "private/cancel_session"]


def test_config_rejects_pings_slower_than_cancel_on_disconnect() -> None:
    with pytest.raises(ValueError, match="ping_interval_s"):
        ClientConfig(cancel_on_disconnect_s=5, ping_interval_s=5.0)
    with pytest.raises(ValueError, match="cancel_on_disconnect_s"):
        ClientConfig(cancel_on_disconnect_s=0)
