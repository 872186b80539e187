"""Where the benchmark processes run, and what waking a process on another core costs.

The tick-to-order benchmark gives the engine and the local exchange a core each; the
loopback wake-up measured here is the floor under its *write* phase.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt


def pin(pid: int, cpu: int) -> None:
    """Give the engine and the exchange a core each (when the machine has two or more), so
    the two processes do not preempt each other when one wakes the other up."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, {cpu})


@contextlib.contextmanager
def pinned_to(cpu: int) -> Iterator[None]:
    """Pin this process to ``cpu`` for the block; the previous affinity comes back after."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    pin(0, cpu)
    try:
        yield
    finally:
        if affinity is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, affinity)


def loopback_wake_send_ns(samples: int = 400) -> npt.NDArray[np.int64]:
    """Samples (ns) of one 200-byte TCP send over loopback to a process blocked in ``recv`` on
    another core: the floor under the *write* phase, since each order write wakes the local
    exchange. Paced 1 ms apart, so the peer is asleep each time (as between bursts)."""
    import socket  # noqa: PLC0415

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    code = (
        "import socket,sys; s=socket.create_connection(('127.0.0.1',int(sys.argv[1])));"
        "exec('while s.recv(65536): pass')"
    )
    peer = subprocess.Popen([sys.executable, "-c", code, str(server.getsockname()[1])])
    pin(peer.pid, 1)
    with pinned_to(0):
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        payload = b"x" * 200
        took = np.zeros(samples, dtype=np.int64)
        try:
            time.sleep(0.1)
            for i in range(samples):
                time.sleep(0.001)
                t0 = time.perf_counter_ns()
                conn.send(payload)
                took[i] = time.perf_counter_ns() - t0
        finally:
            conn.close()
            server.close()
            peer.wait(5)
    return took
