"""Shared helpers for the journal tests: record factories and a DB row counter."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from thalex_mm.journal.query import Reader
from thalex_mm.journal.records import (
    EstimatorState,
    Fill,
    MarketSnapshot,
    OrderAction,
    OrderUpdate,
    PositionSnapshot,
    QuoteDecision,
    Record,
    RiskEvent,
)


def sample_records(n: int, strategy: str = "s1", instrument: str = "BTC-PERPETUAL") -> list[Record]:
    """``n`` rounds of one record of every kind, with distinct, checkable values."""
    out: list[Record] = []
    for i in range(1, n + 1):
        side = 1 if i % 2 else -1
        out += [
            OrderAction(
                ts_ns=i * 10,
                strategy=strategy,
                instrument=instrument,
                action="insert",
                client_order_id=i,
                side=side,
                price=100.0 + i,
                amount=0.5,
            ),
            OrderUpdate(
                ts_ns=i * 10 + 1,
                strategy=strategy,
                instrument=instrument,
                order_id=f"o{i}",
                client_order_id=i,
                status="filled",
                side=side,
                price=100.0 + i,
                amount=0.5,
                filled_amount=0.5,
            ),
            Fill(
                ts_ns=i * 10 + 2,
                strategy=strategy,
                instrument=instrument,
                trade_id=f"{strategy}-t{i}",
                order_id=f"{strategy}-o{i}",
                client_order_id=i,
                side=side,
                price=100.0 + i,
                amount=0.5,
                fee=0.01 * i,
                maker_taker="maker",
            ),
            QuoteDecision(
                ts_ns=i * 10 + 3,
                strategy=strategy,
                instrument=instrument,
                model="glft",
                mid=100.0 + i,
                sigma=0.5,
                a=140.0,
                k=1.5,
                q=float(i),
                gamma=0.1,
                reservation=99.9 + i,
                spread=0.2,
                bids=[[99.0 + i, 0.5]],
                asks=[[101.0 + i, 0.5]],
            ),
            RiskEvent(
                ts_ns=i * 10 + 4,
                strategy=strategy,
                instrument=instrument,
                kind="limit",
                state="quoting",
                detail=f"d{i}",
            ),
            PositionSnapshot(
                ts_ns=i * 10 + 5,
                strategy=strategy,
                instrument=instrument,
                position=0.5 * i,
                mark=100.0 + i,
            ),
            MarketSnapshot(
                ts_ns=i * 10 + 6,
                instrument=instrument,
                best_bid=99.5 + i,
                best_ask=100.5 + i,
                mark=100.0 + i,
                index_price=100.0 + i,
            ),
            EstimatorState(
                ts_ns=i * 10 + 7,
                strategy=strategy,
                instrument=instrument,
                state={"round": i, "sigma": 0.5},
            ),
        ]
    return out


def count(url: str, table: str, where: str = "", params: tuple[Any, ...] = ()) -> int:
    with Reader(url) as reader:
        return int(reader.rows(f"SELECT COUNT(*) FROM {table} {where}", params)[0][0])


def execute(url: str, sql: str) -> None:
    """Run one statement outside the journal (tests that tamper with the database)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(sql)
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)
