"""Busy polling (``run.busy_poll``): the event loop never sleeps between frames.

An idle loop waits in the kernel, and on a shared or power-managed CPU the wake-up and the
cold caches after it cost more than the work itself. With a task that only yields, the loop
polls its sockets without a timeout and the CPU never idles. Measured in the tick-to-order
bench (2-vCPU shared VM, 10,000 market msg/s, 2026-12-03 full run): p50 263 -> 145 us,
p99 594 -> 415 us. It keeps one core at 100 %, so it is off by default: turn it on only where
the engine has a core of its own.

Polling alone does not keep the hot path hot: on the shared VMs here, code that last ran a
few milliseconds ago runs several times slower than code that ran just before (an
``append_batch`` of 10 records every 5 ms: p99 48-75 µs, and 12-15 µs with the journal's
warmer run every 50 µs; 2026-12-07, AMD EPYC host). So between events the poller also runs
*warmers*, functions that exercise a hot path on scratch data (``Journal.warm``), every
``run.warm_interval_us``. Each warm-up is work the loop does, and an event that arrives
during one waits for it. In three loop-lag A/Bs of the journal at 200 records/s, the added
p99 without warming / warming every 200-250 µs / every 1,000 µs (the default) read
+27 / +14 / +7, +37 / +20 / +27 and +6.3 / +1.6 / +2.6 µs: warming always helped, the
best interval varied. At 10,000 records/s, where appends keep the path warm anyway, it
made no consistent difference (docs/journal.md, "Measured").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)


async def keep_polling(warmers: Sequence[Callable[[], object]] = (), every_s: float = 0.0) -> None:
    """Yield to the loop forever, running ``warmers`` every ``every_s`` (cancel to stop). A
    warmer that raises is dropped with one warning: warming is an optimisation, and the
    polling (and the runner's shutdown, which awaits this task) must go on."""
    active = list(warmers)
    clock = time.perf_counter_ns
    step = int(every_s * 1e9)
    due = clock() + step
    while active and step > 0:
        if clock() >= due:
            for warm in active:
                try:
                    warm()
                except Exception as exc:
                    log.warning("busy poll: warmer %r failed (%s); no longer run", warm, exc)
                    active.remove(warm)
                    break
            due = clock() + step
        await asyncio.sleep(0)
    while True:
        await asyncio.sleep(0)
