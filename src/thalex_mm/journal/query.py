"""Reading the journal back: runs, per-instrument summaries, and what a restarted engine needs.

Works on the SQLite and PostgreSQL sinks (same schema, same SQL). QuestDB is write-only here.
SQL is written with ``?`` placeholders and translated for psycopg.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from thalex_mm.errors import UserError
from thalex_mm.journal.sinks.base import DEFAULT_URL, redact_url, scheme_of
from thalex_mm.journal.sinks.sqlite import connect_sqlite


class Reader:
    """A read connection to a journal database."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or DEFAULT_URL
        scheme = scheme_of(self.url)
        self._conn: Any
        if scheme == "sqlite":
            self._conn = connect_sqlite(self.url, create=False)
            self._pg = False
        elif scheme == "postgresql":
            try:
                self._conn = psycopg.connect(self.url, autocommit=True)
            except psycopg.OperationalError as exc:
                raise UserError(f"cannot connect to {redact_url(self.url)}: {exc}") from exc
            self._pg = True
        else:
            raise UserError(
                "reading the journal back needs a sqlite:// or postgresql:// URL "
                "(QuestDB is write-only in thalex-mm; query it with its own console)"
            )

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._pg:
            sql = sql.replace("?", "%s")
        try:
            cur = self._conn.execute(sql, tuple(params))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                raise UserError(f"{redact_url(self.url)} is not a thalex-mm journal") from exc
            raise
        except psycopg.errors.UndefinedTable as exc:
            raise UserError(f"{redact_url(self.url)} is not a thalex-mm journal") from exc
        return list(cur.fetchall())

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    started_ns: int
    stopped_ns: int | None
    stop_reason: str
    version: str
    venue: str
    account: str
    strategy: str


def list_runs(reader: Reader) -> list[RunInfo]:
    rows = reader.rows(
        "SELECT r.run_id, r.ts_ns, s.ts_ns, s.reason, r.version, r.venue, r.account, r.strategy "
        "FROM runs r LEFT JOIN run_stops s ON s.run_id = r.run_id ORDER BY r.ts_ns, r.run_id"
    )
    return [
        RunInfo(row[0], row[1], row[2], row[3] or "", row[4], row[5], row[6], row[7])
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class InstrumentSummary:
    """Per instrument: counts, traded volume and notional, fees, position and PnL.

    ``pnl`` = cash flow of the fills − fees + position × mark, where the mark is the latest
    position-snapshot mark, else the latest market mark, else the last fill price. ``edge``
    = Σ side·(fair − price)·amount over the fills journaled with their fair value (None when
    none is: older journals), ``edge_volume`` their amount.
    """

    instrument: str
    orders: int
    fills: int
    volume: float
    notional: float
    fees: float
    position: float
    mark: float | None
    pnl: float
    edge: float | None = None
    edge_volume: float = 0.0


def summarize(reader: Reader, run_id: str | None = None) -> list[InstrumentSummary]:
    where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    orders = dict(
        reader.rows(f"SELECT instrument, COUNT(*) FROM orders {where} GROUP BY instrument", params)
    )
    fill_rows = reader.rows(
        "SELECT instrument, COUNT(*), SUM(amount), SUM(price * amount), SUM(fee), "
        f"SUM(side * amount), SUM(-side * price * amount), "
        "SUM(side * (fair - price) * amount), SUM(CASE WHEN fair IS NULL THEN 0 ELSE amount END) "
        f"FROM fills {where} GROUP BY instrument",
        params,
    )
    result = []
    fills = {row[0]: row for row in fill_rows}
    for instrument in sorted(set(orders) | set(fills)):
        _, n, volume, notional, fees, position, cash, edge, edge_volume = fills.get(
            instrument, (instrument, 0, 0.0, 0.0, 0.0, 0.0, 0.0, None, 0.0)
        )
        mark = _latest_mark(reader, instrument, run_id)
        position = float(position or 0.0)
        pnl = float(cash or 0.0) - float(fees or 0.0) + (position * mark if mark else 0.0)
        result.append(
            InstrumentSummary(
                instrument=instrument,
                orders=int(orders.get(instrument, 0)),
                fills=int(n),
                volume=float(volume or 0.0),
                notional=float(notional or 0.0),
                fees=float(fees or 0.0),
                position=position,
                mark=mark,
                pnl=pnl,
                edge=None if edge is None else float(edge),
                edge_volume=float(edge_volume or 0.0),
            )
        )
    return result


def _latest_mark(reader: Reader, instrument: str, run_id: str | None) -> float | None:
    run_filter = " AND run_id = ?" if run_id else ""
    params: list[Any] = [instrument, *([run_id] if run_id else [])]
    for table, column in (("positions", "mark"), ("market", "mark"), ("fills", "price")):
        rows = reader.rows(
            f"SELECT {column} FROM {table} WHERE instrument = ?{run_filter} "
            f"AND {column} IS NOT NULL AND {column} > 0 ORDER BY ts_ns DESC, seq DESC LIMIT 1",
            params,
        )
        if rows:
            return float(rows[0][0])
    return None


# --- what a restarted engine reads ----------------------------------------------------------
def max_client_order_ids(reader: Reader, strategy: str | None = None) -> dict[tuple[str, str], int]:
    """The highest client order id ever sent, per (strategy, instrument)."""
    where, params = ("AND strategy = ?", [strategy]) if strategy is not None else ("", [])
    rows = reader.rows(
        "SELECT strategy, instrument, MAX(client_order_id) FROM orders "
        f"WHERE client_order_id IS NOT NULL {where} GROUP BY strategy, instrument",
        params,
    )
    return {(row[0], row[1]): int(row[2]) for row in rows}


def recent_client_order_ids(
    reader: Reader, strategy: str, instrument: str, since_ns: int
) -> list[int]:
    """Client order ids sent for (strategy, instrument) at or after ``since_ns``, ascending."""
    rows = reader.rows(
        "SELECT DISTINCT client_order_id FROM orders WHERE strategy = ? AND instrument = ? "
        "AND ts_ns >= ? AND client_order_id IS NOT NULL ORDER BY client_order_id",
        [strategy, instrument, since_ns],
    )
    return [int(row[0]) for row in rows]


def last_estimator_states(reader: Reader, strategy: str) -> dict[str, dict[str, Any]]:
    """The latest saved estimator state per instrument for ``strategy``."""
    rows = reader.rows(
        "SELECT e.instrument, e.state FROM estimator_states e JOIN (SELECT instrument, "
        "MAX(ts_ns) AS ts FROM estimator_states WHERE strategy = ? GROUP BY instrument) m "
        "ON e.instrument = m.instrument AND e.ts_ns = m.ts WHERE e.strategy = ? ORDER BY e.seq",
        [strategy, strategy],
    )
    states: dict[str, dict[str, Any]] = {}
    for instrument, state in rows:
        states[instrument] = state if isinstance(state, dict) else json.loads(state)
    return states


def newest_estimator_states(reader: Reader, strategy: str) -> dict[str, tuple[int, dict[str, Any]]]:
    """Per instrument, the newest saved estimator state of ``strategy`` and when it was saved
    (``ts_ns``): a warm start checks its age before using it."""
    rows = reader.rows(
        "SELECT e.instrument, e.ts_ns, e.state FROM estimator_states e JOIN (SELECT "
        "instrument, MAX(ts_ns) AS ts FROM estimator_states WHERE strategy = ? GROUP BY "
        "instrument) m ON e.instrument = m.instrument AND e.ts_ns = m.ts WHERE e.strategy = ? "
        "ORDER BY e.seq",
        [strategy, strategy],
    )
    return {
        instrument: (int(ts_ns), state if isinstance(state, dict) else json.loads(state))
        for instrument, ts_ns, state in rows
    }


def fill_key(trade_id: str, order_id: str) -> str:
    """One fill's identity: a trade id alone is shared by both legs of a self-trade."""
    return f"{trade_id}|{order_id}"


def recent_trade_ids(reader: Reader, strategy: str, limit: int = 100_000) -> list[str]:
    """Fill keys (``fill_key``) of the newest ``limit`` fills journaled for ``strategy``
    (newest first): a restarted engine does not journal these again when it catches up on
    the trade history."""
    rows = reader.rows(
        "SELECT trade_id, order_id FROM fills WHERE strategy = ? "
        "ORDER BY ts_ns DESC, seq DESC LIMIT ?",
        [strategy, limit],
    )
    return [fill_key(str(row[0]), str(row[1])) for row in rows]


def count_runs(reader: Reader, strategy: str) -> int:
    """How many runs of ``strategy`` the journal holds."""
    rows = reader.rows("SELECT COUNT(*) FROM runs WHERE strategy = ?", [strategy])
    return int(rows[0][0]) if rows else 0


def first_run_ns(reader: Reader) -> int | None:
    """When the journal's first run started (wall-clock ns; None: no runs yet): a catch-up
    never adopts trades older than the journal."""
    rows = reader.rows("SELECT MIN(ts_ns) FROM runs")
    return int(rows[0][0]) if rows and rows[0][0] is not None else None
