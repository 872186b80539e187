"""``thalex-mm journal``: list runs, summarise a run, export tables to CSV/Parquet."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from thalex_mm.errors import UserError

JOURNAL_HELP = "journal URL (default sqlite:///data/journal.db)"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "journal",
        help="read the trading journal: runs, summary, export",
        description="Read back what the engine recorded (orders, fills, quotes, PnL).",
    )
    sub = parser.add_subparsers(dest="journal_command", metavar="SUBCOMMAND")

    runs = sub.add_parser("runs", help="list the runs in the journal")
    runs.add_argument("--journal", metavar="URL", help=JOURNAL_HELP)
    runs.set_defaults(handler=_runs)

    summary = sub.add_parser("summary", help="orders, fills, volume, fees and PnL per instrument")
    summary.add_argument("--journal", metavar="URL", help=JOURNAL_HELP)
    summary.add_argument("--run", metavar="ID", help="only this run (default: all runs)")
    summary.set_defaults(handler=_summary)

    export = sub.add_parser("export", help="write tables to CSV or Parquet files")
    export.add_argument("--journal", metavar="URL", help=JOURNAL_HELP)
    export.add_argument("--format", choices=("csv", "parquet"), default="csv")
    export.add_argument(
        "--table",
        default="all",
        help="table name, comma-separated names, or 'all' (default): fills, orders, "
        "order_updates, quotes, risk_events, positions, market, runs, run_stops, "
        "estimator_states",
    )
    export.add_argument("--out", metavar="DIR", required=True, help="output folder")
    export.add_argument("--run", metavar="ID", help="only this run (default: all runs)")
    export.set_defaults(handler=_export)

    parser.set_defaults(handler=lambda args: _no_subcommand(parser))


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _when(ns: int | None) -> str:
    if ns is None:
        return "-"
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _runs(args: argparse.Namespace) -> int:
    from thalex_mm.journal.query import Reader, list_runs  # noqa: PLC0415

    with Reader(args.journal) as reader:
        runs = list_runs(reader)
    if not runs:
        print("no runs recorded")
        return 0
    print(f"{'run id':<28} {'started (UTC)':<19}  {'stopped (UTC)':<19}  {'strategy':<12} venue")
    for run in runs:
        print(
            f"{run.run_id:<28} {_when(run.started_ns):<19}  {_when(run.stopped_ns):<19}  "
            f"{run.strategy:<12} {run.venue}"
        )
    return 0


def _edge_per_unit(edge: float | None, volume: float) -> str:
    """Edge at fill against fair per unit traded; n/a for fills journaled without a fair."""
    return "n/a" if edge is None or volume <= 0 else f"{edge / volume:+.2f}"


def _summary(args: argparse.Namespace) -> int:
    from thalex_mm.journal.query import Reader, list_runs, summarize  # noqa: PLC0415

    with Reader(args.journal) as reader:
        runs = list_runs(reader)
        if args.run and args.run not in {r.run_id for r in runs}:
            raise UserError(f"no run {args.run!r} in the journal (see `thalex-mm journal runs`)")
        rows = summarize(reader, args.run)
    scope = f"run {args.run}" if args.run else f"{len(runs)} run(s)"
    print(f"journal summary: {scope}")
    header = (
        f"{'instrument':<20} {'orders':>8} {'fills':>7} {'volume':>12} {'notional':>14} "
        f"{'fees':>10} {'position':>10} {'pnl':>12} {'edge/unit':>10}"
    )
    print(header)
    for r in rows:
        print(
            f"{r.instrument:<20} {r.orders:>8} {r.fills:>7} {r.volume:>12.4f} "
            f"{r.notional:>14.2f} {r.fees:>10.4f} {r.position:>10.4f} {r.pnl:>12.2f} "
            f"{_edge_per_unit(r.edge, r.edge_volume):>10}"
        )
    if not rows:
        print("(no orders or fills)")
    return 0


def _export(args: argparse.Namespace) -> int:
    from thalex_mm.journal.export import export_table  # noqa: PLC0415
    from thalex_mm.journal.query import Reader  # noqa: PLC0415
    from thalex_mm.journal.schema import TABLES  # noqa: PLC0415

    names = list(TABLES) if args.table == "all" else [t.strip() for t in args.table.split(",")]
    unknown = [t for t in names if t not in TABLES]
    if unknown:
        raise UserError(f"unknown table(s) {', '.join(unknown)} (one of: {', '.join(TABLES)})")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {str(out)!r} exists and is not a folder")
    with Reader(args.journal) as reader:
        for table in names:
            path, count = export_table(reader, table, args.format, out, args.run)
            print(f"{path}: {count} rows")
    return 0
