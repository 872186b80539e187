"""``run.cpu``: the event loop on a core of its own, the helper processes on the others.

Busy polling (``run.busy_poll``) only pays where the loop has a core to itself, and pinning
the engine with ``taskset`` alone is not enough: the journal's writer process inherits the
pin, and at SCHED_IDLE on a core that never idles it gets almost no CPU (its backlog grows
until back-pressure stops quoting), while at any other priority it preempts the loop. Here the
engine pins its own thread and hands the remaining CPUs to the writer process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from thalex_mm.errors import UserError


@contextlib.contextmanager
def event_loop_on(cpu: int | None, *, needs_helper_cpu: bool) -> Iterator[tuple[int, ...]]:
    """Pin the calling thread (the event loop's; threads it starts later inherit it) to
    ``cpu`` for the block and yield the CPUs left for helper processes; ``cpu`` None: no
    pinning, yields (). ``needs_helper_cpu``: refuse a ``cpu`` that leaves no other CPU."""
    if cpu is None:
        yield ()
        return
    if not hasattr(os, "sched_setaffinity"):
        raise UserError("run.cpu needs CPU affinity (Linux); remove it from the config here")
    allowed = os.sched_getaffinity(0)
    if cpu not in allowed:
        raise UserError(
            f"run.cpu = {cpu} is not one of the CPUs this process may use: "
            f"{', '.join(map(str, sorted(allowed)))}"
        )
    helpers = tuple(sorted(allowed - {cpu}))
    if not helpers and needs_helper_cpu:
        raise UserError(
            f"run.cpu = {cpu} leaves no other CPU for the journal writer process (this "
            "process may only use that one); drop run.cpu or run.busy_poll, or give it more CPUs"
        )
    os.sched_setaffinity(0, {cpu})
    try:
        yield helpers
    finally:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, allowed)
