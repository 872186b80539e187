"""`thalex-mm watch`: a live terminal dashboard of a running engine (its snapshot)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "watch",
        help="watch a running engine live: prices, quotes, position, PnL, risk, latency",
        description=(
            "Attach to a running engine's live snapshot (shared memory; run.snapshot) and show "
            "every instrument, refreshed a few times a second; q quits. TARGET is a run id, a "
            "snapshot file, or nothing for the newest run on this machine. Reading the snapshot "
            "never slows the engine."
        ),
    )
    parser.add_argument("target", nargs="?", metavar="RUN_ID|PATH", help="default: the newest")
    parser.add_argument("--once", action="store_true", help="print one frame and exit")
    parser.add_argument(
        "--interval", metavar="SECONDS", type=float, default=0.25, help="refresh period"
    )
    parser.add_argument(
        "--dir", metavar="DIR", type=Path, help="where snapshots are (default /dev/shm)"
    )
    parser.add_argument(
        "--width", metavar="COLUMNS", type=int, help="--once: frame width (default: terminal)"
    )
    parser.set_defaults(handler=watch)


def watch(args: argparse.Namespace) -> int:
    from thalex_mm.errors import UserError  # noqa: PLC0415
    from thalex_mm.monitor.snapshot import attached  # noqa: PLC0415

    if not 0.05 <= args.interval <= 60:
        raise UserError(f"--interval must be 0.05..60 seconds, got {args.interval}")
    with attached(args.target, args.dir) as reader:
        if args.once:
            from rich.console import Console  # noqa: PLC0415

            from thalex_mm.monitor.dashboard import frame  # noqa: PLC0415

            console = Console(width=args.width or (None if sys.stdout.isatty() else 200))
            console.print(frame(reader.read(), alive=reader.engine_alive()))
            return 0
        from thalex_mm.monitor.tui import WatchApp  # noqa: PLC0415

        WatchApp(reader, args.interval).run()
    return 0
