"""End to end through each transactional sink (SQLite and a real PostgreSQL server)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import msgspec
import pytest

from thalex_mm.journal.directory import JournalError
from thalex_mm.journal.journal import open_journal
from thalex_mm.journal.query import (
    Reader,
    last_estimator_states,
    max_client_order_ids,
    recent_client_order_ids,
)
from thalex_mm.journal.records import TABLE_OF, Fill, MarketSnapshot
from thalex_mm.journal.schema import TABLES, row_values
from thalex_mm.journal.sinks.postgres import PostgresSink
from thalex_mm.journal.sinks.sqlite import SqliteSink

from .helpers import count, execute, sample_records


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_every_record_lands_once_with_its_fields(sink_url: str, tmp_path: Path, writer: str):
    records = sample_records(30)
    journal = open_journal(
        sink_url, segment_dir=tmp_path / "seg", writer=writer, segment_size=16384
    )
    for record in records:
        assert journal.append(record)
    assert journal.flush(20)
    run_id = journal.run_id
    journal.close()

    with Reader(sink_url) as reader:
        for seq, record in enumerate(records, start=1):
            spec = TABLES[TABLE_OF[type(record)]]
            rows = reader.rows(
                f"SELECT {', '.join(spec.column_names)} FROM {spec.name} "
                "WHERE run_id = ? AND seq = ?",
                (run_id, seq),
            )
            assert len(rows) == 1, (spec.name, seq)
            stored = dict(zip(spec.column_names, rows[0], strict=True))
            expected = msgspec.structs.asdict(record)
            for name, value in expected.items():
                got = stored[name]
                if isinstance(value, list | dict) and isinstance(got, str):
                    got = json.loads(got)
                assert got == value, (spec.name, name)
    assert count(sink_url, "fills") == 30


def test_reopening_recovers_nothing_twice_and_continues(sink_url: str, tmp_path: Path):
    seg = tmp_path / "seg"
    first = open_journal(sink_url, segment_dir=seg, writer="thread", segment_size=8192)
    for record in sample_records(20):
        first.append(record)
    first.close()
    second = open_journal(sink_url, segment_dir=seg, writer="thread", segment_size=8192)
    assert second.recovered_records == 0
    for record in sample_records(5, strategy="s2"):
        second.append(record)
    second.close()
    assert count(sink_url, "fills") == 25
    assert count(sink_url, "orders", "WHERE run_id = ?", (second.run_id,)) == 5


def test_restart_queries_client_order_ids_and_estimator_state(sink_url: str, tmp_path: Path):
    journal = open_journal(sink_url, segment_dir=tmp_path / "seg", writer="thread")
    for record in sample_records(7, strategy="a") + sample_records(
        4, strategy="b", instrument="ETH"
    ):
        journal.append(record)
    journal.close()
    with Reader(sink_url) as reader:
        assert max_client_order_ids(reader) == {("a", "BTC-PERPETUAL"): 7, ("b", "ETH"): 4}
        assert max_client_order_ids(reader, "b") == {("b", "ETH"): 4}
        # ts_ns of insert i is 10 * i: ids from 50 on are 5, 6, 7
        assert recent_client_order_ids(reader, "a", "BTC-PERPETUAL", 50) == [5, 6, 7]
        assert last_estimator_states(reader, "a") == {"BTC-PERPETUAL": {"round": 7, "sigma": 0.5}}


def test_same_fill_reported_twice_is_stored_once(sink_url: str, tmp_path: Path):
    fill = Fill(
        ts_ns=1,
        strategy="s",
        instrument="X",
        trade_id="T1",
        order_id="O1",
        side=1,
        price=10.0,
        amount=1.0,
    )
    for _ in range(2):  # two runs both see the same venue fill
        journal = open_journal(sink_url, segment_dir=tmp_path / "seg", writer="thread")
        journal.append(fill)
        journal.append(fill)
        journal.close()
    assert count(sink_url, "fills") == 1


def test_second_journal_on_same_directory_is_refused(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    journal = open_journal(url, writer="thread")
    try:
        with pytest.raises(JournalError, match="in use by another process"):
            open_journal(url, writer="thread", lock_timeout_s=0.1)
    finally:
        journal.close()


def test_market_snapshots_are_shed_and_counted_under_backlog(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    journal = open_journal(
        url,
        writer="thread",
        market_shed_bytes=2000,
        max_backlog_bytes=4000,
        drain_interval_ms=60_000,
    )
    journal._writer.stop(5)  # a stalled writer: nothing is drained from here on
    snap = MarketSnapshot(ts_ns=1, instrument="X", best_bid=1.0, best_ask=2.0)
    fill = Fill(ts_ns=1, strategy="s", instrument="X", trade_id="T", order_id="O")
    appended_market = sum(journal.append(snap) for _ in range(200))
    assert journal.dropped_market == 200 - appended_market > 0
    assert journal.stats().backlog_bytes <= 2000 + 200
    for i in range(200):  # critical records are never dropped, even past the limit
        assert journal.append(msgspec.structs.replace(fill, trade_id=f"T{i}"))
    reason = journal.backpressure
    assert reason is not None
    journal.close()


def test_backpressure_reports_behind_limit_while_writer_alive(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    journal = open_journal(url, writer="thread", max_backlog_bytes=3000, drain_interval_ms=60_000)
    fill = Fill(ts_ns=1, strategy="s", instrument="X", trade_id="T", order_id="O")
    assert journal.backpressure is None
    for i in range(100):
        journal.append(msgspec.structs.replace(fill, trade_id=f"T{i}"))
    reason = journal.backpressure
    assert reason is not None and "behind" in reason
    assert journal.flush(10)
    assert journal.backpressure is None
    journal.close()
    assert count(url, "fills") == 100


def test_offer_market_samples_per_instrument(tmp_path: Path):
    journal = open_journal(
        f"sqlite:///{tmp_path / 'j.db'}", writer="thread", market_interval_ms=1.0
    )
    taken = [
        journal.offer_market(MarketSnapshot(ts_ns=t, instrument=inst))
        for t in range(0, 3_000_000, 250_000)
        for inst in ("A", "B")
    ]
    journal.close()
    # 12 timestamps 0.25 ms apart: each instrument is taken at 0, 1 and 2 ms
    assert sum(taken) == 6
    assert journal.sampled_out_market == 18


def test_market_due_answers_what_offer_market_would_do(tmp_path: Path):
    journal = open_journal(
        f"sqlite:///{tmp_path / 'j.db'}", writer="thread", market_interval_ms=1.0
    )
    due = []
    for t in range(0, 3_000_000, 250_000):
        ok = journal.market_due("A", t)
        due.append(ok)
        if ok:  # the caller builds and offers the snapshot only when it is due
            assert journal.offer_market(MarketSnapshot(ts_ns=t, instrument="A"))
    journal.close()
    assert [t for t, ok in zip(range(0, 3_000_000, 250_000), due, strict=True) if ok] == [
        0,
        1_000_000,
        2_000_000,
    ]
    assert journal.sampled_out_market == 9


def test_a_failing_database_is_retried_and_nothing_is_lost(tmp_path: Path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    real_write = SqliteSink.write
    failures = {"left": 0}

    def flaky_write(self, rows, journal_id, position, now_ns):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise OSError("database is down")
        return real_write(self, rows, journal_id, position, now_ns)

    monkeypatch.setattr(SqliteSink, "write", flaky_write)
    journal = open_journal(url, writer="thread", max_backlog_bytes=2000)
    failures["left"] = 4
    for i in range(50):
        journal.append(Fill(ts_ns=i, strategy="s", instrument="X", trade_id=f"T{i}", order_id="O"))
    reason = journal.backpressure
    assert reason is not None and "behind" in reason
    assert journal.flush(20)  # retried with back-off until the database came back
    assert failures["left"] == 0
    assert journal.backpressure is None and journal.stats().writer_error == ""
    journal.close()
    assert count(url, "fills") == 50


def test_only_a_sink_error_is_cleared_by_a_successful_write(tmp_path: Path):
    """The drainer clears the writer error when rows land only if the sink caused it (and
    before publishing the position, so ``flush`` never returns with it still set). An error
    of the segment stage (no spare: disk full) stays until a whole drain cycle succeeds."""
    from thalex_mm.journal.drainer import Drainer  # noqa: PLC0415
    from thalex_mm.journal.sinks.base import make_sink  # noqa: PLC0415

    url = f"sqlite:///{tmp_path / 'j.db'}"
    journal = open_journal(url, writer="none", segment_dir=tmp_path / "seg")
    sink = make_sink(url)
    sink.open()
    drainer = Drainer(tmp_path / "seg", sink, journal.control)

    def fills(first: int, n: int) -> None:
        for i in range(first, first + n):
            journal.append(
                Fill(ts_ns=i, strategy="s", instrument="X", trade_id=f"T{i}", order_id="O")
            )

    fills(0, 3)
    journal.control.error = "OSError: No space left on device"
    drainer.sink_failed = False
    assert drainer.drain_once(journal.control.committed) == 3
    assert journal.control.error == "OSError: No space left on device"  # not the sink's
    fills(3, 2)
    journal.control.error = "OperationalError: database is locked"
    drainer.sink_failed = True
    assert drainer.drain_once(journal.control.committed) == 2
    assert journal.control.error == "" and not drainer.sink_failed
    assert journal.caught_up
    sink.close()
    journal.close()
    assert count(url, "fills") == 5


def test_two_engines_share_one_database(sink_url: str, tmp_path: Path):
    engines = [
        open_journal(sink_url, segment_dir=tmp_path / f"seg{i}", writer=w)
        for i, w in enumerate(("thread", "process"))
    ]
    for round_no in range(40):
        for i, journal in enumerate(engines):
            for record in sample_records(1, strategy=f"engine{i}-{round_no}"):
                journal.append(record)
    for journal in engines:
        journal.close()
    with Reader(sink_url) as reader:
        per_run = dict(reader.rows("SELECT run_id, COUNT(*) FROM fills GROUP BY run_id"))
        cursors = reader.rows("SELECT COUNT(*) FROM journal_cursor")[0][0]
    assert per_run == {engines[0].run_id: 40, engines[1].run_id: 40}
    assert cursors == 2


def test_default_journal_is_sqlite_under_data(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    journal = open_journal(None, writer="thread")
    journal.append(Fill(ts_ns=1, strategy="s", instrument="X", trade_id="T", order_id="O"))
    journal.close()
    assert journal.directory == Path("data/journal-segments")
    assert count("sqlite:///data/journal.db", "fills") == 1


def test_redraining_after_a_lost_cursor_inserts_no_duplicates(sink_url: str, tmp_path: Path):
    seg = tmp_path / "seg"
    journal = open_journal(sink_url, segment_dir=seg, writer="thread")
    for record in sample_records(25):
        journal.append(record)
    journal.close()
    before = {t: count(sink_url, t) for t in TABLES}
    # forget how far the drain got (as if the cursor's transaction was lost): the next open
    # drains the last segment again, and the (run_id, seq) key must absorb every row
    execute(sink_url, "DELETE FROM journal_cursor")
    (seg / "control").unlink()  # the control block's copy of the position, too
    again = open_journal(sink_url, segment_dir=seg, writer="thread")
    again.close()
    assert again.recovered_records == len(sample_records(25))
    assert {t: count(sink_url, t) for t in TABLES} == before


def test_fsync_interval_syncs_the_active_segment(tmp_path: Path, monkeypatch):
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    journal = open_journal(
        f"sqlite:///{tmp_path / 'j.db'}?synchronous=OFF", writer="thread", fsync_interval_ms=1
    )
    journal.append(Fill(ts_ns=1, strategy="s", instrument="X", trade_id="T", order_id="O"))
    assert journal.flush(10)
    deadline = time.monotonic() + 5
    while len(synced) < 2 and time.monotonic() < deadline:
        journal._writer.wake()
        time.sleep(0.01)
    journal.close()
    assert len(synced) >= 2  # segment and directory, with SQLite's own fsyncs switched off


def test_whole_numbers_in_float_fields_are_stored_as_floats(sink_url: str, tmp_path: Path):
    # Structs built in Python are not validated: an int can sit in a float field. The
    # PostgreSQL sink's duplicate path sends a batch as one array per column, and a list of
    # mixed ints and floats cannot be sent as one; the drainer's typed decode must make them
    # all floats first. The second run repeats the fills, so that path runs too.
    fills = [
        Fill(ts_ns=1, strategy="s", instrument="X", trade_id="T1", order_id="O",
             price=100, amount=1, fee=0),
        Fill(ts_ns=2, strategy="s", instrument="X", trade_id="T2", order_id="O",
             price=100.5, amount=0.25, fee=0.01),
    ]  # fmt: skip
    for _ in range(2):
        journal = open_journal(sink_url, segment_dir=tmp_path / "seg", writer="thread")
        journal.append_batch(fills)
        journal.close()
    with Reader(sink_url) as reader:
        rows = reader.rows("SELECT price, amount, fee FROM fills ORDER BY trade_id")
    assert [tuple(row) for row in rows] == [(100.0, 1.0, 0.0), (100.5, 0.25, 0.01)]
    assert all(isinstance(value, float) for row in rows for value in row)


def test_postgres_batch_with_a_stored_row_is_written_again_without_it(pg_url: str):
    # COPY straight into the tables; a batch that meets a stored row (a re-drain, a fill
    # journaled twice) fails whole and goes again through INSERT ... ON CONFLICT DO NOTHING.
    # No temporary tables: staging tables made every commit truncate their files, which
    # became real disk writes on ext4 and slowed the event loop's core on a VM.
    records = sample_records(2)
    spec = TABLES["fills"]
    first, second = (row_values(spec, "r", seq, records[i]) for seq, i in ((1, 2), (2, 10)))
    sink = PostgresSink(pg_url)
    sink.open()
    try:
        sink.write({"fills": [first]}, "j", 1, 1)
        assert sink.duplicate_batches == 0
        sink.write({"fills": [first, second]}, "j", 2, 2)
        assert sink.duplicate_batches == 1
        assert sink.read_cursor("j") == 2
        # the slow path sends one array per column: whole numbers in a float column must go
        # over as floats, or psycopg refuses a list that mixes them (a typed decode gives
        # floats already; this is for any other caller)
        whole = Fill(ts_ns=3, strategy="s", instrument="X", trade_id="W", order_id="O",
                     price=100, amount=1)  # fmt: skip
        sink.write({"fills": [first, row_values(spec, "r", 3, whole)]}, "j", 3, 3)
        assert sink.duplicate_batches == 2
        conn = sink._connection()  # (temporary tables are per session: ask the sink's own)
        with conn.transaction():
            query = "SELECT count(*) FROM pg_class WHERE relpersistence = 't'"
            temporary = conn.execute(query).fetchone()
    finally:
        sink.close()
    assert temporary == (0,)
    assert count(pg_url, "fills") == 3
