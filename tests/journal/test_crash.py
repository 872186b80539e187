"""SIGKILL a process that is journaling, at random moments; nothing it reported is lost.

Each round starts ``crash_child.py`` (appending an OrderAction and a Fill per step and
printing the step number after both appends returned) and kills it a seeded random delay
after it opened its journal (one round: after it was started, i.e. while it may still be
recovering the previous round's records). Rounds alternate between the thread
and the process writer and use small segments so kills also land around rotations. Then a
fresh journal opens the same directory, recovers, and every reported step must be in the
database exactly once, with contiguous sequence numbers and matching content.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from thalex_mm.journal.journal import open_journal
from thalex_mm.journal.query import Reader

CHILD = Path(__file__).with_name("crash_child.py")


def _run_and_kill(args: list[str], delay_s: float, after_ready: bool) -> tuple[str | None, int]:
    """Run the child and SIGKILL it ``delay_s`` after it opened its journal (``after_ready``)
    or after it was started; return (run_id, last step it reported)."""
    proc = subprocess.Popen([sys.executable, str(CHILD), *args], stdout=subprocess.PIPE)
    lines: list[bytes] = []
    ready = threading.Event()
    assert proc.stdout is not None
    stdout = proc.stdout

    def read() -> None:
        for line in stdout:
            lines.append(line)
            ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if after_ready:
        assert ready.wait(60), "child did not open its journal"
    time.sleep(delay_s)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join(10)
    run_id = None
    last = 0
    for line in lines:
        text = line.decode().strip()
        if text.startswith("run "):
            run_id = text[4:]
        elif text.isdigit():
            last = int(text)
    return run_id, last


def _check_run(url: str, run_id: str, reported: int) -> None:
    with Reader(url) as reader:
        for table in ("orders", "fills"):
            rows = reader.rows(f"SELECT seq, ts_ns FROM {table} WHERE run_id = ?", (run_id,))
            steps = [ts for _, ts in rows]
            assert len(steps) == len(set(steps)), f"{table}: duplicate steps"
            assert set(range(1, reported + 1)) <= set(steps), f"{table}: reported step lost"
            # no holes: whatever was recovered is a prefix of the steps
            assert sorted(steps) == list(range(1, len(steps) + 1))
            for seq, ts in rows:
                assert seq == 2 * ts - (1 if table == "orders" else 0)
        fills = reader.rows("SELECT trade_id, ts_ns FROM fills WHERE run_id = ?", (run_id,))
        assert all(trade_id == f"{run_id}-{ts}" for trade_id, ts in fills)


@pytest.mark.slow
def test_sigkill_loses_nothing_that_was_reported(sink_url: str, tmp_path: Path):
    rng = random.Random(int(os.environ.get("THALEX_MM_CRASH_SEED", "20261122")))
    url = sink_url
    segments = tmp_path / "segments"
    rounds: list[tuple[str, int]] = []
    for round_no in range(8):
        writer = "thread" if round_no % 2 == 0 else "process"
        segment_size = rng.choice([16384, 65536, 1 << 20])
        during_start = round_no == 3  # killed while opening / recovering the last round
        delay = rng.uniform(0.05, 0.3) if during_start else rng.uniform(0.05, 0.4)
        run_id, reported = _run_and_kill(
            [str(segments), url, writer, str(segment_size)], delay, after_ready=not during_start
        )
        if run_id is not None:
            rounds.append((run_id, reported))
    assert sum(1 for _, n in rounds if n > 100) >= 6, rounds

    journal = open_journal(url, segment_dir=segments, writer="thread")
    journal.close()
    for run_id, reported in rounds:
        _check_run(url, run_id, reported)
