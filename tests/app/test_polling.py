"""``keep_polling``: yields forever and runs the warmers at their interval."""

from __future__ import annotations

import asyncio

import pytest

from thalex_mm.app.polling import keep_polling


async def test_warmers_run_at_their_interval_while_the_loop_polls() -> None:
    calls: list[str] = []
    other_turns = 0
    poll = asyncio.ensure_future(
        keep_polling([lambda: calls.append("a"), lambda: calls.append("b")], every_s=0.02)
    )
    loop = asyncio.get_running_loop()
    end = loop.time() + 0.3
    while loop.time() < end:
        await asyncio.sleep(0)
        other_turns += 1
    poll.cancel()
    rounds = len(calls) // 2
    assert calls[: 2 * rounds] == ["a", "b"] * rounds
    assert 2 <= rounds <= 0.3 / 0.02 + 1, rounds  # not on every turn: at the interval
    assert other_turns > 10 * rounds  # the loop kept turning between warm-ups


async def test_no_warmers_or_a_zero_interval_only_yields() -> None:
    calls: list[int] = []
    for poll in (keep_polling(), keep_polling([lambda: calls.append(1)], every_s=0.0)):
        task = asyncio.ensure_future(poll)
        await asyncio.sleep(0.02)
        task.cancel()
    assert calls == []


async def test_a_failing_warmer_is_dropped_and_the_others_and_the_polling_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    def broken() -> None:
        calls.append("broken")
        raise OverflowError("cannot encode")

    poll = asyncio.ensure_future(keep_polling([broken, lambda: calls.append("ok")], 0.01))
    await asyncio.sleep(0.15)
    assert not poll.done()  # still polling: the runner's shutdown awaits this task
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    assert calls.count("broken") == 1 and calls.count("ok") >= 3
    assert "warmer" in caplog.text and "cannot encode" in caplog.text
