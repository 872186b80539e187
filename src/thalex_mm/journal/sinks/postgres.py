"""PostgreSQL sink: each batch COPYed straight into its tables, with the drain cursor, in
one transaction; a batch that hits a row already stored is written again with ``INSERT ...
SELECT FROM unnest(<one array per column>) ON CONFLICT DO NOTHING``.

COPY is the fastest way in (about 70k rows/s in batches of 128 and 170k in the recovery's
batches of 5,000, against 38k and 55k for the unnest INSERT, measured 2026-12-07), but one
duplicate fails the whole COPY. Duplicates are rare: a re-drain after a lost cursor, or the
same venue fill journaled twice. The fallback keeps them harmless.

An earlier version COPYed into temporary staging tables (``ON COMMIT DELETE ROWS``) and
inserted from there. Every commit then truncated their files: about 36 ``openat`` and 4
``ftruncate`` calls per transaction, and on ext4 each truncate became a real disk write and
a discard (1,360 of each per second at 200 records/s). On a VM that I/O slowed the event
loop's core too (docs/journal.md, "Measured"). Many engines may share one database: rows
are told apart by ``run_id`` and ``strategy``, cursors by journal id. When the
``timescaledb`` extension is installed in the database, the high-volume tables become
hypertables on ts_ns.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from thalex_mm.journal.schema import (
    CURSOR_TABLE,
    SQL_TYPES,
    TABLES,
    TableSpec,
    added_columns,
    create_statements,
)
from thalex_mm.journal.sinks.base import Rows

# Serialises schema creation between engines starting at the same moment.
_SCHEMA_LOCK_KEY = 0x746D6D6A  # "tmmj"


class PostgresSink:
    transactional = True

    def __init__(self, url: str) -> None:
        self.url = url
        self.timescale = False
        self.duplicate_batches = 0  # batches that met a stored row and took the slow path
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
            existing: dict[str, list[str]] = {}
            for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            ).fetchall():
                existing.setdefault(table, []).append(column)
            for statement in added_columns("postgres", existing):  # an older journal's tables
                conn.execute(statement)
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
        try:
            self._write(rows, journal_id, position, now_ns, tolerate_duplicates=False)
        except psycopg.errors.UniqueViolation:  # rolled back: again, skipping stored rows
            self.duplicate_batches += 1
            self._write(rows, journal_id, position, now_ns, tolerate_duplicates=True)

    def _write(
        self, rows: Rows, journal_id: str, position: int, now_ns: int, *, tolerate_duplicates: bool
    ) -> None:
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            for table, table_rows in rows.items():
                if not table_rows:
                    continue
                if tolerate_duplicates:
                    cur.execute(_INSERTS[table], _column_arrays(table, table_rows))
                    continue
                with cur.copy(_COPIES[table]) as copy:
                    for row in table_rows:
                        copy.write_row(row)
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


def _insert_from_arrays(spec: TableSpec) -> str:
    """The statement that inserts a batch passed as one array parameter per column (JSON
    columns go over as text and are cast back)."""
    sql_types = SQL_TYPES["postgres"]
    names = spec.column_names
    arrays = ", ".join(
        f"%s::{'text' if c.kind == 'json' else sql_types[c.kind]}[]" for c in spec.columns
    )
    picked = ", ".join(f"{c.name}::jsonb" if c.kind == "json" else c.name for c in spec.columns)
    return (
        f"INSERT INTO {spec.name} ({', '.join(names)}) SELECT {picked} "
        f"FROM unnest({arrays}) AS batch ({', '.join(names)}) ON CONFLICT DO NOTHING"
    )


def _column_arrays(table: str, rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """One list per column. Float columns are made all floats: psycopg cannot send a list
    that mixes ints and floats (the drainer's typed decode already gives floats; this keeps
    the sink safe for any caller)."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    for i in _FLOAT_COLUMNS[table]:
        columns[i] = [None if v is None else float(v) for v in columns[i]]
    return columns


_FLOAT_COLUMNS: Final = {
    name: tuple(i for i, c in enumerate(spec.columns) if c.kind == "float")
    for name, spec in TABLES.items()
}
_INSERTS: Final = {name: _insert_from_arrays(spec) for name, spec in TABLES.items()}
_COPIES: Final = {
    name: f"COPY {name} ({', '.join(spec.column_names)}) FROM STDIN"
    for name, spec in TABLES.items()
}
