"""A fill that lands while the run shuts down is in the summary's final position (#16.10).

The venue's order feed may report a fill after it answered ``cancel_session``; the local
exchange normally sends feeds first, so this test makes it answer first: on
``cancel_session`` a taker hits the engine's best bid, and the notifications of that fill
and of the cancels follow the reply 0.3 s later.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from thalex_mm.domain import Side
from thalex_mm.exchange import hub as hub_module
from thalex_mm.exchange.engine.events import Outcome
from thalex_mm.exchange.engine.types import SessionRef, TimeInForce
from thalex_mm.exchange.local import LocalExchange

from .conftest import app_config, exchange_config, start_runner, wait_until

TAKER = SessionRef("LATE-TAKER", -99, persistent=True)


async def test_a_fill_reported_after_cancel_session_is_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with LocalExchange(exchange_config(taker_rate_per_s=0.0)) as ex:
        _, needs_auth, bucket = hub_module.METHODS["private/cancel_session"]
        late: list[Any] = []

        def cancel_session_answered_first(session: Any, frame: Any, now_ns: int) -> bytes:
            engine = session.hub.engine
            bid = max(
                (o for o in engine.open_orders(session.account) if o.direction is Side.BUY),
                key=lambda o: o.price,
            )
            hit = engine.insert(
                now_ns, TAKER, instrument_name=bid.instrument_name, direction=Side.SELL,
                amount=bid.remaining_amount, price=bid.price, time_in_force=TimeInForce.IOC,
            )  # fmt: skip
            late.append(hit)
            cancelled = engine.cancel_session(now_ns, session.ref)
            events = [*hit.events, *cancelled.events]
            asyncio.get_running_loop().call_later(0.3, session.hub.publish, events, now_ns)
            return session.hub.finish(frame, Outcome(result=None), now_ns, lambda r: r)

        monkeypatch.setitem(
            hub_module.METHODS,
            "private/cancel_session",
            (cancel_session_answered_first, needs_auth, bucket),
        )
        runner, task, key = start_runner(ex, app_config())
        await wait_until(lambda: len(ex.engine.open_orders(key.account)) >= 2, 5.0, "quotes")
        runner.request_stop("test")
        summary = await asyncio.wait_for(task, 10)
        venue_lots = ex.engine.position_lots(key.account, "BTC-PERPETUAL")
    assert late and late[0].error is None and venue_lots > 0  # the late fill happened
    position = summary["instruments"]["BTC-PERPETUAL"]["final_position"]
    assert round(position / 0.001) == venue_lots
