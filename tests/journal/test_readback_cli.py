"""Reading back: summary numbers, run listing, export files, and the CLI around them."""

from __future__ import annotations

import csv
import random
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from thalex_mm.cli.main import main
from thalex_mm.journal.journal import open_journal
from thalex_mm.journal.query import Reader, list_runs, summarize
from thalex_mm.journal.records import Fill, OrderAction, PositionSnapshot
from thalex_mm.journal.redact import redact

FILLS_COLUMNS = {
    "run_id",
    "trade_id",
    "order_id",
    "client_order_id",
    "instrument",
    "side",
    "price",
    "amount",
    "fee",
    "maker_taker",
    "ts_ns",
}


def _random_run(url: str, tmp_path: Path, seed: int) -> tuple[str, list[Fill], dict[str, float]]:
    rng = random.Random(seed)
    fills, marks = [], {}
    journal = open_journal(url, segment_dir=tmp_path / "seg", writer="thread")
    journal.start_run(version="9.9", config={"api": {"private_key": "SECRET"}}, venue="test")
    for i in range(60):
        inst = rng.choice(["BTC-PERPETUAL", "ETH-PERPETUAL"])
        journal.append(
            OrderAction(ts_ns=i, strategy="s", instrument=inst, action="insert", client_order_id=i)
        )
        fill = Fill(
            ts_ns=i,
            strategy="s",
            instrument=inst,
            trade_id=f"T{seed}-{i}",
            order_id=f"O{i}",
            client_order_id=i,
            side=rng.choice([1, -1]),
            price=round(rng.uniform(90, 110), 2),
            amount=round(rng.uniform(0.1, 2), 3),
            fee=round(rng.uniform(-0.01, 0.05), 4),
            maker_taker="maker",
            fair=None if i % 3 == 0 else round(rng.uniform(90, 110), 2),  # some without
        )
        fills.append(fill)
        journal.append(fill)
    for inst in ("BTC-PERPETUAL", "ETH-PERPETUAL"):
        marks[inst] = round(rng.uniform(90, 110), 2)
        journal.append(
            PositionSnapshot(
                ts_ns=100, strategy="s", instrument=inst, position=0.0, mark=marks[inst]
            )
        )
    run_id = journal.run_id
    journal.close("test over")
    return run_id, fills, marks


def test_summary_matches_an_independent_computation(sink_url: str, tmp_path: Path):
    run_id, fills, marks = _random_run(sink_url, tmp_path, seed=7)
    with Reader(sink_url) as reader:
        rows = {r.instrument: r for r in summarize(reader, run_id)}
        runs = list_runs(reader)
    assert [r.run_id for r in runs] == [run_id]
    assert runs[0].stop_reason == "test over" and runs[0].venue == "test"
    for inst, row in rows.items():
        mine = [f for f in fills if f.instrument == inst]
        position = sum(f.side * f.amount for f in mine)
        cash = sum(-f.side * f.price * f.amount for f in mine) - sum(f.fee for f in mine)
        assert row.fills == row.orders == len(mine)
        assert row.volume == pytest.approx(sum(f.amount for f in mine))
        assert row.fees == pytest.approx(sum(f.fee for f in mine))
        assert row.position == pytest.approx(position)
        assert row.mark == marks[inst]
        assert row.pnl == pytest.approx(cash + position * marks[inst])
        priced = [f for f in mine if f.fair is not None]
        edge = sum(f.side * (f.fair - f.price) * f.amount for f in priced)  # type: ignore[operator]
        assert row.edge == pytest.approx(edge)
        assert row.edge_volume == pytest.approx(sum(f.amount for f in priced))


def test_export_csv_and_parquet_hold_the_fills(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    run_id, fills, _ = _random_run(url, tmp_path, seed=3)
    out = tmp_path / "out"
    assert (
        main(
            [
                "journal",
                "export",
                "--journal",
                url,
                "--format",
                "csv",
                "--table",
                "fills,runs",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    with open(out / "fills.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert set(rows[0]) >= FILLS_COLUMNS
    assert [(r["trade_id"], float(r["price"]), int(r["side"])) for r in rows] == [
        (f.trade_id, f.price, f.side) for f in fills
    ]
    with open(out / "runs.csv", newline="") as fh:
        config = next(csv.DictReader(fh))["config"]
    assert "SECRET" not in config and "***" in config

    assert (
        main(
            [
                "journal",
                "export",
                "--journal",
                url,
                "--format",
                "parquet",
                "--out",
                str(out),
                "--run",
                run_id,
            ]
        )
        == 0
    )
    table = pq.read_table(out / "fills.parquet")
    assert set(table.column_names) >= FILLS_COLUMNS
    assert table.column("amount").to_pylist() == [f.amount for f in fills]
    assert (out / "estimator_states.parquet").exists()


def test_cli_runs_and_summary_print_what_is_stored(tmp_path: Path, capsys):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    run_id, fills, _ = _random_run(url, tmp_path, seed=11)
    assert main(["journal", "runs", "--journal", url]) == 0
    assert run_id in capsys.readouterr().out
    assert main(["journal", "summary", "--journal", url, "--run", run_id]) == 0
    out = capsys.readouterr().out
    btc = sum(1 for f in fills if f.instrument == "BTC-PERPETUAL")
    line = next(x for x in out.splitlines() if x.startswith("BTC-PERPETUAL"))
    assert line.split()[2] == str(btc)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["journal", "summary", "--journal", "sqlite:///{tmp}/missing.db"], "does not exist"),
        (["journal", "runs", "--journal", "mysql://x"], "unknown scheme"),
        (["journal", "summary", "--journal", "sqlite:///{tmp}/j.db", "--run", "nope"], "no run"),
        (
            [
                "journal",
                "export",
                "--journal",
                "sqlite:///{tmp}/j.db",
                "--table",
                "bogus",
                "--out",
                "{tmp}/o",
            ],
            "unknown table",
        ),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path: Path, capsys, argv: list[str], message: str):
    journal = open_journal(f"sqlite:///{tmp_path / 'j.db'}", writer="thread")
    journal.close()
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_redaction_masks_secret_keys_at_any_depth():
    config = {
        "api_key": "k",
        "nested": [{"Private_Key_Path": "/x", "size": 1}],
        "auth": {"token": "t"},
        "password": None,
        "instrument": "BTC",
    }
    assert redact(config) == {
        "api_key": "***",
        "nested": [{"Private_Key_Path": "***", "size": 1}],
        "auth": "***",
        "password": "***",
        "instrument": "BTC",
    }


def test_cli_on_a_database_that_is_not_a_journal(sink_url: str, tmp_path: Path, capsys):
    if sink_url.startswith("sqlite"):  # an existing SQLite file with other tables
        sqlite3.connect(sink_url.removeprefix("sqlite:///")).execute("CREATE TABLE x (a)")
    assert main(["journal", "runs", "--journal", sink_url]) == 2
    assert "is not a thalex-mm journal" in capsys.readouterr().err
