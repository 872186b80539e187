"""The socket side of ``ThalexClient``: reading frames in, writing requests out.

Direct I/O (the default): ``direct_ws.DirectConnection`` hands each frame to the protocol
from the socket's read callback, and whatever the handlers submit (the core's orders, via
``send_actions``) is framed and written with one ``transport.write`` before the callback
returns, so a tick's orders leave on the loop turn that read the tick. The writer task then
only sends what the throttle held back, when it allows. With ``direct_io=False`` a reader
task awaits ``recv()`` and a writer task awaits ``send()`` per frame (websockets' own path;
kept for comparison in ``bench/tick_to_order.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

from thalex_mm.venue.thalex.direct_ws import DirectConnection, client_text_frames
from thalex_mm.venue.thalex.protocol import ThalexProtocol

log = logging.getLogger("thalex_mm.venue.thalex.client")
_MASK_POOL_BYTES = 4096


class ClientIO:
    """Mixin for ``ThalexClient`` (which sets these attributes in its ``__init__``)."""

    protocol: ThalexProtocol
    direct_io: bool
    handler_errors: int
    rx_perf_ns: int  # perf_counter_ns when the frame in hand arrived (tick-to-order start)
    frame_perf_ns: int  # perf_counter_ns when its handling started (after earlier frames)
    tx_batches: int  # socket writes of requests so far
    tx_frames: int
    # (batch, perf_counter_ns before the write call, perf_counter_ns after it, frames)
    on_batch_written: Callable[[int, int, int, int], None] | None
    _ws: ClientConnection | None
    _wake: asyncio.Event
    _clock_ns: Callable[[], int]
    _close_reason: str
    # Mask keys for our frames, drawn from os.urandom 4 KiB at a time: one getrandom call per
    # ~1000 frames instead of one per write (~3 us on a live tick path, ~0.3 us in a loop).
    _mask_pool = b""
    _mask_pos = 0

    async def _read_loop(self, ws: ClientConnection) -> None:
        receive = self.protocol.receive
        clock = self._clock_ns
        wake = self._wake
        try:
            while True:
                frame = await ws.recv(decode=False)
                self.rx_perf_ns = self.frame_perf_ns = time.perf_counter_ns()
                try:
                    receive(frame, clock())
                except Exception:
                    self.handler_errors += 1
                    if self.handler_errors == 1 or self.handler_errors % 1000 == 0:
                        log.exception(
                            "error handling a venue message (%d so far)", self.handler_errors
                        )
                wake.set()
        except websockets.ConnectionClosed as exc:
            self._close_reason = str(exc)
            # Fail what is in flight now, so a session set-up waiting on a reply stops at once.
            self.protocol.connection_lost(clock())

    def _frame_handler(self, ws: DirectConnection) -> Callable[[bytes], None]:
        """Direct I/O: one frame, handled on the loop turn that read it; what the handlers
        submit (the core's orders, via ``send_actions``) is written before the turn ends."""
        receive = self.protocol.receive
        clock = self._clock_ns
        perf_counter_ns = time.perf_counter_ns

        def on_frame(frame: bytes) -> None:
            self.rx_perf_ns = ws.rx_perf_ns
            self.frame_perf_ns = perf_counter_ns()
            try:
                receive(frame, clock())
            except Exception:
                self.handler_errors += 1
                if self.handler_errors == 1 or self.handler_errors % 1000 == 0:
                    log.exception("error handling a venue message (%d so far)", self.handler_errors)

        return on_frame

    def _kick(self) -> None:
        """New requests were submitted: write them now (direct I/O) or wake the writer.

        With direct I/O the writer task only waits for throttle-queued requests."""
        if self.direct_io:
            self._flush()
            if self.protocol.queued:
                self._wake.set()
        else:
            self._wake.set()

    def _flush(self) -> None:
        """Frame and write every released request in one socket write (direct I/O).

        The frames bypass websockets' sender (it keeps no state about sent data frames, and
        its own writes - pongs, close - are whole frames too, so they cannot interleave
        inside ours). Frames released while the connection is not open stay unanswered in
        the protocol's pending table; ``connection_lost`` fails them. The write does not
        wait for the kernel buffer: the throttle already bounds what we send.
        """
        ws = self._ws
        if ws is None:
            return
        wsp = ws.protocol
        if wsp.state is not State.OPEN:
            return
        frames = self.protocol.take_outgoing()
        if not frames:
            return
        need = 4 * len(frames)
        pos = self._mask_pos
        if pos + need > len(self._mask_pool):
            self._mask_pool = os.urandom(max(_MASK_POOL_BYTES, need))
            pos = 0
        self._mask_pos = pos + need
        data = client_text_frames(frames, self._mask_pool[pos : pos + need])
        write_ns = time.perf_counter_ns()
        try:
            ws.transport.write(data)
        except Exception as exc:  # the transport is going away; the reader sees the close
            log.debug("write failed: %s", exc)
            return
        self.tx_batches += 1
        self.tx_frames += len(frames)
        if self.on_batch_written is not None:
            self.on_batch_written(self.tx_batches, write_ns, time.perf_counter_ns(), len(frames))

    async def _write_loop(self, ws: ClientConnection) -> None:
        """Writes what the throttle releases over time (and, without direct I/O, everything)."""
        proto = self.protocol
        clock = self._clock_ns
        wake = self._wake
        direct = self.direct_io
        while True:
            wake.clear()
            proto.pump(clock())
            if direct:
                self._flush()
            else:
                frames = proto.take_outgoing()
                if frames:
                    write_ns = time.perf_counter_ns()
                    self.tx_batches += 1  # one writer task: no other batch starts meanwhile
                    for frame in frames:
                        await ws.send(frame, text=True)
                    self.tx_frames += len(frames)
                    if self.on_batch_written is not None:
                        self.on_batch_written(
                            self.tx_batches, write_ns, time.perf_counter_ns(), len(frames)
                        )
            if wake.is_set():
                continue
            wake_at = proto.next_wakeup_ns(clock())
            if wake_at is None:
                await wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, (wake_at - clock()) / 1e9)):
                        await wake.wait()
