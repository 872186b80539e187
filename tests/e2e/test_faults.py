"""The reliability suite: the runner of `thalex-mm run` through seeded fault schedules.

Each test runs the real engine (make_runner, SQLite journal) against the in-process exchange
with a `[faults]` config and checks, from the exchange's own records and the journal
(`bench/reliability.py`): every fill journaled exactly once, no order left after stop, never
more than one ladder resting, no client order id used twice, the final position equal to the
venue's, and quotes on both sides again after every fault. The last tests plant defects to
show the checks catch them. THALEX_MM_FAULT_SEED picks other frame draws.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from thalex_mm.app.journaling import TradeJournal
from thalex_mm.bench.reliability import Recovery, RunRecord, violations
from thalex_mm.bench.reliability import run_under_faults as run
from thalex_mm.domain import Side
from thalex_mm.exchange.engine import TradeRecord
from thalex_mm.exchange.engine.types import MakerTaker
from thalex_mm.exchange.fault_config import FaultConfig, ScheduledFault

SEED = int(os.environ.get("THALEX_MM_FAULT_SEED", "16"))
pytestmark = pytest.mark.timeout(120)


def _report(name: str, record: RunRecord) -> None:
    print(  # the numbers for docs/reliability.md (pytest -s)
        f"\n{name}: {len(record.exchange_trades)} fills, injected {record.faults_injected}, "
        f"recoveries {[(r.kind, r.requote_s) for r in record.recoveries]}, "
        f"resync->requote {record.resync_to_requote_s}, bad frames {record.bad_frames}, "
        f"surpluses {record.surpluses}"
    )


async def test_drops_maintenance_and_restarts_are_survived(tmp_path: Path) -> None:
    """A close frame, a TCP reset, a maintenance notice, a restart that keeps the exchange's
    state and one that loses it (a fresh matching engine: the venue's position resets)."""
    schedule = (
        ScheduledFault(2.0, "close"),
        ScheduledFault(5.0, "abort"),
        ScheduledFault(8.0, "maintenance", 0.5),
        ScheduledFault(11.0, "restart", 0.5),
        ScheduledFault(14.0, "restart_lost", 0.5),
    )
    record = await run(FaultConfig(seed=SEED, schedule=schedule), 16.0, tmp_path, settle_s=4.0)
    _report("connection faults", record)
    assert violations(record) == []
    assert [r.kind for r in record.recoveries] == [f.kind for f in schedule]
    assert record.exchange_restarts == 2
    assert len(record.resync_to_requote_s) >= 5  # each fault cost one new session at least
    assert len(record.exchange_trades) >= 20, "too few fills to prove anything"


async def test_stalled_replies_a_throttle_storm_and_a_half_open_link(tmp_path: Path) -> None:
    """Replies held 2.5 s (past the engine's 1.5 s reply timeout: orders it gave up on rest
    on the book), every order refused with code 4 for 2 s, then the exchange stops reading and
    writing without closing: the engine must notice on its own (pings), and the exchange
    drops the session's orders at its heartbeat timeout."""
    schedule = (
        ScheduledFault(2.0, "stall", 2.5),
        ScheduledFault(7.0, "throttle_storm", 2.0),
        ScheduledFault(11.0, "half_open"),
    )
    record = await run(FaultConfig(seed=SEED, schedule=schedule), 12.0, tmp_path, settle_s=12.0)
    _report("stall, storm, half-open", record)
    assert violations(record) == []
    assert record.faults_injected["stalled_replies"] > 0
    assert record.faults_injected["throttled"] > 0
    assert record.summary["throttle_errors"] >= 1
    assert record.summary["reconnects"] == 1  # the half-open link, found by the pings


async def test_garbled_duplicated_reordered_delayed_frames_and_refused_orders(
    tmp_path: Path,
) -> None:
    """Frames garbled or cut short (bad frames: some carried fills, which the sweep after a
    bad frame journals), notifications sent twice, swapped and held 20 ms, one order in ten
    refused. From 2 s on, so the first session sets up."""
    faults = FaultConfig(
        seed=SEED, after_s=2.0, delay_ms=20.0, duplicate=0.05, reorder=0.05,
        corrupt=0.01, truncate=0.01, reject=0.1,
    )  # fmt: skip
    record = await run(faults, 14.0, tmp_path)
    _report("frame faults", record)
    assert violations(record) == []
    for kind in ("delayed", "duplicated", "reordered", "corrupted", "truncated", "rejected"):
        assert record.faults_injected.get(kind, 0) > 0, kind
    assert record.bad_frames > 0
    assert record.summary["instruments"]["BTC-PERPETUAL"]["rejections"] > 0


async def test_the_checks_catch_fills_lost_without_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planted defect: the sweep after a bad frame journals nothing (the code before this
    suite). Under garbled frames some fills then never reach the journal, and the check says
    so (the same run with the sweep passes: the test above)."""
    monkeypatch.setattr(TradeJournal, "sweep", lambda self, trades, since_s, now_ns: 0)
    faults = FaultConfig(seed=SEED, after_s=2.0, corrupt=0.05, truncate=0.05)
    record = await run(faults, 12.0, tmp_path)
    found = violations(record)
    assert any("exchange fills are not in the journal" in v for v in found), found


def _trade(n: int) -> TradeRecord:
    return TradeRecord(
        trade_id=f"T{n}", order_id=f"O{n}", instrument_name="BTC-PERPETUAL",
        direction=Side.BUY, price=80_000.0, amount=0.001, time_ns=n, maker_taker=MakerTaker.MAKER,
        fee=0.0, fee_rate=0.0, position_after=0.001 * n, realised_pnl=0.0, index=None,
        client_order_id=n,
    )  # fmt: skip


def _clean() -> RunRecord:
    trades = [_trade(n) for n in range(1, 4)]
    return RunRecord(
        levels=2,
        summary={"instruments": {"BTC-PERPETUAL": {"final_position": 0.003}}},
        exchange_trades=trades,
        journal_fills=[(t.trade_id, t.order_id, t.client_order_id) for t in trades],
        journal_inserts=[1, 2, 3],
        open_after_stop=0,
        venue_position_lots=3,
        faults_injected={"abort": 1},
        recoveries=[Recovery("abort", 1.0, 0.2)],
        resync_to_requote_s=[0.1],
        surpluses=[(0.5, 0.05, 3)],  # a brief one is allowed
        samples=100,
        exchange_restarts=0,
        bad_frames=0,
    )


def test_each_check_names_its_planted_defect() -> None:
    """The checks on records: a clean record passes, and each planted defect is named."""
    assert violations(_clean()) == []
    plants = {
        "not in the journal": lambda r: r.journal_fills.pop(),
        "journaled more than once": lambda r: r.journal_fills.append(r.journal_fills[0]),
        "the exchange never made": lambda r: r.journal_fills.append(("T9", "O9", 9)),
        "left on the book": lambda r: setattr(r, "open_after_stop", 1),
        "a second ladder rested: 4 orders": lambda r: r.surpluses.append((2.0, 6.0, 4)),
        "inserted twice": lambda r: r.journal_inserts.append(2),
        "final position 3 lots, the venue's 2": lambda r: setattr(r, "venue_position_lots", 2),
        "no quotes again after the abort": lambda r: setattr(r.recoveries[0], "requote_s", None),
    }
    for message, plant in plants.items():
        record = _clean()
        plant(record)
        found = violations(record)
        assert len(found) == 1 and message in found[0], (message, found)
