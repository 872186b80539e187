"""`thalex-mm config check FILE`: validate a run config without connecting anywhere."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="check a run config file")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate FILE (unknown or bad fields are named; exit code 2 on a problem)",
    )
    check.add_argument("file", metavar="FILE", type=Path)
    check.set_defaults(handler=check_file)


def check_file(args: argparse.Namespace) -> int:
    from thalex_mm.app.settings import load_config  # noqa: PLC0415
    from thalex_mm.venue.thalex.credentials import key_file_warning  # noqa: PLC0415

    cfg = load_config(args.file)
    venue = cfg.venue
    where = venue.url or (
        "an in-process local exchange" if venue.network == "local" else venue.network
    )
    if venue.private_key_file is not None:
        warning = key_file_warning(venue.private_key_file)
        if warning is not None:
            print(f"warning: {warning}", file=sys.stderr)
    print(
        f"{args.file}: OK - {len(cfg.instruments)} instrument(s) "
        f"({', '.join(cfg.instrument_names)}) on {where}"
    )
    return 0
