"""Where the benchmark processes run, and what waking a process on another core costs.

The tick-to-order benchmark gives the engine and the local exchange a core each; the
loopback wake-up measured here is the floor under its *write* phase. The journal benchmark
finds a local PostgreSQL cluster's processes and puts them at SCHED_IDLE for one variant.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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


def cluster_processes(data_dir: Path) -> list[int]:
    """The postmaster of a local cluster and its children (from /proc), [] if unknown."""
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(postmaster):  # fields after "(comm)": state, ppid, ...
            pids.append(int(stat.parent.name))
    return pids


def set_idle(pids: list[int], idle: bool) -> None:
    """Put ``pids`` at SCHED_IDLE (or back to normal): the engine then always preempts them."""
    if not hasattr(os, "SCHED_IDLE"):  # pragma: no cover - non-Linux
        return
    policy = os.SCHED_IDLE if idle else os.SCHED_OTHER
    for pid in pids:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(pid, policy, os.sched_param(0))


def place(pids: list[int], cpus: set[int]) -> None:
    """Run ``pids`` on ``cpus`` (best effort: a process may have exited meanwhile)."""
    if not hasattr(os, "sched_setaffinity"):  # pragma: no cover - non-Linux
        return
    for pid in pids:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, cpus)


def own_core_split() -> tuple[int, set[int]] | None:
    """(the event loop's CPU, the CPUs for everything else), or None with fewer than two:
    the split ``run.cpu`` makes, for benchmarks of the engine on a core of its own."""
    if not hasattr(os, "sched_getaffinity"):  # pragma: no cover - non-Linux
        return None
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        return None
    loop_cpu = min(allowed)
    return loop_cpu, allowed - {loop_cpu}
