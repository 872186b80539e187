"""The asyncio Thalex client: a thin transport around the sans-I/O ``ThalexProtocol``.

Every frame goes to ``protocol.receive`` (which decodes once and dispatches by channel or
request id) straight from the socket's read callback, and what the handlers submit through
the throttle is written before that callback returns (``client_io.py``, ``direct_ws.py``);
a writer task sends only what the throttle held back. Each connection runs the same
sequence (``reconnect.py``): log in, ``set_cancel_on_disconnect``, instruments, subscribe,
then open orders and portfolio (pipelined) -> ``Resynced`` event -> only then are order
requests let through. A dropped connection emits ``Disconnected``, fails every unanswered
action, and reconnects with jittered exponential back-off; a ``system`` reconnect notice
(maintenance) triggers an orderly cancel_session + reconnect at once. ``close()`` (also on
SIGINT/SIGTERM) sends ``cancel_session`` before closing, so no orders are left behind.

Secrets: the key and the login token are never logged nor put in an exception message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from thalex_mm.core import actions as act
from thalex_mm.core import events as ev
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex import requests as rq
from thalex_mm.venue.thalex.catalog import RESULT_TYPES
from thalex_mm.venue.thalex.client_config import (
    DEFAULT_PRIVATE_CHANNELS,
    WS_LOGGER,
    ClientConfig,
    RequestFailedError,
    VenueError,
)
from thalex_mm.venue.thalex.client_io import ClientIO
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.direct_ws import DirectConnection
from thalex_mm.venue.thalex.networks import Endpoint, Network, start_banner
from thalex_mm.venue.thalex.protocol import PendingRequest, RpcError, ThalexProtocol
from thalex_mm.venue.thalex.reconnect import Backoff, SessionPhase
from thalex_mm.venue.thalex.session_setup import CATCH_UP_PAGE, SessionSetup
from thalex_mm.venue.thalex.translate import Translator

log = logging.getLogger(__name__)

SWEEP_DELAY_S = 1.0  # the trade history lags the order feed: read it a little later
SWEEP_WINDOW_S = 60.0  # a frame that did not decode hid trades at most this old

__all__ = [
    "DEFAULT_PRIVATE_CHANNELS",
    "ClientConfig",
    "RequestFailedError",
    "ThalexClient",
    "VenueError",
]


class ThalexClient(ClientIO):
    """``start()`` -> ``send_actions(...)`` as often as needed -> ``close()``.

    ``on_event`` receives core events (market data, order updates, replies to actions,
    ``Disconnected``, ``Resynced``) on the event loop, one at a time.
    """

    def __init__(
        self,
        endpoint: Endpoint | str,
        credentials: Credentials | None,
        on_event: Callable[[ev.Event], None],
        config: ClientConfig | None = None,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        wall_clock_s: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        direct_io: bool = True,
    ) -> None:
        self.endpoint = (
            endpoint if isinstance(endpoint, Endpoint) else Endpoint(Network.LOCAL, endpoint)
        )
        self.credentials = credentials
        self.direct_io = direct_io
        self.config = config or ClientConfig()
        self._on_event = on_event
        self._clock_ns = clock_ns
        self._wall_clock_s = wall_clock_s
        self._backoff = backoff or Backoff(self.config.backoff)
        self.translator = Translator(on_event, reject=self._emit_soon)
        self.protocol = ThalexProtocol(
            self._on_reply,
            clock_ns(),
            throttle_config=self.config.throttle,
            queue_ttl_ns=int(self.config.queue_ttl_s * 1e9),
        )
        for method, result_type in RESULT_TYPES.items():
            if result_type is not None:
                self.protocol.set_result_type(method, result_type)
        self.phase = SessionPhase.DISCONNECTED
        self.account_number: str | None = None
        self.connections = 0  # sessions that reached READY
        self.handler_errors = 0
        self._ws: ClientConnection | None = None
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._first_ready: asyncio.Future[None] | None = None
        self._closing = False
        self._closed = asyncio.Event()
        self._planned_reconnect = False
        self._cod_active = False
        self._close_reason = ""
        self._tasks: set[asyncio.Task[Any]] = set()
        self.protocol.on_bad_frame = self._on_bad_frame
        self._sweep_since_s: float | None = None  # a sweep of the trade history is due
        self.swept_fills = 0
        # Tick-to-order hooks: perf_counter_ns of the frame in hand (pre-decode), written batches.
        self.rx_perf_ns = 0
        self.frame_perf_ns = 0
        self.tx_batches = 0
        self.tx_frames = 0
        self.on_batch_written: Callable[[int, int, int, int], None] | None = None

    # --- public API ------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, log in, subscribe and resync; returns once order requests may be sent.

        Raises VenueError if the first session cannot be set up (no retries at start: a wrong
        URL or key should fail fast); later drops are reconnected in the background.
        """
        if self._runner is not None:
            raise RuntimeError("ThalexClient.start() called twice")
        banner = start_banner(self.endpoint)
        if banner is not None:
            log.warning("\n%s", banner)
        loop = asyncio.get_running_loop()
        self._first_ready = loop.create_future()
        self._runner = loop.create_task(self._run(), name="thalex-client")
        await asyncio.shield(self._first_ready)

    @property
    def ready(self) -> bool:
        return self.protocol.ready

    def send_actions(self, actions: Iterable[act.Action]) -> None:
        """Turn core actions into requests; they leave as the throttle allows.

        Never blocks. An action that cannot be sent (not ready, unknown instrument, throttle
        queue expired) comes back as ``ActionRejected`` on the next loop iteration.
        """
        now = self._clock_ns()
        submit = self.protocol.submit
        requests_for = self.translator.requests_for
        for action in actions:
            for method, params, context in requests_for(action, now):
                submit(method, params, now, context)
        self._kick()

    async def call(self, method: str, params: Any = None, *, timeout_s: float | None = None) -> Any:
        """A request outside the core's actions (queries): typed result or RequestFailedError."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.protocol.submit(method, params, self._clock_ns(), fut, gated=False)
        self._kick()
        return await asyncio.wait_for(fut, timeout_s or self.config.request_timeout_s)

    async def close(self, settled: Callable[[], bool] | None = None) -> None:
        """Cancel the session's orders (``cancel_session``), then close the connection.

        ``settled`` (the app's "the order feed reported all my orders closed"): after the
        cancel is confirmed, keep reading until it is True, for at most ``close_timeout_s``:
        the venue may report a last fill after its reply, and it must not be lost."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        self.phase = SessionPhase.CLOSING
        self.protocol.ready = False
        if self._ws is not None and self._cod_active:
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self.protocol.submit("private/cancel_session", None, self._clock_ns(), fut, urgent=True)
            self._kick()
            try:
                await asyncio.wait_for(fut, self.config.close_timeout_s)
                log.info("cancel_session confirmed: no orders left on %s", self.endpoint.url)
                if settled is not None:
                    await self._settle(settled)
                if self.translator.trade_sink is not None:
                    # the trade history lags the order feed: a last fill's entry may not have
                    # come yet (or a bad frame hid one); read it once more before closing
                    since_s = self._wall_clock_s() - SWEEP_WINDOW_S
                    self._sweep_since_s = None
                    sweep = self._sweep_since(since_s)
                    with contextlib.suppress(TimeoutError):  # bounded: shutdown goes on
                        await asyncio.wait_for(sweep, self.config.close_timeout_s)
            except (RequestFailedError, TimeoutError) as exc:
                log.warning(
                    "cancel_session not confirmed (%s); the venue still cancels the session's "
                    "orders when the connection closes (cancel_on_disconnect)",
                    exc,
                )
        runner = self._runner
        if self._ws is not None:
            await self._ws.close()
            if runner is not None and not runner.done():
                # Let the runner notice the closed socket and fail what is still pending.
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(runner), self.config.close_timeout_s)
        if runner is not None and not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        self.phase = SessionPhase.CLOSED
        self._closed.set()

    async def _settle(self, settled: Callable[[], bool]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.close_timeout_s
        while not settled():
            if loop.time() >= deadline:
                log.warning(
                    "the order feed did not report every order closed within %.1f s of "
                    "cancel_session; the summary may miss a last fill",
                    self.config.close_timeout_s,
                )
                return
            await asyncio.sleep(0.01)

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def install_signal_handlers(
        self, signals: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM)
    ) -> None:
        """Close (cancel_session first) on SIGINT/SIGTERM; ``wait_closed()`` then returns."""
        loop = asyncio.get_running_loop()
        for sig in signals:
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.warning("%s received: cancelling the session's orders and closing", sig.name)
        self._spawn(self.close())

    # --- connection cycle ------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._first_ready is not None
        while not self._closing:
            try:
                await self._one_connection()
                if not self._closing and not self._planned_reconnect:
                    log.warning(
                        "Thalex connection %s closed: %s", self.endpoint.url, self._close_reason
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._first_ready.done():
                    self._first_ready.set_exception(
                        VenueError(f"cannot start a Thalex session at {self.endpoint.url}: {exc}")
                    )
                    return
                if not self._closing:
                    log.warning("Thalex session at %s ended: %s", self.endpoint.url, exc)
            if self._closing or not self._first_ready.done():
                break
            delay = 0.0 if self._planned_reconnect else self._backoff.next_delay_s()
            self._planned_reconnect = False
            log.info("reconnecting to %s in %.2f s", self.endpoint.url, delay)
            await asyncio.sleep(delay)

    async def _one_connection(self) -> None:
        cfg = self.config
        self.phase = SessionPhase.CONNECTING
        ws = await connect(
            self.endpoint.url,
            user_agent_header=cfg.user_agent,
            compression=None,
            open_timeout=cfg.open_timeout_s,
            ping_interval=cfg.ping_interval_s,
            ping_timeout=cfg.ping_timeout_s,
            close_timeout=cfg.close_timeout_s,
            max_size=cfg.max_frame_bytes,
            logger=WS_LOGGER,
            create_connection=DirectConnection if self.direct_io else ClientConnection,
        )
        self._ws = ws
        if isinstance(ws, DirectConnection):
            ws.on_frame = self._frame_handler(ws)
        loop = asyncio.get_running_loop()
        reader = loop.create_task(self._read_loop(ws))
        writer = loop.create_task(self._write_loop(ws))
        try:
            resynced = await self._setup()
            self.protocol.ready = True  # before Resynced, so the core may quote at once
            self.phase = SessionPhase.READY
            self.connections += 1
            self._backoff.reset()
            self._on_event(resynced)
            assert self._first_ready is not None
            if not self._first_ready.done():
                self._first_ready.set_result(None)
            await reader
        finally:
            self.protocol.ready = False
            writer.cancel()
            reader.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)
            await ws.close()
            self._ws = None
            self._cod_active = False
            self.protocol.connection_lost(self._clock_ns())
            if self.connections:
                self._emit_soon(ev.Disconnected(self._clock_ns()))
            if not self._closing:
                self.phase = SessionPhase.DISCONNECTED

    async def _setup(self) -> ev.Resynced:
        """The fixed sequence every connection runs before it may trade (session_setup.py)."""
        setup = SessionSetup(
            call=self._call,
            credentials=self.credentials,
            config=self.config,
            translator=self.translator,
            protocol=self.protocol,
            on_system=self._on_system,
            wall_clock_s=self._wall_clock_s,
            clock_ns=self._clock_ns,
        )
        setup.on_phase = self._set_phase
        resynced = await setup.run()
        self.account_number = setup.account_number
        self._cod_active = setup.cancel_on_disconnect
        if setup.account_number is not None:
            log.info(
                "logged in to %s (%s) as account %s; cancel_on_disconnect %d s",
                self.endpoint.network.value,
                self.endpoint.url,
                self.account_number,
                self.config.cancel_on_disconnect_s,
            )
        return resynced

    def _set_phase(self, phase: SessionPhase) -> None:
        self.phase = phase

    async def _call(self, method: str, params: Any) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.protocol.submit(method, params, self._clock_ns(), fut, gated=False)
        self._kick()
        return await asyncio.wait_for(fut, self.config.request_timeout_s)

    # --- callbacks -------------------------------------------------------------------------
    def _on_reply(
        self, req: PendingRequest, result: Any, error: RpcError | None, now_ns: int
    ) -> None:
        ctx = req.context
        if isinstance(ctx, asyncio.Future):
            if not ctx.done():
                if error is None:
                    ctx.set_result(result)
                else:
                    ctx.set_exception(RequestFailedError(req.method, error.code, error.message))
            return
        if ctx is None:
            return
        if error is not None and error.code < 0:  # decided locally, maybe inside send_actions
            asyncio.get_running_loop().call_soon(self.translator.on_reply, ctx, None, error, now_ns)
            return
        self.translator.on_reply(ctx, result, error, now_ns)

    def _on_system(self, event: wire.SystemEvent, snapshot: bool, now_ns: int) -> None:
        if event.event != "reconnect" or self._planned_reconnect or self._ws is None:
            return
        log.warning("venue announced a reconnect (maintenance): cancelling orders, reconnecting")
        self._planned_reconnect = True
        self.protocol.ready = False
        self._spawn(self._planned_close(self._ws))

    async def _planned_close(self, ws: ClientConnection) -> None:
        if self._cod_active:
            with contextlib.suppress(RequestFailedError, TimeoutError):
                fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                self.protocol.submit(
                    "private/cancel_session", None, self._clock_ns(), fut, urgent=True
                )
                self._kick()
                await asyncio.wait_for(fut, self.config.close_timeout_s)
        await ws.close()

    def _on_bad_frame(self, error: str) -> None:
        """A frame that did not decode is skipped, logged once (then every 1,000th), and, as
        it may have carried fills, the recent trade history is read again (`_sweep`)."""
        count = self.protocol.stats.bad_frames
        if count == 1 or count % 1000 == 0:
            log.warning("a venue frame did not decode (%d so far), skipped: %.200s", count, error)
        if self.translator.trade_sink is not None and self._sweep_since_s is None:
            self._sweep_since_s = self._wall_clock_s() - SWEEP_WINDOW_S
            self._spawn(self._sweep())

    async def _sweep(self) -> None:
        """Journal the fills a bad frame hid: the newest page of the trade history, every
        trade of ours since the bad frame's window that the journal lacks (issue #16 fault
        injection found fills lost with a garbled account.trade_history frame)."""
        await asyncio.sleep(SWEEP_DELAY_S)
        while not self.protocol.ready:  # between sessions: wait for the next one
            if self._closing:
                return  # close() sweeps once more itself
            await asyncio.sleep(0.1)
        since_s, self._sweep_since_s = self._sweep_since_s, None
        if since_s is not None:
            await self._sweep_since(since_s)

    async def _sweep_since(self, since_s: float) -> None:
        params = rq.HistoryParams(limit=CATCH_UP_PAGE, sort="descending")
        try:
            result = await self.call("private/trade_history", params)
        except (RequestFailedError, TimeoutError) as exc:  # a later reconnect catches up
            log.warning("cannot read the trade history for fills not yet recorded: %s", exc)
            return
        found = self.translator.swept_trades(result.trades, since_s, self._clock_ns())
        self.swept_fills += found
        if found:
            log.warning("recorded %d fills the trade-history feed had not delivered", found)

    def _emit_soon(self, event: ev.Event) -> None:
        asyncio.get_running_loop().call_soon(self._on_event, event)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
