"""The engine's memory of fills is bounded (issue 6: RSS must stay flat over a long run),
and deduplication still holds where the venue can repeat a fill: recent fills (the FIFO) and
the fills of orders still open, which a resync lists again however old they are (pins)."""

from __future__ import annotations

import dataclasses
import gc
import math
import sys
import types

from _core_testkit import NAME, SPEC
from hypothesis import given, settings
from hypothesis import strategies as st

from thalex_mm.core import events as ev
from thalex_mm.core.config import (
    AccountingConfig,
    EngineConfig,
    InstrumentConfig,
    OrderManagerConfig,
    QuoterConfig,
    RiskConfig,
)
from thalex_mm.core.engine import Engine
from thalex_mm.core.position import Position, TradeIds
from thalex_mm.domain import Side
from thalex_mm.model.quote import QuoteParams

T0 = 10**12

_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def deep_size(root: object) -> int:
    """Bytes of every object reachable from ``root`` (code, classes and modules excepted)."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def engine(trade_id_memory: int | None = None) -> Engine:
    """One instrument that does not quote (only fills matter here), synced."""
    inst = InstrumentConfig(
        SPEC, quote=QuoteParams(), quoter=QuoterConfig(), orders=OrderManagerConfig(),
        risk=RiskConfig(max_position=1000.0), quoting=False,
    )  # fmt: skip
    cfg = EngineConfig((inst,))
    if trade_id_memory is not None:
        cfg = dataclasses.replace(cfg, trade_id_memory=trade_id_memory)
    e = Engine(cfg)
    e.handle(ev.Resynced(T0, (), ()))
    return e


def closed_fill(now: int, i: int, side: Side = Side.BUY) -> ev.OrderUpdate:
    """An order of ours filled (1 lot) and closed by that fill."""
    fill = ev.Fill(f"T{i:012d}", side, 100_000, 1)
    return ev.OrderUpdate(
        now, NAME, f"O{i:012d}", None, side, ev.OrderStatus.FILLED, 100_000, 1, 1, 0, (fill,)
    )


def flat_fills(e: Engine, start: int, n: int) -> None:
    """``n`` fills alternating buy and sell (the position stays within a lot)."""
    for i in range(start, start + n):
        e.handle(closed_fill(T0 + i, i, Side.BUY if i % 2 == 0 else Side.SELL))


# --- TradeIds ------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 8),
    keys=st.lists(st.integers(0, 12), max_size=80),
)
def test_trade_ids_forget_only_beyond_the_newest_capacity_keys(
    capacity: int, keys: list[int]
) -> None:
    ids = TradeIds(capacity)
    accepted: list[int] = []  # the model: keys taken as new, oldest first
    for key in keys:
        expected_new = key not in accepted[-capacity:]
        assert ids.add(key) is expected_new
        if expected_new:
            accepted.append(key)
        assert len(ids) == min(len(accepted), capacity)
        assert all(k in ids for k in accepted[-capacity:])


def test_pinned_keys_outlive_the_fifo_until_unpinned() -> None:
    ids = TradeIds(capacity=10)
    ids.add("old")
    ids.pin("ORDER-1", ["old"])
    ids.pin("ORDER-2", ["old"])  # a key may belong to two listings; counted once each
    for i in range(1000):
        ids.add(i)
    assert len(ids) == 10 and "old" in ids and not ids.add("old")
    ids.unpin("ORDER-1")
    assert "old" in ids  # ORDER-2 still holds it
    ids.keep_only(["ORDER-3"])  # a resync that lists neither
    assert ids.pinned == 0 and "old" not in ids and ids.add("old")


def test_pinned_orders_are_capped_oldest_released_first() -> None:
    """A venue that never reports replaced quotes closed must not grow the pins forever."""
    ids = TradeIds(capacity=50)
    for i in range(1000):
        ids.add(f"k{i}")
        ids.pin(f"order{i}", [f"k{i}"])
    assert len(ids.pins()) == 50 and ids.pinned == 50
    assert "order999" in ids.pins() and "order949" not in ids.pins()
    assert "k999" in ids and "k0" not in ids


def test_estimates_are_forgotten_with_their_keys() -> None:
    ids = TradeIds(capacity=3)
    for key in "abcd":
        assert ids.add(key)
        ids.set_estimate(key, 0.25)
    assert ids.take_estimate("a") is None  # evicted with "a"
    assert ids.take_estimate("d") == 0.25
    assert ids.take_estimate("d") is None  # taken once


def test_positions_keep_no_per_instrument_fee_memory() -> None:
    """Three instruments' positions share one bounded memory: once it is full, 50x more
    fills (fees estimated, never confirmed) do not grow what they hold, and the newest
    fill's estimate is still replaced by its real fee."""
    shared = TradeIds(capacity=1000)
    cfg = AccountingConfig(maker_fee_rate=0.0002)
    positions = [Position(SPEC, cfg, shared) for _ in range(3)]

    def fills(start: int, n: int) -> None:
        for i in range(start, start + n):
            side = Side.BUY if i % 2 == 0 else Side.SELL
            for k, pos in enumerate(positions):
                assert pos.apply(ev.Fill(f"{k}-{i:06d}", side, 100_000, 1))

    def peak(start: int) -> int:  # the largest size over 5 steps (a dict's table breathes)
        sizes = []
        for step in range(5):
            fills(start + 400 * step, 400)
            sizes.append(deep_size(positions))
        return max(sizes)

    early = peak(0)  # from 1200 keys on, the shared memory is full
    fills(2000, 16_000)
    late = peak(18_000)
    assert len(shared) == 1000
    assert late <= early * 1.05
    recent = ev.Fill(f"2-{19_999:06d}", Side.SELL, 100_000, 1, fee=0.01)
    before = positions[2].fees
    assert not positions[2].apply(recent)  # still known: only the fee is corrected
    assert positions[2].fees == before - 0.0002 * 100_000 * 1 * SPEC.amount_step + 0.01
    assert not math.isnan(positions[2].fees)


# --- the engine ----------------------------------------------------------------------------
def test_engine_memory_is_flat_over_many_fills() -> None:
    """The default configuration: 24,576 fills (6x the documented 4096) cost no more memory
    than the first 8192."""
    e = engine()
    n = 8192

    def peak(start: int) -> int:  # the largest size over 4 steps (a dict's table breathes)
        sizes = []
        for step in range(4):
            flat_fills(e, start + step * n // 4, n // 4)
            sizes.append(deep_size(e))
        return max(sizes)

    early = peak(0)
    flat_fills(e, n, n)
    late = peak(2 * n)
    assert e.instruments[NAME].position.fill_count == 3 * n
    assert late <= early * 1.05  # flat, not growing per fill
    assert len(e.trade_ids) <= 4096
    # the newest fills are still deduplicated
    last = closed_fill(T0 + 10**9, 3 * n - 1, Side.BUY if (3 * n - 1) % 2 == 0 else Side.SELL)
    lots = e.instruments[NAME].position.lots
    e.handle(last)
    assert e.instruments[NAME].position.lots == lots
    assert e.instruments[NAME].position.fill_count == 3 * n


def test_an_open_orders_old_fill_listed_at_a_resync_counts_once() -> None:
    """A resting order filled long ago (thousands of fills since) and still open: the
    resync's open orders list that fill again, and it must not count twice."""
    e = engine(trade_id_memory=1000)
    old = ev.Fill("OLD", Side.BUY, 100_000, 3)

    def resting(now: int) -> ev.OrderUpdate:
        return ev.OrderUpdate(
            now, NAME, "RESTING", None, Side.BUY, ev.OrderStatus.PARTIALLY_FILLED,
            100_000, 10, 3, 7, (old,),
        )  # fmt: skip

    e.handle(resting(T0 + 1))
    position = e.instruments[NAME].position
    assert position.lots == 3
    flat_fills(e, 10, 5000)  # the FIFO forgets "OLD" many times over
    assert position.lots == 3 and len(e.trade_ids) == 1000
    e.handle(ev.Disconnected(T0 + 10**10))
    e.handle(ev.Resynced(T0 + 10**10 + 1, (resting(T0 + 10**10 + 1),), ()))
    assert position.lots == 3  # not 6
    assert e.trade_ids.pinned == 1


def test_pins_are_released_when_orders_close_or_vanish() -> None:
    e = engine()
    ids = e.trade_ids
    for i in range(500):  # partially filled, then filled: pinned, then released
        oid, side = f"P{i}", Side.BUY if i % 2 == 0 else Side.SELL
        part = ev.Fill(f"A{i}", side, 100_000, 1)
        rest = ev.Fill(f"B{i}", side, 100_000, 1)
        e.handle(
            ev.OrderUpdate(
                T0 + 2 * i, NAME, oid, None, side, ev.OrderStatus.PARTIALLY_FILLED,
                100_000, 2, 1, 1, (part,),
            )
        )  # fmt: skip
        assert ids.pins().get(oid) == {(f"A{i}", int(side))}
        e.handle(
            ev.OrderUpdate(
                T0 + 2 * i + 1, NAME, oid, None, side, ev.OrderStatus.FILLED,
                100_000, 2, 2, 0, (rest,),
            )
        )  # fmt: skip
    assert ids.pinned == 0 and not ids.pins()
    # an order whose closing update was missed (a disconnect) is released by the resync
    lost = ev.Fill("LOST", Side.BUY, 100_000, 1)
    e.handle(
        ev.OrderUpdate(
            T0 + 5000, NAME, "GONE", None, Side.BUY, ev.OrderStatus.PARTIALLY_FILLED,
            100_000, 2, 1, 1, (lost,),
        )
    )  # fmt: skip
    assert ids.pinned == 1
    e.handle(ev.Disconnected(T0 + 6000))
    e.handle(ev.Resynced(T0 + 6001, (), ()))
    assert ids.pinned == 0 and not ids.pins()
