"""`thalex-mm bench`: run the benchmark suite, print a table, write a JSON report."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thalex_mm.errors import UserError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmark suite",
        description=(
            "Run the registered benchmarks, print each metric beside its budget (where one is "
            "known) and write all metrics, the machine and package versions as JSON."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="short variants (seconds)")
    parser.add_argument(
        "--json",
        metavar="FILE",
        type=Path,
        help="where to write the JSON report (default bench-results/bench-<timestamp>.json)",
    )
    parser.add_argument(
        "--only",
        metavar="NAME",
        nargs="+",
        action="extend",
        help="run only these benchmark modules (repeatable)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so `thalex-mm --help` stays fast.
    from thalex_mm.bench.machine import machine_info, package_versions  # noqa: PLC0415
    from thalex_mm.bench.runner import (  # noqa: PLC0415
        BENCH_MODULES,
        all_passed,
        build_report,
        format_table,
        run_modules,
    )

    names = list(BENCH_MODULES)
    if args.only:
        unknown = [n for n in args.only if n not in BENCH_MODULES]
        if unknown:
            raise UserError(
                f"unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCH_MODULES)})"
            )
        names = [n for n in BENCH_MODULES if n in args.only]
    now = datetime.now(UTC)
    path: Path = args.json or Path("bench-results") / f"bench-{now:%Y%m%dT%H%M%SZ}.json"
    if path.exists() and path.is_dir():
        raise UserError(f"--json {path} is a directory, expected a file name")

    print(f"bench: running {', '.join(names)}{' (quick)' if args.quick else ''}", file=sys.stderr)
    results = run_modules(names, args.quick)
    print(format_table(results))
    report = build_report(
        results, args.quick, machine_info(), package_versions(), now.isoformat(timespec="seconds")
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from exc
    print(f"bench: report written to {path}", file=sys.stderr)
    return 0 if all_passed(results) else 1
