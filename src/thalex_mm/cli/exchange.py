"""`thalex-mm exchange`: run the local Thalex-compatible exchange until Ctrl-C."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from thalex_mm.errors import UserError

DEFAULT_PORT = 8765


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "exchange",
        help="run the local exchange (Thalex protocol, synthetic market)",
        description=(
            "Serve the Thalex WebSocket API at ws://HOST:PORT/ws/api/v2 over a matching engine "
            "and a synthetic market. Each --public-key maps an API key id to an RSA public key "
            "and its own account; without any, a test key pair is generated and its key id and "
            "private key path are printed. Ctrl-C stops it."
        ),
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    parser.add_argument("--seed", type=int, help="seed of the synthetic market (default 0)")
    parser.add_argument("--config", metavar="FILE", type=Path, help="TOML config file")
    parser.add_argument(
        "--public-key",
        metavar="KID=PEMFILE",
        action="append",
        default=[],
        help="accept logins of API key KID, verified with this RSA public key (repeatable)",
    )
    parser.add_argument(
        "--time-scale", type=float, metavar="X", help="simulated seconds per real second"
    )
    parser.add_argument(
        "--replay",
        metavar="FILE_PREFIX",
        help=(
            "drive the market from a recorded window: a name in $THALEX_MM_MARKET_DATA "
            "(default ../shared/data/market beside the checkout) "
            "(e.g. binance-usdm_BTCUSDT_2024-08-08_2354-2400) or a path without the "
            "_trades.csv.gz/_bbo.csv.gz suffix"
        ),
    )
    parser.add_argument(
        "--key-dir",
        metavar="DIR",
        type=Path,
        help="where the generated test key lives (default: a new temporary folder)",
    )
    faults = parser.add_argument_group(
        "fault injection", "off by default; these add to the config file's [faults] table"
    )
    faults.add_argument(
        "--fault",
        metavar="KIND@AT_S[:DURATION_S]",
        action="append",
        default=[],
        help="one fault at AT_S seconds after start (close, abort, half_open, maintenance, "
        "throttle_storm, stall, restart, restart_lost; repeatable)",
    )
    faults.add_argument("--fault-seed", type=int, metavar="N", help="seed of the faults")
    faults.add_argument(
        "--fault-every", type=float, metavar="S", help="also a drawn fault about every S seconds"
    )
    faults.add_argument(
        "--fault-share",
        metavar="NAME=SHARE",
        action="append",
        default=[],
        help="share of frames/requests: duplicate, reorder, corrupt, truncate, reject",
    )
    faults.add_argument(
        "--fault-delay-ms", type=float, metavar="MS", help="hold every notification MS ms"
    )
    parser.set_defaults(handler=run)


def parse_fault_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The --fault* flags as [faults] keys (a malformed flag is a UserError naming it)."""
    from thalex_mm.exchange.fault_config import SHARES  # noqa: PLC0415

    out: dict[str, Any] = {}
    if args.fault_seed is not None:
        out["seed"] = args.fault_seed
    if args.fault_every is not None:
        out["every_s"] = args.fault_every
    if args.fault_delay_ms is not None:
        out["delay_ms"] = args.fault_delay_ms
    for entry in args.fault_share:
        name, sep, value = entry.partition("=")
        if not sep or name not in SHARES:
            raise UserError(f"--fault-share {entry!r}: expected NAME=SHARE, NAME one of "
                            f"{', '.join(SHARES)}")  # fmt: skip
        try:
            out[name] = float(value)
        except ValueError:
            raise UserError(f"--fault-share {entry!r}: {value!r} is not a number") from None
    schedule = []
    for entry in args.fault:
        kind, sep, when = entry.partition("@")
        at, _, duration = when.partition(":")
        try:
            item: dict[str, Any] = {"kind": kind, "at_s": float(at)}
            if duration:
                item["duration_s"] = float(duration)
        except ValueError:
            raise UserError(f"--fault {entry!r}: expected KIND@AT_S[:DURATION_S]") from None
        if not sep:
            raise UserError(f"--fault {entry!r}: expected KIND@AT_S[:DURATION_S]")
        schedule.append(item)
    if schedule:
        out["schedule"] = schedule
    return out


def parse_public_keys(entries: list[str]) -> list[tuple[str, bytes]]:
    """``KID=PEMFILE`` entries -> (key id, PEM bytes), checked to be RSA public keys."""
    from thalex_mm.venue.thalex.auth import load_public_key  # noqa: PLC0415

    keys: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for entry in entries:
        key_id, sep, file_name = entry.partition("=")
        if not sep or not key_id or not file_name:
            raise UserError(f"--public-key {entry!r}: expected KID=PEMFILE")
        if key_id in seen:
            raise UserError(f"--public-key: key id {key_id} given twice")
        seen.add(key_id)
        path = Path(file_name)
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise UserError(f"--public-key {key_id}: cannot read {path}: {exc.strerror}") from None
        try:
            load_public_key(pem)
        except ValueError as exc:
            raise UserError(f"--public-key {key_id}: {path}: {exc}") from None
        keys.append((key_id, pem))
    return keys


def run(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from thalex_mm.exchange.config_file import load_config  # noqa: PLC0415

    overrides = {
        "host": args.host,
        "port": args.port,
        "seed": args.seed,
        "time_scale": args.time_scale,
        "replay": args.replay,
    }
    config = load_config(
        args.config,
        overrides,
        defaults={"port": DEFAULT_PORT},
        fault_overrides=parse_fault_flags(args),
    )
    keys = parse_public_keys(args.public_key)
    asyncio.run(_serve(config, keys, args.key_dir))
    return 0


async def _serve(config: Any, keys: list[tuple[str, bytes]], key_dir: Path | None) -> None:
    import asyncio  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    from thalex_mm.app.logs import QueueLogging  # noqa: PLC0415
    from thalex_mm.cli.keygen import write_key_pair  # noqa: PLC0415
    from thalex_mm.exchange.local import LocalExchange  # noqa: PLC0415

    try:
        exchange = LocalExchange(config)
    except ValueError as exc:  # e.g. a replay window that does not exist
        raise UserError(str(exc)) from None
    lines = []
    for key_id, pem in keys:
        lines.append(f"  API key {key_id} -> account {exchange.add_api_key(key_id, pem)}")
    if not keys:
        folder = key_dir or Path(tempfile.mkdtemp(prefix="thalex-mm-exchange-"))
        key_id, private_path = _test_key(folder, write_key_pair)
        account = exchange.add_api_key(key_id, (folder / "public.pem").read_bytes())
        lines.append(f"  API key {key_id} -> account {account} (generated test key)")
        lines.append(f"  private key: {private_path}")
    logging = QueueLogging().start()
    try:
        try:
            await exchange.start()
        except OSError as exc:
            raise UserError(
                f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
            ) from None
        print(f"local exchange listening on {exchange.url}", flush=True)
        print("\n".join(lines), flush=True)
        print(
            f"  {exchange.market_name}, seed {config.seed}, time scale {config.time_scale:g}; "
            "Ctrl-C to stop",
            flush=True,
        )
        if exchange.faults is not None:
            print(f"  injecting faults: {config.faults}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await exchange.stop()
        print(exchange.summary(), flush=True)
    finally:
        logging.stop()


def _test_key(folder: Path, write_key_pair: Any) -> tuple[str, Path]:
    """Reuse the key in ``folder`` (private.pem, public.pem, key_id) or create one there."""
    import secrets  # noqa: PLC0415

    id_file = folder / "key_id"
    private_path = folder / "private.pem"
    if id_file.exists() and private_path.exists() and (folder / "public.pem").exists():
        key_id = id_file.read_text(encoding="utf-8").strip()
        if key_id:
            return key_id, private_path
    key_id = f"K{secrets.randbelow(10**9):09d}"
    private_path, _ = write_key_pair(folder, force=True)
    id_file.write_text(key_id + "\n", encoding="utf-8")
    return key_id, private_path
