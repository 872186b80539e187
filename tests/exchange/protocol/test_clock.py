"""The hub's clock: simulated time, market steps and rate limits on the wall clock."""

from __future__ import annotations

from _protocol_kit import MS, T0, Harness

from thalex_mm.exchange.engine import Event
from thalex_mm.exchange.hub import SimClock
from thalex_mm.exchange.ratelimit import SessionLimits


class RecordingMarket:
    def __init__(self) -> None:
        self.steps: list[int] = []

    def step(self, now_ns: int) -> list[Event]:
        self.steps.append(now_ns)
        return []


def test_sim_clock_scales_elapsed_wall_time() -> None:
    clock = SimClock(wall_origin_ns=1_000, sim_origin_ns=50_000, time_scale=2.5)
    assert clock.sim_ns(1_000) == 50_000
    assert clock.sim_ns(1_400) == 51_000


def test_market_is_primed_then_stepped_every_20ms_of_simulated_time() -> None:
    market = RecordingMarket()
    h = Harness(market=market, time_scale=10.0)
    assert market.steps == [T0]  # the first prices exist before anyone connects
    h.advance(10)  # 10 ms of wall time = 100 ms simulated
    assert market.steps[1:] == [T0 + k * 20 * MS for k in range(1, 6)]
    h.advance(1)  # 10 ms simulated: not yet a full step
    assert len(market.steps) == 6


def test_a_market_that_falls_behind_skips_ahead_instead_of_spiralling() -> None:
    market = RecordingMarket()
    h = Harness(market=market, time_scale=1000.0)
    h.wall_ns += 1_000 * MS  # 1000 s simulated = 50 000 steps owed
    h.hub.tick(h.wall_ns, max_steps=100)
    assert len(market.steps) == 1 + 100
    assert h.hub.market_ns == h.sim_ns  # caught up by skipping
    h.advance(0.02)  # 20 ms simulated: exactly one more step
    assert len(market.steps) == 102


def test_rate_limits_use_the_wall_clock_even_when_simulated_time_runs_fast() -> None:
    h = Harness(time_scale=1000.0)
    session = h.open()
    h.login(session, cod=False)
    params = {"direction": "buy", "instrument_name": "BTC-PERPETUAL", "amount": 0.01}
    for i in range(10):
        h.call(session, "private/insert", params | {"price": 60_000 + i}, id=i + 1)
        h.wall_ns += 1 * MS  # 1 s simulated each, but only 1 ms of wall time
    reply = h.call(session, "private/insert", params | {"price": 59_000}, id=99)
    assert reply["error"]["code"] == 4


def test_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    limits = SessionLimits.new(0)
    bucket = limits.orders  # 10/s for a persistent session
    assert sum(bucket.try_take(0) for _ in range(15)) == 10
    assert sum(bucket.try_take(300 * MS) for _ in range(15)) == 3
    assert sum(bucket.try_take(10_000 * MS) for _ in range(15)) == 10  # capped at the burst
    assert limits.make_non_persistent(10_000 * MS) == 50
    assert sum(bucket.try_take(10_000 * MS) for _ in range(60)) == 40  # raised by the difference
