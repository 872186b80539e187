"""The segment directory's lock, and the run id every record of a run carries."""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from pathlib import Path


class JournalError(RuntimeError):
    """The journal cannot record (e.g. the disk is full): the engine must stop trading."""


def new_run_id() -> str:
    """Sortable and unique: UTC time plus 8 random hex digits (at most 32 ASCII chars)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def lock_directory(directory: Path, timeout_s: float) -> int:
    """Take the directory's lock (one engine per segment directory); the fd holds it."""
    fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise JournalError(
                    f"journal segment directory {str(directory)!r} is in use by another "
                    "process (give each engine its own segment directory)"
                ) from None
            time.sleep(0.05)
