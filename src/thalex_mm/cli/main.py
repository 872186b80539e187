"""Entry point of the ``thalex-mm`` command.

Each subcommand lives in its own module under ``thalex_mm.cli`` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` (a function taking the
parsed arguments and returning an exit code). Heavy imports happen inside the handlers so
``thalex-mm --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

from thalex_mm import __version__
from thalex_mm.errors import UserError
from thalex_mm.secrets import scrub

# Subcommand modules, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "watch",
    "config",
    "paper_table",
    "bench",
    "backtest",
    "sweep",
    "record",
    "journal",
    "report",
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


def _attach_negative_values(argv: Sequence[str]) -> list[str]:
    """``--fees -0.00005,0.0004`` as ``--fees=-0.00005,0.0004``: argparse would take a value
    that starts with a minus for an option (no option of ours starts with "-<digit>")."""
    out: list[str] = []
    for token in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and re.match(r"-\d", token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_attach_negative_values(sys.argv[1:] if argv is None else argv))
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except UserError as exc:
        # scrub: a message that quotes user input must not repeat a pasted key
        print(f"thalex-mm {args.command}: error: {scrub(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
