"""The fault injector of the local exchange, sans-I/O: it decides, the server acts.

One seeded object composed into the hub (refusals of requests) and the server (the frames a
session is sent, and the scheduled connection faults). It holds no sockets: `due` says which
scheduled faults have come, `refuse` whether a request is refused, `outgoing` what becomes of
a session's frames. The schedule is fixed by the seed; the per-frame draws come from their
own seeded generator, so the same sequence of frames and requests meets the same faults.
Without a `[faults]` table there is no injector at all, and every hook is one `is None` test.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter

from thalex_mm.exchange.fault_config import FaultConfig, ScheduledFault
from thalex_mm.venue.thalex.codes import ErrorCode

_NS = 1_000_000_000
_NOTIFICATION = b'{"channel_name"'
REFUSED_CODE = 20  # a temporary failure: the request was not run
_CONTROL = bytes(range(1, 9))  # never valid in JSON, always valid UTF-8


class FaultInjector:
    """Seeded decisions about faults; ``injected`` counts what was done, by kind."""

    def __init__(self, config: FaultConfig, start_wall_ns: int) -> None:
        self.config = config
        self.start_wall_ns = start_wall_ns
        self.injected: Counter[str] = Counter()
        self.history: list[tuple[int, ScheduledFault]] = []  # (wall ns, fault), first 10,000
        self.muted: set[int] = set()  # half-open sessions: nothing in, nothing out
        self._draw = random.Random(config.seed)
        self._plan = random.Random(f"schedule:{config.seed}")
        self._due: list[tuple[int, int, ScheduledFault]] = []
        for n, fault in enumerate(config.schedule):
            heapq.heappush(self._due, (start_wall_ns + int(fault.at_s * _NS), n, fault))
        self._seq = len(config.schedule)
        self._next_drawn_ns = self._draw_gap(start_wall_ns) if config.every_s else None
        self.storm_until_ns = 0
        self.stall_until_ns = 0
        self._frames_from_ns = start_wall_ns + int(config.after_s * _NS)
        self._held: dict[int, list[tuple[int, bytes]]] = {}
        self._late: dict[int, bytes] = {}  # a reordered frame: goes out after the next one

    # ---- the schedule --------------------------------------------------------------------
    def _draw_gap(self, from_ns: int) -> int:
        return from_ns + int(self.config.every_s * self._plan.uniform(0.5, 1.5) * _NS)

    def due(self, wall_ns: int) -> list[ScheduledFault]:
        """The scheduled (and drawn) faults whose time has come, in time order. Storms and
        stalls take effect here; the rest is for the server to carry out."""
        out: list[ScheduledFault] = []
        due = self._due
        while due and due[0][0] <= wall_ns:
            out.append(heapq.heappop(due)[2])
        cfg = self.config
        while self._next_drawn_ns is not None and self._next_drawn_ns <= wall_ns:
            at_s = (self._next_drawn_ns - self.start_wall_ns) / _NS
            out.append(ScheduledFault(at_s, self._plan.choice(cfg.kinds), cfg.duration_s))
            self._next_drawn_ns = self._draw_gap(self._next_drawn_ns)
        for fault in out:
            self.injected[fault.kind] += 1
            if len(self.history) < 10_000:
                self.history.append((wall_ns, fault))
            until = wall_ns + int(fault.duration_s * _NS)
            if fault.kind == "throttle_storm":
                self.storm_until_ns = max(self.storm_until_ns, until)
            elif fault.kind == "stall":
                self.stall_until_ns = max(self.stall_until_ns, until)
        return out

    def next_due_s(self) -> float | None:
        """Seconds from the start to the next fault, None when none is left (tests)."""
        times = [t for t, _, _ in self._due[:1]]
        if self._next_drawn_ns is not None:
            times.append(self._next_drawn_ns)
        return (min(times) - self.start_wall_ns) / _NS if times else None

    # ---- requests ------------------------------------------------------------------------
    def refuse(self, order: bool, wall_ns: int) -> tuple[int, str] | None:
        """(code, message) when a rate-limited request (``order``: not a cancel) is refused."""
        if wall_ns < self.storm_until_ns:
            self.injected["throttled"] += 1
            return ErrorCode.THROTTLE_EXCEEDED, "message rate exceeded (throttled)"
        share = self.config.reject
        if order and share and wall_ns >= self._frames_from_ns and self._draw.random() < share:
            self.injected["rejected"] += 1
            return REFUSED_CODE, "order refused: temporarily unavailable"
        return None

    # ---- frames out ----------------------------------------------------------------------
    def outgoing(self, session_id: int, frames: list[bytes], wall_ns: int) -> list[bytes]:
        """What is written of ``frames`` now: held frames that are due first, then the new
        ones that are not held (stalled replies, delayed notifications), each maybe
        duplicated, swapped with the next, corrupted or cut short."""
        if session_id in self.muted:
            self.injected["muted_frames"] += len(frames)
            return []
        if wall_ns < self._frames_from_ns and wall_ns >= self.stall_until_ns:
            return frames
        cfg = self.config
        ready: list[bytes] = []
        held = self._held.get(session_id)
        if held:
            keep = [(t, f) for t, f in held if t > wall_ns]
            ready.extend(f for t, f in held if t <= wall_ns)
            self._held[session_id] = keep
        delay_ns = int(cfg.delay_ms * 1_000_000)
        for frame in frames:
            notification = frame.startswith(_NOTIFICATION)
            if not notification and wall_ns < self.stall_until_ns:
                self._hold(session_id, self.stall_until_ns, frame, "stalled_replies")
            elif notification and delay_ns:
                self._hold(session_id, wall_ns + delay_ns, frame, "delayed")
            else:
                ready.append(frame)
        if not ready:
            return ready
        return self._mangle(session_id, ready)

    def _hold(self, session_id: int, until_ns: int, frame: bytes, kind: str) -> None:
        self._held.setdefault(session_id, []).append((until_ns, frame))
        self.injected[kind] += 1

    def _mangle(self, session_id: int, frames: list[bytes]) -> list[bytes]:
        cfg = self.config
        draw = self._draw.random
        out: list[bytes] = []
        late = self._late.pop(session_id, None)
        for original in frames:
            notification = original.startswith(_NOTIFICATION)
            frame = original
            if cfg.corrupt and draw() < cfg.corrupt:
                frame = self._corrupt(original)
            elif cfg.truncate and draw() < cfg.truncate:
                frame = self._truncate(original)
            if notification and cfg.reorder and late is None and draw() < cfg.reorder:
                late = frame  # goes out after the next frame (in this write or a later one)
                self.injected["reordered"] += 1
                continue
            out.append(frame)
            if late is not None:
                out.append(late)
                late = None
            if notification and cfg.duplicate and draw() < cfg.duplicate:
                out.append(frame)
                self.injected["duplicated"] += 1
        if late is not None:
            self._late[session_id] = late
        return out

    def _corrupt(self, frame: bytes) -> bytes:
        """One byte overwritten with a control character: the frame stays valid UTF-8, so it
        reaches the client's decoder instead of failing the WebSocket, and it is never valid
        JSON, so it stands for a garbled frame (a digit swapped for a digit would be a wrong
        price, which no decoder can tell, and TCP and TLS do not let through)."""
        self.injected["corrupted"] += 1
        at = self._draw.randrange(len(frame))
        return frame[:at] + bytes((self._draw.choice(_CONTROL),)) + frame[at + 1 :]

    def _truncate(self, frame: bytes) -> bytes:
        self.injected["truncated"] += 1
        cut = frame[: self._draw.randrange(len(frame))]
        return cut.decode("utf-8", "ignore").encode()

    def held_sessions(self) -> list[int]:
        """Sessions with frames waiting (the server flushes them on its clock)."""
        return [sid for sid, held in self._held.items() if held]

    def forget(self, session_id: int) -> None:
        """The session closed: what it still had held is never sent."""
        held = self._held.pop(session_id, None)
        if held:
            self.injected["unsent_at_close"] += len(held)
        self._late.pop(session_id, None)
        self.muted.discard(session_id)
