"""Runs the drainer off the event loop: in a daemon thread, or in a child process.

The child process is the default for live trading: the drainer's Python work (decoding,
building rows) then never competes with the event loop for the GIL. The thread is simpler
and starts instantly (tests, tools). Both run the same ``DrainLoop``.

The child gets its settings as one JSON line on stdin (so a database password never shows
in ``ps``). On ``stop`` the parent sends ``stop`` and closes the pipe: the child drains what
was committed (for at most ``final_drain_s``) and exits. If the parent dies, the pipe closes
without ``stop``: the child exits at once, releasing the directory lock for the restarted
engine, whose recovery drains the rest.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import threading
import time
from typing import IO, Any

from thalex_mm.journal.drainer import Drainer
from thalex_mm.journal.segment import create_segment_file, fsync_directory, unpack_position

log = logging.getLogger(__name__)

RETRY_MAX_S = 2.0
STOP = b"stop\n"
# Pause between two full batches while catching up. Keeps each burst of drainer CPU short:
# on small or shared machines a neighbour's long CPU bursts delay the event loop's wake-ups
# even when another core looks free (measured: 1.5 ms bursts every 20 ms add ~1 ms to the
# loop's p99 lag; 0.15 ms bursts every 2 ms add nothing measurable).
SLICE_PAUSE_S = 0.0005


class DrainLoop:
    """One drain cycle at a time: catch up, heartbeat, pre-create a spare, fsync if due."""

    def __init__(
        self, drainer: Drainer, segment_size: int, fsync_interval_s: float, *, sink_open: bool
    ) -> None:
        self.drainer = drainer
        self.segment_size = segment_size
        self.fsync_interval_s = fsync_interval_s
        self._sink_open = sink_open
        self._spare_for = -1
        self._last_fsync = time.monotonic()
        self._failures = 0

    def step(self) -> bool:
        """Drain everything committed so far. Returns False after a failure (retry later)."""
        control = self.drainer.control
        sink_stage = True  # a failure until the drain is done is the sink's
        try:
            if not self._sink_open:
                self.drainer.sink.open()
                self._sink_open = True
            committed = control.committed
            while self.drainer.drain_once(committed) >= self.drainer.batch:
                time.sleep(SLICE_PAUSE_S)  # short bursts; the thread writer also yields the GIL
            sink_stage = False  # spare segment and fsync: the directory's, not the sink's
            segment, _ = unpack_position(committed)
            if self._spare_for != segment:
                create_segment_file(
                    self.drainer.directory, segment + 1, self.segment_size, fill=True
                )
                self._spare_for = segment
            now = time.monotonic()
            if self.fsync_interval_s > 0 and now - self._last_fsync >= self.fsync_interval_s:
                self.drainer.fsync_segment(segment)
                fsync_directory(self.drainer.directory)  # new segment names, too
                self._last_fsync = now
        except Exception as exc:
            self._failures += 1
            self.drainer.sink_failed = sink_stage
            control.error = f"{type(exc).__name__}: {exc}"
            log.warning("journal writer: %s (retrying)", control.error)
            if sink_stage:
                with contextlib.suppress(Exception):
                    self.drainer.sink.close()
                self._sink_open = False
            return False
        self._failures = 0
        if control.error:
            control.error = ""
        control.heartbeat_ns = time.monotonic_ns()
        return True

    def retry_delay_s(self) -> float:
        return min(RETRY_MAX_S, 0.05 * float(2 ** min(self._failures, 6)))

    def caught_up(self) -> bool:
        return self.drainer.position >= self.drainer.control.committed

    def final_drain(self, deadline_s: float) -> None:
        end = time.monotonic() + deadline_s
        while not self.caught_up() and time.monotonic() < end:
            if not self.step():
                time.sleep(min(self.retry_delay_s(), max(0.0, end - time.monotonic())))


class WriterThread:
    """The drain loop in a daemon thread, woken every ``interval_s`` or by ``wake()``."""

    pid = None  # no process of its own

    def __init__(self, loop: DrainLoop, interval_s: float, final_drain_s: float) -> None:
        self.loop = loop
        self.interval_s = interval_s
        self.final_drain_s = final_drain_s
        self._event = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            self._event.wait(self.interval_s)
            self._event.clear()
            if not self.loop.step():
                time.sleep(self.loop.retry_delay_s())
        self.loop.final_drain(self.final_drain_s)

    def wake(self) -> None:
        self._event.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float) -> None:
        self._stop = True
        self._event.set()
        self._thread.join(timeout_s)

    def describe_exit(self) -> str:
        return "journal writer thread has stopped"


class WriterProcess:
    """The drain loop in a child process (``python -m thalex_mm.journal.writer_main``)."""

    def __init__(self, settings: dict[str, Any], lock_fd: int) -> None:
        self.settings = settings
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "thalex_mm.journal.writer_main", str(lock_fd)],
            stdin=subprocess.PIPE,
            pass_fds=(lock_fd,),
        )
        stdin = self._proc.stdin
        assert stdin is not None
        self._stdin: IO[bytes] = stdin
        self._stdin.write(json.dumps(settings).encode() + b"\n")
        self._stdin.flush()

    def start(self) -> None:
        pass

    def wake(self) -> None:
        pass  # the child polls every interval

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def stop(self, timeout_s: float) -> None:
        with contextlib.suppress(OSError):
            self._stdin.write(STOP)
            self._stdin.flush()
        with contextlib.suppress(OSError):
            self._stdin.close()
        try:
            self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def describe_exit(self) -> str:
        return f"journal writer process exited with code {self._proc.returncode}"


class NoWriter:
    """writer="none": records stay in the segments until the next open recovers them."""

    alive = True
    pid = None

    def start(self) -> None:
        pass

    def wake(self) -> None:
        pass

    def stop(self, timeout_s: float) -> None:
        pass

    def describe_exit(self) -> str:
        return "journal has no writer"
