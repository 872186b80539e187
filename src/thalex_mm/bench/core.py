"""Benchmark: the trading core's reaction, event in -> actions out (no sockets, no model
shortcuts): a BTC-perpetual-like instrument quoting 6 + 6 levels with GLFT, the mid on a
random walk, every action answered by a venue reply that the core also handles.

Metrics: ``core_tick_to_order_us_*``: a book update moving the mid by one tick (risk, stale
guard, model, ladder shaping, diff, final guard, and the amends it produces) with a 2-tick
amend threshold; ``core_tick_noop_us_median``: a book update that changes nothing;
``core_reply_us_median``: one order reply (which re-runs the cycle);
``core_requote_all_us_*``: the worst case, every level of both sides moved by an amend.

``core_wire_*``: the same two scenarios from the market-data frame's bytes to the order
frames' bytes, i.e. with the venue edge (protocol decode, translation to a core event, the
core, translation of its actions, throttle and request encoding); no socket. The replies go
straight to the core there, as in the core-only scenarios.

Cold caches (how the same code slows down when other work ran on the CPU in between, as it
does live): ``core_wire_requote_all_evicted_*`` is the full requote with 64 MiB of other
memory read before each tick (untimed); ``core_wire_one_order_us_median_<condition>`` is one
insert from the core's action to its frame bytes (translation, throttle, encoding) right
after nothing (``warm``), a 1 ms sleep (``idle_1ms``), or reading 4, 64 or 256 MiB of other
memory (``evicted_<n>mb``); the conditions take turns, so machine noise hits them alike.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Sequence

import msgspec
import numpy as np

from thalex_mm.core import events as ev
from thalex_mm.core.actions import Action, Amend, Cancel, Decision, Insert
from thalex_mm.core.config import (
    EngineConfig,
    InstrumentConfig,
    OrderManagerConfig,
    QuoterConfig,
    RiskConfig,
)
from thalex_mm.core.engine import Engine
from thalex_mm.domain import InstrumentKind, InstrumentSpec, Side
from thalex_mm.model.quote import LadderParams, QuoteParams
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.protocol import ThalexProtocol
from thalex_mm.venue.thalex.translate import Translator

NAME = "BTC-PERPETUAL"
SPEC = InstrumentSpec(NAME, InstrumentKind.PERPETUAL, "BTCUSD", 1.0, 0.001, 0.001, "FBTCUSD")
# the same instrument as the venue describes it (for the wire scenario's translator)
WIRE_INSTRUMENT = wire.Instrument(
    instrument_name=NAME,
    type="perpetual",
    product="FBTCUSD",
    tick_size=1.0,
    volume_tick_size=0.001,
    min_order_amount=0.001,
    underlying="BTCUSD",
)
LWT_CHANNEL = f"lwt.{NAME}.1000ms"


def _engine(threshold: int) -> Engine:
    cfg = InstrumentConfig(
        SPEC,
        quote=QuoteParams(
            gamma_usd=100.0, lot_size=0.001, ladder=LadderParams(levels=6, base_size_lots=5)
        ),
        quoter=QuoterConfig(sigma_default=5.0, fit_intensity=False, A=1.0, k=0.05),
        orders=OrderManagerConfig(amend_threshold_ticks=threshold),
        risk=RiskConfig(max_position=10.0, max_loss=1e9),
    )
    return Engine(EngineConfig((cfg,)))


class _Venue:
    """Answers each action with the reply the venue would send (orders are never filled)."""

    def __init__(self) -> None:
        self.orders: dict[int, list[int]] = {}  # client id -> [price, amount, side]
        self.next_oid = 0

    def reply(self, a: Action, now: int) -> ev.OrderUpdate:
        if isinstance(a, Insert):
            self.orders[a.client_order_id] = [a.price_ticks, a.amount_lots, int(a.side)]
            cid = a.client_order_id
            status = ev.OrderStatus.OPEN
        elif isinstance(a, Amend):
            assert a.client_order_id is not None
            cid = a.client_order_id
            self.orders[cid][0] = a.price_ticks
            self.orders[cid][1] = a.amount_lots
            status = ev.OrderStatus.OPEN
        else:
            assert isinstance(a, Cancel) and a.client_order_id is not None
            cid = a.client_order_id
            status = ev.OrderStatus.CANCELLED
        price, amount, side = self.orders[cid]
        remaining = amount if status.is_active else 0
        return ev.OrderUpdate(
            now, NAME, f"o{cid}", cid, Side(side), status, price, amount, 0, remaining,
            reply_to=a.action_id,
        )  # fmt: skip


def _scenario(ticks: int, threshold: int, steps: tuple[int, ...]) -> dict[str, list[int]]:
    """Time the engine over ``ticks`` book updates moving the mid by a step from ``steps``."""
    rng = random.Random(7)
    engine = _engine(threshold)
    venue = _Venue()
    actions: list[Action] = []
    decisions: list[Decision] = []
    now = 1_000_000
    mid = 100_000
    engine.handle_into(ev.Ticker(now, NAME, float(mid), float(mid)), actions, decisions)
    out: dict[str, list[int]] = {"moving": [], "noop": [], "reply": [], "actions": []}
    clock = time.perf_counter_ns
    for i in range(ticks):
        now += 1_000_000
        if i % 50 == 0:  # the mark follows the mid now and then
            engine.handle_into(ev.Ticker(now, NAME, float(mid), float(mid)), actions, decisions)
        mid += rng.choice(steps)
        top = ev.BookTop(now, NAME, mid - 2, 10, mid + 2, 10)
        actions.clear()
        t0 = clock()
        engine.handle_into(top, actions, decisions)
        out["moving"].append(clock() - t0)
        out["actions"].append(len(actions))
        sent = list(actions)
        while sent:
            update = venue.reply(sent.pop(), now)
            actions.clear()
            t0 = clock()
            engine.handle_into(update, actions, decisions)
            out["reply"].append(clock() - t0)
            sent.extend(actions)
        actions.clear()
        t0 = clock()
        engine.handle_into(top, actions, decisions)  # the same top again: nothing to do
        out["noop"].append(clock() - t0)
        decisions.clear()
    return out


class _Wire:
    """The venue edge without a socket: frames in through the protocol and translator, the
    core's actions out as encoded request frames."""

    def __init__(self, engine: Engine, actions: list[Action], decisions: list[Decision]) -> None:
        self.translator = Translator(lambda e: engine.handle_into(e, actions, decisions))
        self.translator.set_instruments([WIRE_INSTRUMENT])
        self.protocol = ThalexProtocol(lambda *_: None, 0)  # replies are simulated, not wired
        entry = self.translator.handler_for(LWT_CHANNEL)
        assert entry is not None
        self.protocol.route(LWT_CHANNEL, entry[0], entry[1])
        self.forget_requests(0)
        self.encoder = msgspec.json.Encoder()

    def frame(self, mid: int) -> bytes:
        top = {"m": float(mid), "b": [mid - 2.0, 0.01, 0.0], "a": [mid + 2.0, 0.01, 0.0]}
        return self.encoder.encode({"channel_name": LWT_CHANNEL, "notification": top})

    def tick(self, frame: bytes, now: int, actions: list[Action]) -> list[bytes]:
        """Frame in -> the order frames out (what the runner does per market-data frame)."""
        self.protocol.receive(frame, now)
        return self.encode(actions, now)

    def encode(self, actions: Sequence[Action], now: int) -> list[bytes]:
        """The core's actions -> their request frames (what ``send_actions`` does)."""
        submit = self.protocol.submit
        requests_for = self.translator.requests_for
        for action in actions:
            for method, params, context in requests_for(action, now):
                submit(method, params, now, context)
        return self.protocol.take_outgoing()

    def forget_requests(self, now: int) -> None:
        """Drop the pending table (its replies are simulated) and start a fresh throttle, at
        the non-persistent session's rate as the client sets it (so a full requote is not
        held back: the throttle's cost is timed, its waiting is not)."""
        self.protocol.connection_lost(now)
        self.protocol.throttle.set_non_persistent(now)
        self.protocol.ready = True


def _wire_scenario(
    ticks: int, threshold: int, steps: tuple[int, ...], *, evict_bytes: int = 0
) -> dict[str, list[int]]:
    """``_scenario``'s moving ticks, timed from the frame's bytes to the order frames.

    With ``evict_bytes`` a buffer that large is read before each tick (untimed)."""
    evict = np.ones(max(1, evict_bytes // 8)) if evict_bytes else None
    rng = random.Random(7)
    engine = _engine(threshold)
    venue = _Venue()
    actions: list[Action] = []
    decisions: list[Decision] = []
    edge = _Wire(engine, actions, decisions)
    now = 1_000_000
    mid = 100_000
    engine.handle_into(ev.Ticker(now, NAME, float(mid), float(mid)), actions, decisions)
    out: dict[str, list[int]] = {"moving": [], "frames": []}
    clock = time.perf_counter_ns
    for i in range(ticks):
        now += 1_000_000
        if i % 50 == 0:
            engine.handle_into(ev.Ticker(now, NAME, float(mid), float(mid)), actions, decisions)
        mid += rng.choice(steps)
        frame = edge.frame(mid)
        actions.clear()
        if evict is not None:
            evict.sum()
        t0 = clock()
        frames = edge.tick(frame, now, actions)
        out["moving"].append(clock() - t0)
        out["frames"].append(len(frames))
        sent = list(actions)
        while sent:
            update = venue.reply(sent.pop(), now)
            actions.clear()
            engine.handle_into(update, actions, decisions)
            sent.extend(actions)
        edge.forget_requests(now)
        decisions.clear()
    return out


EVICT_REQUOTE_MB = 64
EVICT_ONE_ORDER_MB = (4, 64, 256)


def _one_order_cold(rounds: int) -> dict[str, list[int]]:
    """One insert from action to frame bytes after each condition, the conditions in turn."""
    engine = _engine(1)
    actions: list[Action] = []
    decisions: list[Decision] = []
    edge = _Wire(engine, actions, decisions)
    engine.handle_into(ev.Ticker(1_000_000, NAME, 1e5, 1e5), actions, decisions)
    edge.tick(edge.frame(100_000), 1_000_000, actions)
    insert = [next(a for a in actions if isinstance(a, Insert))]
    buffers = {f"evicted_{mb}mb": np.ones((mb << 20) // 8) for mb in EVICT_ONE_ORDER_MB}
    out: dict[str, list[int]] = {"warm": [], "idle_1ms": [], **{k: [] for k in buffers}}
    clock = time.perf_counter_ns
    now = 2_000_000
    for _ in range(rounds):
        for condition, times in out.items():
            if condition == "idle_1ms":
                time.sleep(0.001)
            elif condition in buffers:
                buffers[condition].sum()
            now += 1_000
            t0 = clock()
            edge.encode(insert, now)
            times.append(clock() - t0)
            edge.forget_requests(now)
    return out


def _us(data: list[int], q: float) -> float:
    ordered = sorted(data)
    if not ordered:
        return 0.0
    if q == 0.5:
        return statistics.median(ordered) / 1000.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def run(quick: bool) -> dict[str, float | int | str]:
    ticks = 2_000 if quick else 20_000
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        # typical: the mid moves a tick, amends only for moves of 2+ ticks
        typical = _scenario(ticks, threshold=2, steps=(-1, 1))
        # worst case: every event moves every level (threshold 1, jumps of 5 ticks)
        full = _scenario(ticks // 4, threshold=1, steps=(-5, 5))
        wire_typical = _wire_scenario(ticks, threshold=2, steps=(-1, 1))
        wire_full = _wire_scenario(ticks // 4, threshold=1, steps=(-5, 5))
        wire_cold = _wire_scenario(
            ticks // 20, threshold=1, steps=(-5, 5), evict_bytes=EVICT_REQUOTE_MB << 20
        )
        one_order = _one_order_cold(20 if quick else 400)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        "core_tick_to_order_us_median": _us(typical["moving"], 0.5),
        "core_tick_to_order_us_p90": _us(typical["moving"], 0.9),
        "core_tick_to_order_us_p99": _us(typical["moving"], 0.99),
        "core_actions_per_tick": round(statistics.mean(typical["actions"]), 2),
        "core_tick_noop_us_median": _us(typical["noop"], 0.5),
        "core_reply_us_median": _us(typical["reply"], 0.5),
        "core_requote_all_us_median": _us(full["moving"], 0.5),
        "core_requote_all_us_p90": _us(full["moving"], 0.9),
        "core_requote_all_us_p99": _us(full["moving"], 0.99),
        "core_requote_all_actions_per_tick": round(statistics.mean(full["actions"]), 2),
        "core_wire_tick_to_order_us_median": _us(wire_typical["moving"], 0.5),
        "core_wire_tick_to_order_us_p90": _us(wire_typical["moving"], 0.9),
        "core_wire_tick_to_order_us_p99": _us(wire_typical["moving"], 0.99),
        "core_wire_requote_all_us_median": _us(wire_full["moving"], 0.5),
        "core_wire_requote_all_us_p99": _us(wire_full["moving"], 0.99),
        "core_wire_frames_per_requote_all": round(statistics.mean(wire_full["frames"]), 2),
        "core_wire_requote_all_evicted_us_median": _us(wire_cold["moving"], 0.5),
        "core_wire_requote_all_evicted_us_p99": _us(wire_cold["moving"], 0.99),
        **{f"core_wire_one_order_us_median_{k}": _us(v, 0.5) for k, v in one_order.items()},
        "core_ticks": ticks,
    }
