"""Export journal tables to CSV or Parquet, one file per table named after it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv as pa_csv

from thalex_mm.errors import UserError
from thalex_mm.journal.query import Reader
from thalex_mm.journal.schema import TABLES, Kind

Format = Literal["csv", "parquet"]


def _arrow_type(kind: Kind) -> Any:
    return {
        "int": pa.int64(),
        "float": pa.float64(),
        "text": pa.string(),
        "bool": pa.bool_(),
        "json": pa.string(),
    }[kind]


def _convert(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind == "json":
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if kind == "bool":
        return bool(value)
    return value


def export_table(
    reader: Reader, table: str, fmt: Format, out_dir: Path, run_id: str | None = None
) -> tuple[Path, int]:
    """Write ``table`` to ``out_dir/<table>.<fmt>``; returns the path and the row count."""
    spec = TABLES.get(table)
    if spec is None:
        raise UserError(f"unknown journal table {table!r} (one of: {', '.join(TABLES)})")
    where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    rows = reader.rows(
        f"SELECT {', '.join(spec.column_names)} FROM {table} {where} ORDER BY run_id, seq",
        params,
    )
    schema = pa.schema([pa.field(c.name, _arrow_type(c.kind), c.nullable) for c in spec.columns])
    arrays = [
        pa.array([_convert(col.kind, row[i]) for row in rows], type=_arrow_type(col.kind))
        for i, col in enumerate(spec.columns)
    ]
    data = pa.Table.from_arrays(arrays, schema=schema)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{table}.{fmt}"
    if fmt == "csv":
        pa_csv.write_csv(data, path)
    elif fmt == "parquet":
        pq.write_table(data, path)
    else:
        raise UserError(f"unknown export format {fmt!r} (csv or parquet)")
    return path, len(rows)
