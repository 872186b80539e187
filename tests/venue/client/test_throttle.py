"""The token buckets allow the documented rates and the error-4 cool-down stops retry storms."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.venue.thalex.throttle import (
    NS_PER_S,
    RequestClass,
    Throttle,
    ThrottleConfig,
    TokenBucket,
    classify,
)

MS = 1_000_000
EXACT = ThrottleConfig(headroom=1.0)


def accepted_times(throttle: Throttle, cls: RequestClass, attempts_ns: list[int]) -> list[int]:
    return [t for t in attempts_ns if throttle.try_acquire(cls, t)]


def test_persistent_session_allows_documented_10_per_second_sustained() -> None:
    throttle = Throttle(0, EXACT)
    attempts = list(range(0, 10 * NS_PER_S, MS))  # demand: one request every millisecond
    sent = accepted_times(throttle, RequestClass.ORDER, attempts)
    # burst of one second's worth, then the rate: 10 + 10/s * 10 s (the last may be cut off)
    assert 10 + 10 * 10 - 1 <= len(sent) <= 10 + 10 * 10
    # after the burst, sends are spaced by the rate
    gaps = [b - a for a, b in itertools.pairwise(sent[10:])]
    assert min(gaps) >= NS_PER_S // 10 - MS


def test_cancel_on_disconnect_raises_order_rate_to_50_and_cancels_have_their_own_bucket() -> None:
    throttle = Throttle(0, EXACT)
    throttle.set_non_persistent(0, 50)
    # drain the (now 50-deep) bucket at t=0 after the reconfigure: capacity 50
    orders_at_0 = accepted_times(throttle, RequestClass.ORDER, [0] * 200)
    assert len(orders_at_0) == 50
    # orders exhausted, but cancels still flow at their own 1000/s
    cancels_at_0 = accepted_times(throttle, RequestClass.CANCEL, [0] * 2000)
    assert len(cancels_at_0) == 1000
    one_second = list(range(MS, NS_PER_S + MS, MS))  # (0, 1 s]
    assert len(accepted_times(throttle, RequestClass.ORDER, one_second)) == 50


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=5 * NS_PER_S), min_size=1, max_size=400),
    st.sampled_from([10.0, 50.0, 1000.0]),
)
def test_no_window_ever_exceeds_capacity_plus_rate(times: list[int], rate: float) -> None:
    times.sort()
    bucket = TokenBucket(rate, rate, 0)
    sent = [t for t in times if bucket.try_take(t)]
    window = NS_PER_S // 2
    for i, start in enumerate(sent):
        in_window = sum(1 for t in sent[i:] if t < start + window)
        assert in_window <= rate + rate * window / NS_PER_S + 1e-9


def test_headroom_keeps_sustained_rate_below_the_documented_limit() -> None:
    throttle = Throttle(0, ThrottleConfig(headroom=0.8))
    throttle.set_non_persistent(0, 50)
    sent = accepted_times(throttle, RequestClass.ORDER, list(range(0, 20 * NS_PER_S, MS)))
    assert len(sent) / 20 < 50
    assert len(sent) / 20 > 0.75 * 50


def test_error_4_pauses_everything_and_backs_off_exponentially() -> None:
    cfg = ThrottleConfig(headroom=1.0, backoff_initial_ns=100 * MS, backoff_max_ns=400 * MS)
    throttle = Throttle(0, cfg)
    end1 = throttle.on_throttle_error(0)
    assert end1 == 100 * MS
    assert not throttle.try_acquire(RequestClass.ORDER, 50 * MS)
    assert not throttle.try_acquire(RequestClass.CANCEL, 50 * MS)
    # more errors for requests already in flight during the cool-down do not extend it
    assert throttle.on_throttle_error(60 * MS) == end1
    # after the cool-down the bucket refills from empty, at the rate (10/s -> 100 ms per token)
    assert not throttle.try_acquire(RequestClass.ORDER, end1 + 50 * MS)
    assert throttle.try_acquire(RequestClass.ORDER, end1 + 100 * MS)
    end2 = throttle.on_throttle_error(end1 + 100 * MS)
    assert end2 - (end1 + 100 * MS) == 200 * MS  # doubled
    end3 = throttle.on_throttle_error(end2)
    end4 = throttle.on_throttle_error(end3)
    assert end3 - end2 == 400 * MS and end4 - end3 == 400 * MS  # capped
    throttle.on_accepted(end4 + 1)
    assert throttle.on_throttle_error(end4 + 2) - (end4 + 2) == 100 * MS  # reset after success


def test_ready_at_accounts_for_cooldown_and_tokens() -> None:
    throttle = Throttle(0, EXACT)
    for _ in range(10):
        assert throttle.try_acquire(RequestClass.ORDER, 0)
    ready = throttle.ready_at_ns(RequestClass.ORDER, 0)
    assert not throttle.try_acquire(RequestClass.ORDER, ready - 2 * MS)
    assert throttle.try_acquire(RequestClass.ORDER, ready)
    end = throttle.on_throttle_error(ready)
    assert throttle.ready_at_ns(RequestClass.CANCEL, ready) >= end


def test_classify_counts_cancels_separately() -> None:
    assert classify("private/cancel") is RequestClass.CANCEL
    assert classify("private/cancel_session") is RequestClass.CANCEL
    assert classify("private/amend") is RequestClass.ORDER
    assert classify("private/mass_quote") is RequestClass.ORDER
    assert classify("public/subscribe") is RequestClass.ORDER
