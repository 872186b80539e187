"""Fills reach the journal exactly once, with the fee the exchange charged (issue 5)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from thalex_mm.app.launch import JournalStart, make_runner, read_journal_start
from thalex_mm.app.settings import config_as_dict
from thalex_mm.exchange.local import LocalExchange
from thalex_mm.journal import open_journal
from thalex_mm.journal.query import Reader, fill_key
from thalex_mm.venue.thalex.credentials import Credentials
from thalex_mm.venue.thalex.networks import Endpoint, Network

from .conftest import app_config, exchange_config, wait_until


async def test_journal_fees_equal_the_exchanges_fees(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    journal = open_journal(url, writer="thread")
    cfg = app_config()
    async with LocalExchange(exchange_config(taker_rate_per_s=40.0)) as ex:
        key = ex.new_test_key()
        journal.start_run(version="test", config=config_as_dict(cfg), venue=ex.url, strategy="mm")
        creds = Credentials(key.key_id, key.private_pem, "test")
        runner = make_runner(
            cfg, Endpoint(Network.LOCAL, ex.url), creds, journal=journal, start=JournalStart()
        )
        task = asyncio.get_running_loop().create_task(runner.run(None))
        await wait_until(
            lambda: runner.stats is not None and runner.stats.by_name["BTC-PERPETUAL"].fills >= 6,
            20.0,
            "fills",
        )
        runner.request_stop("test")
        summary = await asyncio.wait_for(task, 10)
        await asyncio.sleep(0.2)
        trades = ex.engine.trade_history(key.account)
    journal.close("test over")
    assert len(trades) >= 6
    venue_fees = sum(t.fee for t in trades)
    assert venue_fees > 0  # the default maker fee is positive: a real number to compare
    with Reader(url) as r:
        rows = r.rows("SELECT trade_id, order_id, fee, amount, position_after FROM fills")
    by_key = {(row[0], row[1]): row for row in rows}
    assert len(by_key) == len(rows) == len(trades)  # every fill once, none twice
    for t in trades:  # each with the exchange's own fee, order id and position after
        row = by_key[(t.trade_id, t.order_id)]
        assert math.isclose(row[2], t.fee, rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(row[3], t.amount) and math.isclose(row[4], t.position_after)
    assert math.isclose(sum(row[2] for row in rows), venue_fees, rel_tol=1e-9)
    # the run summary's fees are the real ones too (the core swapped its estimates)
    inst = summary["instruments"]["BTC-PERPETUAL"]
    assert math.isclose(inst["fees"], venue_fees, rel_tol=1e-4)
    # each fill journaled with the fair value it had in the summary: the same edge from both
    with Reader(url) as r:
        ((no_fair, edge),) = r.rows(
            "SELECT SUM(CASE WHEN fair IS NULL THEN 1 ELSE 0 END), "
            "SUM(side * (fair - price) * amount) FROM fills"
        )
    assert no_fair == 0 and len(rows) == inst["fills"]
    assert math.isclose(edge, inst["edge_usd"], rel_tol=1e-5, abs_tol=1e-6)
    # a restart reads back what it must not repeat
    journal = open_journal(url, writer="thread")
    try:
        start = read_journal_start(journal)
    finally:
        journal.close("read back")
    assert set(start.trade_ids) == {fill_key(t.trade_id, t.order_id) for t in trades}
    assert start.earlier_runs == 1
    with Reader(url) as r:
        (last_cid,) = r.rows("SELECT MAX(client_order_id) FROM orders")[0]
    assert last_cid > 0 and start.first_client_order_id > last_cid
