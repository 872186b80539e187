"""QuestDB sink: InfluxDB line protocol through the official ``questdb`` client.

``questdb://host:port`` and ``questdb+http://`` send ILP over HTTP (default port 9000);
``questdb+tcp://host:port`` over TCP (default 9009). Each row becomes one ILP line: the table
name, ``run_id``/``strategy``/``instrument`` as SYMBOLs, every other column as a field, and
``ts_ns`` as the designated timestamp. QuestDB creates the tables on first write.

ILP has no transactions and no way to read the cursor back, so this sink is at-least-once:
the drain position is kept in the segment directory's control block, and a batch cut short
by a crash may be sent again. Enable deduplication on the tables
(``DEDUP UPSERT KEYS(ts_ns, run_id, seq)``, see docs) to make repeats harmless.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from questdb import Sender, TimestampNanos

from thalex_mm.errors import UserError
from thalex_mm.journal.schema import TABLES, TableSpec
from thalex_mm.journal.sinks.base import Rows, redact_url

SYMBOL_COLUMNS = frozenset({"run_id", "strategy", "instrument"})


def sender_conf(url: str) -> str:
    """The client's configuration string for a ``questdb[+tcp|+http|+https]://`` URL."""
    parts = urlsplit(url)
    transport = parts.scheme.partition("+")[2] or "http"
    if transport not in ("http", "https", "tcp"):
        raise UserError(f"journal URL {redact_url(url)!r}: unknown QuestDB transport")
    default_port = 9009 if transport == "tcp" else 9000
    if not parts.hostname:
        raise UserError(f"journal URL {redact_url(url)!r}: missing host")
    conf = f"{transport}::addr={parts.hostname}:{parts.port or default_port};"
    if parts.username:
        conf += f"username={parts.username};password={parts.password or ''};"
    return conf


def add_rows(buffer: Any, spec: TableSpec, rows: list[tuple[Any, ...]]) -> None:
    """Append ``rows`` of ``spec`` to a client ``Buffer`` as ILP lines."""
    names = spec.column_names
    ts_index = names.index("ts_ns")
    for row in rows:
        symbols: dict[str, str | None] = {}
        columns: dict[str, Any] = {}
        for name, value in zip(names, row, strict=True):
            if name in SYMBOL_COLUMNS:
                symbols[name] = value
            elif name != "ts_ns" and value is not None:
                columns[name] = value
        buffer.row(spec.name, symbols=symbols, columns=columns, at=TimestampNanos(row[ts_index]))


class QuestdbSink:
    transactional = False

    def __init__(self, url: str) -> None:
        self.url = url
        self.conf = sender_conf(url)
        self._sender: Any = None

    def open(self) -> None:
        sender: Any = Sender.from_conf(self.conf)
        sender.establish()
        self._sender = sender

    def read_cursor(self, journal_id: str) -> int | None:
        return None

    def new_buffer(self) -> Any:
        if self._sender is None:
            raise RuntimeError("sink not opened")
        return self._sender.new_buffer()

    def write(self, rows: Rows, journal_id: str, position: int, now_ns: int) -> None:
        buffer = self.new_buffer()
        for table, table_rows in rows.items():
            add_rows(buffer, TABLES[table], table_rows)
        self._sender.flush(buffer)

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()
            self._sender = None
