"""The runner against the in-process local exchange: quoting, skew, limits, kill, reconnect."""

from __future__ import annotations

import asyncio
import time

import pytest

from thalex_mm.app.settings import config_from_data
from thalex_mm.core import actions as act
from thalex_mm.core.actions import TradingState
from thalex_mm.domain import Side
from thalex_mm.errors import UserError
from thalex_mm.exchange.local import LocalExchange

from .conftest import app_config, exchange_config, start_runner, stop_runner, wait_until

BTC = "BTC-PERPETUAL"


def _sides(ex: LocalExchange, account: str) -> set[Side]:
    return {o.direction for o in ex.engine.open_orders(account)}


async def test_quotes_on_both_sides_within_a_second() -> None:
    async with LocalExchange(exchange_config()) as ex:
        start = time.monotonic()
        runner, task, key = start_runner(ex, app_config())
        await wait_until(
            lambda: _sides(ex, key.account) == {Side.BUY, Side.SELL}, 5.0, "two-sided quotes"
        )
        took = time.monotonic() - start
        summary = await stop_runner(runner, task)
        assert took < 1.0, f"quotes took {took:.2f} s to appear on both sides"
        assert summary["instruments"][BTC]["quotes_inserted"] >= 2
        # stopping cancels everything the run left on the venue
        assert ex.engine.open_orders(key.account) == []


async def test_fills_change_position_and_skew_quotes() -> None:
    async with LocalExchange(exchange_config()) as ex:
        runner, task, key = start_runner(ex, app_config(quote={"gamma_usd": 500.0}))
        reports: list[act.QuoteReport] = []
        runner.on_decision = lambda d: reports.append(d) if type(d) is act.QuoteReport else None
        engine_pos = lambda: runner.engine.instruments[BTC].position.lots if runner.engine else 0  # noqa: E731
        await wait_until(lambda: engine_pos() != 0, 10.0, "a fill")
        await wait_until(
            lambda: any(r.position_lots != 0 for r in reports), 5.0, "a quote with inventory"
        )
        summary = await stop_runner(runner, task)
    inst = summary["instruments"][BTC]
    assert inst["fills"] > 0 and inst["volume"] > 0
    # the venue and the engine agree on the position the fills made
    venue_lots = ex.engine.position_lots(key.account, BTC)
    assert round(inst["final_position"] / 0.001) == venue_lots
    skewed = [r for r in reports if r.position_lots != 0]
    flat = [r for r in reports if r.position_lots == 0]
    for r in skewed:  # long -> reservation below mid (sell cheaper, buy lower); short -> above
        assert (r.reservation_price - r.mid) * r.position_lots < 0, r
    for r in flat:
        assert abs(r.reservation_price - r.mid) < 1e-6 * r.mid
    # a longer inventory skews further: reservation offset grows with |q|
    by_q: dict[int, list[float]] = {}
    for r in skewed:
        by_q.setdefault(abs(r.position_lots), []).append(abs(r.reservation_price - r.mid))
    qs = sorted(by_q)
    if len(qs) > 1:
        assert min(by_q[qs[-1]]) > 0 and max(by_q[qs[-1]]) >= min(by_q[qs[0]])


async def test_max_position_counts_pending_orders() -> None:
    cfg = app_config(
        quote={"gamma_usd": 1.0, "ladder": {"levels": 3}}, risk={"max_position": 0.003}
    )
    async with LocalExchange(exchange_config(taker_rate_per_s=40.0)) as ex:
        runner, task, key = start_runner(ex, cfg)
        limit = 3
        at_limit_seen = 0
        deadline = time.monotonic() + 12.0
        while time.monotonic() < deadline and at_limit_seen < 20:
            pos = ex.engine.position_lots(key.account, BTC)
            buys = sells = 0
            for o in ex.engine.open_orders(key.account):
                lots = round(o.remaining_amount / 0.001)
                if o.direction is Side.BUY:
                    buys += lots
                else:
                    sells += lots
            assert pos + buys <= limit and pos - sells >= -limit, (pos, buys, sells)
            if abs(pos) == limit:
                at_limit_seen += 1
                adding = buys if pos > 0 else sells
                assert adding == 0, (pos, buys, sells)
            await asyncio.sleep(0.005)
        await stop_runner(runner, task)
    assert at_limit_seen > 0, "the position never reached the limit"


async def test_kill_switch_cancels_everything_and_halts() -> None:
    # A drawdown of one cent from the PnL peak is certain within seconds of quoting (a 10 USD
    # mark move on 0.001 BTC); a loss of 0.05 only likely, so either limit may fire.
    cfg = app_config(risk={"max_loss": 0.05, "max_drawdown": 0.01, "max_kills": 1})
    async with LocalExchange(exchange_config(taker_rate_per_s=40.0)) as ex:
        runner, task, key = start_runner(ex, cfg)
        await wait_until(lambda: bool(runner.kill_switches), 15.0, "the kill switch")
        await wait_until(lambda: not ex.engine.open_orders(key.account), 2.0, "no open orders")
        inst = runner.engine.instruments[BTC]  # type: ignore[union-attr]
        assert inst.risk.permit.state == TradingState.HALTED
        await asyncio.sleep(0.5)  # halted: nothing new goes out
        assert ex.engine.open_orders(key.account) == []
        summary = await stop_runner(runner, task)
    assert summary["instruments"][BTC]["state"] == "HALTED"
    kill = runner.kill_switches[0]
    assert kill.instrument == BTC
    assert kill.reason.startswith(("max loss", "max drawdown")), kill.reason
    assert len(runner.kill_switches) == 1  # max_kills = 1: halted for good, no re-entry


async def test_dropped_connection_cancels_then_reconnects_and_requotes() -> None:
    async with LocalExchange(exchange_config()) as ex:
        runner, task, key = start_runner(ex, app_config())
        await wait_until(lambda: _sides(ex, key.account) == {Side.BUY, Side.SELL}, 5.0, "quotes")
        before = {o.order_id for o in ex.engine.open_orders(key.account)}
        ws = runner.client._ws
        assert ws is not None
        ws.transport.abort()  # the network goes away without a close handshake
        await wait_until(
            lambda: not before & {o.order_id for o in ex.engine.open_orders(key.account)},
            3.0,
            "the exchange to cancel the dropped session's orders",
        )
        await wait_until(lambda: runner.resyncs >= 2, 10.0, "reconnect and resync")
        await wait_until(
            lambda: _sides(ex, key.account) == {Side.BUY, Side.SELL}, 5.0, "quotes again"
        )
        summary = await stop_runner(runner, task)
    assert summary["reconnects"] == 1
    assert ex.engine.open_orders(key.account) == []


async def test_throttle_error_slows_the_engine_down() -> None:
    # The exchange allows a tenth of the documented rate: the client's own throttle (set for the
    # documented limits) runs into error 4 and must back off rather than retry in a loop.
    cfg = app_config(orders={"min_update_interval_ms": 0.0, "amend_threshold_ticks": 1})
    config = exchange_config(taker_rate_per_s=20.0)
    config.rate_scale = 0.1
    async with LocalExchange(config) as ex:
        runner, task, _ = start_runner(ex, cfg)
        await wait_until(
            lambda: runner.client.protocol.stats.throttle_errors > 0, 10.0, "a throttle error"
        )
        errors_0 = runner.client.protocol.stats.throttle_errors
        out_0 = runner.client.tx_frames
        await asyncio.sleep(2.0)
        errors = runner.client.protocol.stats.throttle_errors - errors_0
        sent = runner.client.tx_frames - out_0
        summary = await stop_runner(runner, task)
    # the venue allows ~5 order messages/s here; a loop would send hundreds
    assert sent <= 40, f"{sent} frames in 2 s after a throttle error"
    assert errors <= sent
    assert summary["throttle_errors"] >= 1
    assert summary["instruments"][BTC]["rejections"] >= 1  # the throttled actions, counted


async def test_instrument_the_venue_does_not_list_is_named() -> None:
    cfg = app_config(name="DOGE-PERPETUAL")
    async with LocalExchange(exchange_config()) as ex:
        _runner, task, key = start_runner(ex, cfg)
        try:
            await asyncio.wait_for(task, 10)
        except UserError as exc:
            message = str(exc)
        else:
            raise AssertionError("the run should have failed")
        assert ex.engine.open_orders(key.account) == []
    assert message.startswith("instruments[0].name: 'DOGE-PERPETUAL' is not traded")
    assert "BTC-PERPETUAL" in message  # says what is there


async def test_limit_below_the_venue_minimum_is_named() -> None:
    cfg = app_config(risk={"max_position": 0.0001})
    async with LocalExchange(exchange_config()) as ex:
        _runner, task, _ = start_runner(ex, cfg)
        try:
            await asyncio.wait_for(task, 10)
        except UserError as exc:
            message = str(exc)
        else:
            raise AssertionError("the run should have failed")
    assert message.startswith("instruments[0]: BTC-PERPETUAL: risk.max_position 0.0001")


async def test_many_instruments_each_with_its_own_parameters() -> None:
    btc = {
        "name": BTC,
        "quote": {"lot_size": 0.001, "ladder": {"levels": 1, "base_size_lots": 2}},
        "quoter": {"sigma_default": 2.0},
        "risk": {"max_position": 0.01},
    }
    eth = {
        "name": "ETH-PERPETUAL",
        "quote": {"lot_size": 0.01, "ladder": {"levels": 2, "base_size_lots": 3}},
        "quoter": {"sigma_default": 0.1},
        "risk": {"max_position": 0.5},
    }
    cfg = config_from_data({"run": {"timer_interval_ms": 50.0}, "instruments": [btc, eth]})
    async with LocalExchange(exchange_config(taker_rate_per_s=0.0)) as ex:
        runner, task, key = start_runner(ex, cfg)

        def quoted() -> dict[str, set[tuple[Side, float]]]:
            out: dict[str, set[tuple[Side, float]]] = {}
            for o in ex.engine.open_orders(key.account):
                out.setdefault(o.instrument_name, set()).add((o.direction, o.amount))
            return out

        await wait_until(
            lambda: (
                {s for s, _ in quoted().get(BTC, set())} == {Side.BUY, Side.SELL}
                and {s for s, _ in quoted().get("ETH-PERPETUAL", set())} == {Side.BUY, Side.SELL}
            ),
            5.0,
            "both instruments quoted on both sides",
        )
        seen = quoted()
        summary = await stop_runner(runner, task)
    assert {a for _, a in seen[BTC]} == {0.002}  # 2 lots of 0.001
    assert {a for _, a in seen["ETH-PERPETUAL"]} == {0.03}  # 3 lots of 0.01
    assert set(summary["instruments"]) == {BTC, "ETH-PERPETUAL"}


async def test_busy_poll_runs_a_polling_task_for_the_run_only() -> None:
    """``run.busy_poll``: the loop never sleeps while the runner runs (a task that only
    yields, so the process stays on the CPU); quoting works as before, and the task is gone
    when the run ends."""

    def polling() -> list[asyncio.Task[object]]:
        return [t for t in asyncio.all_tasks() if t.get_name() == "mm-busy-poll"]

    instrument = {"name": BTC, "risk": {"max_position": 0.01}, "quoter": {"sigma_default": 5.0}}
    cfg = config_from_data({"run": {"busy_poll": True}, "instruments": [instrument]})
    assert cfg.run.busy_poll and not app_config().run.busy_poll  # off by default
    async with LocalExchange(exchange_config()) as ex:
        runner, task, key = start_runner(ex, cfg)
        await wait_until(
            lambda: _sides(ex, key.account) == {Side.BUY, Side.SELL}, 5.0, "two-sided quotes"
        )
        assert len(polling()) == 1
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(0.3)  # the test sleeps; the loop still turns
        busy = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        assert busy > 0.5, f"the process used {busy:.0%} of a core while busy-polling"
        await stop_runner(runner, task)
        assert polling() == []


async def test_the_run_sets_the_malloc_mmap_threshold_from_the_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``run.malloc_mmap_threshold_kb`` reaches glibc's mallopt at the start of a run (the
    call itself is tested in tests/app/test_heap.py); 64 KiB by default, 0 leaves it."""
    import thalex_mm.app.runner as runner_module  # noqa: PLC0415

    sizes: list[int] = []
    monkeypatch.setattr(runner_module, "set_malloc_mmap_threshold", sizes.append)
    instrument = {"name": BTC, "risk": {"max_position": 0.01}}
    for kb in (None, 0):
        run = {} if kb is None else {"malloc_mmap_threshold_kb": kb}
        cfg = config_from_data({"run": run, "instruments": [instrument]})
        async with LocalExchange(exchange_config()) as ex:
            runner, task, _ = start_runner(ex, cfg)
            await wait_until(lambda: bool(sizes), 5.0, "the run to start")
            await stop_runner(runner, task)
        if kb is None:
            assert sizes == [64 * 1024]
            sizes.clear()
    assert sizes == [0]
