"""The fault injector decides the same faults for the same seed, and only the ones asked for."""

from __future__ import annotations

import itertools
import json

import pytest

from thalex_mm.exchange.fault_config import KINDS, FaultConfig, ScheduledFault
from thalex_mm.exchange.faults import REFUSED_CODE, FaultInjector
from thalex_mm.exchange.local import ExchangeConfig, LocalExchange
from thalex_mm.venue.thalex.codes import ErrorCode

S = 1_000_000_000
NOTE = b'{"channel_name":"ticker.BTC-PERPETUAL.raw","notification":{"mark_price":80000.5}}'
REPLY = b'{"id":7,"result":{"order_id":"abc"}}'


def drawn(seed: int, seconds: int = 600) -> list[tuple[float, str]]:
    faults = FaultInjector(FaultConfig(seed=seed, every_s=10.0), 0)
    out = []
    for t in range(0, seconds * S, S // 10):
        out += [(f.at_s, f.kind) for f in faults.due(t)]
    return out


def test_the_drawn_schedule_is_fixed_by_the_seed() -> None:
    first = drawn(5)
    assert first == drawn(5)
    assert first != drawn(6)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(first)]
    assert all(5.0 <= g <= 15.0 for g in gaps)  # every_s x 0.5..1.5
    assert {k for _, k in first} == set(KINDS)  # 60 draws reach every kind


def test_scheduled_faults_come_due_in_time_order_once() -> None:
    schedule = (ScheduledFault(3.0, "abort"), ScheduledFault(1.0, "close"))
    faults = FaultInjector(FaultConfig(schedule=schedule), 10 * S)
    assert faults.due(10 * S) == []
    assert [f.kind for f in faults.due(14 * S)] == ["close", "abort"]
    assert faults.due(20 * S) == []
    assert faults.injected == {"close": 1, "abort": 1}
    assert faults.next_due_s() is None


def test_a_throttle_storm_refuses_orders_and_cancels_while_it_lasts() -> None:
    faults = FaultInjector(FaultConfig(schedule=(ScheduledFault(1.0, "throttle_storm", 2.0),)), 0)
    assert faults.refuse(True, S // 2) is None
    faults.due(S)
    assert faults.refuse(True, 2 * S) == (
        ErrorCode.THROTTLE_EXCEEDED,
        "message rate exceeded (throttled)",
    )
    assert faults.refuse(False, 2 * S) is not None  # cancels too
    assert faults.refuse(True, 3 * S + 1) is None


def test_reject_refuses_the_share_asked_for_orders_only_after_after_s() -> None:
    faults = FaultInjector(FaultConfig(seed=1, reject=0.2, after_s=1.0), 0)
    assert all(faults.refuse(True, S // 2) is None for _ in range(100))
    refused = [faults.refuse(True, 2 * S) for _ in range(5000)]
    share = sum(r is not None for r in refused) / len(refused)
    assert 0.18 < share < 0.22
    assert {r[0] for r in refused if r is not None} == {REFUSED_CODE}
    assert all(faults.refuse(False, 2 * S) is None for _ in range(100))  # cancels pass


def test_garbled_and_truncated_frames_never_decode_and_stay_utf8() -> None:
    faults = FaultInjector(FaultConfig(seed=2, corrupt=0.5, truncate=0.5), 0)
    out = faults.outgoing(1, [NOTE] * 400, S)
    changed = [f for f in out if f != NOTE]
    assert len(changed) == faults.injected["corrupted"] + faults.injected["truncated"] > 250
    for frame in changed:
        frame.decode("utf-8")  # a text frame the client can read
        with pytest.raises(ValueError):
            json.loads(frame)


def test_duplicates_and_reorders_move_notifications_only() -> None:
    faults = FaultInjector(FaultConfig(seed=3, duplicate=0.3, reorder=0.3), 0)
    notes = [NOTE.replace(b"80000.5", str(n).encode()) for n in range(200)]
    out = faults.outgoing(1, [*notes, REPLY], S) + faults.outgoing(1, [REPLY], S)
    assert out.count(REPLY) == 2
    sent = [f for f in out if f != REPLY]
    assert set(sent) == set(notes)  # none lost
    assert len(sent) == len(notes) + faults.injected["duplicated"]
    assert faults.injected["duplicated"] > 20 and faults.injected["reordered"] > 20
    firsts = list(dict.fromkeys(sent))
    assert firsts != notes  # the order changed


def test_a_stall_holds_replies_and_a_delay_holds_notifications() -> None:
    stall = ScheduledFault(1.0, "stall", 2.0)
    faults = FaultInjector(FaultConfig(schedule=(stall,), delay_ms=100.0), 0)
    faults.due(S)
    assert faults.outgoing(1, [REPLY, NOTE], S) == []
    assert faults.held_sessions() == [1]
    assert faults.outgoing(1, [], S + 100_000_000) == [NOTE]  # the delay is over
    assert faults.outgoing(1, [], 2 * S) == []  # the stall is not
    assert faults.outgoing(1, [], 3 * S) == [REPLY]
    assert faults.outgoing(1, [REPLY], 3 * S) == [REPLY]


def test_a_muted_session_is_sent_nothing_and_forgotten_on_close() -> None:
    faults = FaultInjector(FaultConfig(delay_ms=1.0), 0)
    faults.outgoing(2, [NOTE], 0)
    faults.muted.add(1)
    assert faults.outgoing(1, [NOTE, REPLY], 0) == []
    faults.forget(1)
    faults.forget(2)
    assert faults.muted == set() and faults.held_sessions() == []
    assert faults.injected["unsent_at_close"] == 1


def test_without_faults_there_is_no_injector() -> None:
    ex = LocalExchange(ExchangeConfig(market=False))
    assert ex.faults is None and ex.hub.faults is None and ex.server.faults is None
    assert ex.faults_summary() == ""
    on = LocalExchange(ExchangeConfig(market=False, faults=FaultConfig(reject=0.1)))
    assert on.faults is not None and on.hub.faults is on.server.faults is on.faults
