"""API credentials: a key id plus an RSA private key read from a file or an environment variable.

The private key never appears in a repr, a log line or an error message: errors name only
where the key was supposed to come from (the file path or the variable name).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from thalex_mm.errors import UserError
from thalex_mm.secrets import looks_like_key_material

log = logging.getLogger(__name__)

DEFAULT_KEY_ENV = "THALEX_MM_PRIVATE_KEY"


def mask_key_id(key_id: str) -> str:
    """Enough of the key id to tell keys apart in a log, not the whole thing."""
    return key_id[:3] + "…" if len(key_id) > 3 else "…"


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """What ``public/login`` needs. ``source`` says where the key came from, for messages."""

    key_id: str
    private_key_pem: bytes = field(compare=False)
    source: str = "memory"

    def __repr__(self) -> str:
        return f"Credentials(key_id={mask_key_id(self.key_id)!r}, key=<hidden, from {self.source}>)"

    __str__ = __repr__


def key_file_warning(path: str | os.PathLike[str]) -> str | None:
    """A warning if the key file is readable by its group or others (None if fine or absent).

    A private key others on the machine can read is as good as published; ``thalex-mm keygen``
    writes mode 0600.
    """
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    if os.name != "posix" or not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    who = " and ".join(
        w for w, bit in (("its group", stat.S_IRGRP), ("others", stat.S_IROTH)) if mode & bit
    )
    return (
        f"the private key file {str(path)!r} is readable by {who} "
        f"(mode {stat.S_IMODE(mode):04o}): chmod 600 it"
    )


def _check_pem(pem: bytes, source: str) -> None:
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise UserError(
            f"the private key from {source} is not an unencrypted PEM private key"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UserError(f"the private key from {source} is not an RSA key (Thalex needs RSA)")


def load_credentials(
    key_id: str,
    *,
    key_file: str | os.PathLike[str] | None = None,
    key_env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Read the private key from ``key_file``, or else from the variable ``key_env``.

    With neither given, the variable ``THALEX_MM_PRIVATE_KEY`` is used. The key is checked to
    be an RSA PEM key so a bad key fails at start-up, not at the first login.
    """
    if not key_id or not key_id.strip():
        raise UserError("an API key id is required (e.g. K123456789)")
    if key_file is not None and key_env is not None:
        raise UserError("give the private key as a file or as an environment variable, not both")
    if key_file is not None:
        path = Path(key_file)
        if looks_like_key_material(str(path)):
            raise UserError(
                "the private key file's name looks like key material (not shown): put the "
                "private key in a file only you can read and give its path"
            )
        source = f"file {str(path)!r}"
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read the private key {source}: {exc.strerror}") from None
        warning = key_file_warning(path)
        if warning is not None:
            log.warning("%s", warning)
    else:
        var = key_env or DEFAULT_KEY_ENV
        source = f"environment variable {var}"
        env = os.environ if environ is None else environ
        text = env.get(var)
        if not text:
            raise UserError(f"the {source} is not set (it should hold the PEM private key)")
        # Allow one-line secrets with literal "\n" escapes, as CI secret stores often give.
        pem = text.replace("\\n", "\n").encode()
    _check_pem(pem, source)
    return Credentials(key_id.strip(), pem, source)
