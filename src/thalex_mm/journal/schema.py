"""The journal's tables, derived from the record Structs so code and schema cannot drift.

Every table starts with ``run_id`` (text) and ``seq`` (the record's number within its run);
``(run_id, seq)`` is the primary key, which makes re-inserting a drained batch harmless.
``fills`` is also unique on ``(trade_id, order_id)`` so a fill reported twice is stored once.
The remaining columns are the record's fields in order; lists and dicts become JSON text.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from thalex_mm.journal.records import RECORD_TYPES, TABLE_OF

Kind = Literal["int", "float", "text", "bool", "json"]
Dialect = Literal["sqlite", "postgres"]

CURSOR_TABLE: Final = "journal_cursor"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    nullable: bool


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    json_indexes: tuple[int, ...]  # positions (in the Struct's astuple) that hold JSON
    unique: tuple[tuple[str, ...], ...]
    indexes: tuple[tuple[str, ...], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _kind_of(annotation: Any) -> tuple[Kind, bool]:
    nullable = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        annotation = args[0]
        origin = typing.get_origin(annotation)
    if origin in (list, dict) or annotation in (list, dict):
        return "json", nullable
    simple: dict[Any, Kind] = {int: "int", float: "float", str: "text", bool: "bool"}
    return simple[annotation], nullable


_UNIQUE: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "fills": (("trade_id", "order_id"),),
}
_INDEXES: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "orders": (("strategy", "instrument", "client_order_id"),),
    "order_updates": (("order_id",),),
    "fills": (("run_id", "instrument"),),
    "estimator_states": (("strategy", "instrument", "ts_ns"),),
    "positions": (("run_id", "instrument", "ts_ns"),),
}


def _build() -> dict[str, TableSpec]:
    hints_cache: dict[str, TableSpec] = {}
    for record_type in RECORD_TYPES:
        hints = typing.get_type_hints(record_type)
        columns = [Column("run_id", "text", False), Column("seq", "int", False)]
        json_indexes: list[int] = []
        for i, field in enumerate(msgspec.structs.fields(record_type)):
            kind, nullable = _kind_of(hints[field.name])
            if kind == "json":
                json_indexes.append(i)
            columns.append(Column(field.name, kind, nullable))
        name = TABLE_OF[record_type]
        hints_cache[name] = TableSpec(
            name=name,
            columns=tuple(columns),
            json_indexes=tuple(json_indexes),
            unique=_UNIQUE.get(name, ()),
            indexes=_INDEXES.get(name, ()),
        )
    return hints_cache


TABLES: Final[dict[str, TableSpec]] = _build()

SQL_TYPES: Final[dict[Dialect, dict[Kind, str]]] = {
    "sqlite": {
        "int": "INTEGER",
        "float": "REAL",
        "text": "TEXT",
        "bool": "INTEGER",
        "json": "TEXT",
    },
    "postgres": {
        "int": "BIGINT",
        "float": "DOUBLE PRECISION",
        "text": "TEXT",
        "bool": "BOOLEAN",
        "json": "JSONB",
    },
}


# Tables that become TimescaleDB hypertables (on ts_ns) when the extension is present. Their
# primary key gains ts_ns (Timescale requires the time column in every unique index); the
# same record always carries the same ts_ns, so idempotency is unchanged.
HYPERTABLES: Final = ("orders", "order_updates", "quotes", "positions", "market", "risk_events")
HYPERTABLE_CHUNK_NS: Final = 86_400 * 1_000_000_000


def create_statements(dialect: Dialect, *, timescale: bool = False) -> list[str]:
    """``CREATE TABLE/INDEX IF NOT EXISTS`` for every table plus the drain cursor."""
    sql_types = SQL_TYPES[dialect]
    statements: list[str] = []
    for spec in TABLES.values():
        cols = [
            f"{c.name} {sql_types[c.kind]}{'' if c.nullable else ' NOT NULL'}" for c in spec.columns
        ]
        hyper = timescale and spec.name in HYPERTABLES
        cols.append("PRIMARY KEY (run_id, seq, ts_ns)" if hyper else "PRIMARY KEY (run_id, seq)")
        cols.extend(f"UNIQUE ({', '.join(u)})" for u in spec.unique)
        statements.append(f"CREATE TABLE IF NOT EXISTS {spec.name} ({', '.join(cols)})")
        for index in spec.indexes:
            index_name = f"{spec.name}_{'_'.join(index)}_idx"
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {index_name} ON {spec.name} ({', '.join(index)})"
            )
        if hyper:
            statements.append(
                f"SELECT create_hypertable('{spec.name}', 'ts_ns', "
                f"chunk_time_interval => {HYPERTABLE_CHUNK_NS}, if_not_exists => TRUE, "
                "migrate_data => TRUE)"
            )
    int_type = sql_types["int"]
    statements.append(
        f"CREATE TABLE IF NOT EXISTS {CURSOR_TABLE} (journal_id TEXT PRIMARY KEY, "
        f"position {int_type} NOT NULL, updated_ns {int_type} NOT NULL)"
    )
    return statements


def added_columns(dialect: Dialect, existing: Mapping[str, Collection[str]]) -> list[str]:
    """``ALTER TABLE … ADD COLUMN`` for the columns the tables of an older journal lack
    (``existing``: table -> its column names). Fields are only ever added at the end of a
    record, with a default and nullable, so older rows read NULL and older segments decode."""
    sql_types = SQL_TYPES[dialect]
    statements = []
    for spec in TABLES.values():
        have = existing.get(spec.name)
        if not have:  # a new table: created whole
            continue
        for c in spec.columns:
            if c.name not in have:
                if not c.nullable:
                    raise ValueError(f"journal table {spec.name} lacks the column {c.name}")
                kind = sql_types[c.kind]
                statements.append(f"ALTER TABLE {spec.name} ADD COLUMN {c.name} {kind}")
    return statements


def row_values(spec: TableSpec, run_id: str, seq: int, record: msgspec.Struct) -> tuple[Any, ...]:
    """The row for one record, in ``spec.columns`` order (JSON fields encoded as text)."""
    values = list(msgspec.structs.astuple(record))
    for i in spec.json_indexes:
        values[i] = msgspec.json.encode(values[i]).decode()
    return (run_id, seq, *values)
