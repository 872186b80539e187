"""`thalex-mm keygen`: write a test API key pair for the local exchange."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from thalex_mm.errors import UserError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "keygen",
        help="write a test RSA key pair (private.pem, public.pem) and print a key id",
        description=(
            "Generate an RSA key pair like a Thalex API key: DIR/private.pem (mode 0600, keep "
            "it secret) and DIR/public.pem. Start the local exchange with "
            "--public-key KID=DIR/public.pem and log in with the key id and private.pem."
        ),
    )
    parser.add_argument("--out", metavar="DIR", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--key-id", metavar="KID", help='key id to print (default: random, like "K123456789")'
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing key files")
    parser.set_defaults(handler=run)


def write_key_pair(out: Path, force: bool = False) -> tuple[Path, Path]:
    """Create ``out`` if needed and write the pair; the private key is created 0600."""
    from thalex_mm.venue.thalex.auth import generate_key_pair  # noqa: PLC0415

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    private_path, public_path = out / "private.pem", out / "public.pem"
    if not force:
        existing = [str(p) for p in (private_path, public_path) if p.exists()]
        if existing:
            raise UserError(f"{', '.join(existing)} already exist (use --force to overwrite)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        private_pem, public_pem = generate_key_pair()
        private_path.unlink(missing_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        public_path.write_bytes(public_pem)
    except OSError as exc:
        raise UserError(f"cannot write the key pair to {out}: {exc.strerror or exc}") from None
    return private_path, public_path


def run(args: argparse.Namespace) -> int:
    import secrets  # noqa: PLC0415

    key_id = args.key_id or f"K{secrets.randbelow(10**9):09d}"
    if not key_id.isprintable() or not 1 <= len(key_id) <= 64 or "=" in key_id:
        raise UserError("--key-id must be 1-64 printable characters without '='")
    private_path, public_path = write_key_pair(args.out, args.force)
    print(f"key id:      {key_id}")
    print(f"private key: {private_path} (mode 0600; keep it secret)")
    print(f"public key:  {public_path}")
    print(f"start the exchange with: thalex-mm exchange --public-key {key_id}={public_path}")
    return 0
