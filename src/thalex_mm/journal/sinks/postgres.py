"""PostgreSQL sink: COPY into per-connection staging tables, then one INSERT ... SELECT ...
ON CONFLICT DO NOTHING per table, and the drain cursor, all in one transaction.

COPY is the fastest way into PostgreSQL; the staging step makes it idempotent (plain COPY
would fail a whole batch on one duplicate). Many engines may share one database: rows are
told apart by ``run_id`` and ``strategy``, cursors by journal id. When the ``timescaledb``
extension is installed in the database, the high-volume tables become hypertables on ts_ns.
"""

from __future__ import annotations

from typing import Any

import psycopg

from thalex_mm.journal.schema import CURSOR_TABLE, TABLES, create_statements
from thalex_mm.journal.sinks.base import Rows

# Serialises schema creation between engines starting at the same moment.
_SCHEMA_LOCK_KEY = 0x746D6D6A  # "tmmj"


class PostgresSink:
    transactional = True

    def __init__(self, url: str) -> None:
        self.url = url
        self.timescale = False
        self._conn: psycopg.Connection[Any] | None = None

    def open(self) -> None:
        conn = psycopg.connect(self.url, autocommit=False)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
            row = conn.execute(
                "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()
            self.timescale = row is not None
            for statement in create_statements("postgres", timescale=self.timescale):
                conn.execute(statement)
        with conn.transaction():
            for spec in TABLES.values():
                conn.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS stage_{spec.name} "
                    f"(LIKE {spec.name}) ON COMMIT DELETE ROWS"
                )
        self._conn = conn

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise RuntimeError("sink not opened")
        return self._conn

    def read_cursor(self, journal_id: str) -> int | None:
        conn = self._connection()
        with conn.transaction():
            row = conn.execute(
                f"SELECT position FROM {CURSOR_TABLE} WHERE journal_id = %s",
                (journal_id,),
            ).fetchone()
        return None if row is None else int(row[0])

    def write(self, rows: Rows, journal_id: str, position: int, now_ns: int) -> None:
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            for table, table_rows in rows.items():
                if not table_rows:
                    continue
                columns = ", ".join(TABLES[table].column_names)
                copy_sql = f"COPY stage_{table} ({columns}) FROM STDIN"
                with cur.copy(copy_sql) as copy:
                    for row in table_rows:
                        copy.write_row(row)
                cur.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} "
                    f"FROM stage_{table} ON CONFLICT DO NOTHING"
                )
            cur.execute(
                f"INSERT INTO {CURSOR_TABLE} (journal_id, position, updated_ns) "
                "VALUES (%s, %s, %s) ON CONFLICT (journal_id) DO UPDATE SET "
                "position = excluded.position, updated_ns = excluded.updated_ns",
                (journal_id, position, now_ns),
            )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
