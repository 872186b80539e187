"""SQLite sink: WAL mode, one transaction per batch (rows + drain cursor), zero setup.

``synchronous=FULL`` by default: the writer is off the event loop, so an fsync per batch
costs the engine nothing and a committed batch survives a power loss. Override with
``sqlite:///path.db?synchronous=NORMAL``.
"""

from __future__ import annotations

import contextlib
import sqlite3

from thalex_mm.errors import UserError
from thalex_mm.journal.schema import CURSOR_TABLE, TABLES, added_columns, create_statements
from thalex_mm.journal.sinks.base import Rows, query_options, sqlite_path

_SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


def connect_sqlite(url: str, *, create: bool) -> sqlite3.Connection:
    """A connection to the journal database (creating its folder if ``create``)."""
    path = sqlite_path(url)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise UserError(f"journal database {str(path)!r} does not exist")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def check_integrity(conn: sqlite3.Connection, url: str) -> None:
    """Refuse a damaged database (``PRAGMA quick_check``, one pass over its pages): a restart
    reads its last client order ids and fills from it, and must not trust a corrupt one."""
    try:
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed", ...
        problem = str(exc)
    else:
        if rows == [("ok",)]:
            return
        problem = " ".join(" ".join(str(r[0]).split()) for r in rows)  # one line
    path = sqlite_path(url)
    raise UserError(
        f"journal database {str(path)!r} is corrupt ({problem}); a restart cannot trust its "
        f"client order ids and fills: move it aside (`sqlite3 {path} .recover` saves what "
        "is readable) and start on a new journal"
    )


class SqliteSink:
    transactional = True

    def __init__(self, url: str) -> None:
        self.url = url
        sync = query_options(url).get("synchronous", "FULL").upper()
        if sync not in _SYNC_MODES:
            raise UserError(f"journal URL {url!r}: synchronous must be one of {_SYNC_MODES}")
        self._sync = sync
        self._conn: sqlite3.Connection | None = None
        self._insert_sql = {
            spec.name: (
                f"INSERT OR IGNORE INTO {spec.name} ({', '.join(spec.column_names)}) "
                f"VALUES ({', '.join('?' * len(spec.columns))})"
            )
            for spec in TABLES.values()
        }

    def open(self) -> None:
        conn = connect_sqlite(self.url, create=True)
        try:
            check_integrity(conn, self.url)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._sync}")
            conn.execute("BEGIN IMMEDIATE")
            for statement in create_statements("sqlite"):
                conn.execute(statement)
            existing = {
                name: [row[1] for row in conn.execute(f"PRAGMA table_info({name})")]
                for name in TABLES
            }
            for statement in added_columns("sqlite", existing):  # an older journal's tables
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("sink not opened")
        return self._conn

    def read_cursor(self, journal_id: str) -> int | None:
        row = (
            self._connection()
            .execute(f"SELECT position FROM {CURSOR_TABLE} WHERE journal_id = ?", (journal_id,))
            .fetchone()
        )
        return None if row is None else int(row[0])

    def write(self, rows: Rows, journal_id: str, position: int, now_ns: int) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table, table_rows in rows.items():
                if table_rows:
                    conn.executemany(self._insert_sql[table], table_rows)
            conn.execute(
                f"INSERT INTO {CURSOR_TABLE} (journal_id, position, updated_ns) VALUES (?, ?, ?) "
                "ON CONFLICT (journal_id) DO UPDATE SET position = excluded.position, "
                "updated_ns = excluded.updated_ns",
                (journal_id, position, now_ns),
            )
            conn.execute("COMMIT")
        except BaseException:
            # SQLite has already rolled back after some errors (SQLITE_FULL): a ROLLBACK then
            # fails with "no transaction is active" and would hide the real error
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
