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

from websockets.asyncio.connection import broadcast
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

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
    ) -> None:
        self.hub = hub
        self.clock = clock
        self.host = host
        self.port = port
        self.tick_interval_s = tick_interval_s
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

    async def stop(self) -> None:
        """Tell subscribers on `system`, close every connection (cancel-on-disconnect runs)."""
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
        try:
            async for message in ws:
                self.messages_in += 1
                session.receive(message, clock.now_ns())
                self.flush()
        except ConnectionClosed:
            pass
        finally:
            ws.on_bytes = None
            self.connections.pop(session.session_id, None)
            try:
                self.hub.close_session(session, clock.now_ns())
            except Exception:
                log.exception("ending %r failed", session)
            self.flush()

    def flush(self) -> None:
        """Write every ready session's frames (synchronously, into the transports)."""
        for session in self.hub.take_ready():
            frames = session.take_output()
            ws = self.connections.get(session.session_id)
            if ws is None or not frames:
                continue
            self._write(ws, session, frames)

    def _write(self, ws: _Connection, session: Session, frames: list[bytes]) -> None:
        for frame in frames:
            broadcast((ws,), frame, text=True)
        self.frames_out += len(frames)
        transport = ws.transport
        if transport is not None and transport.get_write_buffer_size() > SLOW_CONSUMER_BYTES:
            log.warning("closing %r: client is not reading (slow consumer)", session)
            transport.abort()

    async def _run_clock(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval_s)
            try:
                dead = self.hub.tick(self.clock.now_ns(), max_steps=_MAX_STEPS_PER_TICK)
            except Exception:
                log.exception("market step failed")
                continue
            for session in dead:
                ws = self.connections.get(session.session_id)
                if ws is not None:
                    log.info("closing %r: no message or ping within its timeout", session)
                    task = asyncio.create_task(ws.close(1000, "cancel-on-disconnect timeout"))
                    self._closing.add(task)
                    task.add_done_callback(self._closing.discard)
            self.flush()
            self._log_internal_errors()

    def _log_internal_errors(self) -> None:
        errors = self.hub.internal_errors
        if errors:
            for exc in errors:
                log.error("request failed inside the exchange", exc_info=exc)
            errors.clear()


def _check_path(connection: ServerConnection, request: Request) -> Response | None:
    path = request.path.split("?", 1)[0]
    if path.rstrip("/") != WS_PATH:
        return connection.respond(HTTPStatus.NOT_FOUND, f"the API is served at {WS_PATH}\n")
    return None
