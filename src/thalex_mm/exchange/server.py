"""The WebSocket edge of the local exchange (asyncio, `websockets`).

It only moves bytes and time: each text frame goes to the connection's `Session`, the clock
task calls `ExchangeHub.tick`, and whatever the sessions' outboxes hold is written out
synchronously (no per-frame awaits, so fan-out stays cheap). Anything received, including a
WebSocket ping, refreshes the session's heartbeat; `websockets` answers the pings itself.
Compression is off: it costs more CPU than loopback bandwidth saves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from thalex_mm.exchange.fault_config import ScheduledFault
from thalex_mm.exchange.faults import FaultInjector
from thalex_mm.exchange.hub import ExchangeHub
from thalex_mm.exchange.session import Session

log = logging.getLogger("thalex_mm.exchange")

WS_PATH = "/ws/api/v2"
MAX_INCOMING_BYTES = 8 << 20  # larger frames close the socket; 1-8 MiB get an error reply
SLOW_CONSUMER_BYTES = 64 << 20  # a client this far behind is disconnected
_MAX_STEPS_PER_TICK = 200  # bounds how long one tick holds the loop when the market runs fast


class _Connection(ServerConnection):
    """A connection that reports every received chunk (data frames and pings alike)."""

    on_bytes: Callable[[], None] | None = None

    def data_received(self, data: bytes) -> None:
        callback = self.on_bytes
        if callback is not None:
            callback()
        super().data_received(data)


class WallClock:
    """Epoch nanoseconds that never go backwards (anchored once, advanced by monotonic)."""

    def __init__(self) -> None:
        self._epoch = time.time_ns()
        self._mono = time.monotonic_ns()

    def now_ns(self) -> int:
        return self._epoch + time.monotonic_ns() - self._mono


class ExchangeServer:
    def __init__(
        self,
        hub: ExchangeHub,
        clock: WallClock,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval_s: float = 0.005,
        *,
        flow_control_bytes: int = 0,
        faults: FaultInjector | None = None,
    ) -> None:
        self.hub = hub
        self.faults = faults  # None: no fault is injected and nothing below costs anything
        self.on_restart: Callable[[ScheduledFault], None] | None = None  # set by LocalExchange
        self.clock = clock
        self.host = host
        self.port = port
        self.tick_interval_s = tick_interval_s
        # > 0: skip clock ticks while a client has more than this many bytes unsent (ceiling
        # benchmarks: the market waits instead of outrunning the reader); 0: never wait
        self.flow_control_bytes = flow_control_bytes
        self.connections: dict[int, _Connection] = {}
        self.messages_in = 0
        self.frames_out = 0
        self._server: Server | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            max_size=MAX_INCOMING_BYTES,
            compression=None,
            process_request=_check_path,
            create_connection=_Connection,
        )
        sockets = list(self._server.sockets)
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self._clock_task = asyncio.create_task(self._run_clock(), name="exchange-clock")

    async def stop(self, *, abrupt: bool = False) -> None:
        """Tell subscribers on `system`, close every connection (cancel-on-disconnect runs).

        ``abrupt`` (an injected restart): no notice and no close frames, every TCP
        connection is reset as if the process had died."""
        if abrupt:
            for ws in list(self.connections.values()):
                if ws.transport is not None:
                    ws.transport.abort()
        else:
            self.hub.feeds.system_event("reconnect")
        self.flush()
        if self._clock_task is not None:
            self._clock_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock_task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.flush()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{WS_PATH}"

    # ---- connections ---------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, _Connection)
        clock = self.clock
        session = self.hub.open_session(clock.now_ns())
        self.connections[session.session_id] = ws
        ws.on_bytes = lambda: session.touch(clock.now_ns())
        faults = self.faults
        try:
            async for message in ws:
                if faults is not None and session.session_id in faults.muted:
                    continue  # half-open: what was already buffered is not answered either
                self.messages_in += 1
                session.receive(message, clock.now_ns())
                self.flush()
        except ConnectionClosed:
            pass
        finally:
            ws.on_bytes = None
            if faults is not None:
                faults.forget(session.session_id)
            self.connections.pop(session.session_id, None)
            try:
                self.hub.close_session(session, clock.now_ns())
            except Exception:
                log.exception("ending %r failed", session)
            self.flush()

    def flush(self) -> None:
        """Write every ready session's frames (synchronously, into the transports)."""
        faults = self.faults
        for session in self.hub.take_ready():
            frames = session.take_output()
            if faults is not None:
                frames = faults.outgoing(session.session_id, frames, self.clock.now_ns())
            if not frames:
                continue
            ws = self.connections.get(session.session_id)
            if ws is None:
                session.counters.frames_unsent_at_close += len(frames)
                continue
            self._write(ws, session, frames)

    def _write(self, ws: _Connection, session: Session, frames: list[bytes]) -> None:
        """All of a session's frames in one transport write (one syscall, not one per frame).

        Text frames are framed here (server frames are unmasked and compression is off), so
        the protocol object is only asked whether the connection is still open.
        """
        counters = session.counters
        transport = ws.transport
        protocol = ws.protocol
        if (
            transport is None
            or transport.is_closing()
            or protocol.state is not State.OPEN
            or protocol.expect_continuation_frame
        ):
            counters.frames_unsent_at_close += len(frames)
            return
        parts: list[bytes] = []
        size = 0
        for frame in frames:
            parts.append(_text_header(len(frame)))
            parts.append(frame)
            size += len(frame)
        try:
            transport.write(b"".join(parts))
        except Exception:  # a transport failure costs only this connection's frames
            log.exception("writing to %r failed", session)
            counters.frames_dropped += len(frames)
            return
        self.frames_out += len(frames)
        counters.frames_written += len(frames)
        counters.bytes_written += size
        buffered = transport.get_write_buffer_size()
        counters.max_write_buffer = max(counters.max_write_buffer, buffered)
        if buffered > SLOW_CONSUMER_BYTES:
            log.warning("closing %r: client is not reading (slow consumer)", session)
            self.hub.note_slow_consumer(session, buffered)
            transport.abort()

    async def _run_clock(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval_s)
            if self.flow_control_bytes and self._backlogged():
                self.hub.hold(self.clock.now_ns())  # the market waits for the slowest reader
                continue
            try:
                dead = self.hub.tick(self.clock.now_ns(), max_steps=_MAX_STEPS_PER_TICK)
            except Exception:
                log.exception("market step failed")
                continue
            for session in dead:
                ws = self.connections.get(session.session_id)
                if ws is not None:
                    log.info("closing %r: no message or ping within its timeout", session)
                    self._spawn_close(ws, 1000, "cancel-on-disconnect timeout")
            self.flush()
            if self.faults is not None:
                self._run_faults(self.faults)
            self._log_internal_errors()

    # ---- injected faults (exchange/faults.py decides, this carries out) ------------------
    def _run_faults(self, faults: FaultInjector) -> None:
        now_ns = self.clock.now_ns()
        for fault in faults.due(now_ns):
            log.warning("injecting fault %s (%.3g s)", fault.kind, fault.duration_s)
            self._carry_out(fault)
        for session_id in faults.held_sessions():
            session = self.hub.sessions.get(session_id)
            ws = self.connections.get(session_id)
            if session is None or ws is None:
                faults.forget(session_id)
                continue
            frames = faults.outgoing(session_id, [], now_ns)
            if frames:
                self._write(ws, session, frames)

    def _carry_out(self, fault: ScheduledFault) -> None:
        kind = fault.kind
        targets = list(self.connections.items())
        if kind == "close":
            for _, ws in targets:
                self._spawn_close(ws, 1001, "going away (injected fault)")
        elif kind == "abort":
            for _, ws in targets:
                if ws.transport is not None:
                    ws.transport.abort()
        elif kind == "half_open":
            assert self.faults is not None
            for session_id, ws in targets:
                ws.on_bytes = None  # pings no longer count as life: the heartbeat expires
                self.faults.muted.add(session_id)
                if ws.transport is not None:
                    ws.transport.pause_reading()
        elif kind == "maintenance":
            self.hub.feeds.system_event("reconnect")
            self.flush()
            asyncio.get_running_loop().call_later(
                fault.duration_s, self._close_now, [sid for sid, _ in targets]
            )
        elif kind in ("restart", "restart_lost") and self.on_restart is not None:
            self.on_restart(fault)

    def _close_now(self, session_ids: list[int]) -> None:
        """The end of a maintenance notice: the sessions announced to are closed."""
        for session_id in session_ids:
            ws = self.connections.get(session_id)
            if ws is not None:
                self._spawn_close(ws, 1012, "service restart (maintenance)")

    def _spawn_close(self, ws: _Connection, code: int, reason: str) -> None:
        task = asyncio.create_task(ws.close(code, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _backlogged(self) -> bool:
        for ws in self.connections.values():
            transport = ws.transport
            if (
                transport is not None
                and transport.get_write_buffer_size() > self.flow_control_bytes
            ):
                return True
        return False

    def _log_internal_errors(self) -> None:
        errors = self.hub.internal_errors
        if errors:
            for exc in errors:
                log.error("request failed inside the exchange", exc_info=exc)
            errors.clear()


def _text_header(length: int) -> bytes:
    """RFC 6455 header of an unmasked, final text frame of ``length`` payload bytes."""
    if length < 126:
        return bytes((0x81, length))
    if length < 65536:
        return b"\x81\x7e" + length.to_bytes(2, "big")
    return b"\x81\x7f" + length.to_bytes(8, "big")


def _check_path(connection: ServerConnection, request: Request) -> Response | None:
    path = request.path.split("?", 1)[0]
    if path.rstrip("/") != WS_PATH:
        return connection.respond(HTTPStatus.NOT_FOUND, f"the API is served at {WS_PATH}\n")
    return None
