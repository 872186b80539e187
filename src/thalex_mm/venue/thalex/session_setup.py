"""What every (re)connection does before it may trade, in order.

1. ``public/login`` with a fresh JWT (private sessions only); a refusal is fatal for start-up.
2. ``private/set_cancel_on_disconnect``: the venue cancels this session's orders if we go quiet
   or drop, and the order rate limit rises from 10/s to 50/s.
3. ``public/instruments``: tick and lot sizes, needed to convert everything that follows.
4. Subscribe: ``system`` (maintenance notices; optional), the public channels, the private
   channels. Subscribing *before* the snapshots below means no update can fall in between.
5. ``private/open_orders`` and ``private/portfolio``, pipelined -> the ``Resynced`` event.
6. Only when the app records fills (``translator.trade_sink`` is set): ``private/trade_history``,
   newest first, page by page until a page holds a trade the sink already recorded (at most
   ``CATCH_UP_PAGES`` pages): fills that happened while we were away (killed, disconnected,
   before cancel-on-disconnect pulled our orders) reach the journal with their real fees.

Only after this does the client let order requests through (``protocol.ready``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from thalex_mm.core import events as ev
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex import requests as rq
from thalex_mm.venue.thalex.auth import make_token
from thalex_mm.venue.thalex.client_config import ClientConfig, RequestFailedError, VenueError
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.protocol import NotificationHandler, ThalexProtocol
from thalex_mm.venue.thalex.reconnect import SessionPhase
from thalex_mm.venue.thalex.translate import Translator

log = logging.getLogger(__name__)

CATCH_UP_PAGE = 1000  # trades per private/trade_history page (the venue's maximum)
CATCH_UP_PAGES = 10


class SessionSetup:
    """One run of the sequence above; ``call`` sends a request and awaits its typed result."""

    def __init__(
        self,
        *,
        call: Callable[[str, Any], Awaitable[Any]],
        credentials: Credentials | None,
        config: ClientConfig,
        translator: Translator,
        protocol: ThalexProtocol,
        on_system: NotificationHandler,
        wall_clock_s: Callable[[], float],
        clock_ns: Callable[[], int],
    ) -> None:
        self._call = call
        self._credentials = credentials
        self._config = config
        self._translator = translator
        self._protocol = protocol
        self._on_system = on_system
        self._wall_clock_s = wall_clock_s
        self._clock_ns = clock_ns
        self.on_phase: Callable[[SessionPhase], None] = lambda phase: None
        self.account_number: str | None = None
        self.cancel_on_disconnect = False

    async def run(self) -> ev.Resynced:
        cfg, creds, call = self._config, self._credentials, self._call
        if creds is not None:
            self.on_phase(SessionPhase.LOGGING_IN)
            token = make_token(creds.key_id, creds.private_key_pem, self._wall_clock_s())
            try:
                login = await call("public/login", rq.LoginParams(token=token, account=cfg.account))
            except RequestFailedError as exc:
                raise VenueError(f"login refused: {exc.message} (code {exc.code})") from None
            self.account_number = login.account_number
            await call(
                "private/set_cancel_on_disconnect",
                rq.SetCancelOnDisconnectParams(timeout_secs=cfg.cancel_on_disconnect_s),
            )
            self.cancel_on_disconnect = True
        self.on_phase(SessionPhase.RESYNCING)
        self._translator.set_instruments(await call("public/instruments", None))
        self.on_phase(SessionPhase.SUBSCRIBING)
        private = cfg.private_channels if creds is not None else ()
        self._route_channels((*cfg.public_channels, *private))
        try:  # maintenance notices; a venue without the channel is no reason to stop
            await call("public/subscribe", rq.ChannelsParams(channels=["system"]))
        except RequestFailedError as exc:
            log.warning("cannot subscribe to the system channel: %s", exc.message)
        if cfg.public_channels:
            await call("public/subscribe", rq.ChannelsParams(channels=list(cfg.public_channels)))
        if private:
            await call("private/subscribe", rq.ChannelsParams(channels=list(private)))
        self.on_phase(SessionPhase.RESYNCING)
        if creds is None:
            return ev.Resynced(self._clock_ns(), ())
        orders, portfolio = await asyncio.gather(
            call("private/open_orders", None), call("private/portfolio", None)
        )
        if self._translator.trade_sink is not None:
            try:
                await self.catch_up_trades()
            except (RequestFailedError, TimeoutError) as exc:  # the live channel still runs
                log.warning("cannot catch up on the trade history: %s", exc)
        return self._translator.resynced(self._clock_ns(), orders, portfolio)

    async def catch_up_trades(self) -> int:
        """Hand the recent trade history to the trade sink, newest first, until it knows some.

        Runs after subscribing to ``account.trade_history``, so a trade is either in a page
        here or arrives on the channel (or both: the sink dedupes). Returns the pages read.
        """
        bookmark: str | None = None
        pages = 0
        while pages < CATCH_UP_PAGES:
            params = rq.HistoryParams(limit=CATCH_UP_PAGE, sort="descending", bookmark=bookmark)
            result = await self._call("private/trade_history", params)
            pages += 1
            if self._translator.caught_up_trades(result.trades, self._clock_ns()):
                break
            bookmark = result.bookmark
            if not bookmark or not result.trades:
                break
        else:
            log.warning(
                "trade history catch-up stopped after %d pages without reaching a recorded trade",
                pages,
            )
        return pages

    def _route_channels(self, channels: tuple[str, ...]) -> None:
        proto = self._protocol
        proto.route("system", wire.SystemEvent, self._on_system)
        for channel in channels:
            entry = self._translator.handler_for(channel)
            if entry is None:
                log.warning(
                    "channel %s has no event translation; its messages are ignored", channel
                )
                continue
            proto.route(channel, entry[0], entry[1])
