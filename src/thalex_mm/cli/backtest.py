"""``thalex-mm backtest``: the production core over a recorded L2 book, on simulated time."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backtest",
        help="replay a recorded window against the production core",
        description=(
            "Quote a config's first instrument against a recorded L2 book and its trades "
            "(simulated time, simulated venue: queue position, latency, fees). See "
            "docs/backtest.md."
        ),
    )
    parser.add_argument("--data", required=True, metavar="WINDOW_OR_PATH",
                        help="a window name in the data folder, or a path prefix")  # fmt: skip
    parser.add_argument("--config", type=Path, help="run config (default: the demo's)")
    parser.add_argument("--queue", default="risk-averse",
                        help="queue model: risk-averse (default), power:N or log")  # fmt: skip
    parser.add_argument("--latency-ms", default="0,0", metavar="ENTRY,RESPONSE",
                        help="order entry and response latency, ms (default 0,0)")  # fmt: skip
    parser.add_argument("--latency-jitter-ms", type=float, default=0.0, metavar="MS",
                        help="add an exponential draw of this mean to each latency")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the latency draws (deterministic for a seed)")  # fmt: skip
    parser.add_argument("--latency-from-feed", action="store_true",
                        help="delay market data by the recording's own feed latency")  # fmt: skip
    parser.add_argument("--fees", metavar="MAKER,TAKER",
                        help="fee rates of notional (negative maker: rebate); "
                        "default: the config's accounting rates")  # fmt: skip
    parser.add_argument("--no-rate-limits", action="store_true",
                        help="do not apply Thalex's message rates (50/s, 1000/s)")  # fmt: skip
    parser.add_argument("--no-partial-fills", action="store_true",
                        help="fill an order whole once its turn in the queue comes")  # fmt: skip
    parser.add_argument("--journal", metavar="URL",
                        help="record the run in a journal (sqlite:///..., postgresql://...), "
                        "as a live run is recorded; thalex-mm journal reads it back")  # fmt: skip
    parser.add_argument("--summary-json", type=Path, metavar="FILE",
                        help="also write the summary as JSON")  # fmt: skip
    parser.add_argument("--convert", type=Path, metavar="DIR",
                        help="write the window in the native format (Parquet) to DIR "
                        "and stop")  # fmt: skip
    parser.set_defaults(handler=_backtest)


def _backtest(args: argparse.Namespace) -> int:
    from thalex_mm.app.backtest_run import (  # noqa: PLC0415
        BacktestOptions,
        format_summary,
        parse_pair,
        run_backtest,
    )
    from thalex_mm.errors import UserError  # noqa: PLC0415

    if args.convert is not None:
        from thalex_mm.backtest.data import convert, find_window  # noqa: PLC0415

        for path in convert(find_window(args.data), args.convert):
            print(f"wrote {path}")
        return 0
    if args.summary_json is not None and not args.summary_json.parent.is_dir():
        raise UserError(f"--summary-json: folder {str(args.summary_json.parent)!r} does not exist")
    opts = BacktestOptions(
        data=args.data,
        config=args.config,
        queue=args.queue,
        latency_ms=parse_pair("--latency-ms", args.latency_ms),
        latency_from_feed=args.latency_from_feed,
        latency_jitter_ms=args.latency_jitter_ms,
        seed=args.seed,
        fees=None if args.fees is None else parse_pair("--fees", args.fees),
        partial_fills=not args.no_partial_fills,
        rate_limits=not args.no_rate_limits,
        journal=args.journal,
    )
    summary = run_backtest(opts)
    print(format_summary(summary))
    if args.summary_json is not None:
        args.summary_json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0
