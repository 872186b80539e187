"""A restart catches up only on its own journal's fills, never on another journal's (#16.9)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from thalex_mm.app.launch import make_runner, read_journal_start
from thalex_mm.app.settings import AppConfig, config_as_dict
from thalex_mm.exchange.local import GeneratedKey, LocalExchange
from thalex_mm.journal import open_journal
from thalex_mm.journal.query import Reader
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.networks import Endpoint, Network

from .conftest import app_config, exchange_config, wait_until


async def _run_on(
    ex: LocalExchange, key: GeneratedKey, cfg: AppConfig, url: str, fills: int
) -> None:
    """One run of ``thalex-mm run`` on journal ``url`` until it has ``fills`` fills."""
    journal = open_journal(url, writer="thread")
    start = read_journal_start(journal)
    journal.start_run(version="test", config=config_as_dict(cfg), venue=ex.url, strategy="mm")
    creds = Credentials(key.key_id, key.private_pem, "test")
    runner = make_runner(cfg, Endpoint(Network.LOCAL, ex.url), creds, journal=journal, start=start)
    task = asyncio.get_running_loop().create_task(runner.run(None))
    await wait_until(
        lambda: runner.stats is not None and runner.stats.by_name["BTC-PERPETUAL"].fills >= fills,
        20.0,
        "fills",
    )
    await asyncio.sleep(0.3)  # the catch-up (if any) is done before the first quote
    runner.request_stop("test")
    await asyncio.wait_for(task, 10)
    journal.close("test over")


def _trade_ids(url: str) -> set[str]:
    with Reader(url) as r:
        return {row[0] for row in r.rows("SELECT trade_id FROM fills")}


async def test_a_run_on_a_second_journal_does_not_claim_the_first_journals_fills(
    tmp_path: Path,
) -> None:
    j1, j2 = (f"sqlite:///{tmp_path / name}" for name in ("j1.db", "j2.db"))
    cfg = app_config()
    async with LocalExchange(exchange_config(taker_rate_per_s=40.0)) as ex:
        key = ex.new_test_key()  # one account for all three runs
        await _run_on(ex, key, cfg, j1, fills=4)  # run A on j1
        a_fills = _trade_ids(j1)
        await _run_on(ex, key, cfg, j2, fills=0)  # run B starts j2 (no fills needed)
        await _run_on(ex, key, cfg, j2, fills=0)  # run C: catches up on j2
    assert len(a_fills) >= 4
    assert not (_trade_ids(j2) & a_fills)
