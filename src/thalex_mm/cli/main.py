"""Entry point of the ``thalex-mm`` command.

Each subcommand lives in its own module under ``thalex_mm.cli`` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` (a function taking the
parsed arguments and returning an exit code). Heavy imports happen inside the handlers so
``thalex-mm --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from thalex_mm import __version__
from thalex_mm.errors import UserError

# Subcommand modules, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "watch",
    "config",
    "paper_table",
    "bench",
    "journal",
    "exchange",
    "keygen",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thalex-mm",
        description=(
            "Market making on Thalex perpetuals and futures (Avellaneda-Stoikov / GLFT), "
            "with a local exchange simulator, a durable journal and a benchmark suite."
        ),
    )
    parser.add_argument("--version", action="version", version=f"thalex-mm {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"thalex_mm.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except UserError as exc:
        print(f"thalex-mm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
