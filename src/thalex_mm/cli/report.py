"""``thalex-mm report``: one self-contained HTML page explaining a run's PnL, plus the
headline numbers on the terminal."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from thalex_mm.errors import UserError

JOURNAL_HELP = "journal URL (default sqlite:///data/journal.db)"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="HTML report of a run: PnL sources, markouts, quoting, inventory, model",
        description=(
            "Read runs back from the journal and write one self-contained HTML file (opens "
            "offline) with the PnL split, markouts, quoting quality, inventory, model and "
            "latency; the headline numbers are printed too. See docs/report.md."
        ),
    )
    parser.add_argument("--journal", metavar="URL", help=JOURNAL_HELP)
    parser.add_argument(
        "--run", metavar="ID", action="append", help="a run id (repeatable; default: the latest)"
    )
    parser.add_argument(
        "--out", metavar="FILE.html", default="report.html", help="output file (report.html)"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="put the runs side by side (default runs: the latest two)",
    )
    parser.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from thalex_mm.journal.query import Reader  # noqa: PLC0415
    from thalex_mm.report.html import render  # noqa: PLC0415
    from thalex_mm.report.load import load_run, select_runs  # noqa: PLC0415
    from thalex_mm.report.metrics import build  # noqa: PLC0415
    from thalex_mm.report.text import headline_text  # noqa: PLC0415

    out = Path(args.out)
    if out.is_dir():
        raise UserError(f"--out {str(out)!r} is a folder; give a file name such as report.html")
    if not out.parent.is_dir():
        raise UserError(f"--out {str(out)!r}: the folder {str(out.parent)!r} does not exist")
    with Reader(args.journal) as reader:
        infos = select_runs(reader, args.run, count=2 if args.compare else 1)
        if args.compare and len(infos) < 2:
            raise UserError("--compare needs at least two runs (give --run ID twice or more)")
        reports = [build(load_run(reader, info)) for info in infos]
    out.write_text(render(reports, compare=args.compare), encoding="utf-8")
    print(headline_text(reports))
    size = out.stat().st_size / 1e6
    print(f"report: {out} ({size:.1f} MB)")
    return 0
