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
    parser.set_defaults(handler=run)


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
    config = load_config(args.config, overrides, defaults={"port": DEFAULT_PORT})
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
