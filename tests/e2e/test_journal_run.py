"""A run with the journal: orders, fills, decisions, positions, market and run metadata land."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from thalex_mm.app.runner import Runner
from thalex_mm.app.settings import config_as_dict, config_from_data
from thalex_mm.exchange.local import LocalExchange
from thalex_mm.journal import open_journal
from thalex_mm.journal.query import Reader
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.networks import Endpoint, Network

from .conftest import app_config, exchange_config, wait_until


async def test_run_journals_actions_fills_decisions_and_metadata(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    journal = open_journal(url, writer="thread", market_interval_ms=50.0)
    cfg = app_config()
    async with LocalExchange(exchange_config(taker_rate_per_s=40.0)) as ex:
        key = ex.new_test_key()
        journal.start_run(version="test", config=config_as_dict(cfg), venue=ex.url, strategy="mm")
        creds = Credentials(key.key_id, key.private_pem, "test")
        runner = Runner(cfg, Endpoint(Network.LOCAL, ex.url), creds, journal=journal)
        task = asyncio.get_running_loop().create_task(runner.run(None))
        await wait_until(
            lambda: runner.stats is not None and runner.stats.by_name["BTC-PERPETUAL"].fills >= 2,
            15.0,
            "fills",
        )
        await asyncio.sleep(1.2)  # at least one position snapshot
        runner.request_stop("test")
        summary = await asyncio.wait_for(task, 10)
    journal.close("test over")
    inst = summary["instruments"]["BTC-PERPETUAL"]
    with Reader(url) as r:
        count = lambda table: r.rows(f"SELECT COUNT(*) FROM {table}")[0][0]  # noqa: E731
        orders = count("orders")
        assert orders == inst["quotes_inserted"] + inst["quotes_amended"] + inst["quotes_cancelled"]
        assert count("fills") >= inst["fills"] >= 2
        assert count("order_updates") > 0
        assert count("quotes") > 0
        assert count("positions") > 0
        assert count("market") > 0
        runs = r.rows("SELECT config FROM runs")
        assert len(runs) == 1 and "BTC-PERPETUAL" in str(runs[0][0])
    assert summary["journal"] == url


async def test_busy_polling_warms_the_journal_between_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``run.busy_poll`` the poller runs ``Journal.warm`` every ``run.warm_interval_us``;
    0 turns it off."""
    warmed: list[int] = []
    for interval_us in (1000.0, 0.0):
        journal = open_journal(f"sqlite:///{tmp_path / f'j{interval_us}.db'}", writer="thread",
                               segment_dir=tmp_path / f"seg{interval_us}")  # fmt: skip
        monkeypatch.setattr(journal, "warm", lambda: warmed.append(1))
        cfg = config_from_data(
            {"run": {"busy_poll": True, "warm_interval_us": interval_us},
             "instruments": [{"name": "BTC-PERPETUAL", "risk": {"max_position": 0.01}}]}
        )  # fmt: skip
        warmed.clear()
        started = time.monotonic()
        async with LocalExchange(exchange_config()) as ex:
            key = ex.new_test_key()
            creds = Credentials(key.key_id, key.private_pem, "test")
            runner = Runner(cfg, Endpoint(Network.LOCAL, ex.url), creds, journal=journal)
            task = asyncio.get_running_loop().create_task(runner.run(None))
            if interval_us:  # ~every ms once the session is up
                await wait_until(lambda: len(warmed) >= 20, 10.0, "20 warm-ups")
            else:
                session_up = lambda r=runner: r.stats is not None  # noqa: E731
                await wait_until(session_up, 10.0, "the session")
                await asyncio.sleep(0.3)
            runner.request_stop("test")
            await asyncio.wait_for(task, 10)
            polling_s = time.monotonic() - started if interval_us else 0.0
        journal.close()
        if interval_us:  # at the interval, not on every turn of the loop
            assert len(warmed) <= 1.2 * polling_s / 1e-3 + 10, (len(warmed), polling_s)
        else:
            assert warmed == []
