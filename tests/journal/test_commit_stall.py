"""A full disk stops new risk within max_commit_stall_s, with SQLite's real error (#16.7)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import msgspec
import pytest

from thalex_mm.app.launch import _open_journal
from thalex_mm.app.settings import config_from_data
from thalex_mm.app.strict_convert import ConfigError
from thalex_mm.journal.journal import open_journal
from thalex_mm.journal.records import Fill
from thalex_mm.journal.schema import TABLES, row_values
from thalex_mm.journal.sinks import sqlite as sqlite_sink
from thalex_mm.journal.sinks.sqlite import SqliteSink

FILL = Fill(ts_ns=1, strategy="s", instrument="X", trade_id="T", order_id="O")


def _fill_the_disk(conn: sqlite3.Connection) -> None:
    """No page may be added any more: SQLite fails (and rolls back) as on a full disk."""
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_disk_error_is_not_masked_by_the_rollback(tmp_path: Path) -> None:
    sink = SqliteSink(f"sqlite:///{tmp_path / 'j.db'}")
    sink.open()
    conn = sink._connection()
    _fill_the_disk(conn)
    spec = TABLES["fills"]
    fills = [msgspec.structs.replace(FILL, trade_id=f"T{i}") for i in range(2000)]
    rows = {"fills": [row_values(spec, "r", i, f) for i, f in enumerate(fills)]}
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        sink.write(rows, "jid", 1, 0)
    sink.close()


def test_a_writer_that_cannot_commit_stops_new_risk_with_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk_full = {"on": False}
    real_connect = sqlite_sink.connect_sqlite

    def connect(url: str, *, create: bool) -> sqlite3.Connection:
        conn = real_connect(url, create=create)
        if disk_full["on"]:  # the writer reconnects after a failure: the disk stays full
            _fill_the_disk(conn)
        return conn

    monkeypatch.setattr(sqlite_sink, "connect_sqlite", connect)
    journal = open_journal(
        f"sqlite:///{tmp_path / 'j.db'}", writer="thread", max_commit_stall_s=0.5
    )
    try:
        disk_full["on"] = True
        _fill_the_disk(journal._writer.loop.drainer.sink._connection())  # type: ignore[union-attr]
        for i in range(5000):
            journal.append(
                Fill(ts_ns=i, strategy="s", instrument="X", trade_id=f"T{i}", order_id="O")
            )
        assert journal.backpressure is None  # a small backlog, not stalled for long yet
        deadline = time.monotonic() + 5
        while journal.backpressure is None and time.monotonic() < deadline:
            time.sleep(0.05)
        reason = journal.backpressure
        assert reason is not None and "committed nothing" in reason
        assert "database or disk is full" in reason and "cannot rollback" not in reason
        assert journal.stats().backlog_bytes < journal.settings.max_backlog_bytes / 100
        disk_full["on"] = False  # space again: the writer's next reconnect commits
        assert journal.flush(15)
        assert journal.backpressure is None
    finally:
        journal.close()


def test_the_run_config_sets_the_stall_limit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    cfg = config_from_data({"journal": {"url": url, "max_commit_stall_s": 2.5}})
    journal, _ = _open_journal(cfg)
    try:
        assert journal.settings.max_commit_stall_s == 2.5
    finally:
        journal.close()
    with pytest.raises(ConfigError, match=r"journal\.max_commit_stall_s"):
        config_from_data({"journal": {"max_commit_stall_s": 0.1}})
