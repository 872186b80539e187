"""A journal written before ``fills.fair`` existed stays readable and writable."""

from __future__ import annotations

from pathlib import Path

import msgspec

from thalex_mm.journal.journal import open_journal
from thalex_mm.journal.query import Reader
from thalex_mm.journal.records import Fill, Record
from thalex_mm.journal.schema import TABLES, added_columns, create_statements

from .helpers import execute


def _old_fills_table(dialect: str) -> str:
    """``fills`` as it was created before the ``fair`` column."""
    (statement,) = [
        s for s in create_statements(dialect) if s.startswith("CREATE TABLE IF NOT EXISTS fills ")
    ]
    fair = ", fair REAL" if dialect == "sqlite" else ", fair DOUBLE PRECISION"
    assert fair in statement
    return statement.replace(fair, "")


def test_an_older_fills_table_gains_the_column_and_keeps_its_rows(
    sink_url: str, tmp_path: Path
) -> None:
    dialect = "sqlite" if sink_url.startswith("sqlite") else "postgres"
    execute(sink_url, _old_fills_table(dialect))
    execute(
        sink_url,
        "INSERT INTO fills (run_id, seq, ts_ns, strategy, instrument, trade_id, order_id, "
        "client_order_id, side, price, amount, fee, maker_taker, position_after) VALUES "
        "('old', 1, 5, 'mm', 'BTC-PERPETUAL', 'T0', 'O0', NULL, 1, 79990.0, 0.003, 0.0, "
        "'maker', 0.003)",
    )
    journal = open_journal(sink_url, segment_dir=tmp_path / "seg", writer="thread")
    journal.append(
        Fill(ts_ns=9, strategy="mm", instrument="BTC-PERPETUAL", trade_id="T1", order_id="O1",
             side=-1, price=80010.0, amount=0.001, fair=80004.0)
    )  # fmt: skip
    assert journal.flush(20)
    journal.close()
    with Reader(sink_url) as r:
        rows = r.rows("SELECT trade_id, fair, side * (fair - price) * amount FROM fills "
                      "ORDER BY ts_ns")  # fmt: skip
    assert rows[0][:2] == ("T0", None)  # the old row: no fair known
    assert rows[1][0] == "T1" and rows[1][1] == 80004.0
    assert abs(rows[1][2] - (-1 * (80004.0 - 80010.0) * 0.001)) < 1e-12  # edge vs fair


def test_only_missing_columns_are_added_and_new_tables_are_left_to_create() -> None:
    everything = {name: spec.column_names for name, spec in TABLES.items()}
    assert added_columns("sqlite", everything) == []
    without_fair = dict(everything, fills=tuple(c for c in everything["fills"] if c != "fair"))
    del without_fair["estimator_states"]  # not there at all: CREATE TABLE makes it whole
    assert added_columns("sqlite", without_fair) == ["ALTER TABLE fills ADD COLUMN fair REAL"]
    assert added_columns("postgres", without_fair) == [
        "ALTER TABLE fills ADD COLUMN fair DOUBLE PRECISION"
    ]


def test_a_fill_in_an_older_segment_decodes_with_no_fair() -> None:
    """Undrained segments of an older version hold fills without the trailing field."""

    class OldFill(msgspec.Struct, tag="Fill", array_like=True, omit_defaults=False, kw_only=True):
        ts_ns: int
        strategy: str
        instrument: str
        trade_id: str
        order_id: str
        client_order_id: int | None = None
        side: int = 0
        price: float = 0.0
        amount: float = 0.0
        fee: float = 0.0
        maker_taker: str = ""
        position_after: float | None = None

    old = OldFill(ts_ns=1, strategy="mm", instrument="X", trade_id="T", order_id="O", side=1)
    decoded = msgspec.msgpack.Decoder(Record).decode(msgspec.msgpack.encode(old))
    assert isinstance(decoded, Fill) and decoded.fair is None and decoded.side == 1
