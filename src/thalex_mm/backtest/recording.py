"""Writing recorded market data in the backtest's native format, safely under a kill.

Rows are buffered per table and written once a second (``flush``) as one Arrow IPC record
batch appended to ``<prefix>_<table>.arrows``: a stream with no footer, so a process killed
at any moment leaves every batch written before it readable (``data.read_table`` stops at a
torn last batch). ``close`` (a clean stop, SIGTERM included) turns each stream into
``<prefix>_<table>.parquet`` and removes the stream; the instrument's grid goes to
``<prefix>_meta.json``. The trades and depth columns are those of the shared recorded
windows (see ``data.COLUMNS``), so a recording replays like any other window; the ticker
table (mark, index, funding) is kept beside them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import ipc

SCHEMAS = {
    "trades": pa.schema(
        [
            ("local_ts_ns", pa.int64()), ("exch_ts_ms", pa.int64()), ("trade_id", pa.string()),
            ("price", pa.float64()), ("qty", pa.float64()), ("aggressor_side", pa.string()),
        ]
    ),
    "depth": pa.schema(
        [
            ("local_ts_ns", pa.int64()), ("exch_ts_ms", pa.int64()),
            ("first_update_id", pa.int64()), ("final_update_id", pa.int64()),
            ("prev_final_update_id", pa.int64()), ("is_snapshot", pa.int64()),
            ("side", pa.string()), ("price", pa.float64()), ("qty", pa.float64()),
        ]
    ),
    "ticker": pa.schema(
        [
            ("local_ts_ns", pa.int64()), ("exch_ts_ms", pa.int64()), ("mark", pa.float64()),
            ("index", pa.float64()), ("funding_rate", pa.float64()),
        ]
    ),
}  # fmt: skip


class RecordingWriter:
    """One window being recorded: buffered rows, appended streams, Parquet at close."""

    def __init__(self, prefix: Path, *, tick: float, lot: float) -> None:
        self.prefix = prefix
        prefix.parent.mkdir(parents=True, exist_ok=True)
        meta = {"tick": tick, "lot": lot}
        (prefix.parent / f"{prefix.name}_meta.json").write_text(json.dumps(meta) + "\n")
        self._rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in SCHEMAS}
        self._files: dict[str, Any] = {}
        self._writers: dict[str, ipc.RecordBatchStreamWriter] = {}
        for table, schema in SCHEMAS.items():
            f = open(self._stream_path(table), "wb")  # noqa: SIM115 - closed in close()
            self._files[table] = f
            self._writers[table] = ipc.new_stream(f, schema)
        self.rows_written = 0

    def _stream_path(self, table: str) -> Path:
        return self.prefix.parent / f"{self.prefix.name}_{table}.arrows"

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self._rows[table].append(row)

    def flush(self) -> None:
        """Append what is buffered as one batch per table and hand it to the OS."""
        for table, rows in self._rows.items():
            if not rows:
                continue
            schema = SCHEMAS[table]
            columns = list(zip(*rows, strict=True))
            batch = pa.record_batch(
                [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)],
                schema=schema,
            )
            self._writers[table].write_batch(batch)
            self._files[table].flush()
            self.rows_written += len(rows)
            rows.clear()

    def close(self) -> list[Path]:
        """Flush, then write each table as Parquet and remove its stream."""
        self.flush()
        out = []
        for table in SCHEMAS:
            self._writers[table].close()
            self._files[table].close()
            stream = self._stream_path(table)
            with open(stream, "rb") as f:
                data = ipc.open_stream(f).read_all()
            target = self.prefix.parent / f"{self.prefix.name}_{table}.parquet"
            pq.write_table(data, target, compression="zstd")
            os.unlink(stream)
            out.append(target)
        return out


def read_stream(path: Path) -> pa.Table:
    """Every complete batch of an Arrow stream, even one whose writer was killed mid-batch."""
    batches = []
    with open(path, "rb") as f:
        try:
            reader = ipc.open_stream(f)
            schema = reader.schema
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
        except (pa.ArrowInvalid, OSError):  # a torn last batch (the writer was killed)
            if not batches:
                raise
            schema = batches[0].schema
    return pa.Table.from_batches(batches, schema=schema)
