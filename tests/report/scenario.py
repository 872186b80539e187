"""A scripted two-minute run written straight into a journal: known inputs for the report.

Market snapshots every 50 ms (a seeded random walk), quote decisions every 200 ms with a
three-level ladder, and every 2 s a bid and an ask inserted, amended, one of them filled
and the other cancelled (so one side is dark for 0.5 s of each cycle). The run starts with a
carried-in position, pays fees on some fills and earns rebates on others, goes REDUCING for
10 s and logs guard rejections.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from thalex_mm.journal.records import (
    TABLE_OF,
    Fill,
    MarketSnapshot,
    OrderAction,
    OrderUpdate,
    QuoteDecision,
    Record,
    RiskEvent,
    RunStart,
    RunStop,
)
from thalex_mm.journal.schema import TABLES, row_values
from thalex_mm.journal.sinks.base import make_sink

NS = 1_000_000_000
MS = 1_000_000
T0 = 1_800_000_000 * NS
DURATION_S = 120
INSTRUMENT = "BTC-PERPETUAL"
START_POSITION = 0.003
MAX_POSITION = 0.01


def scenario_records(seed: int, instrument: str = INSTRUMENT) -> list[Record]:
    rng = np.random.default_rng(seed)
    out: list[Record] = []
    config: dict[str, Any] = {
        "instruments": [{"name": instrument, "risk": {"max_position": MAX_POSITION}}]
    }
    out.append(RunStart(ts_ns=T0, version="test", venue="scripted", strategy="mm", config=config))
    n_market = DURATION_S * 20
    marks = 100.0 + np.cumsum(rng.normal(0.0, 0.05, n_market))
    market_ts = [T0 + 10 * MS + i * 50 * MS for i in range(n_market)]

    def mark_at(ts: int) -> float:
        i = int(np.searchsorted(market_ts, ts, side="right")) - 1
        return float(marks[max(i, 0)])

    for ts, m in zip(market_ts, marks, strict=True):
        out.append(
            MarketSnapshot(
                ts_ns=ts, instrument=instrument, strategy="mm", best_bid=round(m - 0.5, 2),
                best_ask=round(m + 0.5, 2), mark=float(m), index_price=float(m),
            )
        )  # fmt: skip
    for j in range(DURATION_S * 5):
        ts = T0 + 20 * MS + j * 200 * MS
        m = mark_at(ts)
        out.append(
            QuoteDecision(
                ts_ns=ts, strategy="mm", instrument=instrument, model="glft", mid=m,
                sigma=0.4 + 0.1 * np.sin(j / 50), a=1.0 + j / 1000, k=0.5, q=0.0, gamma=1.0,
                reservation=m - 0.05, spread=2.0,
                bids=[[round(m - 1.0 - 0.5 * lv, 2), 0.001] for lv in range(3)],
                asks=[[round(m + 1.0 + 0.5 * lv, 2), 0.001] for lv in range(3)],
            )
        )  # fmt: skip
    position = START_POSITION
    cid = 0
    for cycle in range(DURATION_S // 2 - 1):
        base = T0 + 100 * MS + cycle * 2 * NS
        m = mark_at(base)
        level = int(rng.integers(0, 2))  # levels 1 and 2 get the fills
        prices = {1: round(m - 1.0 - 0.5 * level, 2), -1: round(m + 1.0 + 0.5 * level, 2)}
        cids = {}
        for side in (1, -1):
            cid += 1
            cids[side] = cid
            out.append(
                OrderAction(
                    ts_ns=base, strategy="mm", instrument=instrument, action="insert",
                    client_order_id=cid, side=side, price=prices[side], amount=0.001,
                )
            )  # fmt: skip
            out.append(
                OrderUpdate(
                    ts_ns=base + (1 + cid % 3) * MS, strategy="mm", instrument=instrument,
                    order_id=f"{seed}-o{cid}", client_order_id=cid, status="open", side=side,
                    price=prices[side], amount=0.001, remaining_amount=0.001,
                    change_reason="reply",
                )
            )  # fmt: skip
        amend_ts = base + 500 * MS
        for side in (1, -1):
            out.append(
                OrderAction(
                    ts_ns=amend_ts, strategy="mm", instrument=instrument, action="amend",
                    client_order_id=cids[side], order_id=f"{seed}-o{cids[side]}",
                    price=prices[side], amount=0.001,
                )
            )  # fmt: skip
            out.append(
                OrderUpdate(
                    ts_ns=amend_ts + 2 * MS, strategy="mm", instrument=instrument,
                    order_id=f"{seed}-o{cids[side]}", client_order_id=cids[side], status="open",
                    side=side, price=prices[side], amount=0.001, remaining_amount=0.001,
                    change_reason="reply",
                )
            )  # fmt: skip
        fill_ts = base + 1500 * MS + int(rng.integers(0, 50)) * MS
        side = 1 if rng.random() < 0.5 else -1
        amount = 0.001 * int(rng.integers(1, 3))
        position += side * amount
        fee = 0.0001 * prices[side] * amount * (1 if cycle % 3 else -1)
        out.append(
            OrderUpdate(
                ts_ns=fill_ts, strategy="mm", instrument=instrument,
                order_id=f"{seed}-o{cids[side]}", client_order_id=cids[side], status="filled",
                side=side, price=prices[side],
                amount=0.001, filled_amount=0.001, change_reason="feed", delete_reason="filled",
            )
        )  # fmt: skip
        out.append(
            Fill(
                ts_ns=fill_ts, strategy="mm", instrument=instrument, trade_id=f"{seed}-t{cycle}",
                order_id=f"{seed}-o{cids[side]}", client_order_id=cids[side], side=side,
                price=prices[side], amount=amount, fee=fee, maker_taker="maker",
                position_after=round(position, 9), fair=mark_at(fill_ts),
            )
        )  # fmt: skip
        other = -side
        out.append(
            OrderAction(
                ts_ns=fill_ts + MS, strategy="mm", instrument=instrument, action="cancel",
                client_order_id=cids[other], order_id=f"{seed}-o{cids[other]}",
            )
        )  # fmt: skip
        out.append(
            OrderUpdate(
                ts_ns=fill_ts + 4 * MS, strategy="mm", instrument=instrument,
                order_id=f"{seed}-o{cids[other]}", client_order_id=cids[other], status="cancelled",
                side=other, price=prices[other], amount=0.001, change_reason="reply",
                delete_reason="client_cancel",
            )
        )  # fmt: skip
    for ts, kind, state, detail in (
        (T0 + 60 * NS, "state", "REDUCING", "position limit"),
        (T0 + 70 * NS, "state", "ACTIVE", "back inside the limit"),
        (T0 + 30 * NS, "guard_rejection", "", "price outside the band"),
        (T0 + 31 * NS, "guard_rejection", "", "price outside the band"),
        (T0 + 40 * NS, "no_quote", "", "one side of the book is empty"),
        (T0 + 41 * NS, "order_anomaly", "", f"rejected (code 1, cid {seed}1, oid {seed}-o1)"),
        (T0 + 42 * NS, "order_anomaly", "", f"rejected (code 1, cid {seed}2, oid {seed}-o2)"),
    ):
        out.append(RiskEvent(ts_ns=ts, strategy="mm", instrument=instrument, kind=kind,
                             state=state, detail=detail))  # fmt: skip
    out.append(RunStop(ts_ns=T0 + DURATION_S * NS, reason="stopped by duration"))
    return out


def write_records(url: str, run_id: str, records: list[Record]) -> None:
    """Write ``records`` as one run, the way the journal's writer would."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for seq, record in enumerate(records):
        table = TABLE_OF[type(record)]
        rows.setdefault(table, []).append(row_values(TABLES[table], run_id, seq, record))
    sink = make_sink(url)
    sink.open()
    try:
        sink.write(rows, f"test-{run_id}", len(records), 0)
    finally:
        sink.close()


def write_scenario(url: str, run_id: str, seed: int) -> None:
    write_records(url, run_id, scenario_records(seed))
