"""`thalex-mm run`: quote with the engine on the local exchange, testnet or production."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the market maker (default: against an in-process local exchange)",
        description=(
            "Quote the configured instruments until --duration is reached or Ctrl-C/SIGTERM, "
            "then cancel every order and print a summary per instrument. With no config and no "
            "--url, an in-process local exchange is started on a free port with a fresh test "
            "key, and BTC-PERPETUAL is quoted with the default parameters."
        ),
    )
    parser.add_argument("--config", metavar="FILE", type=Path, help="TOML config file")
    parser.add_argument(
        "--duration", metavar="SECONDS", type=float, help="stop after this many seconds"
    )
    parser.add_argument(
        "--network",
        choices=("local", "testnet", "prod"),
        help="where to trade (default: the config's venue.network, else local)",
    )
    parser.add_argument(
        "--url", metavar="WS_URL", help="any endpoint speaking the Thalex protocol (local network)"
    )
    parser.add_argument("--key-id", metavar="KID", help="API key id (with --url/testnet/prod)")
    parser.add_argument(
        "--private-key-file",
        metavar="PEM",
        type=Path,
        help="RSA private key of the API key (default: the variable THALEX_MM_PRIVATE_KEY)",
    )
    journal = parser.add_mutually_exclusive_group()
    journal.add_argument(
        "--journal",
        metavar="URL",
        help="journal to this sink: sqlite:///FILE, postgresql://..., questdb://... "
        "(default: the config's journal.url, else sqlite:///data/journal.db)",
    )
    journal.add_argument(
        "--no-journal", action="store_true", help="do not journal this run (on by default)"
    )
    parser.add_argument(
        "--no-warm-start",
        action="store_true",
        help="ignore the estimator states saved in the journal (start sigma, A, k cold)",
    )
    parser.add_argument(
        "--summary-json", metavar="FILE", type=Path, help="also write the summary as JSON"
    )
    parser.add_argument(
        "--metrics-port",
        metavar="PORT",
        type=int,
        help="serve Prometheus metrics on this port (run.metrics_host, default 127.0.0.1)",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--i-understand-this-is-production",
        "--i-understand-this-is-live",
        dest="allow_production",
        action="store_true",
        help="required with --network prod: orders use real funds",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from thalex_mm.app.launch import RunOptions, run_command  # noqa: PLC0415

    opts = RunOptions(
        config=args.config,
        duration_s=args.duration,
        network=args.network,
        url=args.url,
        key_id=args.key_id,
        private_key_file=args.private_key_file,
        journal=args.journal,
        no_journal=args.no_journal,
        no_warm_start=args.no_warm_start,
        summary_json=args.summary_json,
        verbose=args.verbose,
        allow_production=args.allow_production,
        metrics_port=args.metrics_port,
    )
    return run_command(opts)
