"""``thalex-mm record``: record Thalex's public feeds for backtests."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record public market data (book, trades, ticker) for backtests",
        description=(
            "Subscribe to the public book (with its snapshot and every change, trades "
            "included) and ticker of each instrument and write them in the backtest's native "
            "format; files rotate every hour. Public channels only: no login, no orders."
        ),
    )
    parser.add_argument("--network", choices=("local", "testnet", "production"),
                        default="local", help="where to record from (default local)")  # fmt: skip
    parser.add_argument("--url", help="a local exchange's URL (network local)")
    parser.add_argument("--instruments", required=True, metavar="A,B",
                        help="instrument names, comma-separated")  # fmt: skip
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="stop after S seconds (default: until Ctrl-C or SIGTERM)")  # fmt: skip
    parser.add_argument("--rotate-s", type=float, default=3600.0, metavar="S",
                        help="start a new window every S seconds (default 3600)")  # fmt: skip
    parser.set_defaults(handler=_record)


def _record(args: argparse.Namespace) -> int:
    from thalex_mm.app.recorder import Recorder  # noqa: PLC0415
    from thalex_mm.errors import UserError  # noqa: PLC0415
    from thalex_mm.venue.thalex.networks import resolve_endpoint  # noqa: PLC0415

    if args.url is not None and args.network != "local":
        raise UserError(f"--url is only for the local network, not {args.network}")
    if not args.rotate_s >= 1.0:
        raise UserError(f"--rotate-s must be at least 1 second, got {args.rotate_s}")
    # public channels only: recording production trades nothing
    endpoint = resolve_endpoint(args.network, local_url=args.url, allow_production=True)
    names = [n.strip() for n in args.instruments.split(",") if n.strip()]
    recorder = Recorder(
        endpoint.url, args.network, names, args.out, duration_s=args.duration,
        rotate_s=args.rotate_s,
    )  # fmt: skip
    stats = asyncio.run(recorder.run())
    print(f"recorded {stats.messages} messages, {stats.rows} rows into {args.out}:")
    for window in stats.windows:
        print(f"  {window}")
    return 0
