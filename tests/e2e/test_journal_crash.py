"""The issue's proof: the real engine, SIGKILLed at random moments, loses and repeats nothing.

A local exchange runs in this process; ``python -m thalex_mm run`` runs as a subprocess on one
SQLite journal and one API key. Each round kills it (the whole process group, journal writer
included) at a seeded random moment, from start-up to mid-trading, and starts it again on the
same journal: it must recover the undrained records before trading, continue the client order
ids above the journal's, and pick up fills it never saw. Half the rounds freeze the engine
(SIGSTOP) for a while before the kill: its socket stays open, so the exchange keeps its orders
(until the cancel-on-disconnect timeout) and they fill while nobody reads; a plain SIGKILL
closes the socket and the exchange cancels at once. A last run stops normally. Then every
fill the exchange recorded for the account must be in the journal exactly once, with the
exchange's fee, and no record may be stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thalex_mm.exchange.local import LocalExchange
from thalex_mm.journal.query import Reader
from thalex_mm.journal.schema import TABLES

from .conftest import exchange_config, wait_until

SEED = int(os.environ.get("THALEX_MM_CRASH_SEED", "20261122"))  # other seeds: other moments
KILLS = 6
KILL_AFTER_S = (0.3, 3.5)  # from spawn: some kills land in start-up or recovery
FREEZE_S = (1.0, 2.5)  # SIGSTOP this long before the SIGKILL (< cancel_on_disconnect_s)
FREEZE_AFTER_S = (0.0, 1.5)  # after the engine's first quotes are on the book
FINAL_RUN_S = 5.0  # longer than cancel-on-disconnect: the last killed session's orders expire

CONFIG = """
[venue]
cancel_on_disconnect_s = 3
[run]
timer_interval_ms = 50.0
status_interval_s = 60.0
[[instruments]]
name = "BTC-PERPETUAL"
[instruments.quote]
gamma_usd = 100.0
lot_size = 0.001
[instruments.quote.ladder]
levels = 2
[instruments.quoter]
sigma_default = 2.0
[instruments.orders]
amend_threshold_ticks = 3
min_update_interval_ms = 50.0
[instruments.risk]
max_position = 0.01
"""


async def _spawn(args: list[str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "thalex_mm", "run", *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True,  # its own process group: the kill takes the writer too
        )  # fmt: skip


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _quoting_or_exited(
    ex: LocalExchange, account: str, proc: asyncio.subprocess.Process
) -> Callable[[], bool]:
    return lambda: proc.returncode is not None or bool(ex.engine.open_orders(account))


def _rows(r: Reader, sql: str) -> list[tuple[Any, ...]]:
    return r.rows(sql)


async def test_sigkilled_engine_journals_every_fill_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    db = tmp_path / "j.db"
    url = f"sqlite:///{db}"
    cfg = tmp_path / "mm.toml"
    cfg.write_text(CONFIG)
    log = tmp_path / "engine.log"
    async with LocalExchange(exchange_config(taker_rate_per_s=40.0)) as ex:
        key = ex.new_test_key()
        pem = tmp_path / "key.pem"
        pem.write_bytes(key.private_pem)
        args = [
            "--config", str(cfg), "--url", ex.url, "--key-id", key.key_id,
            "--private-key-file", str(pem), "--journal", url,
        ]  # fmt: skip
        loop = asyncio.get_running_loop()
        kills = []
        frozen_fills = 0
        for round_no in range(KILLS):
            proc = await _spawn(args, log)
            freeze = rng.uniform(*FREEZE_S) if round_no % 2 else 0.0
            spawned = loop.time()
            if freeze:  # once the engine quotes, so that its resting orders can fill
                await wait_until(_quoting_or_exited(ex, key.account, proc), 20.0, "quotes")
                await asyncio.sleep(rng.uniform(*FREEZE_AFTER_S))
            else:
                await asyncio.sleep(rng.uniform(*KILL_AFTER_S))
            delay = loop.time() - spawned
            if proc.returncode is not None:
                raise AssertionError(f"engine exited early; log:\n{log.read_text()[-3000:]}")
            if freeze:
                before = len(ex.engine.trade_history(key.account))
                _signal_group(proc, signal.SIGSTOP)
                await asyncio.sleep(freeze)
                frozen_fills += len(ex.engine.trade_history(key.account)) - before
            _signal_group(proc, signal.SIGKILL)
            await proc.wait()
            kills.append(f"{delay:.2f}" + (f"+{freeze:.2f} frozen" if freeze else ""))
        proc = await _spawn([*args, "--duration", str(FINAL_RUN_S)], log)
        rc = await asyncio.wait_for(proc.wait(), FINAL_RUN_S + 30)
        assert rc == 0, log.read_text()[-3000:]
        trades = ex.engine.trade_history(key.account)

    with Reader(url) as r:
        fills = _rows(r, "SELECT trade_id, order_id, fee, run_id, client_order_id FROM fills")
        runs = [row[0] for row in _rows(r, "SELECT run_id FROM runs ORDER BY ts_ns")]
        duplicates = 0
        for table in TABLES:
            dup = _rows(
                r, f"SELECT run_id, seq, COUNT(*) FROM {table} GROUP BY run_id, seq "
                "HAVING COUNT(*) > 1",
            )  # fmt: skip
            duplicates += len(dup)
        inserts = _rows(
            r, "SELECT run_id, client_order_id FROM orders WHERE action = 'insert' "
            "AND client_order_id IS NOT NULL",
        )  # fmt: skip

    # every fill the exchange recorded, exactly once, with the exchange's fee
    assert len(trades) >= 20, f"too few fills to prove anything: {len(trades)}"
    journal_keys = [(f[0], f[1]) for f in fills]
    assert len(journal_keys) == len(set(journal_keys)), "a fill is journaled twice"
    venue = {(t.trade_id, t.order_id): t for t in trades}
    missing = set(venue) - set(journal_keys)
    extra = set(journal_keys) - set(venue)
    assert not missing, f"{len(missing)} of {len(venue)} fills missing from the journal"
    assert not extra, f"{len(extra)} journaled fills the exchange does not know"
    for f in fills:
        assert math.isclose(f[2], venue[(f[0], f[1])].fee, rel_tol=1e-9, abs_tol=1e-12)
    assert duplicates == 0, "a record is stored twice"

    # the runs that got far enough to journal; client order ids never reused across runs
    assert 2 <= len(runs) <= KILLS + 1 and len(set(runs)) == len(runs)
    cids = [cid for _, cid in inserts]
    assert len(cids) == len(set(cids)), "a client order id was used twice"
    order = {run_id: i for i, run_id in enumerate(runs)}
    first_cid: dict[str, int] = {}
    last_cid: dict[str, int] = {}
    for run_id, cid in inserts:
        first_cid[run_id] = min(cid, first_cid.get(run_id, cid))
        last_cid[run_id] = max(cid, last_cid.get(run_id, cid))
    ranked = sorted(first_cid, key=order.__getitem__)
    for prev_run, next_run in itertools.pairwise(ranked):
        assert first_cid[next_run] > last_cid[prev_run], "a restart did not continue the ids"
    # the exchange agrees: one order per client order id
    by_cid: dict[int, set[str]] = {}
    for t in trades:
        if t.client_order_id is not None:
            by_cid.setdefault(t.client_order_id, set()).add(t.order_id)
    assert all(len(ids) == 1 for ids in by_cid.values())

    # fills journaled by a later run than the one that sent the order: the crash windows
    insert_run = {cid: run_id for run_id, cid in inserts}
    late = sum(1 for f in fills if f[4] in insert_run and insert_run[f[4]] != f[3])
    assert late >= frozen_fills > 0  # the freezes made fills nobody saw live; all recovered
    print(  # the numbers for the report (pytest -s)
        f"\ncrash test: {KILLS} kills at {kills} s, {len(runs)} runs journaled, "
        f"{len(trades)} exchange fills == {len(fills)} journal fills, fees "
        f"{sum(t.fee for t in trades):.6f} == {sum(f[2] for f in fills):.6f}, "
        f"{frozen_fills} fills while frozen, {late} fills journaled by a later run, "
        f"duplicates {duplicates}"
    )
