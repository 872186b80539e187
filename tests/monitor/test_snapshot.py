"""The snapshot file: its layout, what goes in comes out, and no torn reads under a writer
running flat out in another process."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from thalex_mm.errors import UserError
from thalex_mm.monitor import layout
from thalex_mm.monitor.snapshot import (
    SnapshotBusyError,
    SnapshotReader,
    read_section,
    remove_stale,
    resolve,
    snapshot_path,
)

from .conftest import values, write_snapshot

DOCS = Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"
SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_every_seqlocked_section_starts_8_byte_aligned() -> None:
    # the sequence number must be one aligned 8-byte store, or a reader could see half of it
    starts = [layout.RUN_OFFSET]
    for i in range(3):
        base = layout.instrument_offset(i)
        starts += [base + layout.FAST_OFFSET, base + layout.SLOW_OFFSET]
    assert all(s % 8 == 0 for s in starts), starts
    assert layout.INSTRUMENT_SIZE % 8 == 0


def test_docs_show_the_layout_the_code_writes() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert layout.markdown_table(layout.HEADER) in text
    assert layout.markdown_table(layout.RUN, layout.RUN_OFFSET) in text
    assert layout.markdown_table(layout.STATIC) in text
    assert layout.markdown_table(layout.FAST, layout.FAST_OFFSET) in text
    assert layout.markdown_table(layout.SLOW, layout.SLOW_OFFSET) in text
    assert f"version {layout.VERSION}" in text


def test_values_written_are_read_back_by_name(tmp_path: Path) -> None:
    path = tmp_path / "s.snap"
    w = write_snapshot(path, ("BTC-PERPETUAL", "ETH-PERPETUAL"))
    w.write_run(*values(layout.RUN, msgs_in=123, connection=layout.CONNECTED, blocked="slow"))
    head = values(layout.FAST_HEAD, best_bid_ticks=2010, best_bid_lots=3, state=2, bid_levels=2)
    w.write_fast(1, 2, 0, (*head, 2009, 2010, 5, 6))
    w.write_slow(1, *values(layout.SLOW, fills=7, reason="max loss", t2o_buckets=range(19)))
    w.write_static(1, "ETH-PERPETUAL", 0.05, 0.01)
    r = SnapshotReader(path)
    snap = r.read()
    assert snap.run_id == "test-run" and snap.header["instrument_count"] == 2
    assert snap.run["msgs_in"] == 123 and snap.run["blocked"] == "slow"
    eth = snap.instruments[1]
    assert eth["name"] == "ETH-PERPETUAL" and eth["tick_size"] == 0.05
    assert eth["best_bid"] == 100.5 and eth["bid_amount"] == 0.03 and eth["state"] == 2
    assert eth["bid_price"] == [100.5, 100.45] and eth["bid_size"] == [0.06, 0.05]  # best first
    assert eth["ask_price"] == [] and math.isnan(eth["spread"]) and eth["fills"] == 7
    assert eth["reason"] == "max loss" and eth["t2o_buckets"] == list(range(19))
    btc = snap.instruments[0]  # only the creation's fast section: NaN prices, no levels
    assert math.isnan(btc["best_bid"]) and btc["bid_levels"] == 0
    r.close()
    w.close()
    assert not path.exists()  # the run's end removes it


def test_a_section_left_mid_write_is_never_returned() -> None:
    buf = bytearray(64)
    buf[0] = 1  # odd sequence number: the writer is (or died) inside the section
    st = layout.Section("t", (layout.Field("x", "q"),)).struct
    with pytest.raises(SnapshotBusyError):
        read_section(buf, 0, st, spins=200)
    buf[0] = 2
    assert read_section(buf, 0, st) == (0,)


def test_text_is_cut_on_a_character_boundary() -> None:
    assert layout.encode_text("é" * 10, 5) == "éé".encode()
    assert layout.decode_text(b"ab\0\0") == "ab"


def test_attach_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no live snapshot"):
        SnapshotReader(tmp_path / "missing.snap")
    junk = tmp_path / "junk.snap"
    junk.write_bytes(b"x" * 1000)
    with pytest.raises(UserError, match="not a thalex-mm snapshot"):
        SnapshotReader(junk)
    with pytest.raises(UserError, match="no running engine"):
        resolve(None, tmp_path)
    assert resolve("RUNX", tmp_path) == snapshot_path("RUNX", tmp_path)


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from thalex_mm.monitor import layout
    from thalex_mm.monitor.snapshot import SnapshotWriter
    w = SnapshotWriter(Path(sys.argv[1]), run_id="torn", instruments=[("X", 1.0, 1.0)])
    n_run = len(layout.RUN.names())
    n_slow = len(layout.SLOW.names())
    print("ready", flush=True)
    k = 0
    end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:
        k += 1
        # every number in a section is k: a torn read mixes two values of k
        w.write_run(*([k] * (n_run - 2)), b"%d" % k, b"%d" % k)
        w.write_slow(0, *([k] * (n_slow - 1)), b"%d" % k)
    print(k, flush=True)
    w.close(remove=False)
    """
)


def test_a_reader_never_sees_a_torn_record_under_a_concurrent_writer(tmp_path: Path) -> None:
    path = tmp_path / "torn.snap"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), "2.0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    reader = SnapshotReader(path)
    run_st, slow_st = layout.RUN.struct, layout.SLOW.struct
    slow_at = layout.instrument_offset(0) + layout.SLOW_OFFSET
    seen: set[int] = set()
    reads = torn_unguarded = 0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        for offset, st in ((layout.RUN_OFFSET, run_st), (slow_at, slow_st)):
            got = read_section(reader._map, offset, st)
            numbers = {
                int(v) if not isinstance(v, bytes) else int(v.rstrip(b"\0") or 0) for v in got
            }
            assert len(numbers) == 1, f"torn read: {sorted(numbers)[:5]}"
            seen |= numbers
            reads += 1
            # the same copy without the seqlock's check: what the check protects against
            raw = st.unpack_from(reader._map, offset + 8)
            if (
                len(
                    {int(v) if not isinstance(v, bytes) else int(v.rstrip(b"\0") or 0) for v in raw}
                )
                > 1
            ):
                torn_unguarded += 1
    last = int(proc.stdout.readline())
    proc.wait(10)
    reader.close()
    assert reads > 1000 and len(seen) > 100, (reads, len(seen))
    assert max(seen) <= last
    print(f"{reads} reads, {len(seen)} versions seen, {torn_unguarded} torn without the check")


def test_the_snapshot_of_an_engine_that_died_is_removed_by_the_next_run(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    w = write_snapshot(tmp_path / "thalex-mm-dead.snap")
    at = dict((f.name, off) for f, off in layout.HEADER.offsets())["pid"]
    w._buf[at : at + 8] = int(dead.stdout).to_bytes(8, "little")  # a process that is gone
    mine = write_snapshot(tmp_path / "thalex-mm-alive.snap")
    (tmp_path / "thalex-mm-junk.snap").write_bytes(b"junk")
    assert remove_stale(tmp_path) == [tmp_path / "thalex-mm-dead.snap"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "thalex-mm-alive.snap",
        "thalex-mm-junk.snap",
    ]
    mine.close()
    w.close()
