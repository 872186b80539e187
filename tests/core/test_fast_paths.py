"""The order manager's fast paths never leave work undone at rest.

A side is skipped when nothing changed (quiet), the other side's price bound is cached, and a
reply that lands an order exactly on its target does not trigger a new diff when the last one
left nothing owed. Whenever no action is waiting for its reply, a copy of the engine whose
fast-path state is reset (white box) and which re-diffs both sides from scratch at the same
moment must find nothing to send: everything the full diff would do, the engine already did.
"""

from __future__ import annotations

import copy

from _core_testkit import MS, NAME, SPEC, FakeVenue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thalex_mm.core import events as ev
from thalex_mm.core.actions import Action, CancelAll
from thalex_mm.core.config import (
    EngineConfig,
    InstrumentConfig,
    OrderManagerConfig,
    QuoterConfig,
    RiskConfig,
)
from thalex_mm.core.engine import Engine
from thalex_mm.model.quote import LadderParams, QuoteParams


def make_engine(
    threshold: int, min_interval_ms: float, refresh_ms: float, limit: int, sizes: tuple[float, ...]
) -> Engine:
    ladder = LadderParams(levels=5, base_size_lots=3, size_multipliers=sizes)
    cfg = InstrumentConfig(
        SPEC,
        quote=QuoteParams(gamma_usd=100, lot_size=0.001, ladder=ladder),
        quoter=QuoterConfig(sigma_default=5.0, fit_intensity=False, A=1.0, k=0.05),
        orders=OrderManagerConfig(
            max_orders_per_side=4,
            max_orders_total=7,
            amend_threshold_ticks=threshold,
            min_update_interval_ms=min_interval_ms,
            refresh_interval_ms=refresh_ms,
        ),
        risk=RiskConfig(max_position=limit * SPEC.amount_step, price_band=0.0),
    )
    return Engine(EngineConfig((cfg,)))


def forget_fast_path_state(engine: Engine) -> None:
    """Make the next diff of both sides start from scratch, as if every order had changed."""
    mgr = engine.instruments[NAME].orders
    mgr._side_dirty[:] = [True, True]
    mgr._ranked[:] = [None, None]
    mgr._bounds[:] = [None, None]


def as_plain(actions: list[Action]) -> list[tuple[object, ...]]:
    return [(type(a).__name__, *(getattr(a, f) for f in a.__struct_fields__)) for a in actions]


step = st.one_of(
    st.tuples(st.just("market"), st.integers(-12, 12)),
    st.tuples(st.just("same"), st.just(0)),
    st.tuples(st.just("answer"), st.integers(0, 99), st.booleans()),
    st.tuples(st.just("answer_all"), st.just(0)),
    st.tuples(st.just("fill"), st.integers(0, 99), st.integers(1, 4)),
    st.tuples(st.just("timer"), st.integers(1, 40)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(step, min_size=5, max_size=60),
    st.integers(1, 3),
    st.sampled_from([12, 40, 10_000]),
    st.sampled_from([(), (1.0, 2.0, 1.0, 3.0, 1.5)]),
)
def test_nothing_owed_at_rest(steps, threshold, limit, sizes):
    engine = make_engine(threshold, 0, 0, limit, sizes)
    venue = FakeVenue()
    now = MS
    mid = 100_000

    def feed(event):
        out = engine.handle(event)
        venue.submit([a for a in out.actions if not isinstance(a, CancelAll)])
        if not venue.pending:  # at rest: a from-scratch diff now must agree
            probe = copy.deepcopy(engine)
            forget_fast_path_state(probe)
            assert as_plain(probe.handle(ev.Timer(now)).actions) == []

    feed(ev.Ticker(now, NAME, float(mid), float(mid)))
    feed(ev.BookTop(now, NAME, mid - 3, 10, mid + 3, 10))
    for op in steps:
        now += MS
        kind = op[0]
        if kind in ("market", "same"):
            mid += op[1]
            feed(ev.BookTop(now, NAME, mid - 3, 10, mid + 3, 10))
        elif kind == "answer" and venue.pending:
            index = op[1] % len(venue.pending)
            if op[2]:
                aid, _ = venue.pending.pop(index)
                feed(ev.ActionRejected(now, aid, 4, "throttled"))
            else:
                feed(venue.answer(index, now))
        elif kind == "answer_all":
            while venue.pending:
                feed(venue.answer(0, now))
        elif kind == "fill" and venue.active():
            o = venue.active()[op[1] % len(venue.active())]
            feed(venue.fill(o.oid, op[2], now))
        elif kind == "timer":
            now += op[1] * MS
            feed(ev.Timer(now))
