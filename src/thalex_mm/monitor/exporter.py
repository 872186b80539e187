"""The metrics process: serves ``/metrics`` from the snapshot, so a scrape never runs on
(or takes the GIL of) the engine's event loop.

``python -m thalex_mm.monitor.exporter SNAPSHOT HOST PORT [--avoid-cpu N]`` prints one
line, ``ready`` or ``error: ...``, then serves until its stdin closes (the engine closed
it, or died). ``MetricsProcess`` is the engine's handle on it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import subprocess
import sys
from pathlib import Path

from thalex_mm.errors import UserError

_READY_TIMEOUT_S = 20.0


def serve(snapshot: Path, host: str, port: int, avoid_cpu: int | None = None) -> int:
    """The child's main: bind, say ready (or why not), serve until stdin closes."""
    if avoid_cpu is not None and hasattr(os, "sched_setaffinity"):
        others = set(range(os.cpu_count() or 1)) - {avoid_cpu}
        if others:  # off the engine's pinned core
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, others)
    with contextlib.suppress(OSError):
        os.nice(10)  # scrapes are never urgent
    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415

    from thalex_mm.monitor.metrics import SnapshotCollector  # noqa: PLC0415
    from thalex_mm.monitor.snapshot import SnapshotReader  # noqa: PLC0415

    try:
        reader = SnapshotReader(snapshot)
    except UserError as exc:
        print(f"error: {exc}", flush=True)
        return 2
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(reader))
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", flush=True)
        return 2
    print("ready", flush=True)
    sys.stdin.read()  # EOF: the engine is done with us
    server.shutdown()
    server.server_close()
    thread.join(5)
    reader.close()
    return 0


class MetricsProcess:
    """Starts the exporter and waits until it listens: a port in use is a ``UserError``
    before the run connects anywhere."""

    def __init__(
        self, snapshot: Path, host: str, port: int, *, avoid_cpu: int | None = None
    ) -> None:
        self.url = f"http://{host}:{port}/metrics"
        argv = [sys.executable, "-m", "thalex_mm.monitor.exporter", str(snapshot), host, str(port)]
        if avoid_cpu is not None:
            argv += ["--avoid-cpu", str(avoid_cpu)]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], _READY_TIMEOUT_S)
        line = self.process.stdout.readline().strip() if ready else ""
        if line != "ready":
            self.close()
            why = line.removeprefix("error: ") or "the metrics process did not start"
            if "in use" in why:
                why = "address already in use (another program or run listens there)"
            raise UserError(
                f"metrics port {port} on {host}: {why} (--metrics-port / run.metrics_port)"
            )

    def close(self) -> None:
        process = self.process
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m thalex_mm.monitor.exporter")
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--avoid-cpu", type=int)
    args = parser.parse_args(argv)
    return serve(args.snapshot, args.host, args.port, args.avoid_cpu)


if __name__ == "__main__":
    raise SystemExit(main())
