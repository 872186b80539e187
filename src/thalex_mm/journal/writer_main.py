"""Entry point of the writer child process (see ``writer.WriterProcess``).

Kept out of ``writer.py`` so ``python -m`` doesn't import the module twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import sys
import time
from pathlib import Path

from thalex_mm.journal.control import Control
from thalex_mm.journal.drainer import Drainer
from thalex_mm.journal.sinks.base import Sink, make_sink, redact_url
from thalex_mm.journal.writer import STOP, DrainLoop

log = logging.getLogger("thalex_mm.journal.writer")


def _read_settings(fd: int) -> tuple[dict[str, object], bytes]:
    """The first line of stdin (JSON settings), read unbuffered; also what came after it."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 65536)
        if not chunk:
            raise SystemExit("journal writer: no settings on stdin")
        data += chunk
    line, _, rest = data.partition(b"\n")
    settings: dict[str, object] = json.loads(line)
    return settings, rest


def lower_priority() -> bool:
    """SCHED_IDLE where the OS has it (Linux): the engine's loop preempts this process the
    moment it wakes, instead of waiting behind a drain on a shared core. Elsewhere the
    lowest nice value. False when neither could be set (the writer still works)."""
    try:
        if hasattr(os, "SCHED_IDLE"):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        else:  # pragma: no cover - non-Linux
            os.nice(19)
    except (OSError, AttributeError):  # pragma: no cover - a sandbox may forbid it
        return False
    return True


def place(cpus: object) -> bool:
    """Run on ``cpus`` (a list of CPU numbers; empty: leave the inherited affinity). False
    when the OS refused or has no affinity call: the writer still works, wherever it runs."""
    if not isinstance(cpus, list) or not cpus or not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(0, {int(cpu) for cpu in cpus})
    except (OSError, ValueError):
        log.warning("journal writer: cannot run on CPUs %s; staying where it started", cpus)
        return False
    return True


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="journal-writer %(levelname)s %(message)s")
    lock_fd = int(argv[0])  # inherited: keeps the directory locked until we are done
    stdin_fd = sys.stdin.fileno()
    settings, pending = _read_settings(stdin_fd)
    place(settings.get("cpus"))
    if settings.get("priority", "idle") == "idle":
        lower_priority()
    directory = Path(str(settings["directory"]))
    control = Control(directory)
    url = str(settings["url"])
    sink: Sink = make_sink(url)
    drainer = Drainer(directory, sink, control, batch=int(str(settings["batch"])))
    loop = DrainLoop(
        drainer,
        int(str(settings["segment_size"])),
        float(str(settings["fsync_s"])),
        sink_open=False,
    )
    interval = float(str(settings["interval_s"]))
    log.debug("draining %s into %s", directory, redact_url(url))
    clean_stop = STOP in pending
    while True:
        readable, _, _ = select.select([stdin_fd], [], [], interval)
        if readable:
            data = os.read(stdin_fd, 4096)
            clean_stop = clean_stop or STOP in data
            if not data:
                break  # the pipe closed: parent stopped us, or died
        if not loop.step():
            time.sleep(loop.retry_delay_s())
    if clean_stop:
        loop.final_drain(float(str(settings["final_drain_s"])))
    # else the parent died: exit now and free the directory lock, so a restarted engine can
    # open at once; its recovery drains what is left, exactly as we would have.
    drainer.close()
    with contextlib.suppress(Exception):
        sink.close()
    control.close()
    os.close(lock_fd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
